//! The Redis and Postgres stores: the shared contract (see `store.rs`) plus what only a real
//! store can show (keys are hashes). Also the helpers every backend test uses to find its
//! server and keep out of the way of the others.
//!
//! A test that needs Redis reads `REDIS_URL`, one that needs Postgres `DATABASE_URL`. When
//! the variable is unset the test prints `SKIPPED: ...` and passes, so `cargo test` works on
//! a machine without the servers; with `REQUIRE_BACKENDS=1` (as CI sets) it fails instead.

use std::io::Write;
use std::sync::{Arc, Mutex};

use rand::Rng;
use server_side_sessions::config::Lifetimes;
use server_side_sessions::item::{Item, ItemList, Op};
use server_side_sessions::session_id::SessionId;
use server_side_sessions::store::postgres::PostgresStore;
use server_side_sessions::store::redis::RedisStore;
use server_side_sessions::store::SessionStore;
use sqlx::Connection;

use crate::store::{conformance, LONG};

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

fn redis_store(url: &str, lifetimes: Lifetimes) -> RedisStore {
    RedisStore::with_prefix(url, lifetimes, &unique("test:")).expect("valid REDIS_URL")
}

/// A Postgres store on a fresh schema, migrated. The first call migrates, and on a busy
/// machine (tests migrate in parallel, one at a time under sqlx's lock) that can take longer
/// than one call's timeout; waiting for it here is setup, like waiting for a server to start.
async fn postgres_store(schemas: &Schemas, lifetimes: Lifetimes) -> PostgresStore {
    let store = PostgresStore::new(&schemas.fresh().await, lifetimes).expect("valid DATABASE_URL");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while let Err(e) = store.ping().await {
        assert!(std::time::Instant::now() < deadline, "Postgres never became ready: {e}");
    }
    store
}

