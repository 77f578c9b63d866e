//! The list itself in a cookie: what the private cookie ([`super::private_cookie`]) and the
//! signed cookie ([`super::signed_cookie`]) share, generic over how the value is protected.
//!
//! A cookie session keeps a [`Payload`] (the list and two times) in one cookie. The core
//! does everything that does not depend on the protection: it reads the cookie once per
//! request and says what it found ([`Received`]: absent, valid, unreadable, expired or
//! revoked), refuses a payload past its idle or absolute deadline, refreshes the idle time
//! now and then, writes a change only when the result fits the browser's 4096 bytes, and
//! shows the cookie and the server's side on the page. A [`Codec`] does the rest: turns the
//! payload's JSON into the cookie's value under one key, and back.
//!
//! Revocation ("sign out everywhere") is an optional part, on for a codec with
//! [`Codec::REVOCABLE`]: the payload then carries a family and an epoch, and every read checks
//! the epoch against this process's copy of the revoked families ([`crate::store::RevocationCopy`]).
//!
//! A third codec is a few dozen lines: a type, its [`Codec`] impl (the cookie's name, what
//! the page calls its states, and the two functions), and two lines that name it:
//!
//! ```ignore
//! pub struct Sealed;
//!
//! impl Codec for Sealed {
//!     const COOKIE: &'static str = cookie_rules::COOKIE_SESSION;
//!     const REVOCABLE: bool = true;
//!     const WORDS: Words = Words { stage: "Private-cookie sessions", opened: "decrypted", /* ... */ };
//!
//!     fn seal(name: &str, json: String, key: &Key) -> String { /* AES-256-GCM */ }
//!     fn open(name: &str, value: &str, key: &Key) -> Option<String> { /* and back */ }
//! }
//!
//! pub type PrivateCookie<'r> = client_side::Session<'r, Sealed>;
//! pub fn stage() -> AdHoc { client_side::stage::<Sealed>() }
//! ```
//!
//! [`super::private_cookie`] and [`super::signed_cookie`] are exactly that; the routes, the
//! [`super::Strategies`] guard, a [`super::Slug`] and an explanation partial make it a page.

mod payload;
mod revocation;
mod session;
mod view;

use std::marker::PhantomData;
use std::sync::atomic::AtomicU64;

use rocket::fairing::AdHoc;

#[cfg(test)]
pub(crate) use self::payload::test_keys;
pub use self::payload::{
    open, seal, Family, Opened, Payload, Refusal, CLOCK_SKEW_MS, FORMAT_VERSION, MAX_EPOCH,
};
pub use self::session::{Received, Session};
use super::CookieSettings;
use crate::config::AppConfig;

/// How one kind of cookie session protects its value: the only code that differs between
/// them. `json` is the [`Payload`]; `name` is the cookie's full name, which a codec may bind
/// the value to (so a value moved under another name does not open).
pub trait Codec: Send + Sync + 'static {
    /// The cookie's base name, from [`crate::cookie_rules`].
    const COOKIE: &'static str;
    /// Whether "sign out everywhere" can revoke it (see the module doc).
    const REVOCABLE: bool;
    /// What the page and the log call its states.
    const WORDS: Words;

    /// The cookie value that carries `json`, made under `key`.
    fn seal(name: &str, json: String, key: &cookie::Key) -> String;
    /// The JSON inside `value` if `key` made it; `None` for anything else.
    fn open(name: &str, value: &str, key: &cookie::Key) -> Option<String>;
    /// What anyone holding the cookie reads from `value` without a key, if that is the point.
    fn readable(_value: &str) -> Option<&str> {
        None
    }
}

/// What a codec's states are called: the text that differs between the cookie sessions.
pub struct Words {
    /// The stage's name in Rocket's launch log.
    pub stage: &'static str,
    /// The cookie panel's status for a value that opened (`decrypted`).
    pub opened: &'static str,
    /// Its status for one that did not (`could not decrypt`).
    pub unopened: &'static str,
    /// Why a value did not open, after "Your `name` cookie ".
    pub unopened_because: &'static str,
    /// The log's words for a value that no key opens (`did not open`).
    pub failed: &'static str,
    /// The log's words for a value that only a previous key opened, and what was done.
    pub rotated: &'static str,
    /// What the server panel says first, whatever the cookie holds.
    pub facts: &'static [(&'static str, &'static str)],
}

/// Cookies of this kind that opened only under a previous key, since this instance started:
/// when it stops growing, that key can be retired.
pub struct OldKeyReads<C>(pub(super) AtomicU64, PhantomData<fn() -> C>);

/// Manages the cookie's settings and its count of old-key reads.
pub fn stage<C: Codec>() -> AdHoc {
    AdHoc::try_on_ignite(C::WORDS.stage, |rocket| async {
        let Some(config) = rocket.state::<AppConfig>() else {
            // The configuration stage failed and has said why; one message is enough.
            return Err(rocket);
        };
        let settings = CookieSettings::<C>::new(config, C::COOKIE);
        Ok(rocket
            .attach(settings.announce())
            .manage(settings)
            .manage(OldKeyReads::<C>(AtomicU64::new(0), PhantomData)))
    })
}
