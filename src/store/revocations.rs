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
//!
//! The copy holds only what the store holds (one epoch per family that signed out in the last
//! `session_max_lifetime`), and forgets each entry when the store does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::{Change, EpochStore, StoreError};
use crate::clock::now_ms;

/// How often the copy is reloaded in full while its feed is connected: the backstop for a
/// feed that went silent without closing.
pub const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// How long to wait before subscribing again after the feed could not be set up.
const RETRY_AFTER: Duration = Duration::from_secs(1);

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
pub struct Revocations {
    store: Arc<dyn EpochStore>,
    /// The backend's name, for the page.
    backend: &'static str,
    /// Family -> (epoch, forget after Unix ms).
    known: RwLock<HashMap<String, (u64, u64)>>,
    /// The feed is connected and the copy has been reloaded since it was.
    live: AtomicBool,
    /// When the copy was last known complete (Unix ms); 0 for never.
    confirmed_ms: AtomicU64,
    /// The store answered its last call; while it does not, reads stop asking it.
    answering: AtomicBool,
}

impl Revocations {
    pub fn new(store: Arc<dyn EpochStore>, backend: &'static str) -> Revocations {
        Revocations {
            store,
            backend,
            known: RwLock::default(),
            live: AtomicBool::new(false),
            confirmed_ms: AtomicU64::new(0),
            answering: AtomicBool::new(true),
        }
    }

    /// The family's epoch, and how sure that is. Costs no network call while the feed is up.
    pub async fn epoch(&self, family: &str) -> (u64, Confirmed) {
        if self.live.load(Ordering::Acquire) {
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
        let live = self.live.load(Ordering::Acquire);
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
        if let Err(error) = self.reload().await {
            return self.lost(&error);
        }
        self.live.store(true, Ordering::Release);
        log::info!("revoked private-cookie families: copy loaded, following the store's changes");
        let mut reloads = rocket::tokio::time::interval(RELOAD_EVERY);
        reloads.tick().await; // the first tick is immediate, and the copy was just loaded
        loop {
            rocket::tokio::select! {
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

    fn lost(&self, error: &StoreError) {
        self.answering.store(false, Ordering::Release);
        log::warn!("revocation feed unavailable: {error}");
    }
}
