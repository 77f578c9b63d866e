//! The default store: a `HashMap` in this process, behind one mutex.
//!
//! Fast and needs nothing installed, but it lives and dies with the process: a restart
//! forgets every session, and a second instance has its own, separate map. The mutex is
//! held only for the map operation itself (never across an `.await`), which is what makes
//! each `update` atomic.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rocket::tokio::sync::mpsc;

use super::revocation::FEED_BUFFER;
use super::{Change, Feed, Record, RevocationStore, SessionStore, StoreError, Updated};
use crate::clock::{self, now_ms};
use crate::config::Lifetimes;
use crate::item::{ItemList, Op};
use crate::session_id::SessionId;

type Key = [u8; 32];

pub struct MemoryStore {
    lifetimes: Lifetimes,
    records: Mutex<HashMap<Key, Record>>,
    /// Private-cookie family -> (revocation epoch, forget after Unix ms).
    epochs: Mutex<HashMap<String, (u64, u64)>>,
    /// Where raises are announced: only this process can make them, but the copy kept by
    /// [`super::RevocationCopy`] follows this store the way it follows a network one.
    subscribers: Mutex<Vec<mpsc::Sender<Change>>>,
}

impl MemoryStore {
    pub fn new(lifetimes: Lifetimes) -> MemoryStore {
        MemoryStore {
            lifetimes,
            records: Mutex::new(HashMap::new()),
            epochs: Mutex::new(HashMap::new()),
            subscribers: Mutex::new(Vec::new()),
        }
    }

    fn epochs(&self) -> MutexGuard<'_, HashMap<String, (u64, u64)>> {
        self.epochs.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn records(&self) -> MutexGuard<'_, HashMap<Key, Record>> {
        // A panic while holding the lock cannot leave a half-written record (every write is
        // a single map operation), so the data behind a poisoned lock is still sound.
        self.records.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The live record under `key`, with its idle deadline moved to now; an expired record
    /// is removed on the way.
    fn live<'m>(&self, map: &'m mut HashMap<Key, Record>, key: &Key) -> Option<&'m mut Record> {
        let now = now_ms();
        if !map.get(key)?.is_live(&self.lifetimes, now) {
            map.remove(key);
            return None;
        }
        let record = map.get_mut(key)?;
        record.seen_ms = now;
        Some(record)
    }
}

#[rocket::async_trait]
impl SessionStore for MemoryStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    fn per_process(&self) -> bool {
        true
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        let mut map = self.records();
        Ok(self.live(&mut map, &id.hash()).map(|record| record.clone()))
    }

    async fn create(&self, id: &SessionId, items: ItemList) -> Result<Record, StoreError> {
        let record = Record::new(items, now_ms());
        self.records().insert(id.hash(), record.clone());
        Ok(record)
    }

    async fn update(&self, id: &SessionId, op: &Op) -> Result<Updated, StoreError> {
        let mut map = self.records();
        let Some(record) = self.live(&mut map, &id.hash()) else {
            return Ok(Updated::Missing);
        };
        Ok(match record.items.apply(op) {
            Ok(()) => Updated::Applied(record.clone()),
            Err(refused) => Updated::Refused(refused),
        })
    }

    async fn rotate(&self, old: &SessionId, new: &SessionId) -> Result<bool, StoreError> {
        let mut map = self.records();
        if self.live(&mut map, &old.hash()).is_none() {
            return Ok(false);
        }
        let record = map.remove(&old.hash()).expect("checked live above, under the same lock");
        map.insert(new.hash(), record);
        Ok(true)
    }

    async fn destroy(&self, id: &SessionId) -> Result<bool, StoreError> {
        let mut map = self.records();
        let was_live = self.live(&mut map, &id.hash()).is_some();
        map.remove(&id.hash());
        Ok(was_live)
    }

    async fn purge_expired(&self) -> Result<usize, StoreError> {
        let now = now_ms();
        let mut map = self.records();
        let before = map.len();
        map.retain(|_, record| record.is_live(&self.lifetimes, now));
        // Give memory back after a large purge, so "expired sessions release memory" holds.
        if map.len() < map.capacity() / 4 {
            map.shrink_to_fit();
        }
        let purged = before - map.len();
        drop(map);
        if purged > 0 {
            crate::allocator::release_freed_memory();
        }
        Ok(purged)
    }

    async fn count(&self) -> Result<usize, StoreError> {
        let now = now_ms();
        Ok(self.records().values().filter(|r| r.is_live(&self.lifetimes, now)).count())
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
        let mut subscribers = self.subscribers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
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
        self.subscribers.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(sender);
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
