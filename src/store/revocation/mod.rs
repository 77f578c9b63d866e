//! The second job of a store: the revocation epochs of private cookies.
//!
//! A private cookie carries a family id and the epoch its family had when it was sealed.
//! "Sign out everywhere" raises the family's epoch, and from then on every cookie sealed
//! with an older one is refused. The store keeps one number per family that ever signed out,
//! each only for the cookies' maximum lifetime (after that, every cookie it could revoke has
//! expired anyway), and announces every raise on a change feed so that each instance can keep
//! its own copy ([`RevocationCopy`]) and read cookies without asking the store.

pub mod copy;

use std::time::Duration;

use rocket::tokio::sync::mpsc;

pub use self::copy::{Confirmed, RevocationCopy};
use super::StoreError;

/// One family's epoch, as stored and as announced on the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The random family id inside the cookie (not a credential on its own).
    pub family: String,
    pub epoch: u64,
    /// When the store forgets it (Unix ms).
    pub until_ms: u64,
}

impl Change {
    /// `family epoch until_ms`: how Redis and Postgres announce a raise.
    pub fn to_notice(&self) -> String {
        format!("{} {} {}", self.family, self.epoch, self.until_ms)
    }

    /// The inverse of [`Change::to_notice`]; `None` for anything else.
    pub fn from_notice(notice: &str) -> Option<Change> {
        let mut parts = notice.split(' ');
        let family = parts.next().filter(|f| !f.is_empty())?.to_owned();
        let epoch = parts.next()?.parse().ok()?;
        let until_ms = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(Change { family, epoch, until_ms })
    }
}

/// Raises announced by a store, in the order it made them. The feed ends (`recv` returns
/// `None`) when its connection is lost: raises after that are not delivered, so a listener
/// must reload everything ([`RevocationStore::all`]) once it has subscribed again.
pub type Feed = mpsc::Receiver<Change>;

/// How many announced raises may wait in a [`Feed`]; a listener that falls further behind
/// loses its feed (and reloads), rather than the store holding them without limit.
pub const FEED_BUFFER: usize = 1024;

/// Where revocation epochs are kept. Every method treats an expired epoch as absent (0).
#[rocket::async_trait]
pub trait RevocationStore: Send + Sync + 'static {
    /// Whether the epochs live in this process only (gone on restart, not seen by other
    /// instances), as the memory store's do.
    fn per_process(&self) -> bool {
        false
    }

    /// The family's current epoch: 0 for a family that never signed out, or whose epoch has
    /// been forgotten.
    async fn epoch(&self, family: &str) -> Result<u64, StoreError>;

    /// Raises the family's epoch to `epoch` (never lowers it), kept for `ttl`, and announces
    /// the result on every subscriber's feed. Returns the epoch as stored afterwards.
    async fn raise(&self, family: &str, epoch: u64, ttl: Duration) -> Result<Change, StoreError>;

    /// Every epoch the store still keeps: what a listener reloads after (re)subscribing.
    async fn all(&self) -> Result<Vec<Change>, StoreError>;

    /// Starts a feed of every raise made from now on, by this process or any other that uses
    /// the same store. Once this returns, no raise can slip between it and the feed.
    async fn subscribe(&self) -> Result<Feed, StoreError>;

    /// Forgets every expired epoch and says how many it removed.
    async fn purge_expired(&self) -> Result<usize, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::Change;

    #[test]
    fn notices_round_trip_and_nothing_else_parses() {
        let change = Change { family: "ab12".into(), epoch: 3, until_ms: 1_700_000_000_000 };
        assert_eq!(Change::from_notice(&change.to_notice()), Some(change));
        for bad in ["", "ab12", "ab12 3", "ab12 x 1", "ab12 3 1 extra", " 3 1"] {
            assert_eq!(Change::from_notice(bad), None, "{bad:?}");
        }
    }
}
