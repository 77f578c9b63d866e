//! TLS to Redis and Postgres, against the servers `scripts/tls-stores.sh` starts: the store
//! contract and two app instances over TLS verified against the `session_store_ca` authority,
//! and every way verification must fail (wrong authority, expired certificate, plain-text
//! server behind a TLS URL) giving a 503 or a refused start, never plain text. Each refusal
//! prints what was observed (`--nocapture`).
//!
//! Reads `TLS_*` variables; without them the tests say `SKIPPED`, and with
//! `REQUIRE_TLS_STORES=1` (the script sets it) they fail instead.

use rocket::http::Status;
use server_side_sessions::config::Lifetimes;
use server_side_sessions::store::postgres::PostgresStore;
use server_side_sessions::store::redis::RedisStore;
use server_side_sessions::store::tls::RootCa;
use server_side_sessions::store::SessionStore;

use crate::store::{conformance, LONG};
use crate::support::network_store::{on_each, NetworkStore};
use crate::support::store_servers::unique;
use crate::support::visitor::{figment, App};

/// The variables' values, or `None` after saying the test is skipped (or failing, with
/// `REQUIRE_TLS_STORES=1`).
fn vars<const N: usize>(names: [&str; N]) -> Option<[String; N]> {
    let values = names.map(|name| std::env::var(name).ok());
    if values.iter().all(Option::is_some) {
        return Some(values.map(Option::unwrap_or_default));
    }
    let test = std::thread::current().name().unwrap_or("a TLS test").to_owned();
    assert!(
        std::env::var("REQUIRE_TLS_STORES").map_or(true, |v| v != "1"),
        "{test} needs {names:?} (run scripts/tls-stores.sh)"
    );
    crate::skips::skipped(&test, "without the TLS servers (scripts/tls-stores.sh starts them)");
    None
}

fn load(path: &str) -> RootCa {
    RootCa::load(path).expect("the script's CA file loads")
}

fn redis(url: &str, lifetimes: Lifetimes, ca: &RootCa) -> RedisStore {
    RedisStore::with_options(url, lifetimes, &unique("tls-test:"), Some(ca)).expect("a rediss:// URL")
}

