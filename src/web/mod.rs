//! Everything HTTP: pages, forms, the JSON API, the guard against cross-site writes, response
//! headers, error pages and bodies, method semantics (405, `OPTIONS`) and the stylesheet.
//! [`stage`] wires it all up.

pub mod api;
pub mod catchers;
pub mod error;
pub mod flash;
pub mod forms;
pub mod headers;
pub mod inspect;
pub mod json_newline;
pub mod methods;
pub mod origin;
pub mod pages;
pub mod render;

use rocket::fairing::AdHoc;
use rocket::http::Header;

use crate::error::AppError;
use crate::strategy::Slug;

pub fn stage() -> AdHoc {
    AdHoc::on_ignite("Web pages and API", |rocket| async {
        let templates = render::Templates::default();
        rocket
            .mount("/", pages::routes())
            .mount("/", forms::routes())
            .mount("/", api::routes())
            .mount("/", inspect::routes())
            .mount("/", rocket::routes![stylesheet, favicon, livez])
            .mount("/", methods::routes())
            .register("/", catchers::catchers())
            .attach(templates.fairing())
            .manage(templates)
            .attach(headers::SecurityHeaders)
            .attach(json_newline::JsonNewline)
    })
}

/// The stylesheet and its caching header.
#[derive(rocket::Responder)]
#[response(content_type = "text/css")]
struct Stylesheet(&'static str, Header<'static>);

/// The one stylesheet, compiled in so a deployment cannot lose it.
#[rocket::get("/static/style.css")]
fn stylesheet() -> Stylesheet {
    Stylesheet(include_str!("../../static/style.css"), Header::new("Cache-Control", "public, max-age=3600"))
}

/// Browsers ask for an icon on every page; "no content" answers without a 404 in the console.
#[rocket::get("/favicon.ico")]
fn favicon() -> rocket::http::Status {
    rocket::http::Status::NoContent
}

/// The liveness probe: `200` whenever the process can answer at all. Unlike `/healthz` (the
/// readiness probe), it does not ask the session store: restarting an instance cures no store
/// outage, and would take down the two strategies that keep working through one.
#[rocket::get("/livez")]
fn livez() -> rocket::serde::json::Value {
    rocket::serde::json::json!({ "status": "ok" })
}

/// The strategy a URL names. Routes take `Result<Slug, &str>` rather than `Slug` so an
/// unknown name is a 404 that says so (a failed `Slug` parameter would forward as a 422).
pub(crate) fn strategy_named(slug: Result<Slug, &str>) -> Result<Slug, AppError> {
    slug.map_err(|raw| AppError::UnknownStrategy(raw.chars().take(40).collect()))
}

/// An index in a URL that is not a number (or too big to be one).
pub(crate) fn bad_index(raw: &str) -> AppError {
    let shown: String = raw.chars().take(24).collect();
    AppError::BadRequest(format!("`{shown}` is not an item index: use a whole number, counting from 0"))
}
