//! Finding the Redis and Postgres servers, and keeping tests out of each other's way on them.
//!
//! A test that needs Redis reads `REDIS_URL`, one that needs Postgres `DATABASE_URL`. When
//! the variable is unset the test prints `SKIPPED: ...` and passes, so `cargo test` works on
//! a machine without the servers; with `REQUIRE_BACKENDS=1` (as CI sets) it fails instead.

use std::io::Write;
use std::sync::Mutex;

use rand::Rng;
use server_side_sessions::config::Lifetimes;
use server_side_sessions::store::postgres::PostgresStore;
use server_side_sessions::store::redis::RedisStore;
use server_side_sessions::store::SessionStore;
use sqlx::Connection;

/// The URL in `var`, or `None` after saying which test is skipped (or failing, when
/// `REQUIRE_BACKENDS=1`).
pub fn backend_url(var: &str, what: &str) -> Option<String> {
    if let Ok(url) = std::env::var(var) {
        if !url.trim().is_empty() {
            return Some(url);
        }
    }
    let test = std::thread::current().name().unwrap_or("a backend test").to_owned();
    if std::env::var("REQUIRE_BACKENDS").is_ok_and(|v| v == "1") {
        panic!("{test} needs {what}: set {var} (REQUIRE_BACKENDS=1 forbids skipping)");
    }
    // Straight to the process's stderr: libtest would swallow `eprintln!` of a passing test.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: needs {what} (set {var})");
    None
}

pub fn redis_url() -> Option<String> {
    backend_url("REDIS_URL", "Redis")
}

pub fn database_url() -> Option<String> {
    backend_url("DATABASE_URL", "Postgres")
}

/// A name no other test (or earlier run) uses: tests share the servers and run in parallel.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{:016x}", rand::rng().random::<u64>())
}

/// Throwaway Postgres schemas: each gets its own `sessions` table through `search_path`,
/// so tests (and the migrations they run) never see each other's rows. Dropped when the
/// `Schemas` is, even if the test failed; schemas that an aborted run left behind are
/// swept by a later run once they are an hour old (their name says when they were made).
pub struct Schemas {
    base: String,
    made: Mutex<Vec<String>>,
}

const SCHEMA_PREFIX: &str = "sss_test_";

impl Schemas {
    pub fn new(base: &str) -> Schemas {
        Schemas { base: base.to_owned(), made: Mutex::new(Vec::new()) }
    }

    /// Creates a fresh schema and returns a URL whose connections use it.
    pub async fn fresh(&self) -> String {
        let mut connection = sqlx::PgConnection::connect(&self.base).await.expect("DATABASE_URL reachable");
        let now = server_side_sessions::clock::now_ms() / 1000;
        let existing: Vec<String> =
            sqlx::query_scalar("SELECT nspname FROM pg_namespace WHERE nspname LIKE $1")
                .bind(format!("{SCHEMA_PREFIX}%"))
                .fetch_all(&mut connection)
                .await
                .expect("list schemas");
        for stale in existing.iter().filter(|name| made_at(name).is_some_and(|at| at + 3600 < now)) {
            let _ = sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {stale} CASCADE"))
                .execute(&mut connection)
                .await;
        }
        let name = format!("{SCHEMA_PREFIX}{now}_{}", unique(""));
        sqlx::raw_sql(&format!("CREATE SCHEMA {name}"))
            .execute(&mut connection)
            .await
            .expect("create schema");
        self.made.lock().unwrap().push(name.clone());
        let separator = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{separator}options=-c%20search_path%3D{name}", self.base)
    }
}

/// The Unix second a test schema was made, from its name.
fn made_at(name: &str) -> Option<u64> {
    name.strip_prefix(SCHEMA_PREFIX)?.split('_').next()?.parse().ok()
}

impl Drop for Schemas {
    fn drop(&mut self) {
        let names: Vec<String> =
            self.made.lock().map(|mut made| made.drain(..).collect()).unwrap_or_default();
        if names.is_empty() {
            return;
        }
        // Drop cannot await, and may run inside the test's runtime: use a runtime of its own.
        let base = self.base.clone();
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let mut connection = sqlx::PgConnection::connect(&base).await.ok()?;
                for name in names {
                    let _ = sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .execute(&mut connection)
                        .await;
                }
                connection.close().await.ok()
            })
        });
        let _ = cleanup.join();
    }
}

/// A Redis store whose keys start with `prefix` (make one with [`unique`], so tests that run
/// at once never share a key).
pub fn redis_store(url: &str, lifetimes: Lifetimes, prefix: &str) -> RedisStore {
    RedisStore::with_options(url, lifetimes, prefix, None).expect("valid REDIS_URL")
}

/// A Postgres store on a fresh schema, migrated. The first call migrates, and on a busy
/// machine (tests migrate in parallel, one at a time under sqlx's lock) that can take longer
/// than one call's timeout; waiting for it here is setup, like waiting for a server to start.
pub async fn postgres_store(schemas: &Schemas, lifetimes: Lifetimes) -> PostgresStore {
    postgres_store_at(&schemas.fresh().await, lifetimes).await
}

/// A Postgres store on the schema `url` names, migrated.
pub async fn postgres_store_at(url: &str, lifetimes: Lifetimes) -> PostgresStore {
    let store = PostgresStore::with_ca(url, lifetimes, None).expect("valid DATABASE_URL");
    wait_ready(&store).await;
    store
}

/// A connection pool of the test's own on the schema `url` names, to look at the raw table.
pub fn raw_pool(url: &str) -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new().connect_lazy(url).expect("valid DATABASE_URL")
}

/// Waits (up to 30 s) until a new Postgres store has connected and migrated.
pub async fn wait_ready(store: &PostgresStore) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while let Err(e) = store.ping().await {
        assert!(std::time::Instant::now() < deadline, "Postgres never became ready: {e}");
    }
}
