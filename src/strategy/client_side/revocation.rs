//! The optional part of a cookie session: "sign out everywhere", for a codec with
//! [`Codec::REVOCABLE`]. Each cookie carries a [`super::Family`] and the epoch it was issued
//! at; the session store keeps a family's current epoch once it signs out, every instance
//! keeps a copy ([`RevocationCopy`]), and a cookie from an older epoch is refused.

use super::{Codec, Payload, Received, Session};
use crate::clock;
use crate::error::AppError;
use crate::store::revocation::Confirmed;
use crate::store::RevocationCopy;

impl<C: Codec> Session<'_, C> {
    /// Whether `payload`'s family signed out everywhere after it was issued; records in
    /// `confirmed` how sure this instance is. Never, for a cookie that cannot be revoked.
    pub(super) async fn revoked(&self, payload: &Payload, confirmed: &mut Option<Confirmed>) -> bool {
        let (Some(revocations), Some(family)) = (self.revocations, payload.family()) else {
            return false;
        };
        let (epoch, how) = revocations.epoch(family.id).await;
        *confirmed = Some(how);
        family.epoch < epoch
    }

    /// "Sign out everywhere": raises the family's epoch in the store (and in this instance's
    /// copy), so this cookie and every copy of it read as empty from now on, here at once and
    /// on every other instance as soon as the store's notice arrives; deletes the cookie here.
    /// For a cookie that cannot be revoked, it only deletes the cookie.
    pub async fn sign_out_everywhere(&self) -> Result<(), AppError> {
        let received = &self.reading().await.received;
        if let (Some(revocations), Received::Valid { payload, .. }) = (self.revocations, received) {
            if let Some(family) = payload.family() {
                // `epoch` is at most MAX_EPOCH (a payload past it never reads as valid): no overflow.
                let next = family.epoch.saturating_add(1);
                revocations.raise(family.id, next, self.settings.lifetimes.max).await?;
                log::info!("{}: a family signed out everywhere", self.settings.name);
            }
        }
        if !matches!(received, Received::Absent) {
            self.remove();
        }
        Ok(())
    }

    /// What *Sign out everywhere* leaves on the server, and who sees it: two sentences. How
    /// the epochs are kept current on every instance is in the explanation and docs/stores.md;
    /// whether this instance's copy is current is in `/api/inspect` (`revocation`), and a
    /// notice says so when it is not.
    pub(super) fn revocation_fact(&self, revocations: &RevocationCopy) -> String {
        let reach = if revocations.per_process() {
            "It is kept in this process only: another instance, or this one after a restart, does not see it."
        } else {
            "Every instance that uses this store sees it."
        };
        format!(
            "Sign out everywhere makes the {} store keep one epoch for your cookie family for {}, \
             and every copy of this cookie is refused from then on. {reach}",
            revocations.backend(),
            clock::span(self.settings.lifetimes.max)
        )
    }
}

/// The notice for a cookie accepted without a revocation check (the store did not answer).
pub(super) fn unconfirmed(confirmed: Option<Confirmed>) -> Option<String> {
    let Some(Confirmed::Since(since)) = confirmed else { return None };
    let since = since
        .map_or("since this instance started".to_owned(), |at| format!("after {}", clock::format_ms(at)));
    Some(format!(
        "The session store is unreachable, so revocation could not be checked: a sign-out on \
         another instance {since} may not be seen here yet."
    ))
}
