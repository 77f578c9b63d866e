//! The rules every cookie this app sets follows: its name, its attributes, and the size a
//! browser counts.
//!
//! The names are contracts (devtools, the README and the tests all spell them), so they are
//! written here once. With `cookie_secure` on, each gets the `__Host-` prefix
//! ([`CookiePolicy::name`]).

use std::time::Duration;

use rocket::http::{Cookie, CookieJar, SameSite};

/// The server-side session's opaque id.
pub const SESSION_ID: &str = "session_id";
/// The private (encrypted) cookie that holds the list itself.
pub const COOKIE_SESSION: &str = "cookie_session";
/// The signed, readable cookie: what Flask's `session` does by default.
pub const SIGNED_SESSION: &str = "signed_session";
/// Why a form change was refused, for the page the form redirects to.
pub const FLASH: &str = "flash";

/// Cookie names and attributes that follow from `cookie_secure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookiePolicy {
    pub secure: bool,
}

impl CookiePolicy {
    /// `__Host-` cookies must be Secure, `Path=/` and have no `Domain`; browsers enforce it,
    /// which pins the cookie to this exact host.
    pub fn name(&self, base: &'static str) -> String {
        if self.secure {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }
}

/// Browsers keep cookies of up to 4096 bytes of name plus value (RFC 6265 §6.1 asks for at
/// least that; Chrome and Firefox drop bigger ones silently).
pub const LIMIT: usize = 4096;

/// Every cookie this app sets: HttpOnly (scripts cannot read it), `SameSite=Lax` (not sent
/// on cross-site subrequests or POSTs), `Path=/`, and `Secure` when configured.
pub fn build(name: &str, value: String, policy: CookiePolicy, max_age: Duration) -> Cookie<'static> {
    // Rounded up: a cookie with 999 ms left must not say `Max-Age=0`, which tells the browser
    // to delete it at once. The server enforces the exact deadline itself.
    let seconds = max_age.as_secs() + u64::from(max_age.subsec_nanos() > 0);
    let max_age = rocket::time::Duration::seconds(seconds.min(i64::MAX as u64) as i64);
    Cookie::build((name.to_owned(), value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(policy.secure)
        .max_age(max_age)
        .build()
}

/// The attributes [`build`] gives a cookie, as its `Set-Cookie` header writes them after the
/// name and value: `HttpOnly; SameSite=Lax; Path=/; Max-Age=1800`. The page shows them, so
/// they can be read without devtools' Network tab.
pub fn attributes(policy: CookiePolicy, max_age: Duration) -> String {
    let header = build("n", String::new(), policy, max_age).to_string();
    header.split_once("; ").map_or(String::new(), |(_, attributes)| attributes.to_owned())
}

/// Tells the browser to delete cookie `name`. The removal must carry the same attributes
/// (a `__Host-` cookie is only replaced by a Secure one), so it is built like the original.
pub fn remove(jar: &CookieJar<'_>, name: &str, policy: CookiePolicy) {
    jar.remove(build(name, String::new(), policy, Duration::ZERO));
}

// What a browser stores, and counts against `LIMIT`, is name and value as the app sent them
// in `Set-Cookie`, where Rocket percent-encodes some characters (a `/` in base64 is `%2F`, a
// quote in JSON `%22`: 3 bytes each). Rocket hands a received value over decoded, so both
// functions below measure the encoded form, `Cookie::encoded`.

/// The value of cookie `name` as the browser stores it: percent-encoded.
pub fn stored_value(name: &str, value: &str) -> String {
    let pair = Cookie::new(name, value).encoded().to_string();
    pair.split_once('=').map_or(pair.clone(), |(_, value)| value.to_owned())
}

/// The bytes a browser counts for `cookie`: name plus value as stored. Counts what `Display`
/// writes instead of keeping it: the size without a 4 KB copy.
pub fn stored_size(cookie: &Cookie<'_>) -> usize {
    struct Counter(usize);
    impl std::fmt::Write for Counter {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing to a counter cannot fail.
    let _ = std::fmt::write(&mut counter, format_args!("{}", cookie.stripped().encoded()));
    counter.0 - "=".len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_rounds_up_so_a_live_cookie_is_never_deleted_at_once() {
        let age =
            |ms| build("n", "v".into(), CookiePolicy { secure: false }, Duration::from_millis(ms)).max_age();
        assert_eq!(age(999), Some(rocket::time::Duration::seconds(1)));
        assert_eq!(age(60_000), Some(rocket::time::Duration::seconds(60)));
        assert_eq!(age(0), Some(rocket::time::Duration::ZERO));
    }

    #[test]
    fn attributes_are_what_set_cookie_writes_after_the_value() {
        let plain = attributes(CookiePolicy { secure: false }, Duration::from_secs(1800));
        assert_eq!(plain, "HttpOnly; SameSite=Lax; Path=/; Max-Age=1800");
        let secure = attributes(CookiePolicy { secure: true }, Duration::from_millis(59_001));
        assert_eq!(secure, "HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=60");
    }

    #[test]
    fn a_cookie_is_measured_as_the_browser_stores_it() {
        let cookie = build("n", "a/b=c".into(), CookiePolicy { secure: true }, Duration::from_secs(60));
        assert_eq!(stored_value("n", "a/b=c"), "a%2Fb%3Dc");
        assert_eq!(stored_size(&cookie), "n".len() + "a%2Fb%3Dc".len(), "attributes do not count");
        assert_eq!(stored_size(&cookie), "n".len() + stored_value("n", "a/b=c").len());
    }
}
