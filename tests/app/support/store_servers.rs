//! Finding the Redis and Postgres servers (and, with `--features dynamodb`, a DynamoDB
//! emulator: [`super::dynamodb`]), and keeping tests out of each other's way on them.
//!
//! A test that needs Redis reads `REDIS_URL`, one that needs Postgres `DATABASE_URL`, one that
//! needs DynamoDB `DYNAMODB_ENDPOINT`. Unset, they default to the servers' standard local
//! addresses, `redis://127.0.0.1:6379`, `postgres://postgres@127.0.0.1:5432/postgres` and
//! `http://127.0.0.1:5000` (moto's server), when a server answers there (checked once per run). When neither the variable nor a local server is there, the test prints
//! `SKIPPED: ...` and passes, and the run's last line counts it (`tests/shared/skips.rs`), so
//! `cargo test` works on a machine without the servers; with `REQUIRE_BACKENDS=1` (as CI
//! sets) it fails instead.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use rand::Rng;
use server_side_sessions::config::Lifetimes;
use server_side_sessions::store::postgres::PostgresStore;
use server_side_sessions::store::redis::RedisStore;
use server_side_sessions::store::SessionStore;
use sqlx::Connection;

/// A store server the tests can use: the variable that names it, and where to look without it.
struct StoreServer {
    var: &'static str,
    what: &'static str,
    local: &'static str,
    found: OnceLock<Result<String, String>>,
}

static REDIS: StoreServer =
    StoreServer { var: "REDIS_URL", what: "Redis", local: "redis://127.0.0.1:6379", found: OnceLock::new() };
static POSTGRES: StoreServer = StoreServer {
    var: "DATABASE_URL",
    what: "Postgres",
    local: "postgres://postgres@127.0.0.1:5432/postgres",
    found: OnceLock::new(),
};
#[cfg(feature = "dynamodb")]
static DYNAMODB: StoreServer = StoreServer {
    var: "DYNAMODB_ENDPOINT",
    what: "a DynamoDB emulator",
    local: "http://127.0.0.1:5000",
    found: OnceLock::new(),
};

impl StoreServer {
    /// The URL to use, or why there is none.
    fn find(&self) -> &Result<String, String> {
        self.found.get_or_init(|| match std::env::var(self.var) {
            Ok(url) if !url.trim().is_empty() => Ok(url),
            _ => answers(self.local).map(|()| self.local.to_owned()).map_err(|e| {
                format!("without {} (none at {}: {e}; or set {})", self.what, self.local, self.var)
            }),
        })
    }

    /// The URL, or `None` after saying which test is skipped (or failing, when
    /// `REQUIRE_BACKENDS=1`).
    fn url(&self) -> Option<String> {
        let why = match self.find() {
            Ok(url) => return Some(url.clone()),
            Err(why) => why,
        };
        let test = std::thread::current().name().unwrap_or("a backend test").to_owned();
        if std::env::var("REQUIRE_BACKENDS").is_ok_and(|v| v == "1") {
            panic!("{test} {why} (REQUIRE_BACKENDS=1 forbids skipping)");
        }
        crate::skips::skipped(&test, why);
        None
    }
}

/// Whether a server answers at `url`: a Redis `PING`, a Postgres login, or a DynamoDB
/// `ListTables`, within 2 seconds.
/// On a thread with a runtime of its own: the tests call this from inside theirs.
fn answers(url: &'static str) -> Result<(), String> {
    let probe = std::thread::spawn(move || {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let ask = async {
                #[cfg(feature = "dynamodb")]
                if url.starts_with("http") {
                    return super::dynamodb::answers(url).await;
                }
                if url.starts_with("redis") {
                    let client = ::redis::Client::open(url).map_err(|e| e.to_string())?;
                    let mut connection =
                        client.get_multiplexed_async_connection().await.map_err(|e| e.to_string())?;
                    ::redis::cmd("PING")
                        .query_async::<String>(&mut connection)
                        .await
                        .map_err(|e| e.to_string())?;
                } else {
                    let connection = sqlx::PgConnection::connect(url).await.map_err(|e| e.to_string())?;
                    connection.close().await.map_err(|e| e.to_string())?;
                }
                Ok(())
            };
            tokio::time::timeout(Duration::from_secs(2), ask)
                .await
                .map_err(|_| "no answer in 2 s".to_owned())?
        })
    });
    probe.join().unwrap_or_else(|_| Err("the probe panicked".into()))
}

pub fn redis_url() -> Option<String> {
    REDIS.url()
}

pub fn database_url() -> Option<String> {
    POSTGRES.url()
}

#[cfg(feature = "dynamodb")]
pub fn dynamodb_endpoint() -> Option<String> {
    DYNAMODB.url()
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
