//! Response headers that every page and API answer gets.
//!
//! Answers depend on the visitor's cookies, so no cache may keep or share them:
//! `Cache-Control: no-store` and `Vary: Cookie`. The security headers keep the page to its
//! own stylesheet and forms (no inline scripts at all), and out of other sites' frames.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::{Request, Response};

pub struct SecurityHeaders;

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info { name: "No-store and security headers", kind: Kind::Response }
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        if !request.uri().path().starts_with("/static/") {
            response.set_header(Header::new("Cache-Control", "no-store"));
            response.set_header(Header::new("Vary", "Cookie"));
        }
        response.set_header(Header::new(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ));
        response.set_header(Header::new("X-Content-Type-Options", "nosniff"));
        response.set_header(Header::new("Referrer-Policy", "same-origin"));
    }
}
