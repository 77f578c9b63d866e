//! The private cookie's payload and how it is sealed: AES-256-GCM exactly as Rocket's private
//! jar does it (the same `cookie` crate, the same key), with the cookie's name as associated
//! data, so a value moved under another name does not open.

use rand::Rng;
use rocket::http::Cookie;
use serde::{Deserialize, Serialize};

use crate::config::Lifetimes;
use crate::item::ItemList;
use crate::secret::SecretKeys;

/// Bumped whenever the payload's shape changes; other versions read as unreadable.
pub const FORMAT_VERSION: u32 = 1;

/// What is encrypted into the cookie. Short field names: every byte travels on every request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// Format version, [`FORMAT_VERSION`].
    pub v: u32,
    /// This cookie session's family id (random): what "sign out everywhere" revokes.
    pub sid: String,
    /// The family's epoch when this cookie was issued; older epochs are revoked.
    pub ep: u64,
    /// When this cookie session started (Unix ms): fixes the absolute deadline.
    pub iat: u64,
    /// When it was last written or refreshed (Unix ms): moves the idle deadline.
    pub seen: u64,
    pub items: ItemList,
}

impl Payload {
    pub fn new(now_ms: u64) -> Payload {
        let sid = format!("{:032x}", rand::rng().random::<u128>());
        Payload { v: FORMAT_VERSION, sid, ep: 0, iat: now_ms, seen: now_ms, items: ItemList::default() }
    }

    /// The earlier of the idle and the absolute deadline, as for server-side sessions.
    pub fn expires_ms(&self, lifetimes: &Lifetimes) -> u64 {
        lifetimes.deadline_ms(self.iat, self.seen)
    }
}

/// A payload opened from a cookie, and whether it needed a previous key to open.
pub struct Opened {
    pub payload: Payload,
    pub under_previous_key: bool,
}

/// Opens `sealed` with the current key, then each previous one. `None` if no key opens it
/// or it holds no valid payload of this version.
pub fn open(name: &str, sealed: &str, keys: &SecretKeys) -> Option<Opened> {
    // `decrypt` on an empty jar: the cookie is opened as it is, without a jar to look it up in.
    let none = cookie::CookieJar::new();
    let all_keys = std::iter::once(&keys.current).chain(&keys.previous);
    all_keys.enumerate().find_map(|(i, key)| {
        let plain = none.private(key).decrypt(Cookie::new(name.to_owned(), sealed.to_owned()))?;
        let payload = serde_json::from_str::<Payload>(plain.value()).ok()?;
        (payload.v == FORMAT_VERSION).then_some(Opened { payload, under_previous_key: i > 0 })
    })
}

/// Seals `payload` under the current key.
pub fn seal(name: &str, payload: &Payload, keys: &SecretKeys) -> String {
    let plain = serde_json::to_string(payload).expect("strings and numbers always serialize");
    let mut scratch = cookie::CookieJar::new();
    scratch.private_mut(&keys.current).add(Cookie::new(name.to_owned(), plain));
    scratch.get(name).map(|sealed| sealed.value().to_owned()).unwrap_or_default()
}

/// The bytes a browser counts for a cookie: name plus value as sent in `Set-Cookie`, where
/// Rocket percent-encodes some base64 characters (`/` and `=` become 3 bytes each). The
/// nonce is random, so this is known exactly only after sealing.
pub fn counted_size(cookie: &Cookie<'_>) -> usize {
    /// Counts what `Display` writes instead of keeping it: the size without a 4 KB copy.
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

    fn keys(current: u8, previous: &[u8]) -> SecretKeys {
        let key = |b: u8| cookie::Key::derive_from(&[b; 32]);
        SecretKeys { current: key(current), previous: previous.iter().map(|b| key(*b)).collect() }
    }

    #[test]
    fn sealed_payloads_open_only_under_their_name_and_a_known_key() {
        let payload = Payload::new(1);
        let sealed = seal("cookie_session", &payload, &keys(1, &[]));
        assert_eq!(open("cookie_session", &sealed, &keys(1, &[])).unwrap().payload, payload);
        assert!(open("session_id", &sealed, &keys(1, &[])).is_none(), "name is authenticated");
        assert!(open("cookie_session", &sealed, &keys(2, &[])).is_none(), "other key");
        let rotated = open("cookie_session", &sealed, &keys(2, &[3, 1])).unwrap();
        assert!(rotated.under_previous_key);
        assert!(open("cookie_session", &sealed[1..], &keys(1, &[])).is_none(), "truncated");
    }

    #[test]
    fn counted_size_is_name_and_value_as_sent() {
        let cookie = Cookie::new("n", "a/b=c");
        assert_eq!(counted_size(&cookie), "n".len() + "a%2Fb%3Dc".len());
        assert_eq!(counted_size(&cookie), cookie.stripped().encoded().to_string().len() - 1);
    }
}
