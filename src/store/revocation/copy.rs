//! This process's copy of the revoked private-cookie families, so that reading a private
//! cookie costs a hash lookup here instead of a round trip to the store.
//!
//! **The guarantee.** A sign-out on instance A is written to the store before A answers, and
//! A's own copy has it at once. Every other instance hears of it on the store's change feed
//! (Redis pub/sub, Postgres `LISTEN`/`NOTIFY`) and refuses copies of the cookie from then on:
//! within 1 s, and in practice within a few milliseconds (the two-instance test measures it
//! and fails past 1 s; `cargo test revocation -- --nocapture` prints it). What can make a copy still readable:
//!
//! - **Before the feed is up** (just after start, or after the feed's connection broke), the
//!   copy is not trusted: each read asks the store, as if there were no copy, and the copy is
//!   reloaded in full as soon as the feed is back.
//! - **A feed that looks connected but hears nothing** (the store's host vanished without
//!   closing the connection): the copy is also reloaded in full every [`RELOAD_EVERY`], which
//!   doubles as a health check. A reload that fails drops the feed, so such an instance goes
//!   back to asking the store within `RELOAD_EVERY` plus the store's timeout: 7 s at worst.
//! - **While the store does not answer**, nothing can be confirmed: a cookie is accepted as
//!   the copy knows it (the strategy keeps working without its store), and the page and
//!   `/api/inspect` say when revocation was last confirmed.
//! - **After the process was frozen** (AWS Lambda freezes it between invocations; `SIGSTOP`
//!   does the same), the feed task did not run, and what the feed sent meanwhile may still sit
//!   unread in the socket. The task marks the copy with the time every [`HEARTBEAT`]; a copy
//!   whose mark is older than [`STALE_AFTER`] is not trusted, so the first read after a thaw
//!   asks the store, as if there were no copy. The task, on its first beat after the thaw, sees
//!   the gap, stops trusting the copy and reloads it in full before trusting it again. So a
//!   sign-out made elsewhere while this instance was frozen is refused on the first read after
//!   the thaw. That needs the clock to show the time the freeze took, which it does for a frozen
//!   process (`SIGSTOP`, the cgroup freezer); the Lambda check freezes an instance with
//!   `SIGSTOP`.
//!
//! The copy holds only what the store holds (one epoch per family that signed out in the last
//! `session_max_lifetime`), and forgets each entry when the store does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

mod follow;

use super::{Change, RevocationStore};
use crate::clock::now_ms;
use crate::store::StoreError;

/// How often the copy is reloaded in full while its feed is connected: the backstop for a
/// feed that went silent without closing.
pub const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// How long to wait before subscribing again after the feed could not be set up.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// How often the feed task marks the copy as watched.
pub const HEARTBEAT: Duration = Duration::from_millis(250);

/// A copy whose feed task has not marked it for this long is not trusted: the process was
/// frozen, or too starved to read its feed.
pub const STALE_AFTER: Duration = Duration::from_secs(1);

/// How sure a revocation check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmed {
    /// The copy is current: its feed is connected.
    Live,
    /// The feed is not connected, so the store was asked.
    Asked,
    /// The store could not be asked; the copy was complete at this moment (Unix ms), or
    /// never (`None`) since this instance started.
    Since(Option<u64>),
}

/// The in-process copy, managed by the store stage for the private-cookie strategy.
pub struct RevocationCopy {
    store: Arc<dyn RevocationStore>,
    /// The backend's name, for the page.
    backend: &'static str,
    /// Family -> (epoch, forget after Unix ms).
    known: RwLock<HashMap<String, (u64, u64)>>,
    /// The feed is connected and the copy has been reloaded since it was.
    live: AtomicBool,
    /// When the feed task last ran (Unix ms): the copy is trusted only while this is recent.
    watched_ms: AtomicU64,
    /// When the copy was last known complete (Unix ms); 0 for never.
    confirmed_ms: AtomicU64,
    /// The store answered its last call; while it does not, reads stop asking it.
    answering: AtomicBool,
}

impl RevocationCopy {
    pub fn new(store: Arc<dyn RevocationStore>, backend: &'static str) -> RevocationCopy {
        RevocationCopy {
            store,
            backend,
            known: RwLock::default(),
            live: AtomicBool::new(false),
            watched_ms: AtomicU64::new(0),
            confirmed_ms: AtomicU64::new(0),
            answering: AtomicBool::new(true),
        }
    }

    /// The family's epoch, and how sure that is. Costs no network call while the feed is up.
    pub async fn epoch(&self, family: &str) -> (u64, Confirmed) {
        if self.current() {
            return (self.known(family), Confirmed::Live);
        }
        if self.answering.load(Ordering::Acquire) {
            match self.store.epoch(family).await {
                Ok(epoch) => return (epoch.max(self.known(family)), Confirmed::Asked),
                Err(error) => {
                    log::warn!("revocation not confirmed: {error}");
                    self.answering.store(false, Ordering::Release);
                }
            }
        }
        let since = self.confirmed_ms.load(Ordering::Acquire);
        (self.known(family), Confirmed::Since((since > 0).then_some(since)))
    }

    /// "Sign out everywhere": raises the family's epoch in the store (which tells the other
    /// instances) and in this copy, so this instance refuses older cookies at once.
    pub async fn raise(&self, family: &str, epoch: u64, ttl: Duration) -> Result<(), StoreError> {
        let stored = self.store.raise(family, epoch, ttl).await?;
        self.apply(stored);
        Ok(())
    }

    /// Whether the copy is current, and when it was last known complete (Unix ms, 0 never).
    pub fn status(&self) -> (bool, u64) {
        let live = self.current();
        (live, if live { now_ms() } else { self.confirmed_ms.load(Ordering::Acquire) })
    }

    /// Where the epochs are kept (`memory`, `redis`, `postgres`).
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// Whether the epochs live in this process only: then a sign-out reaches no other
    /// instance, and does not survive a restart.
    pub fn per_process(&self) -> bool {
        self.store.per_process()
    }

    /// The feed is connected, the copy loaded, and the feed task ran moments ago. (`watched_ms`
    /// is read first: the task clears `live` before it moves `watched_ms` past a gap.)
    fn current(&self) -> bool {
        let watched = self.watched_ms.load(Ordering::Acquire);
        let fresh = now_ms().saturating_sub(watched) <= crate::clock::millis(STALE_AFTER);
        fresh && self.live.load(Ordering::Acquire)
    }

    fn known(&self, family: &str) -> u64 {
        let known = self.known.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        if known.is_empty() {
            return 0; // most of the time nobody has signed out: no hashing at all
        }
        known.get(family).filter(|(_, until)| *until > now_ms()).map_or(0, |(epoch, _)| *epoch)
    }

    /// Epochs only rise, so applying a change (or a reload) never undoes a newer one.
    fn apply(&self, change: Change) {
        let mut known = self.known.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = known.entry(change.family).or_insert((0, change.until_ms));
        *entry = (entry.0.max(change.epoch), entry.1.max(change.until_ms));
    }

    /// Loads every epoch the store keeps into the copy and forgets expired ones.
    async fn reload(&self) -> Result<(), StoreError> {
        let started = now_ms();
        let all = self.store.all().await?;
        for change in all {
            self.apply(change);
        }
        let now = now_ms();
        self.known
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .retain(|_, (_, until)| *until > now);
        self.confirmed_ms.store(started, Ordering::Release);
        self.answering.store(true, Ordering::Release);
        Ok(())
    }
}