/// Runs `body` on the TLS Redis and the TLS Postgres, verified by the configured CA. Test
/// schemas on the TLS Postgres are made over a connection that names the CA in its URL
/// (`sslrootcert`); the stores get URLs without it, so only the setting can verify.
async fn each_tls_store<F, Fut>(body: F)
where
    F: Fn(NetworkStore) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some([redis, postgres, ca]) = vars(["TLS_REDIS_URL", "TLS_DATABASE_URL", "TLS_CA"]) else { return };
    let suffix = format!("&sslrootcert={ca}");
    let postgres = NetworkStore::postgres(&format!("{postgres}{suffix}"), Some(ca.clone()), &suffix).await;
    on_each(vec![NetworkStore::redis(redis, Some(ca)), postgres], body).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_conformance_over_tls_verified_by_the_configured_ca() {
    each_tls_store(|store| async move { conformance(|lifetimes| store.fresh(lifetimes)).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_sessions_over_tls() {
    each_tls_store(|store| async move {
        let ca = store.ca.clone().unwrap_or_default();
        crate::instances::two_instances(&store.url, &[("ROCKET_SESSION_STORE_CA", &ca)]).await;
    })
    .await;
}

/// What the app answers with `session_store = url` and `session_store_ca = ca_path`: the
/// health check and a server-session write must be 503, the global list still works. Returns
/// the store's own error (what the log says) for the caller to check and print.
async fn refused(case: &str, url: &str, ca_path: &str) -> String {
    let ca = load(ca_path);
    let error = if url.starts_with("rediss://") {
        let store = redis(url, LONG, &ca);
        store.ping().await.expect_err("verification must fail").to_string()
    } else {
        let store = PostgresStore::with_ca(url, LONG, Some(&ca)).expect("a verify-full URL");
        store.ping().await.expect_err("verification must fail").to_string()
    };
    let app = App::with(figment().merge(("session_store", url)).merge(("session_store_ca", ca_path))).await;
    let health = app.client.get("/healthz").dispatch().await;
    let health = (health.status(), health.into_string().await.unwrap_or_default());
    let write = app.visitor().post_json("/api/server-session/items", r#"{"item":"x"}"#).await;
    let global = app.visitor().post_json("/api/global/items", r#"{"item":"x"}"#).await;
    println!("{case}:\n  store: {error}\n  /healthz: {} {}\n  POST /api/server-session/items: {} {}\n  POST /api/global/items: {}",
        health.0.code, health.1, write.status.code, write.body, global.status.code);
    assert_eq!(health.0, Status::ServiceUnavailable, "{case}: {}", health.1);
    assert_eq!(write.status, Status::ServiceUnavailable, "{case}: {}", write.body);
    assert!(write.error().contains("session store is unavailable"), "{case}: {}", write.body);
    assert_eq!(global.status, Status::Created, "{case}: the other strategies keep working");
    error
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_tls_refuses_a_wrong_ca_an_expired_certificate_and_a_plain_text_server() {
    let names = ["TLS_REDIS_URL", "TLS_REDIS_EXPIRED_URL", "TLS_REDIS_PLAIN_URL", "TLS_CA", "TLS_WRONG_CA"];
    let Some([good, expired, plain, ca, wrong]) = vars(names) else { return };
    let error = refused("redis, wrong CA", &good, &wrong).await;
    assert!(error.contains("UnknownIssuer"), "{error}");
    let error = refused("redis, expired certificate", &expired, &ca).await;
    assert!(error.contains("certificate expired"), "{error}");
    // A plain-text Redis never finishes the handshake (it waits for the end of a command
    // line), so the call runs into its timeout; the point is that nothing was sent in clear.
    let error = refused("redis, plain-text server behind rediss://", &plain, &ca).await;
    assert!(error.contains("no answer within") || error.contains("tls"), "{error}");
    let mut clear = redis::Client::open(plain.replacen("rediss://", "redis://", 1))
        .and_then(|client| client.get_connection())
        .expect("the plain-text server answers plain text");
    let stats: String = redis::cmd("INFO").arg("commandstats").query(&mut clear).unwrap();
    println!(
        "  the plain-text server's command counts: {}",
        stats.lines().skip(1).collect::<Vec<_>>().join(" ")
    );
    for command in ["cmdstat_ping", "cmdstat_evalsha", "cmdstat_hset", "cmdstat_exec"] {
        assert!(!stats.contains(command), "the app spoke plain text to it: {stats}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tls_refuses_a_wrong_ca_an_expired_certificate_and_a_plain_text_server() {
    let names =
        ["TLS_DATABASE_URL", "TLS_DATABASE_EXPIRED_URL", "TLS_DATABASE_PLAIN_URL", "TLS_CA", "TLS_WRONG_CA"];
    let Some([good, expired, plain, ca, wrong]) = vars(names) else { return };
    let error = refused("postgres, wrong CA", &good, &wrong).await;
    assert!(error.contains("UnknownIssuer"), "{error}");
    let error = refused("postgres, expired certificate", &expired, &ca).await;
    assert!(error.contains("certificate expired"), "{error}");
    let error = refused("postgres, sslmode=verify-full against a server without TLS", &plain, &ca).await;
    assert!(error.contains("TLS"), "{error}");
}

/// A CA next to a URL that would not verify is a configuration mistake: the app refuses to
/// start and says which setting to change. Needs no server (nothing connects at start).
#[tokio::test]
async fn a_ca_next_to_a_url_that_would_not_verify_stops_the_start() {
    let Some([ca_path]) = vars(["TLS_CA"]) else { return };
    let ca = load(&ca_path);
    for (url, says) in [
        ("redis://127.0.0.1:1", "use `rediss://`"),
        ("postgres://u@127.0.0.1:1/db", "sslmode=verify-full"),
        ("postgres://u@127.0.0.1:1/db?sslmode=require", "sslmode=verify-full"),
        ("memory", "no TLS to verify"),
    ] {
        let error = server_side_sessions::store::open(url, LONG, None, Some(&ca)).err().expect(url);
        println!("{url} with session_store_ca: {error}");
        assert!(error.contains(says), "{url}: {error}");
        let figment = figment().merge(("session_store", url)).merge(("session_store_ca", &ca_path));
        let launched =
            rocket::local::asynchronous::Client::untracked(server_side_sessions::build(figment)).await;
        let Err(error) = launched else { panic!("{url} with a CA must not start") };
        assert!(matches!(error.kind(), rocket::error::ErrorKind::FailedFairings(_)), "{url}: {error}");
    }
}
