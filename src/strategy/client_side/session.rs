//! One cookie session as a request sees it: read once, checked, refreshed, written.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rocket::http::CookieJar;
use rocket::request::{self, FromRequest, Request};
use rocket::tokio::sync::OnceCell;

use super::{open, seal, Codec, OldKeyReads, Payload, Refusal};
use crate::clock;
use crate::cookie_rules;
use crate::error::AppError;
use crate::item::{ItemList, Op};
use crate::secret::SecretKeys;
use crate::store::revocation::Confirmed;
use crate::store::RevocationCopy;
use crate::strategy::{CookieSettings, Strategy, View};

/// What the server made of the cookie the browser sent.
#[derive(Debug, Clone)]
pub enum Received {
    Absent,
    Valid {
        raw: String,
        payload: Payload,
    },
    /// No key opened it, or it held something that is not a current payload.
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
    /// Opened fine, but holds times or an epoch no server of this app writes: forged or
    /// broken by a holder of the key ([`super::Refusal::Implausible`]).
    Implausible {
        raw: String,
    },
}

/// A cookie session as seen by one request.
pub struct Session<'r, C: Codec> {
    pub(super) settings: &'r CookieSettings<C>,
    keys: &'r SecretKeys,
    old_key_reads: &'r OldKeyReads<C>,
    /// The revoked families as this process knows them; `None` unless the codec is revocable.
    pub(super) revocations: Option<&'r RevocationCopy>,
    jar: &'r CookieJar<'r>,
    /// The cookie, opened and checked on first use: a request for another strategy pays
    /// nothing for this one.
    reading: OnceCell<Reading>,
}

/// What [`Session::read`] found.
pub(super) struct Reading {
    pub(super) received: Received,
    /// How sure the revocation check was (`None`: there was none).
    pub(super) confirmed: Option<Confirmed>,
}

#[rocket::async_trait]
impl<'r, C: Codec> FromRequest<'r> for Session<'r, C> {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let rocket = request.rocket();
        let state = (rocket.state(), rocket.state(), rocket.state());
        let (Some(settings), Some(keys), Some(old_key_reads)) = state else {
            return crate::strategy::missing_state("config and the cookie strategy's stages");
        };
        // Only a revocable cookie takes the revocation copy (the store stage manages it).
        let revocations = match C::REVOCABLE {
            false => None,
            true => match rocket.state::<Arc<RevocationCopy>>() {
                Some(revocations) => Some(revocations.as_ref()),
                None => return crate::strategy::missing_state("store::stage()"),
            },
        };
        let jar = request.cookies();
        let reading = OnceCell::new();
        request::Outcome::Success(Session { settings, keys, old_key_reads, revocations, jar, reading })
    }
}

impl<C: Codec> Session<'_, C> {
    pub(super) async fn reading(&self) -> &Reading {
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
        let name = &self.settings.name;
        let Some(raw) = self.jar.get(name).map(|c| c.value().to_owned()) else {
            return Received::Absent;
        };
        let Some(opened) = open::<C>(name, &raw, self.keys) else {
            let failed = C::WORDS.failed;
            log::warn!("{name}: a cookie of {} bytes {failed} under any key; read as empty", raw.len());
            return Received::Unreadable { raw };
        };
        let mut payload = opened.payload;
        let now = clock::now_ms();
        match payload.check(now, &self.settings.lifetimes) {
            Ok(()) => {}
            Err(Refusal::Expired) => return Received::Expired { raw },
            Err(Refusal::Implausible) => {
                log::warn!(
                    "{name}: a cookie that opened holds times or an epoch no server writes; read as empty"
                );
                return Received::Implausible { raw };
            }
        }
        if self.revoked(&payload, confirmed).await {
            return Received::Revoked { raw };
        }
        // A read writes the cookie again (moving its idle deadline) only once it is this old,
        // so an active reader does not idle out while most reads cost no sealing.
        let stale =
            now.saturating_sub(payload.seen_ms) >= clock::millis(self.settings.lifetimes.refresh_after());
        if opened.under_previous_key || stale {
            if opened.under_previous_key {
                let n = self.old_key_reads.0.fetch_add(1, Ordering::Relaxed) + 1;
                log::info!("{name}: {} under the current one ({n} so far)", C::WORDS.rotated);
            }
            payload.seen_ms = now;
            // Best effort: a refresh that no longer fits leaves the browser's cookie as it is.
            let _ = self.write(&payload);
        }
        Received::Valid { raw, payload }
    }

    /// Sets the cookie to `payload`, unless it would pass the browser's limit: then the
    /// browser keeps the cookie it has, with the list it had.
    fn write(&self, payload: &Payload) -> Result<(), AppError> {
        let CookieSettings { name, policy, .. } = self.settings;
        let cookie =
            cookie_rules::build(name, seal::<C>(name, payload, self.keys), *policy, self.max_age(payload));
        let size = cookie_rules::stored_size(&cookie);
        if size > cookie_rules::LIMIT {
            return Err(AppError::CookieTooLarge { cookie: name.clone(), size, limit: cookie_rules::LIMIT });
        }
        self.jar.add(cookie);
        Ok(())
    }

    /// The `Max-Age` a write of `payload` gives the cookie: from its last write (`seen_ms`, set
    /// just before every write) to its deadline, so the page can show the exact value too.
    pub(super) fn max_age(&self, payload: &Payload) -> Duration {
        let lifetimes = &self.settings.lifetimes;
        let left = payload.expires_ms(lifetimes).saturating_sub(payload.seen_ms);
        Duration::from_millis(left.min(clock::millis(lifetimes.max)))
    }

    pub(super) fn remove(&self) {
        cookie_rules::remove(self.jar, &self.settings.name, self.settings.policy);
    }

    /// Private cookies opened under a previous key (and re-sealed) since this instance started.
    pub fn old_key_reads(&self) -> u64 {
        self.old_key_reads.0.load(Ordering::Relaxed)
    }
}

#[rocket::async_trait]
impl<C: Codec> Strategy for Session<'_, C> {
    async fn view(&self) -> Result<View, AppError> {
        Ok(self.show(self.reading().await))
    }

    async fn items(&self) -> Result<ItemList, AppError> {
        if let Some(reading) = self.reading.get() {
            return Ok(match &reading.received {
                Received::Valid { payload, .. } => payload.items.clone(),
                _ => ItemList::default(),
            });
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
        let received = &self.reading().await.received;
        let mut payload = match received {
            Received::Valid { payload, .. } => payload.clone(),
            _ => Payload::new(now, C::REVOCABLE),
        };
        payload.items.apply(&op)?;
        payload.seen_ms = now;
        if payload.items.is_empty() {
            if !matches!(received, Received::Absent) {
                self.remove();
            }
        } else {
            self.write(&payload)?;
        }
        Ok(payload.items)
    }
}
