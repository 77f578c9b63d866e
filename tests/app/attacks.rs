//! The attacker's side, over real HTTP against a running server. Each case asserts the safe
//! outcome: no 5xx, no other visitor's data, nothing already stored lost. Every observed
//! response is printed (`cargo test attacks -- --nocapture` shows the table).

use std::sync::Arc;
use std::time::Duration;

use crate::support::http::{Reply, JSON};
use crate::support::load::{self, Load, Request};
use crate::support::server::Server;
use crate::support::visitor::{figment, flip_one_char, OTHER_KEY};

fn report(case: &str, reply: &Reply) {
    println!("attack | {case:<52} | {} | {:.90}", reply.status, reply.body.replace('\n', " "));
    assert!(reply.status != 0 && reply.status < 500, "{case}: {} {}", reply.status, reply.body);
}

/// A victim with an item in each per-visitor strategy (the global list is shared by design),
/// and their cookies as `Cookie` headers.
async fn victim(server: &Server) -> (String, String) {
    let mut cookies = Vec::new();
    for slug in ["server-session", "cookie-session"] {
        let body = r#"{"item":"victim's secret"}"#;
        let reply = server.request("POST", &format!("/api/{slug}/items"), &[JSON], body).await;
        cookies.extend(reply.cookie());
    }
    let session = cookies.iter().find(|c| c.starts_with("session_id=")).unwrap().clone();
    let private = cookies.iter().find(|c| c.starts_with("cookie_session=")).unwrap().clone();
    (session, private)
}

