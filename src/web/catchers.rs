//! What a request that no route answered gets: a clear message, as JSON under `/api/` and
//! as an HTML page elsewhere. A guard that refused the request may have left its reason in
//! [`RefusalReason`]; otherwise the status says it.

use rocket::http::Status;
use rocket::{Catcher, Either, Request};
use rocket_dyn_templates::Template;
use serde::Serialize;

use crate::error::{ApiError, RefusalReason};

pub fn catchers() -> Vec<Catcher> {
    rocket::catchers![default]
}

#[derive(Serialize)]
struct ErrorPage {
    title: String,
    code: u16,
    message: String,
}

fn message(status: Status, request: &Request<'_>, api: bool) -> String {
    if let Some(reason) = RefusalReason::of(request) {
        return reason;
    }
    match status.code {
        400 => "the request could not be understood: check its form fields or JSON".into(),
        403 => "this request is not allowed".into(),
        404 => format!(
            "there is nothing at {} (strategies are global, server-session, cookie-session, signed-session)",
            request.uri().path()
        ),
        405 => "this path does not accept that method".into(),
        413 => "the request body is larger than this app accepts".into(),
        415 if api => "this endpoint accepts only `Content-Type: application/json` bodies".into(),
        415 => "this form endpoint accepts only `application/x-www-form-urlencoded` bodies".into(),
        422 => "the request was understood but its content is not valid".into(),
        500 => "something went wrong on the server; it has been logged".into(),
        _ => status.reason().unwrap_or("error").to_lowercase(),
    }
}

#[rocket::catch(default)]
fn default(status: Status, request: &Request<'_>) -> (Status, Either<ApiError, Template>) {
    let api = request.uri().path().starts_with("/api/");
    let message = message(status, request, api);
    if api {
        return (status, Either::Left(ApiError::new(status, message)));
    }
    let (status, page) = error_page(status, message);
    (status, Either::Right(page))
}

/// The HTML error page: status line as the title, and the message.
pub fn error_page(status: Status, message: String) -> (Status, Template) {
    let title = format!("{} {}", status.code, status.reason().unwrap_or("Error"));
    (status, Template::render("error", ErrorPage { title, code: status.code, message }))
}
