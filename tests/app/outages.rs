//! When the session store is not there: at start, or going away while the app runs. The app
//! must start anyway, say so on `/healthz`, answer server-side session requests with a quick
//! 503 (never hang, never fall back to memory), keep the other two strategies working, and
//! recover by itself, with the sessions stored before intact, when the store is back.

use std::time::{Duration, Instant};

use server_side_sessions::session_id::SessionId;
use tokio::net::TcpListener;

use crate::support::http::{add, get, items, json, list, Reply};
use crate::support::network_store::each_network_store;
use crate::support::processes::wait_healthy;
use crate::support::proxy::{reroute, Proxy};
use crate::support::server::Server;
use crate::support::visitor::figment;

const SERVER: &str = "server-session";
/// What "a bounded time" means in these tests: the store timeout is 2 s.
const PROMPT: Duration = Duration::from_secs(5);

async fn timed<F: std::future::Future<Output = Reply>>(call: F) -> Reply {
    let started = Instant::now();
    let reply = call.await;
    assert!(started.elapsed() < PROMPT, "took {:?}: {reply:?}", started.elapsed());
    reply
}

async fn start(store: &str) -> Server {
    // Sessions left in a shared store by these tests expire soon.
    Server::start(figment().merge(("session_store", store)).merge(("session_idle_timeout", 300))).await
}

/// A well-formed `session_id` cookie no store has seen: enough to make a read go to the store.
fn some_session() -> String {
    format!("session_id={}", SessionId::generate().expose())
}

/// Everything a visitor sees while the store is down. `session` is a session cookie.
async fn assert_store_down(server: &Server, backend: &str, session_cookie: &str) {
    let session = Some(session_cookie);
    let health = timed(get(server.port, "/healthz", None)).await;
    assert_eq!(health.status, 503, "{health:?}");
    let health = json(&health);
    assert_eq!((&health["status"], &health["store"]["up"]), (&"degraded".into(), &false.into()));
    assert_eq!(health["store"]["backend"], backend);

    for reply in [
        timed(add(server.port, SERVER, "lost?", session)).await,
        timed(list(server.port, SERVER, session)).await,
    ] {
        assert_eq!(reply.status, 503, "no silent fallback to memory: {reply:?}");
        assert!(json(&reply)["error"].as_str().unwrap_or_default().contains("session store is unavailable"));
    }
    assert_eq!(timed(get(server.port, "/", session)).await.status, 200, "the comparison page still renders");

    // The other two strategies do not depend on the store.
    assert_eq!(add(server.port, "global", "still works", None).await.status, 201);
    let sealed = add(server.port, "cookie-session", "still works", None).await.cookie().expect("a cookie");
    assert_eq!(items(&list(server.port, "cookie-session", Some(&sealed)).await), ["still works"]);

    // `/api/inspect` asks the store three things (count, session, revocation epoch); they run
    // at once, so a store that never answers costs one timeout (2 s), not three in a row.
    let both = format!("{session_cookie}; {sealed}");
    let started = Instant::now();
    let inspect = get(server.port, "/api/inspect", Some(&both)).await;
    let took = started.elapsed();
    assert_eq!(inspect.status, 200, "{inspect:?}");
    assert!(took < Duration::from_millis(3500), "inspect took {took:?}");
    let inspect = json(&inspect);
    assert!(inspect["store"]["error"].is_string() && inspect["server_session"].is_null(), "{inspect}");
    assert_eq!(inspect["cookie_session"]["items"], serde_json::json!(["still works"]), "{inspect}");
    // RevocationCopy cannot be confirmed without the store, and both the page and the API say so.
    assert_eq!(inspect["revocation"]["live"], false, "{inspect}");
    let notice = inspect["cookie_session"]["notice"].as_str().unwrap_or_default();
    assert!(notice.contains("revocation could not be checked"), "{inspect}");
    let page = get(server.port, "/cookie-session", Some(&sealed)).await;
    assert!(page.body.contains("revocation could not be checked"), "{}", page.body);
    let confirmed = ["another instance since this instance started", "another instance after "];
    assert!(confirmed.iter().any(|when| page.body.contains(when)), "the page says since when: {}", page.body);
}

