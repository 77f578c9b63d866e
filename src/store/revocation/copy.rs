//! This process's copy of the revoked private-cookie families, so that reading a private
//! cookie costs a hash lookup here instead of a round trip to the store.
//!
//! **The guarantee.** A sign-out on instance A is written to the store before A answers, and
//! A's own copy has it at once. Every other instance hears of it on the store's change feed
//! (Redis pub/sub, Postgres `LISTEN`/`NOTIFY`) and refuses copies of the cookie from then on:
//! within 1 s, and in practice within a few milliseconds (the two-instance test measures it
//! and fails past 1 s; BENCHMARKS.md has the numbers). What can make a copy still readable:
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

    /// Keeps the copy current until `shutdown`: subscribes, reloads, applies the feed and
    /// reloads again every [`RELOAD_EVERY`]; after any failure, starts over.
    pub async fn keep_current(self: Arc<Self>, shutdown: rocket::Shutdown) {
        rocket::tokio::pin!(shutdown);
        loop {
            rocket::tokio::select! {
                _ = &mut shutdown => return,
                () = self.follow_feed() => {}
            }
            self.live.store(false, Ordering::Release);
            rocket::tokio::select! {
                _ = &mut shutdown => return,
                () = rocket::tokio::time::sleep(RETRY_AFTER) => {}
            }
        }
    }

    /// One connection's worth of feed; returns when it breaks (or could not be set up).
    async fn follow_feed(&self) {
        let mut feed = match self.store.subscribe().await {
            Ok(feed) => feed,
            Err(error) => return self.lost(&error),
        };
        if let Err(error) = self.trust_after_reload().await {
            return self.lost(&error);
        }
        log::info!("revoked private-cookie families: copy loaded, following the store's changes");
        let mut reloads = rocket::tokio::time::interval(RELOAD_EVERY);
        reloads.tick().await; // the first tick is immediate, and the copy was just loaded
        let mut beats = rocket::tokio::time::interval(HEARTBEAT);
        beats.set_missed_tick_behavior(rocket::tokio::time::MissedTickBehavior::Delay);
        loop {
            rocket::tokio::select! {
                _ = beats.tick() => if let Err(error) = self.beat().await {
                    return self.lost(&error);
                },
                change = feed.recv() => match change {
                    Some(change) => self.apply(change),
                    None => {
                        self.confirmed_ms.store(now_ms(), Ordering::Release);
                        log::warn!("revocation feed lost; private-cookie reads ask the store until it is back");
                        return;
                    }
                },
                _ = reloads.tick() => if let Err(error) = self.reload().await {
                    return self.lost(&error);
                },
            }
        }
    }

    /// Marks the copy as watched; after a gap (a freeze), first reloads it in full, trusting
    /// it only once the reload is done.
    async fn beat(&self) -> Result<(), StoreError> {
        let since = now_ms().saturating_sub(self.watched_ms.load(Ordering::Acquire));
        if since <= crate::clock::millis(STALE_AFTER) {
            self.watched_ms.store(now_ms(), Ordering::Release);
            return Ok(());
        }
        log::info!("the revocation feed went unread for {since} ms (a frozen process?): reloading the copy");
        self.live.store(false, Ordering::Release);
        self.trust_after_reload().await
    }

    async fn trust_after_reload(&self) -> Result<(), StoreError> {
        self.reload().await?;
        self.watched_ms.store(now_ms(), Ordering::Release);
        self.live.store(true, Ordering::Release);
        Ok(())
    }

    fn lost(&self, error: &StoreError) {
        self.answering.store(false, Ordering::Release);
        log::warn!("revocation feed unavailable: {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::millis;
    use crate::config::Lifetimes;
    use crate::store::memory::MemoryStore;

    const MINUTE: Duration = Duration::from_secs(60);

    /// A copy that was loaded and followed, then went unwatched as a frozen process's would,
    /// while another instance raised an epoch that the copy never heard of.
    async fn frozen_copy() -> (Arc<MemoryStore>, RevocationCopy) {
        let store =
            Arc::new(MemoryStore::new(Lifetimes { idle: MINUTE, max: MINUTE, rotation_grace: MINUTE }));
        let copy = RevocationCopy::new(store.clone(), "memory");
        copy.trust_after_reload().await.expect("the copy loads");
        store.raise("family", 3, MINUTE).await.expect("raised elsewhere");
        copy.watched_ms.store(now_ms() - millis(STALE_AFTER) - 1_000, Ordering::Release);
        (store, copy)
    }

    #[rocket::async_test]
    async fn an_unwatched_copy_is_not_trusted_so_the_store_is_asked() {
        let (_, copy) = frozen_copy().await;
        assert_eq!(copy.epoch("family").await, (3, Confirmed::Asked));
        assert!(!copy.status().0, "the page would call it live");
    }

    #[rocket::async_test]
    async fn the_first_beat_after_a_gap_reloads_before_the_copy_is_trusted_again() {
        let (store, copy) = frozen_copy().await;
        copy.beat().await.expect("reloads");
        assert_eq!(copy.epoch("family").await, (3, Confirmed::Live));
        // Trusted again: a raise the copy has not heard of is not looked up (the feed would
        // have brought it).
        store.raise("unheard", 1, MINUTE).await.expect("raised");
        assert_eq!(copy.epoch("unheard").await, (0, Confirmed::Live));
    }
}
