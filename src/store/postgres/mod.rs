//! Sessions in Postgres: for an app that already has a database (on Shuttle, the shared one).
//!
//! - **Where the data lives:** a `sessions` table (see `migrations/`), one row per session
//!   keyed by the hex SHA-256 of its id, the list as `jsonb`, the timestamps as Unix ms.
//!   On disk, in the database's backups too.
//! - **How long it lasts:** each row has an `expires_ms` column, the earlier of the idle and
//!   absolute deadlines, moved on every visit. Every query ignores rows past it, and the
//!   app's periodic purge deletes them. Rows survive app restarts and are shared by every
//!   instance that uses the same database.
//! - **Who can read it:** anyone who can query the table sees the lists, but not the ids.
//!   Private-cookie revocation epochs live in a table of their own ([`revocation`]).
//! - **What it costs:** one statement per read, two per write, and a pooled connection
//!   while each runs; every statement that changes a row waits for Postgres's commit to disk.
//!   On the wire a statement is three round trips: sqlx pings the connection as the pool
//!   hands it out and again as it goes back (`scripts/bench.sh --roundtrips` counts them).
//! - **How it fails:** the pool connects lazily and replaces broken connections, so the app
//!   starts while Postgres is down and recovers when it comes back; meanwhile each call fails
//!   within [`super::TIMEOUT`] and visitors get a 503. The schema migration runs before the
//!   first query (and at start, see [`crate::store::stage()`]), and again later if Postgres
//!   was down; sqlx's migrator holds an advisory lock, so instances starting together take
//!   turns, and the second finds the migration already applied.
//!
//! **No lost updates:** as with Redis, `update` reads the row and its `version`, applies the
//! operation in Rust (where the list rules live), and writes back with
//! `UPDATE ... WHERE version = <the one read>`; if another write got in between, no row
//! matches, and it reads again and retries. Writers in one process take turns per session
//! first (`WriteTurns` in the store module), so retries come only from other instances, and a
//! burst of writes to one session waits without holding pooled connections. (A transaction with
//! `SELECT ... FOR UPDATE` would be equally correct; it costs two more round trips, and on a
//! busy session every waiting writer holds a connection.)

pub mod revocation;

use std::sync::Arc;

use rocket::tokio::sync::OnceCell;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};

use super::tls::RootCa;
use super::{bounded, Record, SessionStore, StoreError, Updated, WriteTurns};
use crate::clock::{self, now_ms};
use crate::config::Lifetimes;
use crate::item::{ItemList, Op};
use crate::session_id::SessionId;

/// The schema, compiled into the binary from `migrations/`.
pub static MIGRATOR: Migrator = sqlx::migrate!();

pub struct PostgresStore {
    lifetimes: Lifetimes,
    pool: PgPool,
    /// Set once the migrations have run; until then every call tries them first.
    migrated: Arc<OnceCell<()>>,
    turns: WriteTurns,
}

const NOT_VERIFYING: &str = "`session_store_ca` is set, but the Postgres URL does not ask for \
verification: add `sslmode=verify-full` (a weaker mode skips the check, and `prefer`, the \
default, falls back to plain text)";

/// [`Lifetimes::deadline_ms`] in SQL, for the one statement that reads `created_ms` and moves
/// the deadline at once (a read's touch): `$3`, `$4`, `$5` are now, idle and max in ms.
const NEXT_DEADLINE: &str = "LEAST($3 + $4, created_ms + $5)";

impl PostgresStore {
    /// A store for the database at `url`. Does not connect yet. With `ca`, the server's certificate must be signed by that authority, and the URL must
    /// ask for verification (`sslmode=verify-full` or `verify-ca`).
    pub fn with_ca(url: &str, lifetimes: Lifetimes, ca: Option<&RootCa>) -> Result<PostgresStore, String> {
        // The error text never includes the URL, which may carry a password.
        let mut options: PgConnectOptions =
            url.parse().map_err(|e| format!("`session_store` is not a usable Postgres URL: {e}"))?;
        if let Some(ca) = ca {
            if !matches!(options.get_ssl_mode(), PgSslMode::VerifyFull | PgSslMode::VerifyCa) {
                return Err(NOT_VERIFYING.into());
            }
            options = options.ssl_root_cert_from_pem(ca.pem().to_vec());
        }
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(super::TIMEOUT)
            .connect_lazy_with(options);
        Ok(PostgresStore { lifetimes, pool, migrated: Arc::new(OnceCell::new()), turns: WriteTurns::new() })
    }