fn value(cookie: &str) -> &str {
    cookie.split_once('=').map(|(_, v)| v).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_mangled_cookies_are_harmless() {
    let server = Server::start(figment()).await;
    let other = Server::start(figment().merge(("secret_key", OTHER_KEY))).await;
    let (session, private) = victim(&server).await;
    let foreign = other
        .request("POST", "/api/cookie-session/items", &[JSON], r#"{"item":"x"}"#)
        .await
        .cookie()
        .unwrap();
    let sealed = value(&private).to_owned();
    let cases: Vec<(&str, String)> = vec![
        ("forged session_id", format!("session_id={}", "A".repeat(43))),
        ("forged cookie_session", format!("cookie_session={}", "QUFB".repeat(30))),
        ("truncated cookie_session", format!("cookie_session={}", &sealed[..sealed.len() / 2])),
        ("oversized cookie_session (8 KB)", format!("cookie_session={}", "A".repeat(8192))),
        ("non-ASCII cookie values", "session_id=é€😀; cookie_session=ünïcödé".to_owned()),
        ("private value under the session_id name", format!("session_id={sealed}")),
        ("cookie made with another key", foreign.clone()),
        ("one character flipped", format!("cookie_session={}", flip_one_char(&sealed))),
    ];
    for (case, cookie) in cases {
        for path in ["/api/server-session/items", "/api/cookie-session/items", "/", "/api/inspect"] {
            let reply = server.request("GET", path, &[("Cookie", &cookie)], "").await;
            if path == "/api/cookie-session/items" {
                report(case, &reply);
            }
            assert!(reply.status < 500, "{case} {path}");
            assert!(!reply.body.contains("victim's secret"), "{case} {path} leaked: {}", reply.body);
        }
    }
    let big = format!("cookie_session={}", "A".repeat(100 * 1024));
    report("100 KB Cookie header", &server.request("GET", "/", &[("Cookie", &big)], "").await);
    // The victim still has everything.
    let mine = server.request("GET", "/api/server-session/items", &[("Cookie", &session)], "").await;
    assert!(mine.body.contains("victim's secret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_after_end_and_rotate_and_fixation_get_nothing() {
    let server = Server::start(figment().merge(("session_rotation_grace", 1))).await;
    let (session, _) = victim(&server).await;
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    let rotated = server.request("POST", "/server-session/rotate", &[form, ("Cookie", &session)], "").await;
    let new_session = rotated.cookie().expect("a new id");
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await; // past the rotation's grace
    let replay = server.request("GET", "/api/server-session/items", &[("Cookie", &session)], "").await;
    report("replay session_id after rotate and its grace", &replay);
    assert!(!replay.body.contains("victim's secret"));
    server.request("POST", "/server-session/end", &[form, ("Cookie", &new_session)], "").await;
    let replay = server.request("GET", "/api/server-session/items", &[("Cookie", &new_session)], "").await;
    report("replay session_id after end", &replay);
    assert!(!replay.body.contains("victim's secret"));

    let (_, private) = victim(&server).await;
    server.request("POST", "/cookie-session/sign-out-everywhere", &[form, ("Cookie", &private)], "").await;
    let replay = server.request("GET", "/api/cookie-session/items", &[("Cookie", &private)], "").await;
    report("replay cookie_session after sign-out-everywhere", &replay);
    assert!(!replay.body.contains("victim's secret"));

    let planted = "session_id=".to_owned() + &"Zm9v".repeat(10) + "Zm8";
    let fixed = server
        .request("POST", "/api/server-session/items", &[JSON, ("Cookie", &planted)], r#"{"item":"x"}"#)
        .await;
    report("fixation: write with a planted id", &fixed);
    assert_ne!(fixed.cookie().as_deref(), Some(planted.as_str()), "planted id adopted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_and_malformed_writes_are_refused_without_change() {
    let server = Server::start(figment()).await;
    let (session, _) = victim(&server).await;
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    type Case<'a> = (&'a str, &'a str, &'a str, Vec<(&'a str, &'a str)>, String);
    let cases: Vec<Case> = vec![
        (
            "cross-site form POST",
            "POST",
            "/server-session/clear",
            vec![form, ("Sec-Fetch-Site", "cross-site")],
            String::new(),
        ),
        (
            "cross-origin form POST (Origin only)",
            "POST",
            "/server-session/clear",
            vec![form, ("Origin", "http://evil.test")],
            String::new(),
        ),
        (
            "_method=delete override, cross-site",
            "POST",
            "/api/server-session/items",
            vec![form, ("Sec-Fetch-Site", "cross-site")],
            "_method=delete".into(),
        ),
        (
            "text/plain JSON body",
            "POST",
            "/api/server-session/items",
            vec![("Content-Type", "text/plain")],
            r#"{"item":"evil"}"#.into(),
        ),
        (
            "1 MB JSON body",
            "POST",
            "/api/server-session/items",
            vec![JSON],
            format!(r#"{{"item":"{}"}}"#, "x".repeat(1 << 20)),
        ),
    ];
    for (case, method, path, mut headers, body) in cases {
        headers.push(("Cookie", &session));
        let reply = server.request(method, path, &headers, &body).await;
        report(case, &reply);
        assert!((400..500).contains(&reply.status), "{case}");
    }
    let mine = server.request("GET", "/api/server-session/items", &[("Cookie", &session)], "").await;
    assert!(mine.body.contains("victim's secret") && !mine.body.contains("evil"), "{}", mine.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_items_stays_text_and_cookieless_floods_store_nothing() {
    let server = Server::start(figment()).await;
    for attack in [
        r#"<script>alert(1)</script>"#,
        r#""><img src=x onerror=alert(1)>"#,
        "{{constructor}} {{> layout}}",
        "javascript:alert(1)",
    ] {
        let body = serde_json::json!({ "item": attack }).to_string();
        let added = server.request("POST", "/api/global/items", &[JSON], &body).await;
        report(&format!("XSS/template item {attack:.30}"), &added);
    }
    let page = server.request("GET", "/global", &[], "").await;
    assert!(!page.body.contains("<script>alert") && !page.body.contains("<img src=x"));
    assert!(page.body.contains("{{constructor}} {{&gt; layout}}"), "template syntax shown literally");

    let paths = ["/", "/api/server-session/items", "/server-session", "/api/cookie-session/items"];
    let load =
        Load { port: server.port, connections: 4, duration: Duration::from_secs(60), server_pid: None };
    let flood = load::run(&load, |worker| {
        let mut sent = 0;
        Box::new(move |_| {
            sent += 1;
            (sent <= 2500).then(|| Request::get(paths[(sent + worker) % 4]))
        })
    })
    .await;
    assert_eq!((flood.answered(200), flood.cookies_set), (10_000, 0), "{:?}", flood.statuses);
    let inspect = server.request("GET", "/api/inspect", &[], "").await;
    report("after 10,000 cookie-less requests", &inspect);
    let json: serde_json::Value = serde_json::from_str(&inspect.body).unwrap();
    assert_eq!(json["store"]["sessions"], 0, "no store growth");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clear_racing_adds_never_brings_cleared_items_back() {
    let server = Arc::new(Server::start(figment()).await);
    let first = server.request("POST", "/api/server-session/items", &[JSON], r#"{"item":"old"}"#).await;
    let cookie = first.cookie().unwrap();
    for i in 0..5 {
        server
            .request(
                "POST",
                "/api/server-session/items",
                &[JSON, ("Cookie", &cookie)],
                &format!(r#"{{"item":"old{i}"}}"#),
            )
            .await;
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (server, cookie) = (server.clone(), cookie.clone());
        tasks.spawn(async move {
            if i == 10 {
                server.request("DELETE", "/api/server-session/items", &[("Cookie", &cookie)], "").await
            } else {
                server
                    .request(
                        "POST",
                        "/api/server-session/items",
                        &[JSON, ("Cookie", &cookie)],
                        &format!(r#"{{"item":"new{i}"}}"#),
                    )
                    .await
            }
        });
    }
    while let Some(reply) = tasks.join_next().await {
        assert!(reply.unwrap().status < 300);
    }
    let list = server.request("GET", "/api/server-session/items", &[("Cookie", &cookie)], "").await;
    report("clear racing 19 adds", &list);
    assert!(!list.body.contains("\"old"), "cleared items came back: {}", list.body);
}
