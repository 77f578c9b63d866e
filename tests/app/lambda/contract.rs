//! One emulated function, as a browser and a client that misbehaves see it: the strategies,
//! cookies and refusals (run on DynamoDB too, by [`super::dynamodb`]), an event that is no
//! request, the rate keyed on the event's `sourceIp`, the release profile, and the key read
//! from Secrets Manager.

use super::Emulator;
use crate::support::http::{http, json, try_get, Jar, JSON};
use crate::support::secrets_extension::Extension;
use crate::support::visitor::KEY;

/// What every store must give through the function: add, read and clear on the four lists,
/// cookie attributes, the form, the page and `HEAD`, rotate and end, cross-site writes refused
/// and harmless, 405 with `Allow`, `OPTIONS`, 413, and the private cookie's 4 KB wall.
pub async fn contract(port: u16) {
    let mut browser = Jar::default();
    let slugs = ["global", "server-session", "cookie-session", "signed-session"];
    for slug in slugs {
        let added = browser.add(port, slug, &format!("milk {slug}"), &[]).await;
        assert_eq!(added.status, 201, "{added:?}");
        for cookie in added.set_cookies() {
            assert!(["HttpOnly", "SameSite=Lax", "Path=/"].iter().all(|a| cookie.contains(a)), "{cookie}");
        }
        assert_eq!(browser.items(port, slug).await, [format!("milk {slug}")]);
    }
    let names: Vec<&String> = browser.0.keys().collect();
    assert_eq!(names, ["cookie_session", "session_id", "signed_session"], "every cookie came back");
    for slug in slugs {
        assert_eq!(browser.send(port, "DELETE", &format!("/api/{slug}/items"), &[], "").await.status, 200);
        assert!(browser.items(port, slug).await.is_empty(), "{slug} cleared");
    }
    let page = browser.form(port, "/cookie-session/items", "item=tea&return_to=/").await;
    assert_eq!((page.status, browser.items(port, "cookie-session").await), (303, vec!["tea".into()]));
    let index = browser.send(port, "GET", "/", &[], "").await;
    assert_eq!(index.status, 200, "the page: {index:?}");
    let head = browser.send(port, "HEAD", "/", &[], "").await;
    assert_eq!((head.status, head.body.as_str()), (200, ""), "HEAD: the page's status, no body");

    browser.add(port, "server-session", "kept", &[]).await;
    let old = browser.0["session_id"].clone();
    assert_eq!(browser.form(port, "/server-session/rotate", "return_to=/").await.status, 303);
    assert_ne!(browser.0["session_id"], old, "a new id");
    assert_eq!(browser.items(port, "server-session").await, ["kept"], "rotated with its items");
    assert_eq!(browser.form(port, "/server-session/end", "return_to=/").await.status, 303);
    assert!(!browser.0.contains_key("session_id"), "ended: the cookie goes");
    assert!(browser.items(port, "server-session").await.is_empty());

    let before = browser.items(port, "global").await;
    for header in [("Origin", "https://evil.example"), ("Sec-Fetch-Site", "cross-site")] {
        assert_eq!(browser.add(port, "global", "forged", &[header]).await.status, 403, "{header:?}");
    }
    assert_eq!(browser.items(port, "global").await, before, "a refused write changed nothing");
    let wrong = http(port, "PUT", "/api/global/items", &[], "").await;
    assert!(wrong.status == 405 && wrong.header("allow").is_some_and(|a| a.contains("POST")), "{wrong:?}");
    let options = http(port, "OPTIONS", "/api/global/items", &[], "").await;
    assert!(options.status == 204 && options.header("allow").is_some(), "{options:?}");
    let big =
        http(port, "POST", "/api/global/items", &[JSON], &format!(r#"{{"item":"{}"}}"#, "a".repeat(5000)))
            .await;
    assert!(big.status == 413 && json(&big)["error"].is_string(), "{big:?}");

    let mut n = 0;
    let full = loop {
        let reply = browser.add(port, "cookie-session", &format!("{n:03} {}", "w".repeat(190)), &[]).await;
        if reply.status != 201 || n == 40 {
            break reply;
        }
        n += 1;
    };
    assert!(full.status == 422 && full.body.contains("4096"), "the 4 KB wall: {full:?}");
    assert_eq!(
        browser.items(port, "cookie-session").await.len(),
        n + 1,
        "the old cookie still holds tea + {n}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: CI runs it by name (docs/testing.md)"]
async fn the_function_keeps_the_contract() {
    contract(Emulator::start(&[]).await.port).await;
}

/// Invoked directly (Lambda's Invoke API, as `cargo lambda invoke` does) with no HTTP event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: CI runs it by name (docs/testing.md)"]
async fn an_event_that_is_no_request_is_logged_refused_and_survived() {
    let function = Emulator::start(&[]).await;
    let path = "/2015-03-31/functions/server-side-sessions/invocations";
    let broken = http(function.port, "POST", path, &[JSON], r#"{"not": "an http event"}"#).await;
    assert!(broken.status >= 400, "{broken:?}");
    assert!(function.logs().contains("not a function-URL request"), "not logged");
    let live = try_get(function.port, "/livez").await.map(|reply| reply.status);
    assert_eq!(live, Some(200), "the function still serves");
}

/// Even told to trust a header, the function keys the rate on the event's `sourceIp`: new
/// sessions that claim other addresses share one bucket (kept in `store`).
pub async fn the_rate_keys_on_the_source_address(store: &str) {
    let env = [
        ("ROCKET_SESSION_STORE", store),
        ("ROCKET_SESSION_RATE_PER_MINUTE", "1"),
        ("ROCKET_SESSION_RATE_BURST", "3"),
        ("ROCKET_IP_HEADER", "X-Real-IP"),
    ];
    let function = Emulator::start(&env).await;
    let mut statuses = Vec::new();
    for n in 0..4 {
        let (real, forwarded) = (format!("203.0.113.{n}"), format!("198.51.100.{n}"));
        let spoof = [("X-Real-IP", real.as_str()), ("X-Forwarded-For", forwarded.as_str())];
        statuses.push(Jar::default().add(function.port, "server-session", "milk", &spoof).await.status);
    }
    assert_eq!(statuses, [201, 201, 201, 429], "new sessions with spoofed addresses");
    assert!(function.logs().contains("`ip_header` is ignored on Lambda"), "no warning");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: CI runs it by name (docs/testing.md)"]
async fn the_rate_keys_on_the_source_address_whatever_the_headers_say() {
    the_rate_keys_on_the_source_address("memory").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: CI runs it by name (docs/testing.md)"]
async fn the_release_profile_gives_host_cookies_and_hsts() {
    let function = Emulator::start(&[("ROCKET_PROFILE", "release")]).await;
    let mut browser = Jar::default();
    let added = browser.add(function.port, "server-session", "milk", &[]).await;
    let cookie = added.set_cookies().next().unwrap_or_default();
    assert!(cookie.starts_with("__Host-session_id=") && cookie.contains("Secure"), "{added:?}");
    assert!(added.header("strict-transport-security").is_some_and(|h| h.contains("max-age")), "{added:?}");
    assert_eq!(browser.items(function.port, "server-session").await, ["milk"]);
}

/// The key from Secrets Manager, through a stand-in for AWS's Parameters and Secrets extension
/// (`support/secrets_extension.rs`): asked once, and the private cookie it sealed opens on an
/// instance given the key directly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: CI runs it by name (docs/testing.md)"]
async fn the_key_read_from_secrets_manager_seals_the_cookies() {
    let extension = Extension::start("token-1", |id| async move {
        let body = serde_json::json!({ "Name": id, "SecretString": KEY }).to_string();
        Ok(body)
    })
    .await;
    let port = extension.port.to_string();
    let env = [
        ("ROCKET_PROFILE", "release"),
        ("ROCKET_SECRET_KEY", ""),
        ("SECRET_KEY_SECRET_ID", "sss/key"),
        ("AWS_SESSION_TOKEN", "token-1"),
        ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", &port),
    ];
    let from_secret = Emulator::start(&env).await;
    let requests = extension.requests();
    assert_eq!(requests.len(), 1, "asked once: {requests:?}");
    let request = &requests[0];
    assert!(request.starts_with("GET /secretsmanager/get?secretId=sss%2Fkey "), "{request}");
    assert!(request.to_ascii_lowercase().contains("x-aws-parameters-secrets-token: token-1"), "{request}");
    let mut browser = Jar::default();
    assert_eq!(browser.add(from_secret.port, "cookie-session", "milk", &[]).await.status, 201);
    let plain = Emulator::start(&[("ROCKET_PROFILE", "release")]).await;
    assert_eq!(browser.items(plain.port, "cookie-session").await, ["milk"], "sealed with the stored key");
}
