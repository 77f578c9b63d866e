//! Which address the per-client rate keys on behind proxies that append to `X-Forwarded-For`
//! (`trusted_proxy_hops`), and that the app refuses two rules for one answer.

use rocket::http::{Header, Status};

use crate::support::visitor::{figment, App, Resp};

/// A bucket of one new session a minute, behind `hops` trusted proxies.
async fn behind(hops: u8) -> App {
    let limited = figment().merge(("session_rate_burst", 1)).merge(("session_rate_per_minute", 1));
    App::with(limited.merge(("trusted_proxy_hops", hops))).await
}

/// A new-session write from `peer` carrying `forwarded` as its `X-Forwarded-For` lines.
async fn add_from(app: &App, peer: &str, forwarded: &[&str]) -> Resp {
    let headers: Vec<(&'static str, &str)> =
        forwarded.iter().map(|line| ("X-Forwarded-For", *line)).collect();
    crate::limits::add_from(&app.visitor(), app, peer, &headers).await
}

#[tokio::test]
async fn spoofed_entries_left_of_the_trusted_hops_buy_no_new_bucket() {
    let app = behind(2).await;
    let proxy = "10.0.0.2:40000";
    // The client wrote the first entries; the two trusted proxies appended the last two.
    assert_eq!(add_from(&app, proxy, &["203.0.113.1, 198.51.100.7, 10.0.0.1"]).await.status, Status::Created);
    for spoofed in
        ["203.0.113.2, 198.51.100.7, 10.0.0.1", "198.51.100.7, 10.0.0.1", "x, y, 198.51.100.7, 10.0.0.1"]
    {
        let refused = add_from(&app, proxy, &[spoofed]).await;
        assert_eq!(refused.status, Status::TooManyRequests, "{spoofed}: {}", refused.body);
    }
    // Another visitor behind the same proxies has a bucket of their own.
    assert_eq!(add_from(&app, proxy, &["192.0.2.50, 10.0.0.1"]).await.status, Status::Created);
    let forwarded = Header::new("X-Forwarded-For", "203.0.113.9, 192.0.2.77, 10.0.0.1");
    let inspect = app.client.get("/api/inspect").remote(proxy.parse().expect("an address")).header(forwarded);
    let seen = app.visitor().send(inspect).await.json();
    assert_eq!(seen["client"]["address"], "192.0.2.77", "/api/inspect shows the address the rate uses");
}

#[tokio::test]
async fn a_missing_or_short_header_falls_back_to_the_peer() {
    let app = behind(2).await;
    assert_eq!(add_from(&app, "10.0.0.2:40000", &[]).await.status, Status::Created);
    // Same peer: a header with fewer entries than trusted hops is not believed.
    for short in [&[][..], &["198.51.100.7"], &["203.0.113.5"]] {
        let refused = add_from(&app, "10.0.0.2:40001", short).await;
        assert_eq!(refused.status, Status::TooManyRequests, "{short:?}: {}", refused.body);
    }
    assert_eq!(
        add_from(&app, "10.0.0.3:40000", &["198.51.100.7"]).await.status,
        Status::Created,
        "another peer"
    );
}

#[tokio::test]
async fn with_hops_off_the_header_is_ignored() {
    let app = behind(0).await;
    assert_eq!(add_from(&app, "10.0.0.2:40000", &["198.51.100.1"]).await.status, Status::Created);
    let refused = add_from(&app, "10.0.0.2:40000", &["198.51.100.2"]).await;
    assert_eq!(refused.status, Status::TooManyRequests, "{}", refused.body);
}

#[tokio::test]
async fn trusted_hops_and_an_ip_header_together_refuse_to_start() {
    let both = figment().merge(("trusted_proxy_hops", 1)).merge(("ip_header", "X-Real-IP"));
    let result = rocket::local::asynchronous::Client::untracked(server_side_sessions::build(both)).await;
    let Err(error) = result else { panic!("two rules for the client address were accepted") };
    assert!(matches!(error.kind(), rocket::error::ErrorKind::FailedFairings(_)), "{error}");
    // Each alone starts.
    App::with(figment().merge(("ip_header", "X-Real-IP"))).await;
    App::with(figment().merge(("trusted_proxy_hops", 1))).await;
}
