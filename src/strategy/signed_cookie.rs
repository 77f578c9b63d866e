//! The signed cookie: what Flask's default `session` does, shown live on the private-cookie
//! page. A demonstrator next to strategy 3, not a fourth column of the comparison.
//!
//! - **Where the data lives:** in the browser. The `signed_session` cookie holds the list as
//!   plain JSON, behind an HMAC-SHA-256 tag (the first 44 characters, base64) made with the
//!   signing half of the app's `secret_key` by the `cookie` crate's signed jar. The server
//!   keeps nothing for it, not even a revocation epoch.
//! - **How long it lasts:** as the private cookie: until the idle timeout or the absolute
//!   lifetime, both checked by the server from the times inside the value. A read refreshes
//!   the idle time now and then by signing the cookie again.
//! - **Who can read it:** anyone who holds the cookie. URL-decode the value, skip the tag, and
//!   the list is there in JSON. What the key adds is that only the server can make a value
//!   that verifies: a changed byte fails the check.
//! - **What it costs:** an HMAC per read and per write, and the cookie's bytes on every
//!   request. JSON is percent-encoded in a cookie (a quote is `%22`, 3 bytes), so this cookie
//!   reaches the 4096-byte limit with fewer items than the private one.
//! - **How it fails:** a value that does not verify (changed, cut short, another key) reads
//!   as empty with a notice. A copy replays until it expires: nothing can revoke it.
//!
//! Everything but the signing is the client-side session core's ([`super::client_side`]), shared with
//! the private cookie; revocation, its optional part, is off here.

use cookie::{CookieJar, Key};
use rocket::fairing::AdHoc;
use rocket::http::Cookie;

use super::client_side::{self, Codec, Words};
use crate::cookie_rules;

/// HMAC-SHA-256 by the `cookie` crate's signed jar, under the signing half of the app's key.
/// The value is the tag (44 characters of base64) followed by the JSON itself.
pub struct Signed;

impl Codec for Signed {
    const COOKIE: &'static str = cookie_rules::SIGNED_SESSION;
    const REVOCABLE: bool = false;
    const WORDS: Words = Words {
        stage: "Signed-cookie demonstrator",
        opened: "signature verified",
        unopened: "signature did not verify",
        unopened_because:
            "failed its signature check (it was changed, cut short, or signed with another key)",
        failed: "did not verify",
        rotated: "verified under a previous key, signed again",
        facts: &[
            ("kept in", "nothing on the server: the list is in your cookie, in plain text"),
            ("revocation", "none: a copy replays until it expires"),
        ],
    };

    fn seal(name: &str, json: String, key: &Key) -> String {
        let mut scratch = CookieJar::new();
        scratch.signed_mut(key).add(Cookie::new(name.to_owned(), json));
        scratch.get(name).map(|signed| signed.value().to_owned()).unwrap_or_default()
    }

    fn open(name: &str, value: &str, key: &Key) -> Option<String> {
        let mut scratch = CookieJar::new();
        scratch.add_original(Cookie::new(name.to_owned(), value.to_owned()));
        Some(scratch.signed(key).get(name)?.value().to_owned())
    }

    /// The JSON part: what anyone holding the cookie reads.
    fn readable(value: &str) -> Option<&str> {
        Some(value.get(44..).unwrap_or_default())
    }
}

/// The signed cookie as seen by one request.
pub type SignedCookie<'r> = client_side::Session<'r, Signed>;

pub fn stage() -> AdHoc {
    client_side::stage::<Signed>()
}

#[cfg(test)]
mod tests {
    use super::client_side::{open, seal, test_keys as keys, Opened, Payload};
    use super::{Codec, Signed};
    use crate::item::{Item, Op};

    #[test]
    fn the_list_is_in_plain_sight_and_a_changed_byte_does_not_verify() {
        let mut payload = Payload::new(1, false);
        payload.items.apply(&Op::Add(Item::parse("milk").unwrap())).unwrap();
        let signed = seal::<Signed>("signed_session", &payload, &keys(1, &[]));
        assert_eq!(Signed::readable(&signed), Some(r#"{"v":1,"iat":1,"seen":1,"items":["milk"]}"#));
        let verify = |value: &str, current, previous: &[u8]| {
            open::<Signed>("signed_session", value, &keys(current, previous))
        };
        let opened = |under_previous_key| Some(Opened { payload: payload.clone(), under_previous_key });
        assert_eq!(verify(&signed, 1, &[]), opened(false));
        assert_eq!(verify(&signed.replace("milk", "mild"), 1, &[]), None, "edited list");
        assert_eq!(verify(&signed, 2, &[]), None, "another key");
        assert_eq!(verify(&signed, 2, &[1]), opened(true));
        assert_eq!(verify(&signed[..40], 1, &[]), None, "cut short");
    }
}
