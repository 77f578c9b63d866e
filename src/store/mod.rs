//! Where server-side state lives: the session store and the revocation epochs of private
//! cookies, behind two small traits, opened once by [`stage()`] and handed out as Rocket state.
//!
//! - [`SessionStore`] maps a session id to a [`Record`] (the visitor's list plus two
//!   timestamps) and enforces the [`Lifetimes`] it was built with: a record not seen for
//!   `idle`, or older than `max`, is gone as far as every method is concerned, and
//!   `purge_expired` frees it. Store are keyed by [`SessionId::storage_key`], never by the id.
//! - [`RevocationStore`] keeps one number per private-cookie family ("sign out everywhere" raises
//!   it) and tells every instance when one rises; [`RevocationCopy`] is this process's copy of
//!   them, so reading a private cookie asks no one.
//!
//! The traits are async and fallible because real stores (Redis, Postgres) are across a
//! network and can be down; `update` takes the operation rather than a new list so that each
//! backend can apply it atomically, and two requests writing the same session never lose an
//! update. Every backend implements both traits:
//!
//! | backend                | `session_store`                  | survives a restart | shared by instances |
//! |------------------------|----------------------------------|--------------------|---------------------|
//! | [`memory`]             | `memory` (the default)           | no                 | no                  |
//! | [`redis`]              | `redis://...` or `rediss://...`  | yes                | yes                 |
//! | [`postgres`]           | `postgres://...`                 | yes                | yes                 |
//! | [`postgres`] (Shuttle) | `shuttle-postgres`               | yes                | yes                 |
//!
//! A network store never holds up a request for long: every call gives up after [`TIMEOUT`]
//! with a [`StoreError`], which the app answers with 503. Nothing falls back to memory.

pub mod memory;
pub mod postgres;
pub mod redis;
pub mod revocation;
pub mod stage;
pub mod tls;

pub use revocation::{Change, Feed, RevocationCopy, RevocationStore};
pub use stage::{open, stage, Backend, SharedDatabase, Store};

use std::future::Future;
use std::time::Duration;

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
        lifetimes.deadline_ms(self.created_ms, self.seen_ms)
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

/// The longest any store call may take, connecting included. Long enough for a store that
/// is merely busy, short enough that a visitor gets a clear 503 rather than a spinner.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// Runs one store call under [`TIMEOUT`], turning its error or its silence into a
/// [`StoreError`] that names the backend and the operation (never a session id).
pub(crate) async fn bounded<T, E: std::fmt::Display>(
    backend: &str,
    what: &str,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, StoreError> {
    match rocket::tokio::time::timeout(TIMEOUT, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(StoreError(format!("{backend} {what}: {error}"))),
        Err(_) => Err(StoreError(format!("{backend} {what}: no answer within {TIMEOUT:?}"))),
    }
}

/// Optimistic writers (Redis, Postgres) retry a conflicting `update` at most this often.
/// Each retry means another instance wrote the same session in between, so this only runs
/// out under absurd contention, and the call's [`TIMEOUT`] usually comes first.
pub(crate) const MAX_ATTEMPTS: usize = 100;

/// Writers to one session take turns here, inside this process, before a network store sees
/// them. Not what makes `update` atomic (the store's compare-and-set or row lock does that,
/// across instances too), but it keeps a burst of writes to one session from turning into
/// a storm of conflicting retries (Redis) or a queue of pooled connections all waiting on
/// one row lock (Postgres). Sessions share 256 slots by the first byte of their hash.
pub(crate) struct WriteTurns(Box<[rocket::tokio::sync::Mutex<()>]>);

impl WriteTurns {
    pub fn new() -> WriteTurns {
        WriteTurns((0..256).map(|_| rocket::tokio::sync::Mutex::new(())).collect())
    }

    pub async fn wait(&self, id: &SessionId) -> rocket::tokio::sync::MutexGuard<'_, ()> {
        self.0[usize::from(id.hash()[0]) % self.0.len()].lock().await
    }
}

/// A place to keep server-side sessions. Every method treats an expired record as absent.
#[rocket::async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// A short name for the page and `/api/inspect` (`memory`, `redis`, `postgres`).
    fn backend(&self) -> &'static str;

    /// Whether the sessions live in this process only (gone on restart, not shared by other
    /// instances), as the memory store's do.
    fn per_process(&self) -> bool {
        false
    }

    /// Checks that the store answers (for `/healthz`); a network store also uses it to connect
    /// and, for Postgres, to bring the schema up to date. Memory is always reachable.
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The live record for `id`, or `None`. A successful load counts as a visit: it moves
    /// the idle deadline (never the absolute one). A network store skips that write while the
    /// last recorded visit is younger than [`Lifetimes::refresh_after`], so that most reads are
    /// one plain lookup (for Postgres, not a commit; for Redis, not a script).
    async fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError>;

    /// Stores a new session holding `items` under `id`, which the caller has just generated.
    /// Every session starts here, so a rule about how many may exist belongs here too.
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
