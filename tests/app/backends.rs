//! The Redis and Postgres stores: the shared contracts (see `store.rs`) plus what only a real
//! store can show (keys are hashes, reads that write nothing, migrations that take turns).

use server_side_sessions::item::{Item, ItemList, Op};
use server_side_sessions::session_id::SessionId;
use server_side_sessions::store::postgres::PostgresStore;
use server_side_sessions::store::SessionStore;

use crate::store::{conformance, create, LONG};
use crate::support::network_store::each_network_store;
use crate::support::store_servers::{
    database_url, postgres_store_at, raw_pool, redis_store, redis_url, unique, Schemas,
};

fn one_item() -> ItemList {
    let mut items = ItemList::default();
    items.apply(&Op::Add(Item::parse("secret").unwrap())).unwrap();
    items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_store_conformance() {
    each_network_store(|store| async move { conformance(|lifetimes| store.fresh(lifetimes)).await }).await;
}

/// The one key the store wrote under `prefix`, as Redis lists it.
async fn only_key(raw: &mut redis::aio::MultiplexedConnection, prefix: &str) -> String {
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(raw).await.unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    keys.into_iter().next().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_keys_are_hashes_of_the_id_never_the_id() {
    let Some(url) = redis_url() else { return };
    let prefix = unique("test:");
    let store = redis_store(&url, LONG, &prefix);
    let id = SessionId::generate();
    create(&store, &id, one_item()).await;
    let mut raw =
        redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let key = only_key(&mut raw, &prefix).await;
    assert_eq!(key, format!("{prefix}{}", id.storage_key()));
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
    let schema = schemas.fresh().await;
    let (store, pool) = (postgres_store_at(&schema, LONG).await, raw_pool(&schema));
    let id = SessionId::generate();
    create(&store, &id, one_item()).await;
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT s::text FROM sessions s").fetch_all(&pool).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].contains(&id.storage_key()) && rows[0].contains("secret"), "{rows:?}");
    assert!(!rows[0].contains(id.expose()), "the raw id is in the table: {rows:?}");
}

/// As with Postgres below: a read of a session visited less than `refresh_after` ago changes
/// nothing (same `seen_ms`, same deadline); a read of an older visit moves both to now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_reads_write_only_when_the_visit_is_stale() {
    let Some(url) = redis_url() else { return };
    let prefix = unique("test:");
    let store = redis_store(&url, LONG, &prefix);
    let id = SessionId::generate();
    create(&store, &id, one_item()).await;
    let mut raw =
        redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let key = only_key(&mut raw, &prefix).await;
    let state = |raw: &mut redis::aio::MultiplexedConnection| {
        let (key, mut raw) = (key.clone(), raw.clone());
        async move {
            let seen: i64 = redis::cmd("HGET").arg(&key).arg("seen_ms").query_async(&mut raw).await.unwrap();
            let deadline: i64 = redis::cmd("PEXPIRETIME").arg(&key).query_async(&mut raw).await.unwrap();
            (seen, deadline)
        }
    };
    let created = state(&mut raw).await;
    for _ in 0..3 {
        assert_eq!(store.load(&id).await.unwrap().expect("live").value.seen_ms as i64, created.0);
    }
    assert_eq!(state(&mut raw).await, created, "fresh reads wrote nothing");

    let stale = created.0 - 2 * 60_000;
    let _: () = redis::cmd("HSET").arg(&key).arg("seen_ms").arg(stale).query_async(&mut raw).await.unwrap();
    let loaded = store.load(&id).await.unwrap().expect("still live");
    let (seen, deadline) = state(&mut raw).await;
    assert!(seen > stale + 60_000 && loaded.value.seen_ms as i64 == seen, "a stale visit moves to now");
    assert_eq!(deadline, seen + 600_000, "and the idle deadline with it");
    store.destroy(&id).await.unwrap();
}

/// A read moves the idle deadline only when the last visit is older than `refresh_after`
/// (a minute with LONG's 10-minute idle timeout): reads in between write nothing, so a busy
/// page does not commit an `UPDATE` per view. An older visit is moved to now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reads_write_only_when_the_visit_is_stale() {
    let Some(url) = database_url() else { return };
    let schemas = Schemas::new(&url);
    let schema = schemas.fresh().await;
    let (store, pool) = (postgres_store_at(&schema, LONG).await, raw_pool(&schema));
    let id = SessionId::generate();
    create(&store, &id, one_item()).await;
    let row = || async {
        let sql = "SELECT seen_ms, expires_ms, xmin::text FROM sessions";
        sqlx::query_as::<_, (i64, i64, String)>(sql).fetch_one(&pool).await.unwrap()
    };
    let created = row().await;
    for _ in 0..3 {
        let loaded = store.load(&id).await.unwrap().expect("live");
        assert_eq!(loaded.value.seen_ms as i64, created.0);
    }
    assert_eq!(row().await, created, "fresh reads left the row untouched (same version)");

    let stale = created.0 - 2 * 60_000; // two minutes ago: older than refresh_after
    sqlx::query("UPDATE sessions SET seen_ms = $1").bind(stale).execute(&pool).await.unwrap();
    let loaded = store.load(&id).await.unwrap().expect("still live");
    let (seen, expires, _) = row().await;
    assert!(seen > stale + 60_000 && loaded.value.seen_ms as i64 == seen, "a stale visit moves to now");
    assert_eq!(expires, seen + 600_000, "and the idle deadline with it");
}

/// The migration runs once even when several instances start at the same moment: sqlx's
/// migrator takes an advisory lock, and `CREATE ... IF NOT EXISTS` covers the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrations_are_safe_when_instances_start_together() {
    let Some(url) = database_url() else { return };
    let schemas = Schemas::new(&url);
    let shared = schemas.fresh().await;
    let stores: Vec<PostgresStore> =
        (0..4).map(|_| PostgresStore::with_ca(&shared, LONG, None).unwrap()).collect();
    let pings = futures::future::join_all(stores.iter().map(|s| s.ping())).await;
    assert!(pings.iter().all(Result::is_ok), "{pings:?}");
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&raw_pool(&shared))
        .await
        .unwrap();
    assert_eq!(applied as usize, server_side_sessions::store::postgres::MIGRATOR.migrations.len());
}

/// What the Shuttle entry point does (`shuttle::build`): it manages the platform's database
/// as a `SharedDatabase`, and `session_store = "shuttle-postgres"` keeps sessions in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shuttle_postgres_uses_the_database_the_platform_hands_over() {
    use rocket::http::{ContentType, Status};
    use server_side_sessions::store::SharedDatabase;

    let Some(url) = database_url() else { return };
    let schemas = Schemas::new(&url);
    let handed_over = schemas.fresh().await;
    let pool = sqlx::postgres::PgPoolOptions::new().connect_lazy(&handed_over).unwrap();
    let figment = crate::support::visitor::figment().merge(("session_store", "shuttle-postgres"));
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
