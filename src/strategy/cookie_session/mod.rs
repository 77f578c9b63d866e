//! Strategy 3: the list itself in a Rocket private cookie (AES-256-GCM).
//!
//! - **Where the data lives:** in the browser. The `cookie_session` cookie holds the whole
//!   list as JSON, encrypted and authenticated with the app's `secret_key` exactly as
//!   Rocket's private cookies are (`add_private`/`get_private`, same crate and key); the app
//!   seals it itself so it can measure the result before sending it. The server keeps
//!   nothing.
//! - **How long it lasts:** until the browser drops it or the payload's issue time is older
//!   than `session_max_lifetime`, which the server checks on every read.
//! - **Who can read it:** only a server that has the key. The visitor sees opaque bytes; a
//!   changed byte makes the whole cookie fail to decrypt.
//! - **What it costs:** an AES-GCM decrypt per read, an encrypt per write, and the cookie's
//!   bytes on every request. Browsers keep at most 4096 bytes, so the list is small.
//! - **How it fails:** the server cannot revoke a cookie it issued: a copy replays until it
//!   expires. A cookie that does not decrypt (tampered, cut short, another key) reads as
//!   empty with a notice, never as an error page.

use rocket::fairing::AdHoc;
use rocket::http::{Cookie, CookieJar};
use rocket::request::{self, FromRequest, Request};
use serde::{Deserialize, Serialize};

use super::{CookieView, Fact, Strategy, View, COOKIE_LIMIT};
use crate::clock;
use crate::config::{AppConfig, CookiePolicy, Lifetimes};
use crate::error::AppError;
use crate::item::{ItemList, Op};
use crate::secret::SecretKey;

/// Bumped whenever the payload's shape changes; other versions read as unreadable.
const FORMAT_VERSION: u32 = 1;

/// The cookie's name and attributes and the lifetime it is checked against.
pub struct CookieSessions {
    pub policy: CookiePolicy,
    pub lifetimes: Lifetimes,
    pub cookie_name: String,
}

pub fn stage() -> AdHoc {
    AdHoc::try_on_ignite("Private-cookie sessions", |rocket| async {
        let Some(config) = rocket.state::<AppConfig>().cloned() else {
            log::error!("attach config::stage() before cookie_session::stage()");
            return Err(rocket);
        };
        Ok(rocket.manage(CookieSessions {
            policy: config.cookies(),
            lifetimes: config.lifetimes(),
            cookie_name: config.cookies().name("cookie_session"),
        }))
    })
}

/// What is encrypted into the cookie.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payload {
    /// Format version, [`FORMAT_VERSION`].
    pub v: u32,
    /// When this cookie session started (Unix ms); fixes its absolute deadline.
    pub iat: u64,
    pub items: ItemList,
}

/// What the server made of the cookie the browser sent.
#[derive(Debug, Clone)]
pub enum Received {
    Absent,
    Valid {
        raw: String,
        payload: Payload,
    },
    /// Did not decrypt, or decrypted to something that is not a current payload.
    Unreadable {
        raw: String,
    },
    /// Decrypted fine but is older than the maximum lifetime.
    Expired {
        raw: String,
    },
}

pub struct CookieSession<'r> {
    config: &'r CookieSessions,
    key: &'r SecretKey,
    jar: &'r CookieJar<'r>,
    pub received: Received,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for CookieSession<'r> {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let rocket = request.rocket();
        let (Some(config), Some(key)) = (rocket.state::<CookieSessions>(), rocket.state::<SecretKey>())
        else {
            return super::missing_state("config::stage() and cookie_session::stage()");
        };
        let jar = request.cookies();
        let received = read(jar, config, key);
        request::Outcome::Success(CookieSession { config, key, jar, received })
    }
}

/// Decrypts and checks the cookie the browser sent. Only the request's own cookie is read
/// (never `get_pending`, which would fall back to the raw, undecrypted value).
fn read(jar: &CookieJar<'_>, config: &CookieSessions, key: &SecretKey) -> Received {
    let name = &config.cookie_name;
    let Some(raw) = jar.get(name).map(|c| c.value().to_owned()) else {
        return Received::Absent;
    };
    let payload = unseal(name, &raw, key)
        .and_then(|plain| serde_json::from_str::<Payload>(&plain).ok())
        .filter(|payload| payload.v == FORMAT_VERSION);
    let Some(payload) = payload else {
        log::warn!(
            "{name}: a cookie of {} bytes did not decrypt to a valid payload; read as empty",
            raw.len()
        );
        return Received::Unreadable { raw };
    };
    if clock::now_ms() >= expires_ms(&payload, &config.lifetimes) {
        return Received::Expired { raw };
    }
    Received::Valid { raw, payload }
}

