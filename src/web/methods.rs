//! HTTP method semantics for every path (RFC 9110, 9.3.7 and 15.5.6): a path that exists
//! but not under the request's method answers `405 Method Not Allowed` with an `Allow`
//! header naming the methods it does take; `OPTIONS` on it answers `204` with the same
//! header; a path that does not exist stays a `404`.
//!
//! Rocket 0.5 routes by method first, so it sees a wrong method as "no route" and answers
//! 404. The table of what a path allows is therefore read from the mounted routes
//! themselves (`Rocket::routes`), so a new route is covered the moment it is mounted.
//! A route's dynamic segments are checked the way its handler checks them (`<slug>` must
//! name a strategy, `<index>` must be a whole number): `PUT /nonsense` is a 404, not a 405
//! from `GET /<slug>`.
//!
//! Neither answer changes anything: the 405 is the error catcher's, and `OPTIONS` runs no
//! handler but this one, so the cross-site write guard loses nothing. A cross-origin
//! preflight gets no `Access-Control-Allow-*` headers, so browsers still refuse the request.

use rocket::http::{Header, Method, Status};
use rocket::request::{self, FromRequest, Request};
use rocket::Route;

use crate::strategy::Slug;

/// Every method Rocket routes, in the order they are listed in `Allow`.
pub const ORDER: [Method; 9] = [
    Method::Get,
    Method::Head,
    Method::Post,
    Method::Put,
    Method::Patch,
    Method::Delete,
    Method::Options,
    Method::Trace,
    Method::Connect,
];

/// The dynamic segment names routes may use, and what a value must look like to name
/// something that exists. Kept next to the handlers' own checks (`web::known`, the `usize`
/// index); the route-enumerating tests fail if a route uses a name that is not listed.
pub const PARAMETERS: [&str; 2] = ["slug", "index"];

fn exists(parameter: &str, value: &str) -> bool {
    match parameter {
        "slug" => Slug::parse(value).is_some(),
        "index" => value.parse::<usize>().is_ok(),
        _ => false,
    }
}

pub fn routes() -> Vec<Route> {
    rocket::routes![options]
}

/// The methods the request's path takes, in the order `Allow` lists them (`ORDER`): empty
/// when the path does not exist.
/// `HEAD` comes with `GET` (Rocket answers it from the `GET` route) and `OPTIONS` with
/// any method.
pub fn allowed(request: &Request<'_>) -> Vec<Method> {
    let segments: Vec<&str> = request.uri().path().segments().collect();
    let mut methods: Vec<Method> = request
        .rocket()
        .routes()
        .filter(|route| route.method != Method::Options && matches(route.uri.path(), &segments))
        .map(|route| route.method)
        .collect();
    if methods.is_empty() {
        return methods;
    }
    if methods.contains(&Method::Get) {
        methods.push(Method::Head);
    }
    methods.push(Method::Options);
    ORDER.into_iter().filter(|m| methods.contains(m)).collect()
}

/// Whether the route pattern `pattern` (`/api/<slug>/items`) names the path `segments`.
fn matches(pattern: &str, segments: &[&str]) -> bool {
    let parts: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    parts.len() == segments.len()
        && parts.iter().zip(segments).all(|(part, value)| {
            match part.strip_prefix('<').and_then(|p| p.strip_suffix('>')) {
                Some(parameter) => exists(parameter, value),
                None => part == value,
            }
        })
}

/// The `Allow` header for `methods`.
pub fn allow_header(methods: &[Method]) -> Header<'static> {
    let names: Vec<&str> = methods.iter().map(|m| m.as_str()).collect();
    Header::new("Allow", names.join(", "))
}

/// `204` with `Allow`, or `404` for a path that does not exist (the catcher explains it).
#[derive(rocket::Responder)]
#[response(status = 204)]
pub struct Options((), Header<'static>);

/// The methods the request's path takes, as a guard (see [`allowed`]).
pub struct Allowed(Vec<Method>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Allowed {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        request::Outcome::Success(Allowed(allowed(request)))
    }
}

#[rocket::options("/<_..>")]
fn options(allowed: Allowed) -> Result<Options, Status> {
    if allowed.0.is_empty() {
        return Err(Status::NotFound);
    }
    Ok(Options((), allow_header(&allowed.0)))
}

/// For the catcher: when no route took the request and its path exists under other
/// methods, the methods it does take.
pub fn not_allowed(status: Status, request: &Request<'_>) -> Option<Vec<Method>> {
    if status != Status::NotFound || request.route().is_some() {
        return None;
    }
    let methods = allowed(request);
    (!methods.is_empty()).then_some(methods)
}
