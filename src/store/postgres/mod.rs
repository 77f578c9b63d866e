//! Sessions in Postgres: for an app that already has a database (on Shuttle, the shared one).
//!
//! - **Where the data lives:** a `sessions` table (see `migrations/`), one row per session
//!   keyed by the hex SHA-256 of its id, the list as `jsonb`, the timestamps as Unix ms; beside
//!   it `session_forwards` (where a rotated-away id leads for the grace window) and
//!   `session_rates` (each network's rate bucket). On disk, in the database's backups too.
//! - **How long it lasts:** each row has an `expires_ms` column, the earlier of the idle and
//!   absolute deadlines, moved on a visit. Every statement ignores rows past it, and the app's
//!   periodic purge deletes them. Rows survive app restarts and are shared by every instance
//!   that uses the same database.
//! - **Who can read it:** anyone who can query the table sees the lists, but not the ids.
//!   Private-cookie revocation epochs live in a table of their own ([`revocation`]).
//! - **What it costs:** one statement per operation (`sql.rs`), one round trip on the wire: the
//!   pool adds none (`pool.rs`). A read changes nothing unless the last recorded visit is older
//!   than [`Lifetimes::refresh_after`]; a statement that changes a row waits for Postgres's
//!   commit to disk.
//! - **How it fails:** connections are made lazily, so the app starts while Postgres is down
//!   and recovers when it comes back; meanwhile each call fails within [`super::TIMEOUT`] and
//!   visitors get a 503. A connection found broken when it is used (Postgres restarted) is
//!   dropped, and the statement runs once more on a new one, so a restart costs no visitor a
//!   503 once the server is back. The schema migration runs before the first statement (and at
//!   start, see [`crate::store::stage()`]), on a connection of its own that is closed after it:
//!   sqlx's migrator holds an advisory lock for the run, so instances starting together take
//!   turns, and a run that fails half-way cannot leave the lock held.
//!
//! **No lost updates:** `update` sends the operation, not a new list. One `UPDATE` checks that
//! the session is live and that the list rule allows the operation, applies it and records the
//! visit; the row stays locked until it commits, and a racing statement reads the row as this
//! one left it.

mod connect;
mod pool;
pub mod revocation;
mod sql;

use std::sync::Arc;

use rand::Rng;
use rocket::tokio::sync::OnceCell;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgConnectOptions;

use super::{bounded, Created, RateCharge, Reached, Record, Rotated, SessionStore, StoreError, Updated};
use crate::clock::{self, now_ms};
use crate::config::Lifetimes;
use crate::item::{ItemList, Op, MAX_ITEMS};
use crate::session_id::SessionId;

/// The schema, compiled into the binary from `migrations/`.
pub static MIGRATOR: Migrator = sqlx::migrate!();

pub struct PostgresStore {
    lifetimes: Lifetimes,
    options: PgConnectOptions,
    pool: pool::Pool,
    /// Set once the migrations have run; until then every call tries them first.
    migrated: Arc<OnceCell<()>>,
}

/// A row as `LOAD` and `UPDATE` end: items, created, seen; the successor's seal and key.
type Row = (String, i64, i64, Option<String>, Option<String>);

impl PostgresStore {
    /// One store call: the migrations first (if still due), then `statement`, all under the
    /// timeout.
    async fn run<T>(&self, what: &str, statement: pool::Statement<'_, T>) -> Result<T, StoreError> {
        bounded("postgres", what, async {
            self.ready().await?;
            self.pool.run(statement).await
        })
        .await
    }

    /// now, idle and max in ms, as Postgres `bigint`s.
    fn clock_args(&self) -> (i64, i64, i64) {
        (
            bigint(now_ms()),
            bigint(clock::millis(self.lifetimes.idle)),
            bigint(clock::millis(self.lifetimes.max)),
        )
    }

    /// The record a `LOAD` or `UPDATE` row holds, with the successor's id when it was reached
    /// through a forward; `None` when the forward's seal does not open.
    fn reached(&self, id: &SessionId, row: Row) -> Result<Option<Reached<Record>>, StoreError> {
        let (items, created, seen, sealed, to) = row;
        let record = record(&items, created, seen)?;
        Ok(match (sealed, to) {
            (Some(sealed), Some(to)) => id
                .open_successor(&sealed, &to)
                .map(|moved_to| Reached { value: record, moved_to: Some(moved_to) }),
            _ => Some(Reached::here(record)),
        })
    }
}

