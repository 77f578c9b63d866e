//! Strategy 3: the list itself in a private (AES-256-GCM encrypted) cookie.
//!
//! - **Where the data lives:** in the browser. The `cookie_session` cookie holds the whole
//!   list as JSON, encrypted and authenticated with the app's `secret_key` exactly as
//!   Rocket's private cookies are (`add_private`/`get_private`: same crate, same key); the app
//!   seals it itself ([`sealed`]) so it can measure the result before sending it. The server
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
//!   session store, with a copy in every instance's memory ([`crate::store::Revocations`])
//!   that the store keeps current; a read checks the copy, with no network call, and a
//!   cookie from an older epoch reads as empty. With the memory store the epoch lives in one
//!   process: another instance, or this one after a restart, does not know it. A sign-out reaches the other instances within
//!   a second. While the store is unreachable the cookie is still accepted (the strategy
//!   keeps working without it) and the page says when revocation was last confirmed.
//!   A cookie that does not open (tampered, cut short, unknown key) reads as empty with a
//!   notice, never as an error page.

pub mod sealed;
mod view;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rocket::fairing::AdHoc;
use rocket::http::CookieJar;
use rocket::request::{self, FromRequest, Request};
use rocket::tokio::sync::OnceCell;

use self::sealed::{counted_size, Payload};
use super::{Strategy, View, COOKIE_LIMIT};
use crate::clock;
use crate::config::{AppConfig, CookiePolicy, Lifetimes};
use crate::error::AppError;
use crate::item::{ItemList, Op};
use crate::secret::SecretKeys;
use crate::store::revocations::Confirmed;
use crate::store::Revocations;

/// The cookie's name and attributes, the lifetimes it is checked against, and a count of
/// cookies that opened only under a previous key (when it stays at zero, retire that key).
pub struct CookieSessions {
    pub policy: CookiePolicy,
    pub lifetimes: Lifetimes,
    pub cookie_name: String,
    pub old_key_reads: AtomicU64,
}

pub fn stage() -> AdHoc {
    AdHoc::try_on_ignite("Private-cookie sessions", |rocket| async {
        let Some(config) = rocket.state::<AppConfig>().cloned() else {
            // The configuration stage failed and has said why; one message is enough.
            return Err(rocket);
        };
        Ok(rocket.manage(CookieSessions {
            policy: config.cookies(),
            lifetimes: config.lifetimes(),
            cookie_name: config.cookies().name("cookie_session"),
            old_key_reads: AtomicU64::new(0),
        }))
    })
}

/// What the server made of the cookie the browser sent.
#[derive(Debug, Clone)]
pub enum Received {
    Absent,
    Valid {
        raw: String,
        payload: Payload,
    },
    /// Did not open under any key, or held something that is not a current payload.
    Unreadable {
        raw: String,
    },
    /// Opened fine, but its idle or absolute deadline has passed.
    Expired {
        raw: String,
    },
    /// Opened fine, but its family signed out everywhere after it was issued.
    Revoked {
        raw: String,
    },
}

pub struct CookieSession<'r> {
    config: &'r CookieSessions,
    keys: &'r SecretKeys,
    /// The revoked families, as this process knows them.
    revocations: &'r Revocations,
    jar: &'r CookieJar<'r>,
    /// The cookie, opened and checked on first use: a request for another strategy pays no
    /// decryption and no revocation lookup.
    reading: OnceCell<Reading>,
}

/// What [`CookieSession::read`] found.
struct Reading {
    received: Received,
    /// How sure the revocation check was (`None`: the cookie did not get that far).
    confirmed: Option<Confirmed>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for CookieSession<'r> {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let rocket = request.rocket();
        let state = (
            rocket.state::<CookieSessions>(),
            rocket.state::<SecretKeys>(),
            rocket.state::<Arc<Revocations>>(),
        );
        let (Some(config), Some(keys), Some(revocations)) = state else {
            return super::missing_state("config, store and cookie_session stages");
        };
        let jar = request.cookies();
        request::Outcome::Success(CookieSession { config, keys, revocations, jar, reading: OnceCell::new() })
    }
}