/// Waits until the instance's copy of the revocations follows the store again.
async fn wait_revocations_live(server: &Server) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let inspect = json(&get(server.port, "/api/inspect", None).await);
        if inspect["revocation"]["live"] == true || Instant::now() > deadline {
            return inspect["revocation"].clone();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A port that accepts connections and never answers: the worst kind of store outage.
async fn black_hole() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_starts_without_its_store_and_answers_503_quickly() {
    for (backend, scheme) in [("redis", "redis://"), ("postgres", "postgres://postgres@")] {
        let refused = start(&format!("{scheme}127.0.0.1:1/0")).await;
        assert_store_down(&refused, backend, &some_session()).await;
        let silent = start(&format!("{scheme}127.0.0.1:{}/0", black_hole().await)).await;
        assert_store_down(&silent, backend, &some_session()).await;
    }
    #[cfg(feature = "dynamodb")]
    for port in [1, black_hole().await] {
        let down = start(&format!("dynamodb://sessions?endpoint=http://127.0.0.1:{port}")).await;
        assert_store_down(&down, "dynamodb", &some_session()).await;
    }
}

#[tokio::test]
async fn a_session_store_that_names_no_backend_refuses_to_start() {
    for bad in ["mysql://user:hunter2@db/app", "memcached", "Memory", "redis//no-scheme"] {
        let figment = figment().merge(("session_store", bad));
        let result =
            rocket::local::asynchronous::Client::untracked(server_side_sessions::build(figment)).await;
        let Err(error) = result else { panic!("{bad} was accepted") };
        assert!(matches!(error.kind(), rocket::error::ErrorKind::FailedFairings(_)), "{error}");
    }
}

/// A session stored through a proxy that then goes down for a while and comes back.
async fn outage_and_recovery(url: &str, backend: &str) {
    let (target, _) = reroute(url, 0);
    let proxy = Proxy::start(&target).await;
    let server = start(&reroute(url, proxy.port).1).await;
    wait_healthy(server.port).await;
    let before = wait_revocations_live(&server).await;
    assert_eq!(before["live"], true, "{before}");
    let created = add(server.port, SERVER, "stored before", None).await;
    assert_eq!(created.status, 201, "{created:?}");
    let session = created.cookie().expect("a session cookie");
    assert_eq!(get(server.port, "/healthz", None).await.status, 200);

    proxy.down();
    assert_store_down(&server, backend, &session).await;

    proxy.up().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let back = loop {
        let reply = list(server.port, SERVER, Some(&session)).await;
        if reply.status == 200 || Instant::now() > deadline {
            break reply;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(items(&back), ["stored before"], "intact, and the add during the outage was not kept");
    assert_eq!(get(server.port, "/healthz", None).await.status, 200);
    let revocation = wait_revocations_live(&server).await;
    assert_eq!(revocation["live"], true, "the revocation copy follows the store again: {revocation}");
    assert_eq!(add(server.port, SERVER, "after", Some(&session)).await.status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_going_away_gives_503_and_the_app_recovers_with_sessions_intact() {
    each_network_store(|store| async move { outage_and_recovery(&store.url, store.kind).await }).await;
}

/// A store that is down when the app starts and comes up later: no restart needed, and for
/// Postgres the schema migration, which could not run at start, runs then.
async fn down_at_start_then_up(url: &str, backend: &str) {
    let proxy = Proxy::start(&reroute(url, 0).0).await;
    proxy.down();
    let server = start(&reroute(url, proxy.port).1).await;
    assert_store_down(&server, backend, &some_session()).await;
    proxy.up().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let created = loop {
        let reply = add(server.port, SERVER, "first", None).await;
        if reply.status == 201 || Instant::now() > deadline {
            break reply;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let session = created.cookie().unwrap_or_else(|| panic!("no session after recovery: {created:?}"));
    assert_eq!(items(&list(server.port, SERVER, Some(&session)).await), ["first"]);
    assert_eq!(get(server.port, "/healthz", None).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_down_at_start_is_used_and_migrated_as_soon_as_it_is_up() {
    each_network_store(|store| async move { down_at_start_then_up(&store.url, store.kind).await }).await;
}