/// AES-256-GCM as Rocket's private jar does it (same crate, same key), with the cookie's
/// name as associated data: a value moved under another name does not decrypt.
fn unseal(name: &str, sealed: &str, key: &SecretKey) -> Option<String> {
    let mut scratch = cookie::CookieJar::new();
    scratch.add_original(Cookie::new(name.to_owned(), sealed.to_owned()));
    let plain = scratch.private(&key.0).get(name)?;
    Some(plain.value().to_owned())
}

fn seal(name: &str, plain: String, key: &SecretKey) -> String {
    let mut scratch = cookie::CookieJar::new();
    scratch.private_mut(&key.0).add(Cookie::new(name.to_owned(), plain));
    scratch.get(name).map(|sealed| sealed.value().to_owned()).unwrap_or_default()
}

/// The bytes a browser counts for a cookie: name plus value as sent in `Set-Cookie`, where
/// Rocket percent-encodes the base64 `+`, `/` and `=` (3 bytes each). The nonce is random,
/// so this is known exactly only after sealing.
pub fn counted_size(cookie: &Cookie<'_>) -> usize {
    cookie.stripped().encoded().to_string().len() - "=".len()
}

fn expires_ms(payload: &Payload, lifetimes: &Lifetimes) -> u64 {
    payload.iat.saturating_add(clock::millis(lifetimes.max))
}

impl CookieSession<'_> {
    fn write(&self, payload: &Payload) -> Result<(), AppError> {
        let name = &self.config.cookie_name;
        let plain = serde_json::to_string(payload).expect("strings and numbers always serialize");
        let left = expires_ms(payload, &self.config.lifetimes).saturating_sub(clock::now_ms());
        let max_age = std::time::Duration::from_millis(left);
        let cookie = super::cookie(name, seal(name, plain, self.key), self.config.policy, max_age);
        let size = counted_size(&cookie);
        if size > COOKIE_LIMIT {
            // Not added: the browser keeps the cookie it has, with the list it had.
            return Err(AppError::CookieTooLarge { size, limit: COOKIE_LIMIT });
        }
        self.jar.add(cookie);
        Ok(())
    }
}

#[rocket::async_trait]
impl Strategy for CookieSession<'_> {
    async fn view(&self) -> Result<View, AppError> {
        let name = &self.config.cookie_name;
        let nothing = Fact::new("kept in", "nothing on the server: the list is inside your cookie");
        let (items, browser, mut server, notice) = match &self.received {
            Received::Absent => (ItemList::default(), vec![], vec![], None),
            Received::Valid { raw, payload } => (
                payload.items.clone(),
                vec![CookieView::new(name, raw, "decrypted")],
                vec![
                    Fact::new("issued", clock::format_ms(payload.iat)),
                    Fact::new("expires", clock::format_ms(expires_ms(payload, &self.config.lifetimes))),
                ],
                None,
            ),
            Received::Unreadable { raw } => (
                ItemList::default(),
                vec![CookieView::new(name, raw, "could not decrypt")],
                vec![],
                Some(format!(
                    "Your {name} cookie could not be decrypted (it was changed, cut short, or made \
                     with another key), so it reads as empty. Your next change replaces it."
                )),
            ),
            Received::Expired { raw } => (
                ItemList::default(),
                vec![CookieView::new(name, raw, "expired")],
                vec![],
                Some(format!(
                    "Your {name} cookie is older than the maximum session lifetime, so it was refused."
                )),
            ),
        };
        server.insert(0, nothing);
        let expires_at = match &self.received {
            Received::Valid { payload, .. } => {
                Some(clock::format_ms(expires_ms(payload, &self.config.lifetimes)))
            }
            _ => None,
        };
        Ok(View { items, browser, server, expires_at, notice })
    }

    async fn apply(&self, op: Op) -> Result<ItemList, AppError> {
        let mut payload = match &self.received {
            Received::Valid { payload, .. } => payload.clone(),
            _ => Payload { v: FORMAT_VERSION, iat: clock::now_ms(), items: ItemList::default() },
        };
        payload.items.apply(&op)?;
        if payload.items.is_empty() {
            if !matches!(self.received, Received::Absent) {
                super::remove_cookie(self.jar, &self.config.cookie_name, self.config.policy);
            }
        } else {
            self.write(&payload)?;
        }
        Ok(payload.items)
    }
}
