//! The memory store's revocation epochs: one map in this process, and the feed that tells this
//! process's own copy ([`crate::store::RevocationCopy`]) of every raise.

use std::collections::HashMap;
use std::sync::{MutexGuard, PoisonError};
use std::time::Duration;

use rocket::tokio::sync::mpsc;

use super::MemoryStore;
use crate::clock::{self, now_ms};
use crate::store::revocation::FEED_BUFFER;
use crate::store::{Change, Feed, RevocationStore, StoreError};

impl MemoryStore {
    fn epochs(&self) -> MutexGuard<'_, HashMap<String, (u64, u64)>> {
        self.epochs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[rocket::async_trait]
impl RevocationStore for MemoryStore {
    fn per_process(&self) -> bool {
        true
    }

    async fn epoch(&self, family: &str) -> Result<u64, StoreError> {
        let epochs = self.epochs();
        Ok(epochs.get(family).filter(|(_, until)| *until > now_ms()).map_or(0, |(epoch, _)| *epoch))
    }

    async fn raise(&self, family: &str, epoch: u64, ttl: Duration) -> Result<Change, StoreError> {
        let until_ms = now_ms().saturating_add(clock::millis(ttl));
        let stored = {
            let mut epochs = self.epochs();
            let entry = epochs.entry(family.to_owned()).or_insert((0, until_ms));
            *entry = (entry.0.max(epoch), until_ms);
            entry.0
        };
        let change = Change { family: family.to_owned(), epoch: stored, until_ms };
        // A subscriber that is gone, or too far behind, loses its feed (and reloads).
        let mut subscribers = self.subscribers.lock().unwrap_or_else(PoisonError::into_inner);
        subscribers.retain(|feed| feed.try_send(change.clone()).is_ok());
        Ok(change)
    }

    async fn all(&self) -> Result<Vec<Change>, StoreError> {
        let now = now_ms();
        let epochs = self.epochs();
        let live = epochs.iter().filter(|(_, (_, until))| *until > now);
        Ok(live
            .map(|(family, (epoch, until))| Change {
                family: family.clone(),
                epoch: *epoch,
                until_ms: *until,
            })
            .collect())
    }

    async fn subscribe(&self) -> Result<Feed, StoreError> {
        let (sender, feed) = mpsc::channel(FEED_BUFFER);
        self.subscribers.lock().unwrap_or_else(PoisonError::into_inner).push(sender);
        Ok(feed)
    }

    async fn purge_expired(&self) -> Result<usize, StoreError> {
        let now = now_ms();
        let mut epochs = self.epochs();
        let before = epochs.len();
        epochs.retain(|_, (_, until)| *until > now);
        Ok(before - epochs.len())
    }
}
