//! The signed cookie's payload and how it is signed: HMAC-SHA-256 by the `cookie` crate's
//! signed jar, under the signing half of the app's key. The value is the tag (44 characters
//! of base64) followed by the JSON itself, so anyone holding the cookie reads the list.

use rocket::http::Cookie;
use serde::{Deserialize, Serialize};

use crate::config::Lifetimes;
use crate::item::ItemList;
use crate::secret::SecretKeys;

/// Bumped whenever the payload's shape changes; other versions do not verify as a list.
const FORMAT_VERSION: u32 = 1;

/// What the cookie says, in plain sight. Short field names, as in the private cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    pub v: u32,
    /// When this cookie session started (Unix ms): fixes the absolute deadline.
    pub iat: u64,
    /// When it was last written or refreshed (Unix ms): moves the idle deadline.
    pub seen: u64,
    pub items: ItemList,
}

impl Payload {
    pub fn new(now_ms: u64) -> Payload {
        Payload { v: FORMAT_VERSION, iat: now_ms, seen: now_ms, items: ItemList::default() }
    }

    /// The earlier of the idle and the absolute deadline, as for the other two sessions.
    pub fn expires_ms(&self, lifetimes: &Lifetimes) -> u64 {
        lifetimes.deadline_ms(self.iat, self.seen)
    }
}

/// Signs `payload` under the current key: `base64(HMAC-SHA-256(json))` followed by the JSON.
pub fn sign(name: &str, payload: &Payload, keys: &SecretKeys) -> String {
    let json = serde_json::to_string(payload).expect("strings and numbers always serialize");
    let mut scratch = cookie::CookieJar::new();
    scratch.signed_mut(&keys.current).add(Cookie::new(name.to_owned(), json));
    scratch.get(name).map(|signed| signed.value().to_owned()).unwrap_or_default()
}

/// Checks the tag under the current key, then each previous one, and reads the JSON behind
/// it. `Some((payload, under_previous_key))`, or `None` if no key verifies it.
pub fn verify(name: &str, value: &str, keys: &SecretKeys) -> Option<(Payload, bool)> {
    let mut scratch = cookie::CookieJar::new();
    scratch.add_original(Cookie::new(name.to_owned(), value.to_owned()));
    let all_keys = std::iter::once(&keys.current).chain(&keys.previous);
    all_keys.enumerate().find_map(|(i, key)| {
        let json = scratch.signed(key).get(name)?;
        let payload = serde_json::from_str::<Payload>(json.value()).ok()?;
        (payload.v == FORMAT_VERSION).then_some((payload, i > 0))
    })
}

/// The JSON part of a signed value: what anyone holding the cookie reads.
pub fn readable(value: &str) -> &str {
    value.get(44..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::{Item, Op};

    fn keys(current: u8, previous: &[u8]) -> SecretKeys {
        let key = |b: u8| cookie::Key::derive_from(&[b; 32]);
        SecretKeys { current: key(current), previous: previous.iter().map(|b| key(*b)).collect() }
    }

    #[test]
    fn the_list_is_in_plain_sight_and_a_changed_byte_does_not_verify() {
        let mut payload = Payload::new(1);
        payload.items.apply(&Op::Add(Item::parse("milk").unwrap())).unwrap();
        let signed = sign("signed_session", &payload, &keys(1, &[]));
        assert_eq!(readable(&signed), r#"{"v":1,"iat":1,"seen":1,"items":["milk"]}"#);
        assert_eq!(verify("signed_session", &signed, &keys(1, &[])), Some((payload.clone(), false)));
        let forged = signed.replace("milk", "mild");
        assert_eq!(verify("signed_session", &forged, &keys(1, &[])), None, "edited list");
        assert_eq!(verify("signed_session", &signed, &keys(2, &[])), None, "another key");
        assert_eq!(verify("signed_session", &signed, &keys(2, &[1])), Some((payload, true)));
        assert_eq!(verify("signed_session", &signed[..40], &keys(1, &[])), None, "cut short");
    }
}
