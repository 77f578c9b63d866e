//! Where server-side sessions live: the [`SessionStore`] trait and its implementations.
//!
//! A store maps a session id to a [`Record`] (the visitor's list plus two timestamps) and
//! enforces the [`Lifetimes`] it was built with: a record not seen for `idle`, or older than
//! `max`, is gone as far as every method is concerned, and `purge_expired` frees it.
//! Records are keyed by [`SessionId::storage_key`], never by the id itself.
//!
//! The trait is async and fallible because real stores (Redis, Postgres) are across a network
//! and can be down; `update` takes the operation rather than a new list so that each backend
//! can apply it atomically, and two requests writing the same session never lose an update.

pub mod memory;

use crate::clock;
use crate::config::Lifetimes;
use crate::item::{ItemList, ListError, Op};
use crate::session_id::SessionId;

/// What a store keeps for one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub items: ItemList,
    /// When the session was created (Unix ms); fixes the absolute deadline.
    pub created_ms: u64,
    /// When the session was last loaded or written (Unix ms); moves the idle deadline.
    pub seen_ms: u64,
}

impl Record {
    pub fn new(items: ItemList, now_ms: u64) -> Record {
        Record { items, created_ms: now_ms, seen_ms: now_ms }
    }

    /// The moment this record stops existing: the earlier of the idle and absolute deadlines.
    pub fn expires_ms(&self, lifetimes: &Lifetimes) -> u64 {
        let idle = self.seen_ms.saturating_add(clock::millis(lifetimes.idle));
        let absolute = self.created_ms.saturating_add(clock::millis(lifetimes.max));
        idle.min(absolute)
    }

    pub fn is_live(&self, lifetimes: &Lifetimes, now_ms: u64) -> bool {
        now_ms < self.expires_ms(lifetimes)
    }
}

/// The outcome of [`SessionStore::update`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Updated {
    /// The operation was applied; this is the record as stored afterwards.
    Applied(Record),
    /// The operation broke a list rule; the stored record is unchanged.
    Refused(ListError),
    /// No live session has this id (never existed, expired, ended or rotated away).
    Missing,
}

/// The store could not be reached or answered with an error. The message is for the log;
/// visitors see only that the session store is unavailable.
#[derive(Debug, Clone, thiserror::Error)]
#[error("session store unavailable: {0}")]
pub struct StoreError(pub String);

/// A place to keep server-side sessions. Every method treats an expired record as absent.
#[rocket::async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// A short name for the page and `/api/inspect` (`memory`, `redis`, `postgres`).
    fn backend(&self) -> &'static str;

    /// The live record for `id`, or `None`. A successful load counts as a visit: it moves
    /// the idle deadline (never the absolute one).
    async fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError>;

    /// Stores a new session holding `items` under `id`, which the caller has just generated.
    async fn create(&self, id: &SessionId, items: ItemList) -> Result<Record, StoreError>;

    /// Applies `op` to the session's list atomically: when several updates to one session
    /// race, each is applied to the result of the one before, and none is lost.
    async fn update(&self, id: &SessionId, op: &Op) -> Result<Updated, StoreError>;

    /// Moves a live session from `old` to `new` (same list and timestamps) in one step: the
    /// old id stops working at once. `false` if `old` was not a live session.
    async fn rotate(&self, old: &SessionId, new: &SessionId) -> Result<bool, StoreError>;

    /// Deletes the session. `false` if there was no live session under `id`.
    async fn destroy(&self, id: &SessionId) -> Result<bool, StoreError>;

    /// Frees every expired record and says how many it removed.
    async fn purge_expired(&self) -> Result<usize, StoreError>;

    /// How many live sessions the store holds.
    async fn count(&self) -> Result<usize, StoreError>;
}
