//! A test body run on each network store the tests can reach, each with a store of its own.

use std::future::Future;

use server_side_sessions::config::Lifetimes;
use server_side_sessions::store::postgres::PostgresStore;
use server_side_sessions::store::redis::RedisStore;
use server_side_sessions::store::Backend;

use super::store_servers::{database_url, redis_url, unique, wait_ready, Schemas};

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

    /// A new, empty store of this kind (a key prefix, or a schema, of its own), migrated and
    /// verified against `ca` where there is one.
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
/// build with the `dynamodb` feature), all at once, each with a URL of its own; with
/// `NETWORK_STORES=dynamodb` (kinds, comma-separated) on those only, so that CI's DynamoDB step
/// does not run again what `cargo test` ran. A store whose server is missing is skipped, and
/// counted (or fails the test, with `REQUIRE_BACKENDS=1`). A failure says which store it was on.
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
    if let Some(endpoint) = super::store_servers::dynamodb_endpoint() {
        stores.push(NetworkStore::dynamodb(&endpoint).await);
    }
    if let Ok(kinds) = std::env::var("NETWORK_STORES") {
        stores.retain(|store| kinds.split(',').any(|kind| kind == store.kind));
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
