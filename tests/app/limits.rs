//! The bounds on new server-side sessions: a limit on live sessions (503, nothing evicted),
//! a per-client rate on starting them (429), and which address counts as "the client".

use std::net::SocketAddr;

use rocket::http::{ContentType, Header, Status};
use server_side_sessions::config::AppConfig;
use server_side_sessions::strategy::Slug;

use crate::support::http::http;
use crate::support::network_store::{each_network_store, NetworkStore};
use crate::support::processes::AppProcess;
use crate::support::store_servers::database_url;
use crate::support::visitor::{figment, App, Resp, Visitor, KEY};

/// A server-session write as if from `peer`, with `headers` (a claimed `X-Real-IP`, the
/// lines of `X-Forwarded-For`): a new session unless `visitor` has one.
pub async fn add_from(
    visitor: &Visitor<'_>,
    app: &App,
    peer: &str,
    headers: &[(&'static str, &str)],
) -> Resp {
    let peer: SocketAddr = peer.parse().expect("a socket address");
    let mut request = app
        .client
        .post("/api/server-session/items")
        .header(ContentType::JSON)
        .body(r#"{"item":"x"}"#)
        .remote(peer);
    for (name, value) in headers {
        request = request.header(Header::new(*name, value.to_string()));
    }
    visitor.send(request).await
}

#[tokio::test]
async fn a_full_store_refuses_new_sessions_with_503_and_evicts_nobody() {
    let app = App::with(figment().merge(("session_limit", 3))).await;
    let early = app.visitor();
    early.add(Slug::ServerSession, "made before the flood").await;
    for _ in 0..2 {
        assert_eq!(app.visitor().add(Slug::ServerSession, "x").await.status, Status::Created);
    }
    let refused = app.visitor().add(Slug::ServerSession, "one too many").await;
    assert_eq!(refused.status, Status::ServiceUnavailable, "{}", refused.body);
    assert_eq!(refused.header("Retry-After"), Some("60"));
    assert!(refused.error().contains("3 live sessions"), "{}", refused.error());
    assert!(refused.set_cookies().is_empty(), "no session was started");
    // Nobody was logged out to make room, the visitor with a session can still write, and
    // the other two strategies do not depend on the store's room.
    assert_eq!(early.items(Slug::ServerSession).await, ["made before the flood"]);
    assert_eq!(early.add(Slug::ServerSession, "still mine").await.status, Status::Created);
    let other = app.visitor();
    for slug in [Slug::Global, Slug::CookieSession] {
        assert_eq!(other.add(slug, "fine").await.status, Status::Created, "{slug:?}");
    }
    // Ending a session makes room for a new one.
    early.post_form("/server-session/end", "return_to=/").await;
    assert_eq!(app.visitor().add(Slug::ServerSession, "x").await.status, Status::Created);
}

#[tokio::test]
async fn one_client_may_start_only_so_many_sessions_but_never_waits_for_its_own() {
    let limited = figment().merge(("session_rate_burst", 2)).merge(("session_rate_per_minute", 1));
    let app = App::with(limited).await;
    let mine = app.visitor();
    assert_eq!(add_from(&mine, &app, "198.51.100.7:5000", &[]).await.status, Status::Created);
    assert_eq!(add_from(&app.visitor(), &app, "198.51.100.7:5001", &[]).await.status, Status::Created);
    let third = app.visitor();
    let refused = add_from(&third, &app, "198.51.100.7:5002", &[]).await;
    assert_eq!(refused.status, Status::TooManyRequests, "{}", refused.body);
    let wait: u64 = refused.header("Retry-After").and_then(|v| v.parse().ok()).expect("Retry-After");
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    assert!(refused.error().contains("too many new sessions"), "{}", refused.error());
    // The rate counts new sessions only: a visitor with a session keeps writing.
    for _ in 0..5 {
        assert_eq!(add_from(&mine, &app, "198.51.100.7:5000", &[]).await.status, Status::Created);
    }
    // Another address has a bucket of its own.
    assert_eq!(add_from(&app.visitor(), &app, "203.0.113.9:5000", &[]).await.status, Status::Created);
}

/// The defaults let one address start a class's burst at once, and not one more.
#[tokio::test]
async fn one_address_gets_the_default_burst_at_once_then_429() {
    let app = App::new().await;
    let burst = AppConfig::default().session_rate_burst;
    for n in 0..burst {
        let made = add_from(&app.visitor(), &app, "198.51.100.7:5000", &[]).await;
        assert_eq!(made.status, Status::Created, "session {n}: {}", made.body);
    }
    let refused = add_from(&app.visitor(), &app, "198.51.100.7:5000", &[]).await;
    assert_eq!(refused.status, Status::TooManyRequests, "{}", refused.body);
}

/// With `ip_header` off (the default), a client cannot walk around the rate by sending a new
/// `X-Real-IP` each time; behind a proxy that sets the header, naming it makes each real
/// client count on its own.
#[tokio::test]
async fn the_client_address_comes_from_a_header_only_when_the_operator_says_so() {
    let limited = || figment().merge(("session_rate_burst", 1)).merge(("session_rate_per_minute", 1));
    let direct = App::with(limited()).await;
    assert_eq!(
        forged_addresses(&direct).await,
        [Status::Created, Status::TooManyRequests, Status::TooManyRequests],
        "a forged X-Real-IP must not buy a new bucket"
    );
    let proxied = App::with(limited().merge(("ip_header", "X-Real-IP"))).await;
    assert_eq!(
        forged_addresses(&proxied).await,
        [Status::Created, Status::Created, Status::Created],
        "behind a trusted proxy, each client address is its own"
    );
}

/// Three new sessions from one peer, each claiming another address in `X-Real-IP`.
async fn forged_addresses(app: &App) -> Vec<Status> {
    let mut seen = Vec::new();
    for n in 1..=3 {
        let claimed = format!("192.0.2.{n}");
        seen.push(
            add_from(&app.visitor(), app, "198.51.100.7:5000", &[("X-Real-IP", &claimed)]).await.status,
        );
    }
    seen
}

/// The same limit with a network store, whose live count comes back from the store itself
/// (a fresh Postgres schema, so no other test's sessions count; Redis has no such isolation
/// for the app's own key prefix).
#[tokio::test]
async fn the_limit_holds_with_a_shared_store_too() {
    let Some(url) = database_url() else { return };
    let store = NetworkStore::postgres(&url, None, "").await;
    let app = App::with(figment().merge(("session_store", &store.url)).merge(("session_limit", 2))).await;
    for _ in 0..2 {
        let made = app.visitor().add(Slug::ServerSession, "x").await;
        assert_eq!(made.status, Status::Created, "{}", made.body);
    }
    let refused = app.visitor().add(Slug::ServerSession, "x").await;
    assert_eq!(refused.status, Status::ServiceUnavailable, "{}", refused.body);
    assert!(refused.error().contains("2 live sessions"), "{}", refused.error());
    // The store's own count agrees, and it is what the estimate is reset to.
    assert_eq!(app.session_count().await, 2);
}

/// Behind one trusted proxy (the Cloud Run setting), the client's address is the last entry of
/// `X-Forwarded-For`. An IPv6 client holds a whole /64 and can use a new address for every
/// request: its network is one bucket, however many addresses it uses.
#[tokio::test]
async fn an_ipv6_network_is_one_bucket_and_a_mapped_address_shares_its_ipv4_one() {
    let limited = figment().merge(("session_rate_burst", 5)).merge(("trusted_proxy_hops", 1));
    let app = App::with(limited).await;
    let from = |client: String| {
        let app = &app;
        async move { add_from(&app.visitor(), app, "10.0.0.1:443", &[("X-Forwarded-For", &client)]).await.status }
    };
    let mut admitted = 0;
    for host in 1..=300 {
        admitted += usize::from(from(format!("2001:db8:1:2:{host:x}::{host:x}")).await == Status::Created);
    }
    assert_eq!(admitted, 5, "300 addresses of one /64 got one bucket's burst");
    assert_eq!(from("2001:db8:1:3::1".into()).await, Status::Created, "another /64 is another bucket");
    for _ in 0..5 {
        assert_eq!(from("198.51.100.77".into()).await, Status::Created);
    }
    assert_eq!(from("::ffff:198.51.100.77".into()).await, Status::TooManyRequests, "the same bucket");
}

/// Three instances on one store draw on one bucket per network: a burst from one address,
/// spread over all three at once, gets the bucket's burst in all, not three of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_on_a_shared_store_share_each_networks_bucket() {
    each_network_store(|store| async move {
        let env = [
            ("ROCKET_SESSION_RATE_BURST", "10"),
            ("ROCKET_SESSION_RATE_PER_MINUTE", "1"),
            ("ROCKET_TRUSTED_PROXY_HOPS", "1"),
        ];
        let (a, b, c) = tokio::join!(
            AppProcess::start_with(&store.url, KEY, &env),
            AppProcess::start_with(&store.url, KEY, &env),
            AppProcess::start_with(&store.url, KEY, &env)
        );
        // A network no other test (or earlier run) has charged in the shared store.
        let client = format!("2001:db8:{:x}:{:x}::1", rand::random::<u16>(), rand::random::<u16>());
        let headers = [("X-Forwarded-For", client.as_str()), ("Content-Type", "application/json")];
        let burst = (0..60).map(|n| {
            let port = [a.port, b.port, c.port][n % 3];
            http(port, "POST", "/api/server-session/items", &headers, r#"{"item":"x"}"#)
        });
        let statuses: Vec<u16> = futures::future::join_all(burst).await.iter().map(|r| r.status).collect();
        let created = statuses.iter().filter(|s| **s == 201).count();
        assert_eq!(created, 10, "one bucket across three instances: {statuses:?}");
        assert!(statuses.iter().all(|s| [201, 429].contains(s)), "{statuses:?}");
    })
    .await;
}
