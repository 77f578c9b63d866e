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

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

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

    /// Checks that the store answers (for `/healthz`); a network store also uses it to connect
    /// and, for Postgres, to bring the schema up to date. Memory is always reachable.
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The live record for `id`, or `None`. A successful load counts as a visit: it moves
    /// the idle deadline (never the absolute one). A store may skip that write while the last
    /// recorded visit is younger than [`Lifetimes::refresh_after`] (Postgres does, to keep
    /// reads from being commits).
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

    /// The revocation epoch of a private-cookie family (the random `sid` inside the cookie):
    /// cookies sealed with an older epoch are revoked. 0 for a family never revoked.
    async fn cookie_epoch(&self, family: &str) -> Result<u64, StoreError>;

    /// Raises the family's epoch to `epoch` (never lowers it), kept for `ttl`: after that,
    /// every cookie it could revoke has expired anyway.
    async fn raise_cookie_epoch(&self, family: &str, epoch: u64, ttl: Duration) -> Result<(), StoreError>;
}

/// Opens the store that the `session_store` setting names. Network stores connect lazily, so
/// this never waits for (or fails on) a store that is down; only a value that names no
/// backend, or a URL that does not parse, is an error, and its message says what is accepted.
/// `shared` is the Postgres database the platform (Shuttle) provides, used by `shuttle-postgres`.
pub fn open(
    setting: &str,
    lifetimes: Lifetimes,
    shared: Option<&postgres::SharedDatabase>,
) -> Result<Arc<dyn SessionStore>, String> {
    let scheme = setting.split_once("://").map_or(setting, |(scheme, _)| scheme);
    let store: Arc<dyn SessionStore> = match scheme {
        "memory" if setting == "memory" => Arc::new(memory::MemoryStore::new(lifetimes)),
        "redis" | "rediss" => Arc::new(redis::RedisStore::new(setting, lifetimes)?),
        "postgres" | "postgresql" => Arc::new(postgres::PostgresStore::new(setting, lifetimes)?),
        "shuttle-postgres" if setting == scheme => match shared {
            Some(database) => Arc::new(postgres::PostgresStore::new(&database.0, lifetimes)?),
            None => return Err(SHUTTLE_ONLY.into()),
        },
        // Only the scheme is echoed: the rest of a URL may hold a password.
        _ => return Err(format!("`session_store` must be {ACCEPTED}, not `{scheme}...`")),
    };
    Ok(store)
}

const ACCEPTED: &str = "`memory`, a `redis://` or `rediss://` URL, a `postgres://` URL, \
or (on Shuttle) `shuttle-postgres`";

const SHUTTLE_ONLY: &str = "`session_store = \"shuttle-postgres\"` uses the database Shuttle \
provides, so it works only under `cargo shuttle run` or on Shuttle; elsewhere use a \
`postgres://` URL";

#[cfg(test)]
mod tests {
    use super::*;

    const LIFETIMES: Lifetimes = Lifetimes { idle: Duration::from_secs(60), max: Duration::from_secs(60) };

    fn refused(setting: &str) -> String {
        open(setting, LIFETIMES, None).err().unwrap_or_else(|| panic!("{setting} was accepted"))
    }

    #[test]
    fn a_setting_that_names_no_backend_is_refused_without_echoing_secrets() {
        let message = refused("mysql://user:hunter2@db/app");
        assert!(message.contains("`memory`") && message.contains("redis://"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        for bad in ["", "Memory", "memory://x", "redis//host", "shuttle-postgres://x"] {
            refused(bad);
        }
        assert!(refused("shuttle-postgres").contains("Shuttle"));
    }

    #[rocket::async_test]
    async fn network_stores_open_without_connecting() {
        for setting in
            ["memory", "redis://127.0.0.1:1", "rediss://127.0.0.1:1/0", "postgres://u@127.0.0.1:1/db"]
        {
            assert!(open(setting, LIFETIMES, None).is_ok(), "{setting}");
        }
    }
}