impl CookieSession<'_> {
    /// What the server made of the cookie the browser sent.
    async fn received(&self) -> &Received {
        &self.reading().await.received
    }

    async fn reading(&self) -> &Reading {
        self.reading
            .get_or_init(|| async {
                let mut confirmed = None;
                let received = self.read(&mut confirmed).await;
                Reading { received, confirmed }
            })
            .await
    }

    /// Opens and checks the cookie the browser sent. Only the request's own cookie is read
    /// (never `get_pending`, which would fall back to the raw, unopened value).
    async fn read(&self, confirmed: &mut Option<Confirmed>) -> Received {
        let name = &self.config.cookie_name;
        let Some(raw) = self.jar.get(name).map(|c| c.value().to_owned()) else {
            return Received::Absent;
        };
        let Some(opened) = sealed::open(name, &raw, self.keys) else {
            log::warn!("{name}: a cookie of {} bytes did not open under any key; read as empty", raw.len());
            return Received::Unreadable { raw };
        };
        let mut payload = opened.payload;
        let now = clock::now_ms();
        if now >= payload.expires_ms(&self.config.lifetimes) {
            return Received::Expired { raw };
        }
        let (epoch, how) = self.revocations.epoch(&payload.sid).await;
        *confirmed = Some(how);
        if payload.ep < epoch {
            return Received::Revoked { raw };
        }
        // A read re-seals the cookie (moving its idle deadline) only once it is this old, so
        // an active reader does not idle out while most reads cost no encryption.
        let stale = now.saturating_sub(payload.seen) >= clock::millis(self.config.lifetimes.refresh_after());
        if opened.under_previous_key || stale {
            if opened.under_previous_key {
                let n = self.config.old_key_reads.fetch_add(1, Ordering::Relaxed) + 1;
                log::info!(
                    "{name}: opened under a previous key, re-sealed under the current one ({n} so far)"
                );
            }
            payload.seen = now;
            // Best effort: a refresh that no longer fits leaves the browser's cookie as it is.
            let _ = self.write(&payload);
        }
        Received::Valid { raw, payload }
    }

    fn write(&self, payload: &Payload) -> Result<(), AppError> {
        let name = &self.config.cookie_name;
        let left = payload.expires_ms(&self.config.lifetimes).saturating_sub(clock::now_ms());
        let max_age = Duration::from_millis(left.min(clock::millis(self.config.lifetimes.max)));
        let cookie = super::cookie(name, sealed::seal(name, payload, self.keys), self.config.policy, max_age);
        let size = counted_size(&cookie);
        if size > COOKIE_LIMIT {
            // Not added: the browser keeps the cookie it has, with the list it had.
            return Err(AppError::CookieTooLarge { cookie: name.clone(), size, limit: COOKIE_LIMIT });
        }
        self.jar.add(cookie);
        Ok(())
    }

    /// "Sign out everywhere": raises the family's epoch in the store (and in this instance's
    /// copy), so this cookie and every copy of it read as empty from now on, here at once and
    /// on every other instance as soon as the store's notice arrives; deletes the cookie here.
    pub async fn sign_out_everywhere(&self) -> Result<(), AppError> {
        let received = self.received().await;
        if let Received::Valid { payload, .. } = received {
            let revocations = self.revocations;
            revocations.raise(&payload.sid, payload.ep + 1, self.config.lifetimes.max).await?;
            log::info!("{}: a family signed out everywhere", self.config.cookie_name);
        }
        if !matches!(received, Received::Absent) {
            super::remove_cookie(self.jar, &self.config.cookie_name, self.config.policy);
        }
        Ok(())
    }

    pub fn old_key_reads(&self) -> u64 {
        self.config.old_key_reads.load(Ordering::Relaxed)
    }
}

#[rocket::async_trait]
impl Strategy for CookieSession<'_> {
    async fn view(&self) -> Result<View, AppError> {
        Ok(self.show(self.reading().await))
    }

    async fn items(&self) -> Result<ItemList, AppError> {
        let list = |received: &Received| match received {
            Received::Valid { payload, .. } => Some(payload.items.clone()),
            _ => None,
        };
        if let Some(reading) = self.reading.get() {
            return Ok(list(&reading.received).unwrap_or_default());
        }
        // Not read yet (the API's list route asks only this): read, and hand the list over
        // rather than keep it and return a copy.
        Ok(match self.read(&mut None).await {
            Received::Valid { payload, .. } => payload.items,
            _ => ItemList::default(),
        })
    }

    async fn apply(&self, op: Op) -> Result<ItemList, AppError> {
        let now = clock::now_ms();
        let received = self.received().await;
        let mut payload = match received {
            Received::Valid { payload, .. } => payload.clone(),
            _ => Payload::new(now),
        };
        payload.items.apply(&op)?;
        payload.seen = now;
        if payload.items.is_empty() {
            if !matches!(received, Received::Absent) {
                super::remove_cookie(self.jar, &self.config.cookie_name, self.config.policy);
            }
        } else {
            self.write(&payload)?;
        }
        Ok(payload.items)
    }
}