/// A `u64` (milliseconds, an epoch) as a Postgres `bigint`, saturating: no real value comes
/// near the limit.
pub(crate) fn bigint(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A row's columns as a [`Record`]; a list that no longer parses is an error, not an empty list.
fn record(items: &str, created_ms: i64, seen_ms: i64) -> Result<Record, StoreError> {
    let items: ItemList = serde_json::from_str(items)
        .map_err(|e| StoreError(format!("postgres: stored list unreadable: {e}")))?;
    Ok(Record { items, created_ms: created_ms.max(0) as u64, seen_ms: seen_ms.max(0) as u64 })
}

#[rocket::async_trait]
impl SessionStore for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.run("ping", &|c| Box::pin(async { sqlx::query("SELECT 1").execute(c).await.map(drop) })).await
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Reached<Record>>, StoreError> {
        let (key, (now, idle, max)) = (id.storage_key(), self.clock_args());
        let refresh = bigint(clock::millis(self.lifetimes.refresh_after()));
        let row: Option<Row> = self
            .run("load", &|c| {
                let query = sqlx::query_as(sql::LOAD).bind(key.clone()).bind(now).bind(idle).bind(max);
                Box::pin(query.bind(refresh).fetch_optional(c))
            })
            .await?;
        Ok(row.map(|row| self.reached(id, row)).transpose()?.flatten())
    }

    async fn create(
        &self,
        id: &SessionId,
        items: ItemList,
        rate: &RateCharge,
    ) -> Result<Created, StoreError> {
        let record = Record::new(items, now_ms());
        let json = serde_json::to_string(&record.items).map_err(|e| StoreError(e.to_string()))?;
        let (key, now, expires) =
            (id.storage_key(), bigint(record.created_ms), bigint(record.expires_ms(&self.lifetimes)));
        let (interval, tolerance) = (bigint(rate.rule.interval_ms), bigint(rate.rule.tolerance_ms));
        let (stored, tat): (bool, Option<i64>) = self
            .run("create", &|c| {
                let query = sqlx::query_as(sql::CREATE).bind(key.clone()).bind(json.clone()).bind(now);
                let query = query.bind(expires).bind(rate.network.clone()).bind(interval).bind(tolerance);
                Box::pin(query.fetch_one(c))
            })
            .await?;
        if stored {
            return Ok(Created::Stored(record));
        }
        let wait = tat.unwrap_or(now).saturating_sub(tolerance).saturating_sub(now);
        Ok(Created::TooFast { retry_after: crate::admission::rate::retry_after(wait.max(1) as u64) })
    }

    async fn update(&self, id: &SessionId, op: &Op) -> Result<Option<Reached<Updated>>, StoreError> {
        let (key, (now, idle, max)) = (id.storage_key(), self.clock_args());
        let (name, item, index) = match op {
            Op::Add(item) => ("add", Some(item.as_str().to_owned()), 0),
            // Anything past the cap is refused anyway; clamped so that it fits Postgres's `int`.
            Op::Remove(index) => ("remove", None, (*index).min(MAX_ITEMS + 1) as i64),
            Op::Clear => ("clear", None, 0),
        };
        let op_id: i64 = rand::rng().random();
        type Changed = (String, i64, i64, bool, i64, Option<String>, Option<String>);
        let changed: Option<Changed> = self
            .run("update", &|c| {
                let query = sqlx::query_as(sql::UPDATE).bind(key.clone()).bind(now).bind(idle).bind(max);
                let query = query.bind(name).bind(item.clone()).bind(index).bind(MAX_ITEMS as i64);
                Box::pin(query.bind(op_id).fetch_optional(c))
            })
            .await?;
        let Some((items, created, seen, applied, len, sealed, to)) = changed else { return Ok(None) };
        let Some(reached) = self.reached(id, (items, created, seen, sealed, to))? else { return Ok(None) };
        let value = match applied {
            true => Ok(reached.value),
            false => Err(op.allowed(len.max(0) as usize).err().ok_or_else(|| {
                StoreError("postgres update: refused an operation the list rule allows".into())
            })?),
        };
        Ok(Some(Reached { value, moved_to: reached.moved_to }))
    }

    async fn rotate(&self, old: &SessionId, new: &SessionId) -> Result<Rotated, StoreError> {
        let (from, to, now) = (old.storage_key(), new.storage_key(), bigint(now_ms()));
        let (sealed, until) = (
            old.seal_successor(new),
            now.saturating_add(bigint(clock::millis(self.lifetimes.rotation_grace))),
        );
        let (moved, earlier, earlier_to): (bool, Option<String>, Option<String>) = self
            .run("rotate", &|c| {
                let query = sqlx::query_as(sql::ROTATE).bind(from.clone()).bind(to.clone()).bind(now);
                Box::pin(query.bind(sealed.clone()).bind(until).fetch_one(c))
            })
            .await?;
        Ok(match (moved, earlier, earlier_to) {
            (true, _, _) => Rotated::Moved,
            (false, Some(sealed), Some(to)) => match old.open_successor(&sealed, &to) {
                // A second run of this very rotation finds its own forward.
                Some(successor) if &successor == new => Rotated::Moved,
                Some(successor) => Rotated::Already(successor),
                None => Rotated::Missing,
            },
            _ => Rotated::Missing,
        })
    }

    async fn destroy(&self, id: &SessionId) -> Result<bool, StoreError> {
        let (key, now) = (id.storage_key(), bigint(now_ms()));
        let gone: i64 = self
            .run("destroy", &|c| {
                Box::pin(sqlx::query_scalar(sql::DESTROY).bind(key.clone()).bind(now).fetch_one(c))
            })
            .await?;
        Ok(gone > 0)
    }

    async fn purge_expired(&self) -> Result<usize, StoreError> {
        let now = bigint(now_ms());
        let gone: i64 =
            self.run("purge", &|c| Box::pin(sqlx::query_scalar(sql::PURGE).bind(now).fetch_one(c))).await?;
        Ok(gone.max(0) as usize)
    }

    async fn count(&self) -> Result<usize, StoreError> {
        let now = bigint(now_ms());
        let live: i64 =
            self.run("count", &|c| Box::pin(sqlx::query_scalar(sql::COUNT).bind(now).fetch_one(c))).await?;
        Ok(live.max(0) as usize)
    }
}
