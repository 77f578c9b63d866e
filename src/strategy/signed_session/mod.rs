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

use std::sync::OnceLock;
use std::time::Duration;

use rocket::fairing::AdHoc;
use rocket::http::CookieJar;
use rocket::request::{self, FromRequest, Request};
pub mod signed;

use self::signed::{readable, sign, verify, Payload};
use super::cookie_session::sealed::counted_size;
use super::{CookieView, Fact, Strategy, View, COOKIE_LIMIT};
use crate::clock;
use crate::config::{AppConfig, CookiePolicy, Lifetimes};
use crate::error::AppError;
use crate::item::{ItemList, Op};
use crate::secret::SecretKeys;

/// The cookie's name and attributes and the lifetimes it is checked against.
pub struct SignedSessions {
    pub policy: CookiePolicy,
    pub lifetimes: Lifetimes,
    pub cookie_name: String,
}

pub fn stage() -> AdHoc {
    AdHoc::try_on_ignite("Signed-cookie demonstrator", |rocket| async {
        let Some(config) = rocket.state::<AppConfig>().cloned() else {
            // The configuration stage failed and has said why; one message is enough.
            return Err(rocket);
        };
        Ok(rocket.manage(SignedSessions {
            policy: config.cookies(),
            lifetimes: config.lifetimes(),
            cookie_name: config.cookies().name("signed_session"),
        }))
    })
}

/// What the server made of the cookie the browser sent.
#[derive(Debug, Clone)]
enum Received {
    Absent,
    Valid {
        raw: String,
        payload: Payload,
    },
    /// The tag did not verify under any key, or the JSON is not a current payload.
    Unverified {
        raw: String,
    },
    /// Verified, but its idle or absolute deadline has passed.
    Expired {
        raw: String,
    },
}

/// The signed cookie as seen by one request; verified on first use.
pub struct SignedSession<'r> {
    config: &'r SignedSessions,
    keys: &'r SecretKeys,
    jar: &'r CookieJar<'r>,
    received: OnceLock<Received>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for SignedSession<'r> {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let rocket = request.rocket();
        let (Some(config), Some(keys)) = (rocket.state::<SignedSessions>(), rocket.state::<SecretKeys>())
        else {
            return super::missing_state("config and signed_session stages");
        };
        request::Outcome::Success(SignedSession {
            config,
            keys,
            jar: request.cookies(),
            received: OnceLock::new(),
        })
    }
}

impl SignedSession<'_> {
    fn received(&self) -> &Received {
        self.received.get_or_init(|| self.read())
    }

    /// Verifies and checks the cookie the browser sent (never a pending one, which would be
    /// the raw, unverified value).
    fn read(&self) -> Received {
        let name = &self.config.cookie_name;
        let Some(raw) = self.jar.get(name).map(|c| c.value().to_owned()) else {
            return Received::Absent;
        };
        let Some((mut payload, under_previous_key)) = verify(name, &raw, self.keys) else {
            log::warn!("{name}: a cookie of {} bytes did not verify under any key; read as empty", raw.len());
            return Received::Unverified { raw };
        };
        let now = clock::now_ms();
        if now >= payload.expires_ms(&self.config.lifetimes) {
            return Received::Expired { raw };
        }
        // As for the private cookie: sign again (moving the idle deadline) only once stale.
        let stale = now.saturating_sub(payload.seen) >= clock::millis(self.config.lifetimes.refresh_after());
        if under_previous_key || stale {
            if under_previous_key {
                log::info!("{name}: verified under a previous key, signed again under the current one");
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
        let cookie = super::cookie(name, sign(name, payload, self.keys), self.config.policy, max_age);
        let size = counted_size(&cookie);
        if size > COOKIE_LIMIT {
            return Err(AppError::CookieTooLarge { cookie: name.clone(), size, limit: COOKIE_LIMIT });
        }
        self.jar.add(cookie);
        Ok(())
    }

    fn refused(
        &self,
        raw: &str,
        status: &str,
        notice: String,
    ) -> (ItemList, Vec<CookieView>, Option<String>) {
        let view = CookieView::new(&self.config.cookie_name, raw, status);
        (ItemList::default(), vec![view], Some(notice))
    }
}

#[rocket::async_trait]
impl Strategy for SignedSession<'_> {
    async fn view(&self) -> Result<View, AppError> {
        let name = &self.config.cookie_name;
        let mut server = vec![
            Fact::new("kept in", "nothing on the server: the list is in your cookie, in plain text"),
            Fact::new("revocation", "none: a copy replays until it expires"),
        ];
        let mut expires_at = None;
        let (items, browser, notice) = match self.received() {
            Received::Absent => (ItemList::default(), vec![], None),
            Received::Valid { raw, payload } => {
                let expires = clock::format_ms(payload.expires_ms(&self.config.lifetimes));
                server.push(Fact::new("started", clock::format_ms(payload.iat)));
                server.push(Fact::new("expires", &expires));
                expires_at = Some(expires);
                let mut view = CookieView::new(name, raw, "signature verified");
                view.readable = Some(readable(raw).to_owned());
                (payload.items.clone(), vec![view], None)
            }
            Received::Unverified { raw } => self.refused(
                raw,
                "signature did not verify",
                format!(
                    "Your {name} cookie failed its signature check (it was changed, cut short, or \
                     signed with another key), so it reads as empty. Your next change replaces it."
                ),
            ),
            Received::Expired { raw } => self.refused(
                raw,
                "expired",
                format!(
                    "Your {name} cookie is past its idle timeout or maximum lifetime, so it was refused."
                ),
            ),
        };
        Ok(View { items, browser, server, expires_at, notice })
    }

    async fn items(&self) -> Result<ItemList, AppError> {
        Ok(match self.received() {
            Received::Valid { payload, .. } => payload.items.clone(),
            _ => ItemList::default(),
        })
    }

    async fn apply(&self, op: Op) -> Result<ItemList, AppError> {
        let now = clock::now_ms();
        let received = self.received();
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
