//! What a request that no route answered gets: a clear message, as JSON under `/api/` and
//! as an HTML page elsewhere. A guard that refused the request may have left its reason in
//! [`RefusalReason`]; otherwise the status says it. A path that exists under other methods
//! answers 405 with `Allow` instead of 404 (see [`super::methods`]).

use rocket::http::{Header, Method, Status};
use rocket::{Catcher, Either, Request};
use serde::Serialize;

use super::error::{ApiError, RefusalReason};
use super::render::Html;

pub fn catchers() -> Vec<Catcher> {
    rocket::catchers![default]
}

#[derive(Serialize)]
struct ErrorPage {
    title: String,
    code: u16,
    message: String,
}

impl ErrorPage {
    fn new(status: Status, message: String) -> ErrorPage {
        let title = format!("{} {}", status.code, status.reason().unwrap_or("Error"));
        ErrorPage { title, code: status.code, message }
    }
}

fn message(status: Status, request: &Request<'_>, api: bool) -> String {
    if let Some(reason) = RefusalReason::of(request) {
        return reason;
    }
    match status.code {
        // Rocket 0.5 refuses a method outside the nine standard ones (`QUERY`, say), or a
        // target that is not a path, before routing; only then is there no route here.
        400 if request.route().is_none() => "the request could not be understood: this server takes only \
             the methods GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE and CONNECT, and targets that \
             are paths"
            .into(),
        400 => "the request could not be understood: check its form fields or JSON".into(),
        403 => "this request is not allowed".into(),
        404 => format!(
            "there is nothing at {} (strategies are global, server-session, cookie-session, signed-session)",
            request.uri().path()
        ),
        413 => "the request body is larger than this app accepts".into(),
        415 if api => "this endpoint accepts only `Content-Type: application/json` bodies".into(),
        415 => "this form endpoint accepts only `application/x-www-form-urlencoded` bodies".into(),
        422 => "the request was understood but its content is not valid".into(),
        500 => "something went wrong on the server; it has been logged".into(),
        _ => status.reason().unwrap_or("error").to_lowercase(),
    }
}

/// An error answer; a 405 also names the methods the path takes.
#[derive(rocket::Responder)]
enum Caught {
    Plain(Either<ApiError, Html>),
    NotAllowed(Either<ApiError, Html>, Header<'static>),
}

#[rocket::catch(default)]
fn default(status: Status, request: &Request<'_>) -> (Status, Caught) {
    let api = request.uri().path().starts_with("/api/");
    if let Some(methods) = super::methods::not_allowed(status, request) {
        let status = Status::MethodNotAllowed;
        let message = not_allowed_message(request, &methods);
        return (
            status,
            Caught::NotAllowed(body(status, message, api), super::methods::allow_header(&methods)),
        );
    }
    let message = message(status, request, api);
    (status, Caught::Plain(body(status, message, api)))
}

fn body(status: Status, message: String, api: bool) -> Either<ApiError, Html> {
    if api {
        Either::Left(ApiError::new(status, message))
    } else {
        Either::Right(error_page(status, message).1)
    }
}

fn not_allowed_message(request: &Request<'_>, methods: &[Method]) -> String {
    let names: Vec<&str> = methods.iter().map(|m| m.as_str()).collect();
    format!(
        "{} is not allowed on {}; it accepts {}",
        request.method(),
        request.uri().path(),
        names.join(", ")
    )
}

/// The HTML error page: status line as the title, and the message.
pub fn error_page(status: Status, message: String) -> (Status, Html) {
    (status, Html::new("error", &ErrorPage::new(status, message)))
}
