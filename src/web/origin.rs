//! The guard every state-changing route takes: writes only from this app's own pages.
//!
//! Browsers label each request with `Sec-Fetch-Site` and, on POSTs, `Origin`. A write is
//! refused with 403 when `Sec-Fetch-Site` is `cross-site` or `same-site` (apps on a shared
//! platform domain are same-site to each other, so that is not good enough), or when
//! `Origin` names another host than the one the request was sent to. A request with
//! neither header (curl, scripts) passes: it cannot carry a victim's cookies by accident.
//! The check looks only at headers, so Rocket's `_method` form override, which runs before
//! routing, cannot get around it: the overridden route takes this guard too.

use rocket::http::Status;
use rocket::request::{self, FromRequest, Request};

use super::error::RefusalReason;

pub struct SameOrigin;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for SameOrigin {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        match refusal(request) {
            None => request::Outcome::Success(SameOrigin),
            Some(reason) => {
                log::warn!("refused a cross-site {} {}: {reason}", request.method(), request.uri());
                RefusalReason::record(
                    request,
                    format!("cross-site request refused: {reason}; changes are accepted only from this app's own pages"),
                );
                request::Outcome::Error((Status::Forbidden, ()))
            }
        }
    }
}

fn refusal(request: &Request<'_>) -> Option<String> {
    let headers = request.headers();
    if let Some(site) = headers.get_one("Sec-Fetch-Site") {
        if site.eq_ignore_ascii_case("cross-site") || site.eq_ignore_ascii_case("same-site") {
            return Some(format!("Sec-Fetch-Site is `{site}`"));
        }
    }
    let origin = headers.get_one("Origin")?;
    let host = headers.get_one("Host").unwrap_or_default();
    let origin_authority = origin.split_once("://").map(|(_, authority)| authority);
    match origin_authority {
        Some(authority) if !host.is_empty() && authority.eq_ignore_ascii_case(host) => None,
        _ => Some(format!("Origin `{origin}` is not this host")),
    }
}

#[cfg(test)]
mod tests {
    use rocket::http::Header;
    use rocket::local::blocking::Client;

    fn refused(headers: &[(&'static str, &'static str)]) -> bool {
        let client = Client::untracked(rocket::build()).unwrap();
        let mut request = client.post("/").header(Header::new("Host", "app.test:8000"));
        for (name, value) in headers {
            request = request.header(Header::new(*name, *value));
        }
        super::refusal(request.inner()).is_some()
    }

    #[test]
    fn only_same_origin_or_headerless_writes_pass() {
        assert!(!refused(&[]));
        assert!(!refused(&[("Sec-Fetch-Site", "same-origin"), ("Origin", "http://app.test:8000")]));
        assert!(!refused(&[("Sec-Fetch-Site", "none")]));
        assert!(refused(&[("Sec-Fetch-Site", "cross-site")]));
        assert!(refused(&[("Sec-Fetch-Site", "same-site")]));
        assert!(refused(&[("Origin", "http://evil.test")]));
        assert!(refused(&[("Origin", "http://app.test:9000")]));
        assert!(refused(&[("Origin", "null")]));
        assert!(refused(&[("Origin", "http://app.test:8000.evil.test")]));
    }
}
