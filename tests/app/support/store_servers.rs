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

use std::future::Future;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use rand::Rng;
use server_side_sessions::config::Lifetimes;
use server_side_sessions::store::postgres::PostgresStore;
use server_side_sessions::store::redis::RedisStore;
use server_side_sessions::store::{Backend, SessionStore};
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

/// One network store a test body runs on: its kind, a URL for an app to use, and fresh,
/// empty stores of its own on demand. A clone shares the schemas, which [`on_each`] keeps
/// until every body is done: a body that uses only `url` does not hold the store itself.
#[derive(Clone)]
pub struct NetworkStore {
    /// What `/healthz` and `/api/inspect` call it: `redis`, `postgres`, `dynamodb`.
    pub kind: &'static str,
    /// A URL no other test uses at the same time (for Postgres a schema of its own, for
    /// DynamoDB a table).
    pub url: String,
    /// `session_store_ca`'s path, for a store behind TLS.
    pub ca: Option<String>,
    /// Where fresh Postgres schemas come from (dropped with the store).
    schemas: Option<std::sync::Arc<Schemas>>,
    /// What a Postgres URL must carry besides its schema (the TLS tests' `sslrootcert`).
    suffix: String,
    /// Where fresh DynamoDB tables come from (deleted with the store).
    #[cfg(feature = "dynamodb")]
    tables: Option<std::sync::Arc<super::dynamodb::Tables>>,
}

impl NetworkStore {
    /// A Redis store whose keys (sessions, rate buckets, revocations) no other test or run
    /// shares: a `prefix` of its own on the URL.
    pub fn redis(url: String, ca: Option<String>) -> NetworkStore {
        let separator = if url.contains('?') { '&' } else { '?' };
        let url = format!("{url}{separator}prefix={}", unique("test-app-").replace('_', "-") + ":");
        NetworkStore {
            kind: "redis",
            url,
            ca,
            schemas: None,
            suffix: String::new(),
            #[cfg(feature = "dynamodb")]
            tables: None,
        }
    }

    /// A Postgres store on a fresh schema of `base`; `suffix` is removed from the app's URL
    /// (the admin connection's own `sslrootcert`, which must not stand in for the setting).
    pub async fn postgres(base: &str, ca: Option<String>, suffix: &str) -> NetworkStore {
        let schemas = Schemas::new(base);
        let url = schemas.fresh().await.replace(suffix, "");
        NetworkStore {
            kind: "postgres",
            url,
            ca,
            schemas: Some(schemas.into()),
            suffix: suffix.to_owned(),
            #[cfg(feature = "dynamodb")]
            tables: None,
        }
    }

    /// A DynamoDB store on a fresh table of the emulator at `endpoint`.
    #[cfg(feature = "dynamodb")]
    pub async fn dynamodb(endpoint: &str) -> NetworkStore {
        let tables = super::dynamodb::Tables::new(endpoint);
        let url = tables.fresh().await;
        let tables = Some(tables.into());
        NetworkStore { kind: "dynamodb", url, ca: None, schemas: None, suffix: String::new(), tables }
    }

    /// A new, empty store of this kind (a key prefix, a schema or a table of its own), migrated
    /// and verified against `ca` where there is one.
    pub async fn fresh(&self, lifetimes: Lifetimes) -> Backend {
        #[cfg(feature = "dynamodb")]
        if let Some(tables) = &self.tables {
            let store =
                server_side_sessions::store::dynamodb::DynamoStore::new(&tables.fresh().await, lifetimes);
            return Backend::of(store.expect("a valid DynamoDB setting"));
        }
        let ca = self
            .ca
            .as_deref()
            .map(|path| server_side_sessions::store::tls::RootCa::load(path).expect("the CA file loads"));
        match &self.schemas {
            None => Backend::of(
                RedisStore::with_options(&self.url, lifetimes, &unique("test:"), ca.as_ref())
                    .expect("a valid Redis URL"),
            ),
            Some(schemas) => {
                let url = schemas.fresh().await.replace(&self.suffix, "");
                let store = PostgresStore::with_ca(&url, lifetimes, ca.as_ref()).expect("a valid URL");
                wait_ready(&store).await;
                Backend::of(store)
            }
        }
    }
}

/// Runs `body` on each network store the tests can reach (Redis, Postgres, and DynamoDB in a
/// build with the `dynamodb` feature), all at once, each with a URL of its own. A store whose server is missing is skipped, and counted (or fails
/// the test, with `REQUIRE_BACKENDS=1`). A failure says which store it was on.
pub async fn each_network_store<F, Fut>(body: F)
where
    F: Fn(NetworkStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut stores = Vec::new();
    if let Some(url) = redis_url() {
        stores.push(NetworkStore::redis(url, None));
    }
    if let Some(url) = database_url() {
        stores.push(NetworkStore::postgres(&url, None, "").await);
    }
    #[cfg(feature = "dynamodb")]
    if let Some(endpoint) = dynamodb_endpoint() {
        stores.push(NetworkStore::dynamodb(&endpoint).await);
    }
    on_each(stores, body).await;
}

/// Runs `body` on each of `stores` at once; a panic is reported with the store it happened on.
pub async fn on_each<F, Fut>(stores: Vec<NetworkStore>, body: F)
where
    F: Fn(NetworkStore) -> Fut,
    Fut: Future<Output = ()>,
{
    use futures::FutureExt;
    let kept = stores.clone();
    let runs = stores.into_iter().map(|store| std::panic::AssertUnwindSafe(body(store)).catch_unwind());
    let results = futures::future::join_all(runs).await;
    for (kind, result) in kept.iter().map(|store| store.kind).zip(results) {
        if let Err(panic) = result {
            let message = panic.downcast_ref::<String>().cloned();
            let message = message.or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
            panic!("on {kind}: {}", message.unwrap_or_else(|| "the test body failed".into()));
        }
    }
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