    /// Runs the migrations unless they have run. In a task of its own: a request that stops
    /// waiting must not cancel a migration half-way, and later callers wait for the same run.
    async fn ready(&self) -> Result<(), sqlx::Error> {
        if self.migrated.initialized() {
            return Ok(());
        }
        let (pool, migrated) = (self.pool.clone(), self.migrated.clone());
        let run = rocket::tokio::spawn(async move {
            let migrate = || async {
                MIGRATOR.run(&pool).await?;
                log::info!("postgres session schema is up to date");
                Ok::<_, sqlx::Error>(())
            };
            migrated.get_or_try_init(migrate).await.map(drop)
        });
        run.await.map_err(|e| sqlx::Error::Protocol(format!("migration task failed: {e}")))?
    }

    /// One store call: the migrations first (if still due), then `call`, all under the timeout.
    async fn run<T>(
        &self,
        what: &str,
        call: impl std::future::Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, StoreError> {
        bounded("postgres", what, async {
            self.ready().await?;
            call.await
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

    /// Reads the live record and, when its last visit is older than
    /// [`Lifetimes::refresh_after`], moves its idle deadline, in one round trip. An `UPDATE`
    /// on every read would make each page view a committed write (a WAL flush) and make
    /// concurrent reads of one session queue on its row lock.
    async fn touch(&self, id: &SessionId) -> Result<Option<Record>, sqlx::Error> {
        let (now, idle, max) = self.clock_args();
        let refresh = bigint(clock::millis(self.lifetimes.refresh_after()));
        let sql = format!(
            "WITH live AS (
                 SELECT key AS live_key, items AS live_items, created_ms AS created, seen_ms AS seen
                 FROM sessions WHERE key = $1 AND expires_ms > $2
             ), touched AS (
                 UPDATE sessions SET seen_ms = $3, expires_ms = {NEXT_DEADLINE}
                 FROM live WHERE key = live_key AND seen <= $3 - $6
                 RETURNING seen_ms
             )
             SELECT live_items::text, created, COALESCE((SELECT seen_ms FROM touched), seen) FROM live"
        );
        let row: Option<(String, i64, i64)> = sqlx::query_as(&sql)
            .bind(id.storage_key())
            .bind(now)
            .bind(now)
            .bind(idle)
            .bind(max)
            .bind(refresh)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|(items, created, seen)| record(&items, created, seen)).transpose()
    }

    async fn apply(&self, id: &SessionId, op: &Op) -> Result<Updated, sqlx::Error> {
        let _turn = self.turns.wait(id).await;
        for _ in 0..super::MAX_ATTEMPTS {
            if let Some(outcome) = self.try_apply(id, op).await? {
                return Ok(outcome);
            }
        }
        Err(sqlx::Error::Protocol("too many concurrent writes to one session".into()))
    }

    /// One optimistic attempt at `update`: `None` if another write got in first.
    async fn try_apply(&self, id: &SessionId, op: &Op) -> Result<Option<Updated>, sqlx::Error> {
        let now = bigint(now_ms());
        let row: Option<(String, i64, i64)> = sqlx::query_as(
            "SELECT items::text, created_ms, version FROM sessions WHERE key = $1 AND expires_ms > $2",
        )
        .bind(id.storage_key())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some((items, created, version)) = row else { return Ok(Some(Updated::Missing)) };
        let mut record = record(&items, created, now)?;
        let deadline = bigint(self.lifetimes.deadline_ms(record.created_ms, record.seen_ms));
        let outcome = match record.items.apply(op) {
            Ok(()) => Updated::Applied(record.clone()),
            Err(refused) => Updated::Refused(refused), // still a visit: the deadline moves
        };
        let items = serde_json::to_string(&record.items).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        let query = sqlx::query(
            "UPDATE sessions SET items = $2::jsonb, seen_ms = $3, expires_ms = $4, version = version + 1
             WHERE key = $1 AND version = $5 AND expires_ms > $3",
        );
        let query = query.bind(id.storage_key()).bind(items).bind(now).bind(deadline).bind(version);
        let written = query.execute(&self.pool).await?;
        Ok((written.rows_affected() == 1).then_some(outcome))
    }
}

/// A `u64` (milliseconds, an epoch) as a Postgres `bigint`, saturating: no real value comes
/// near the limit.
pub(crate) fn bigint(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A row's columns as a [`Record`]; a list that no longer parses is an error, not an empty list.
fn record(items: &str, created_ms: i64, seen_ms: i64) -> Result<Record, sqlx::Error> {
    let items: ItemList = serde_json::from_str(items).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(Record { items, created_ms: created_ms.max(0) as u64, seen_ms: seen_ms.max(0) as u64 })
}

#[rocket::async_trait]
impl SessionStore for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.run("ping", async { sqlx::query("SELECT 1").execute(&self.pool).await.map(drop) }).await
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        self.run("load", self.touch(id)).await
    }

    async fn create(&self, id: &SessionId, items: ItemList) -> Result<Record, StoreError> {
        let record = Record::new(items, now_ms());
        let items = serde_json::to_string(&record.items).map_err(|e| StoreError(e.to_string()))?;
        let expires = bigint(record.expires_ms(&self.lifetimes));
        let query = sqlx::query(
            "INSERT INTO sessions (key, items, created_ms, seen_ms, expires_ms)
             VALUES ($1, $2::jsonb, $3, $3, $4)
             ON CONFLICT (key) DO UPDATE SET items = EXCLUDED.items, created_ms = EXCLUDED.created_ms,
                 seen_ms = EXCLUDED.seen_ms, expires_ms = EXCLUDED.expires_ms",
        )
        .bind(id.storage_key())
        .bind(items)
        .bind(record.created_ms as i64)
        .bind(expires);
        self.run("create", query.execute(&self.pool)).await?;
        Ok(record)
    }

    async fn update(&self, id: &SessionId, op: &Op) -> Result<Updated, StoreError> {
        self.run("update", self.apply(id, op)).await
    }

    async fn rotate(&self, old: &SessionId, new: &SessionId) -> Result<bool, StoreError> {
        // Same timestamps, so the same deadline: only the key changes.
        let query = sqlx::query("UPDATE sessions SET key = $2 WHERE key = $1 AND expires_ms > $3")
            .bind(old.storage_key())
            .bind(new.storage_key())
            .bind(bigint(now_ms()));
        let moved = self.run("rotate", query.execute(&self.pool)).await?;
        Ok(moved.rows_affected() == 1)
    }

    async fn destroy(&self, id: &SessionId) -> Result<bool, StoreError> {
        let query = sqlx::query_scalar("DELETE FROM sessions WHERE key = $1 RETURNING expires_ms")
            .bind(id.storage_key());
        let expires: Option<i64> = self.run("destroy", query.fetch_optional(&self.pool)).await?;
        Ok(expires.is_some_and(|expires| expires > self.clock_args().0))
    }

    async fn purge_expired(&self) -> Result<usize, StoreError> {
        let query = sqlx::query("DELETE FROM sessions WHERE expires_ms <= $1").bind(self.clock_args().0);
        let purged = self.run("purge", query.execute(&self.pool)).await?;
        Ok(purged.rows_affected() as usize)
    }

    async fn count(&self) -> Result<usize, StoreError> {
        let query = sqlx::query_scalar("SELECT count(*) FROM sessions WHERE expires_ms > $1")
            .bind(self.clock_args().0);
        let live: i64 = self.run("count", query.fetch_one(&self.pool)).await?;
        Ok(live.max(0) as usize)
    }
}
