//! The default store: maps in this process, behind one mutex.
//!
//! Fast and needs nothing installed, but it lives and dies with the process: a restart
//! forgets every session, and a second instance has its own, separate maps. The mutex is held
//! only for the map operations themselves (never across an `.await`), which is what makes
//! each operation atomic. Besides the sessions it keeps what every store keeps: the forwards
//! of rotated-away ids for the grace window, and each network's rate bucket (one instance by
//! definition, so the bucket is this process's).

mod revocation;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rocket::tokio::sync::mpsc;

use super::{Change, Created, RateCharge, Reached, Record, Rotated, SessionStore, StoreError, Updated};
use crate::clock::{self, now_ms};
use crate::config::Lifetimes;
use crate::item::{ItemList, Op};
use crate::session_id::SessionId;

type Key = [u8; 32];

/// Where a rotated-away id leads, until `until_ms`: the successor's key and its id sealed for
/// the old id's holders ([`SessionId::seal_successor`]), as a network store keeps it.
struct Forward {
    to: Key,
    to_hex: String,
    sealed: String,
    until_ms: u64,
}

#[derive(Default)]
struct Sessions {
    records: HashMap<Key, Record>,
    forwards: HashMap<Key, Forward>,
    /// Each network's theoretical arrival time ([`crate::admission::rate`]).
    rates: HashMap<String, u64>,
}

pub struct MemoryStore {
    lifetimes: Lifetimes,
    sessions: Mutex<Sessions>,
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
            sessions: Mutex::default(),
            epochs: Mutex::default(),
            subscribers: Mutex::default(),
        }
    }

    fn sessions(&self) -> MutexGuard<'_, Sessions> {
        // A panic while holding the lock cannot leave a half-written record (every write is
        // a single map operation), so the data behind a poisoned lock is still sound.
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Sessions {
    /// The key `id` reaches now: its own while its session is live, else its successor's
    /// within the grace window (with the successor's id). An expired record is removed on the
    /// way; a visit moves the idle deadline.
    fn reach(&mut self, id: &SessionId, lifetimes: &Lifetimes, now: u64) -> Option<Reached<Key>> {
        let own = id.hash();
        let (key, moved_to) = match self.forwards.get(&own).filter(|f| f.until_ms > now) {
            Some(forward) => (forward.to, Some(id.open_successor(&forward.sealed, &forward.to_hex)?)),
            None => (own, None),
        };
        if !self.records.get(&key)?.is_live(lifetimes, now) {
            self.records.remove(&key);
            return None;
        }
        Some(Reached { value: key, moved_to })
    }

    /// The reached record, its visit recorded.
    fn visit(&mut self, id: &SessionId, lifetimes: &Lifetimes) -> Option<Reached<&mut Record>> {
        let now = now_ms();
        let Reached { value: key, moved_to } = self.reach(id, lifetimes, now)?;
        let record = self.records.get_mut(&key)?;
        record.seen_ms = now;
        Some(Reached { value: record, moved_to })
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

    async fn load(&self, id: &SessionId) -> Result<Option<Reached<Record>>, StoreError> {
        let mut sessions = self.sessions();
        let reached = sessions.visit(id, &self.lifetimes);
        Ok(reached.map(|Reached { value, moved_to }| Reached { value: value.clone(), moved_to }))
    }

    async fn create(
        &self,
        id: &SessionId,
        items: ItemList,
        rate: &RateCharge,
    ) -> Result<Created, StoreError> {
        let now = now_ms();
        let mut sessions = self.sessions();
        let tat = sessions.rates.get(&rate.network).copied();
        match rate.rule.admit(tat, now) {
            Err(retry_after) => Ok(Created::TooFast { retry_after }),
            Ok(next) => {
                sessions.rates.insert(rate.network.clone(), next);
                let record = Record::new(items, now);
                sessions.records.insert(id.hash(), record.clone());
                Ok(Created::Stored(record))
            }
        }
    }

    async fn update(&self, id: &SessionId, op: &Op) -> Result<Option<Reached<Updated>>, StoreError> {
        let mut sessions = self.sessions();
        let Some(Reached { value: record, moved_to }) = sessions.visit(id, &self.lifetimes) else {
            return Ok(None);
        };
        let value = record.items.apply(op).map(|()| record.clone());
        Ok(Some(Reached { value, moved_to }))
    }

    async fn rotate(&self, old: &SessionId, new: &SessionId) -> Result<Rotated, StoreError> {
        let now = now_ms();
        let mut sessions = self.sessions();
        match sessions.reach(old, &self.lifetimes, now) {
            None => Ok(Rotated::Missing),
            Some(Reached { moved_to: Some(successor), .. }) => Ok(Rotated::Already(successor)),
            Some(Reached { value: key, moved_to: None }) => {
                let record = sessions.records.remove(&key).expect("reached above, under the same lock");
                sessions.records.insert(new.hash(), record);
                let until_ms = now.saturating_add(clock::millis(self.lifetimes.rotation_grace));
                let sealed = old.seal_successor(new);
                let forward = Forward { to: new.hash(), to_hex: new.storage_key(), sealed, until_ms };
                sessions.forwards.insert(key, forward);
                Ok(Rotated::Moved)
            }
        }
    }

    async fn destroy(&self, id: &SessionId) -> Result<bool, StoreError> {
        let mut sessions = self.sessions();
        let reached = sessions.reach(id, &self.lifetimes, now_ms());
        sessions.forwards.remove(&id.hash());
        Ok(reached.is_some_and(|Reached { value: key, .. }| sessions.records.remove(&key).is_some()))
    }

    async fn purge_expired(&self) -> Result<usize, StoreError> {
        let now = now_ms();
        let mut sessions = self.sessions();
        let before = sessions.records.len();
        sessions.records.retain(|_, record| record.is_live(&self.lifetimes, now));
        sessions.forwards.retain(|_, forward| forward.until_ms > now);
        sessions.rates.retain(|_, tat| *tat > now);
        // Give memory back after a large purge, so "expired sessions release memory" holds.
        if sessions.records.len() < sessions.records.capacity() / 4 {
            sessions.records.shrink_to_fit();
        }
        let purged = before - sessions.records.len();
        drop(sessions);
        if purged > 0 {
            crate::allocator::release_freed_memory();
        }
        Ok(purged)
    }

    async fn count(&self) -> Result<usize, StoreError> {
        let now = now_ms();
        Ok(self.sessions().records.values().filter(|r| r.is_live(&self.lifetimes, now)).count())
    }
}
