//! Response headers that every page and API answer gets.
//!
//! Answers depend on the visitor's cookies, so no cache may keep or share them:
//! `Cache-Control: no-store` and `Vary: Cookie`. The security headers keep the page to its
//! own stylesheet and forms (no inline scripts at all), and out of other sites' frames: the
//! CSP's `frame-ancestors 'none'`, and `X-Frame-Options: DENY` for browsers that predate it.
//!
//! With `cookie_secure` on, the app is meant to be reached over TLS only (its `Secure`,
//! `__Host-` cookies come back over https alone), so answers also carry
//! `Strict-Transport-Security`: once a browser has seen it, it never tries plain http for this
//! host again, and a network attacker cannot downgrade the visit to strip the cookies.
//! Without `cookie_secure` (plain http on localhost) the header is left out, since browsers
//! ignore it over http and it would only mislead.
//!
//! `X-Instance: <id> port <port> started <time>` names the process that answered, the same
//! facts as the page's header line, so that `curl -sI` through a load balancer shows which
//! instance took each request (see `scripts/cluster-demo.sh`). It reveals nothing the
//! page does not already show.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::{Request, Response};

use crate::config::AppConfig;
use crate::instance::Instance;

/// A year, the value browsers' preload lists ask for; no `includeSubDomains`, because on a
/// platform's shared domain (`*.run.app`, `*.fly.dev`) the subdomains are other people's apps.
const HSTS: &str = "max-age=31536000";

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
        response.set_header(Header::new("X-Frame-Options", "DENY"));
        response.set_header(Header::new("X-Content-Type-Options", "nosniff"));
        if request.rocket().state::<AppConfig>().is_some_and(|config| config.cookie_secure) {
            response.set_header(Header::new("Strict-Transport-Security", HSTS));
        }
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
