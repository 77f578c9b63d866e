//! The guard every state-changing route takes: writes only from this app's own pages.
//!
//! It decides as Go 1.25's `http.CrossOriginProtection` does. Browsers label each request
//! with `Sec-Fetch-Site` (all of them since 2023) and, on POSTs, `Origin`; pages cannot
//! forge either.
//!
//! - With `Sec-Fetch-Site`, it alone decides: `same-origin` (this app's own page) and `none`
//!   (typed by the visitor, a bookmark) pass; `same-site` and `cross-site` are refused with
//!   403, and so is any other value. Same-site is not good enough: apps on a shared platform
//!   domain are same-site to each other.
//! - Without it (an older browser), `Origin` must name the host the request was sent to (the
//!   `Host` header, port included); `Origin: null` or another host is refused.
//! - With neither (curl, scripts), the write passes: such a request cannot carry a victim's
//!   cookies by accident.
//!
//! Why `Sec-Fetch-Site` first: a proxy in front of the app may change `Host` or `Origin`, so
//! the two no longer match on the app's own pages. GitHub Codespaces' port forwarding turns
//! `Origin` into `http://localhost:8000`; a CDN in front of a function URL changes `Host`.
//! The browser's own label survives both. One difference from Go: a request with an
//! `Origin` but no `Host` is refused (no browser sends one).
//!
//! The check looks only at headers, so Rocket's `_method` form override, which runs before
//! routing, cannot get around it: the overridden route takes this guard too.

use rocket::http::uri::Absolute;
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

/// Why a write must be refused, or `None` when it may pass (the module doc has the rule).
fn refusal(request: &Request<'_>) -> Option<String> {
    let headers = request.headers();
    match headers.get_one("Sec-Fetch-Site").filter(|site| !site.is_empty()) {
        Some("same-origin" | "none") => return None,
        Some(site) => return Some(format!("Sec-Fetch-Site is `{site}`")),
        None => {}
    }
    let origin = headers.get_one("Origin").filter(|origin| !origin.is_empty())?;
    let host = headers.get_one("Host").unwrap_or_default();
    match origin_host(origin) {
        Some(origin_host) if !host.is_empty() && origin_host == host => None,
        _ => Some(format!("Origin `{origin}` is not this host")),
    }
}

/// `host[:port]` of an `Origin` value as written; `None` for `null` or anything that is not
/// an absolute URL with an authority.
fn origin_host(origin: &str) -> Option<String> {
    let uri = Absolute::parse(origin).ok()?;
    let authority = uri.authority()?;
    Some(match authority.port() {
        Some(port) => format!("{}:{port}", authority.host()),
        None => authority.host().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use rocket::http::Header;
    use rocket::local::blocking::Client;

    /// Whether a POST with `host` as its `Host` and `headers` is refused.
    fn refused_at(host: Option<&'static str>, headers: &[(&'static str, &'static str)]) -> bool {
        let client = Client::untracked(rocket::build()).unwrap();
        let mut request = client.post("/");
        for (name, value) in host.map(|host| ("Host", host)).iter().chain(headers) {
            request = request.header(Header::new(*name, *value));
        }
        super::refusal(request.inner()).is_some()
    }

    fn refused(headers: &[(&'static str, &'static str)]) -> bool {
        refused_at(Some("app.test:8000"), headers)
    }

    #[test]
    fn sec_fetch_site_decides_when_it_is_there() {
        assert!(!refused(&[("Sec-Fetch-Site", "same-origin"), ("Origin", "http://app.test:8000")]));
        assert!(!refused(&[("Sec-Fetch-Site", "none")]));
        assert!(!refused(&[("Sec-Fetch-Site", "none"), ("Origin", "http://evil.test")]));
        assert!(refused(&[("Sec-Fetch-Site", "cross-site")]));
        assert!(refused(&[("Sec-Fetch-Site", "same-site")]));
        assert!(refused(&[("Sec-Fetch-Site", "cross-site"), ("Origin", "http://app.test:8000")]));
        // Anything else is refused, as Go's rule does: the values are lower-case tokens.
        assert!(refused(&[("Sec-Fetch-Site", "Same-Origin")]));
        assert!(refused(&[("Sec-Fetch-Site", "same-origin, cross-site")]));
    }

    /// Behind a proxy `Origin` and `Host` may differ on the app's own pages: Codespaces
    /// rewrites `Origin`, a CDN or another proxy `Host`. The browser's label still says
    /// `same-origin`.
    #[test]
    fn same_origin_passes_when_a_proxy_changed_origin_or_host() {
        let codespaces = [("Sec-Fetch-Site", "same-origin"), ("Origin", "http://localhost:8000")];
        assert!(!refused_at(Some("x-8000.app.github.dev"), &codespaces));
        let reverse = [("Sec-Fetch-Site", "same-origin"), ("Origin", "https://x-8000.app.github.dev")];
        assert!(!refused_at(Some("localhost:8000"), &reverse));
    }

    #[test]
    fn without_sec_fetch_site_origin_must_name_this_host() {
        assert!(!refused(&[("Origin", "http://app.test:8000")]));
        assert!(!refused(&[("Sec-Fetch-Site", ""), ("Origin", "http://app.test:8000")]));
        assert!(refused(&[("Origin", "http://evil.test")]));
        assert!(refused(&[("Origin", "http://app.test:9000")]));
        assert!(refused(&[("Origin", "http://app.test")]));
        assert!(refused(&[("Origin", "null")]));
        assert!(refused(&[("Origin", "http://app.test:8000.evil.test")]));
        assert!(refused(&[("Origin", "app.test:8000")]));
        assert!(refused(&[("Sec-Fetch-Site", ""), ("Origin", "http://evil.test")]));
        assert!(refused_at(None, &[("Origin", "http://app.test:8000")]), "no Host, nothing to match");
    }

    #[test]
    fn with_neither_header_a_write_passes() {
        assert!(!refused(&[]));
        assert!(!refused(&[("Origin", "")]));
        assert!(!refused_at(None, &[]));
    }
}
