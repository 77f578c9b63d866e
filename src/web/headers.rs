//! Response headers that every page and API answer gets.
//!
//! Answers depend on the visitor's cookies, so no cache may keep or share them:
//! `Cache-Control: no-store` and `Vary: Cookie`. The security headers keep the page to its
//! own stylesheet and forms (no inline scripts at all), and out of other sites' frames.
//!
//! `X-Instance: <id> port <port> started <time>` names the process that answered, the same
//! facts as the page's header line, so that `curl -sI` through a load balancer shows which
//! instance took each request (see `scripts/cluster-demo.sh`). It reveals nothing the
//! page does not already show.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::{Request, Response};

use crate::instance::Instance;

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
        if let Some(instance) = request.rocket().state::<Instance>() {
            response.set_header(Header::new("X-Instance", instance.label()));
        }
    }
}

#[cfg(test)]
mod tests {
    use rocket::local::blocking::Client;

    #[test]
    fn every_answer_names_the_instance_that_gave_it() {
        let client = Client::untracked(crate::rocket()).unwrap();
        let id = client.rocket().state::<crate::instance::Instance>().unwrap().id.clone();
        for path in ["/", "/api/inspect", "/static/style.css", "/no-such-page"] {
            let response = client.get(path).dispatch();
            let value = response.headers().get_one("X-Instance").unwrap_or_default().to_owned();
            assert!(value.starts_with(&format!("{id} port ")), "{path}: {value}");
            assert!(value.contains(" started "), "{path}: {value}");
        }
    }
}
