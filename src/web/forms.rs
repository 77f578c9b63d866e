//! The forms that change a list. Every write answers `303 See Other` back to the page it
//! came from, also when the change was refused: the reason then travels in the `flash`
//! cookie ([`super::flash`]), and the page shows it once. So reloading that page only ever
//! repeats a `GET`, never the form's `POST`.

use rocket::form::Form;
use rocket::http::Status;
use rocket::outcome::try_outcome;
use rocket::request::{self, FromRequest, Request};
use rocket::response::Redirect;
use rocket::Route;

use super::flash::Flash;
use super::origin::SameOrigin;
use super::pages::{error_page, Page};
use super::render::Html;
use crate::error::AppError;
use crate::item::{Item, Op};
use crate::strategy::{Slug, Strategies};

pub fn routes() -> Vec<Route> {
    rocket::routes![add, remove, clear, end, rotate, sign_out_everywhere]
}

/// The fields any of the list forms may carry.
#[derive(Debug, rocket::FromForm)]
pub struct ListForm {
    item: Option<String>,
    return_to: Option<String>,
}

/// What a form write answers: back to the page (with the reason in the flash cookie when the
/// change was refused), or an error page when the URL names no list at all.
#[derive(rocket::Responder)]
pub enum WriteResponse {
    /// Boxed: a `Redirect` is several times the size of the other answer.
    Back(Box<Redirect>),
    NoSuchList((Status, Html)),
}

/// What every form write needs besides its form: a request that passed the same-origin
/// check, the strategies to change, and the flash cookie for a refusal.
pub struct FormWrite<'r> {
    strategies: Strategies<'r>,
    flash: Flash<'r>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for FormWrite<'r> {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        try_outcome!(request.guard::<SameOrigin>().await);
        let strategies = try_outcome!(request.guard::<Strategies<'r>>().await);
        let flash = try_outcome!(request.guard::<Flash<'r>>().await);
        request::Outcome::Success(FormWrite { strategies, flash })
    }
}

impl FormWrite<'_> {
    /// Applies `op` to the list the URL names, then answers as [`FormWrite::finish`] does; a URL that
    /// names no list gets the error page that says so.
    async fn apply(
        &self,
        slug: Result<Slug, &str>,
        form: &ListForm,
        op: Result<Op, AppError>,
    ) -> WriteResponse {
        let slug = match super::strategy_named(slug) {
            Ok(slug) => slug,
            Err(error) => return WriteResponse::NoSuchList(error_page(error)),
        };
        let result = match op {
            Ok(op) => self.strategies.get(slug).apply(op).await.map(drop),
            Err(error) => Err(error),
        };
        self.finish(slug, form, result)
    }

    /// Sends the browser back to the page the form came from; when the change to `slug` was
    /// refused, the reason goes with it in the flash cookie.
    fn finish(&self, slug: Slug, form: &ListForm, result: Result<(), AppError>) -> WriteResponse {
        if let Err(error) = result {
            error.log();
            self.flash.set(slug, &error.to_string());
        }
        WriteResponse::Back(Box::new(Redirect::to(Page::after_write(slug, form.return_to.as_deref()).path())))
    }
}

#[rocket::post("/<slug>/items", data = "<form>")]
async fn add(slug: Result<Slug, &str>, write: FormWrite<'_>, form: Form<ListForm>) -> WriteResponse {
    let op = Item::parse(form.item.as_deref().unwrap_or_default()).map(Op::Add).map_err(AppError::from);
    write.apply(slug, &form, op).await
}

#[rocket::post("/<slug>/items/<index>/delete", data = "<form>")]
async fn remove(
    slug: Result<Slug, &str>,
    index: Result<usize, &str>,
    write: FormWrite<'_>,
    form: Form<ListForm>,
) -> WriteResponse {
    write.apply(slug, &form, index.map(Op::Remove).map_err(super::bad_index)).await
}

#[rocket::post("/<slug>/clear", data = "<form>")]
async fn clear(slug: Result<Slug, &str>, write: FormWrite<'_>, form: Form<ListForm>) -> WriteResponse {
    write.apply(slug, &form, Ok(Op::Clear)).await
}

/// Log out: the server deletes the record, so the id is dead even where it was copied.
#[rocket::post("/server-session/end", data = "<form>")]
async fn end(write: FormWrite<'_>, form: Form<ListForm>) -> WriteResponse {
    write.finish(Slug::ServerSession, &form, write.strategies.server.end().await)
}

/// A new id for the same data; the old id stops working at once (the fixation defence
/// that apps run at login or privilege change).
#[rocket::post("/server-session/rotate", data = "<form>")]
async fn rotate(write: FormWrite<'_>, form: Form<ListForm>) -> WriteResponse {
    write.finish(Slug::ServerSession, &form, write.strategies.server.rotate().await.map(drop))
}

/// Revokes this private cookie and every copy of it that the store's epoch reaches, at the
/// price of a store lookup on each read (see `strategy::private_cookie`).
#[rocket::post("/cookie-session/sign-out-everywhere", data = "<form>")]
async fn sign_out_everywhere(write: FormWrite<'_>, form: Form<ListForm>) -> WriteResponse {
    write.finish(Slug::CookieSession, &form, write.strategies.private.sign_out_everywhere().await)
}