fn one_item() -> ItemList {
    let mut items = ItemList::default();
    items.apply(&Op::Add(Item::parse("secret").unwrap())).unwrap();
    items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_conformance() {
    let Some(url) = redis_url() else { return };
    conformance(|lifetimes| {
        let url = url.clone();
        async move { Arc::new(redis_store(&url, lifetimes)) as Arc<dyn SessionStore> }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_conformance() {
    let Some(url) = database_url() else { return };
    let schemas = Schemas::new(&url);
    conformance(|lifetimes| {
        let schemas = &schemas;
        async move { Arc::new(postgres_store(schemas, lifetimes).await) as Arc<dyn SessionStore> }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_keys_are_hashes_of_the_id_never_the_id() {
    let Some(url) = redis_url() else { return };
    let store = redis_store(&url, LONG);
    let id = SessionId::generate();
    store.create(&id, one_item()).await.unwrap();
    let mut raw =
        redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let key = store.key(&id);
    assert!(key.ends_with(&id.storage_key()), "{key}");
    let fields: Vec<(String, String)> =
        redis::cmd("HGETALL").arg(&key).query_async(&mut raw).await.expect("the hashed key exists");
    assert!(fields.iter().any(|(_, value)| value.contains("secret")), "{fields:?}");
    let dump = format!("{key} {fields:?}");
    assert!(!dump.contains(id.expose()), "the raw id is in the store: {dump}");
    let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut raw).await.unwrap();
    assert!(ttl > 0 && ttl <= 600_000, "TTL is the idle timeout: {ttl}");
    store.destroy(&id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rows_are_keyed_by_a_hash_of_the_id_never_the_id() {
    let Some(url) = database_url() else { return };
    let schemas = Schemas::new(&url);
    let store = postgres_store(&schemas, LONG).await;
    let id = SessionId::generate();
    store.create(&id, one_item()).await.unwrap();
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT s::text FROM sessions s").fetch_all(store.pool()).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].contains(&id.storage_key()) && rows[0].contains("secret"), "{rows:?}");
    assert!(!rows[0].contains(id.expose()), "the raw id is in the table: {rows:?}");
}

/// A read moves the idle deadline only when the last visit is older than `refresh_after`
/// (a minute with LONG's 10-minute idle timeout): reads in between write nothing, so a busy
/// page does not commit an `UPDATE` per view. An older visit is moved to now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reads_write_only_when_the_visit_is_stale() {
    let Some(url) = database_url() else { return };
    let schemas = Schemas::new(&url);
    let store = postgres_store(&schemas, LONG).await;
    let id = SessionId::generate();
    store.create(&id, one_item()).await.unwrap();
    let row = || async {
        let sql = "SELECT seen_ms, expires_ms, xmin::text FROM sessions";
        sqlx::query_as::<_, (i64, i64, String)>(sql).fetch_one(store.pool()).await.unwrap()
    };
    let created = row().await;
    for _ in 0..3 {
        let loaded = store.load(&id).await.unwrap().expect("live");
        assert_eq!(loaded.seen_ms as i64, created.0);
    }
    assert_eq!(row().await, created, "fresh reads left the row untouched (same version)");

    let stale = created.0 - 2 * 60_000; // two minutes ago: older than refresh_after
    sqlx::query("UPDATE sessions SET seen_ms = $1").bind(stale).execute(store.pool()).await.unwrap();
    let loaded = store.load(&id).await.unwrap().expect("still live");
    let (seen, expires, _) = row().await;
    assert!(seen > stale + 60_000 && loaded.seen_ms as i64 == seen, "a stale visit moves to now");
    assert_eq!(expires, seen + 600_000, "and the idle deadline with it");
}

/// The migration runs once even when several instances start at the same moment: sqlx's
/// migrator takes an advisory lock, and `CREATE ... IF NOT EXISTS` covers the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrations_are_safe_when_instances_start_together() {
    let Some(url) = database_url() else { return };
    let schemas = Schemas::new(&url);
    let shared = schemas.fresh().await;
    let stores: Vec<PostgresStore> = (0..4).map(|_| PostgresStore::new(&shared, LONG).unwrap()).collect();
    let pings = futures::future::join_all(stores.iter().map(|s| s.ping())).await;
    assert!(pings.iter().all(Result::is_ok), "{pings:?}");
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(stores[0].pool())
        .await
        .unwrap();
    assert_eq!(applied as usize, server_side_sessions::store::postgres::MIGRATOR.migrations.len());
}

/// What the Shuttle entry point does (`shuttle::build`): it manages the platform's database
/// as a `SharedDatabase`, and `session_store = "shuttle-postgres"` keeps sessions in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shuttle_postgres_uses_the_database_the_platform_hands_over() {
    use rocket::http::{ContentType, Status};
    use server_side_sessions::store::postgres::SharedDatabase;

    let Some(url) = database_url() else { return };
    let schemas = Schemas::new(&url);
    let handed_over = schemas.fresh().await;
    let pool = sqlx::postgres::PgPoolOptions::new().connect_lazy(&handed_over).unwrap();
    let figment = crate::helpers::figment().merge(("session_store", "shuttle-postgres"));
    let rocket = server_side_sessions::build(figment).manage(SharedDatabase(handed_over));
    let client = rocket::local::asynchronous::Client::tracked(rocket).await.expect("launches");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while client.get("/healthz").dispatch().await.status() != Status::Ok {
        assert!(std::time::Instant::now() < deadline, "the shared pool never became usable");
    }
    let added = client
        .post("/api/server-session/items")
        .header(ContentType::JSON)
        .body(r#"{"item":"kept by shuttle"}"#)
        .dispatch()
        .await;
    assert_eq!(added.status(), Status::Created);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, 1, "the session is in the handed-over database");
    let inspect = client.get("/api/inspect").dispatch().await.into_string().await.unwrap_or_default();
    assert!(inspect.contains(r#""backend":"postgres""#), "{inspect}");
}
