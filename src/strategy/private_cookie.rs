//! Strategy 3: the list itself in a private (AES-256-GCM encrypted) cookie.
//!
//! - **Where the data lives:** in the browser. The `cookie_session` cookie holds the whole
//!   list as JSON, encrypted and authenticated with the app's `secret_key` exactly as
//!   Rocket's private cookies are (`add_private`/`get_private`: same crate, same key); the app
//!   seals it itself ([`Sealed`]) so it can measure the result before sending it. The server
//!   keeps no list; what it does keep is one revocation epoch per cookie family that signed
//!   out everywhere (below).
//! - **How long it lasts:** until the idle timeout or the absolute lifetime, both checked by
//!   the server from the times inside the payload (the cookie's `Max-Age` is only a hint).
//!   A read refreshes the idle time now and then by re-sealing the cookie.
//! - **Who can read it:** only a server that has the key. The visitor sees opaque bytes; a
//!   changed byte makes the whole cookie fail to open.
//! - **What it costs:** an AES-GCM decrypt per read, an encrypt per write, and the cookie's
//!   bytes on every request. Browsers keep at most 4096 bytes, so the list is small.
//! - **How it fails:** on its own, the server cannot revoke a cookie it issued: a copy
//!   replays until it expires. "Sign out everywhere" fixes that at a price: each cookie
//!   carries a family id and an epoch, and the server keeps the family's current epoch in the
//!   session store, with a copy in every instance's memory ([`crate::store::RevocationCopy`])
//!   that the store keeps current; a read checks the copy, with no network call, and a
//!   cookie from an older epoch reads as empty. With the memory store the epoch lives in one
//!   process: another instance, or this one after a restart, does not know it. A sign-out
//!   reaches the other instances within a second. While the store is unreachable the cookie is still accepted (the strategy
//!   keeps working without it) and the page says when revocation was last confirmed.
//!   A cookie that does not open (tampered, cut short, unknown key) reads as empty with a
//!   notice, never as an error page.

//!
//! Everything but the sealing is the client-side session core's ([`super::client_side`]), shared with
//! the signed cookie; revocation is its optional part, on here.

use cookie::{CookieJar, Key};
use rocket::fairing::AdHoc;
use rocket::http::Cookie;

use super::client_side::{self, Codec, Words};
use crate::cookie_rules;

/// AES-256-GCM exactly as Rocket's private jar does it (the same `cookie` crate, the same
/// key), with the cookie's name as associated data, so a value moved under another name does
/// not open.
pub struct Sealed;

impl Codec for Sealed {
    const COOKIE: &'static str = cookie_rules::COOKIE_SESSION;
    const REVOCABLE: bool = true;
    const WORDS: Words = Words {
        stage: "Private-cookie sessions",
        opened: "decrypted",
        unopened: "could not decrypt",
        unopened_because: "could not be decrypted (it was changed, cut short, or made with another key)",
        failed: "did not open",
        rotated: "opened under a previous key, re-sealed",
        facts: &[("kept in", "your cookie: the server keeps no list")],
    };

    fn seal(name: &str, json: String, key: &Key) -> String {
        let mut scratch = CookieJar::new();
        scratch.private_mut(key).add(Cookie::new(name.to_owned(), json));
        scratch.get(name).map(|sealed| sealed.value().to_owned()).unwrap_or_default()
    }

    fn open(name: &str, value: &str, key: &Key) -> Option<String> {
        // `decrypt` on an empty jar: the value is opened as it is, without a jar to look it up in.
        let none = CookieJar::new();
        let plain = none.private(key).decrypt(Cookie::new(name.to_owned(), value.to_owned()))?;
        Some(plain.value().to_owned())
    }
}

/// The private cookie as seen by one request.
pub type PrivateCookie<'r> = client_side::Session<'r, Sealed>;

pub fn stage() -> AdHoc {
    client_side::stage::<Sealed>()
}

#[cfg(test)]
mod tests {
    use super::client_side::{open, seal, test_keys as keys, Payload};
    use super::Sealed;

    #[test]
    fn sealed_payloads_open_only_under_their_name_and_a_known_key() {
        let payload = Payload::new(1, true);
        let sealed = seal::<Sealed>("cookie_session", &payload, &keys(1, &[]));
        assert_eq!(open::<Sealed>("cookie_session", &sealed, &keys(1, &[])).unwrap().payload, payload);
        assert!(open::<Sealed>("session_id", &sealed, &keys(1, &[])).is_none(), "name is authenticated");
        assert!(open::<Sealed>("cookie_session", &sealed, &keys(2, &[])).is_none(), "other key");
        let rotated = open::<Sealed>("cookie_session", &sealed, &keys(2, &[3, 1])).unwrap();
        assert!(rotated.under_previous_key);
        assert!(open::<Sealed>("cookie_session", &sealed[1..], &keys(1, &[])).is_none(), "truncated");
    }

    #[test]
    fn a_payload_without_a_family_is_not_a_private_cookie() {
        let sealed = seal::<Sealed>("cookie_session", &Payload::new(1, false), &keys(1, &[]));
        assert!(open::<Sealed>("cookie_session", &sealed, &keys(1, &[])).is_none());
    }
}
