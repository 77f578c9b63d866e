//! The binary started from an empty directory, as a container, a Lambda package or a copied
//! binary is: there is no `Rocket.toml` to read. The safe settings are compiled in, so it
//! behaves as it does from the repository root. Checked by behaviour, not by the log: Rocket's
//! own defaults would take 1 MiB of JSON and 32 KiB of form, trust `X-Real-IP`, and leave
//! cookies without `Secure` in the release profile.

use std::path::Path;

use crate::support::http::http;
use crate::support::processes::AppProcess;
use crate::support::visitor::KEY;

/// The app started in a fresh empty directory, with only the templates pointed at (as the
/// troubleshooting section says) and `env` on top.
async fn elsewhere(env: &[(&str, &str)]) -> (AppProcess, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("an empty directory");
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let templates = templates.to_str().expect("a UTF-8 path");
    let mut env = env.to_vec();
    env.push(("ROCKET_TEMPLATE_DIR", templates));
    (AppProcess::start_in(dir.path(), "memory", KEY, &env).await, dir)
}

#[tokio::test]
async fn from_an_empty_directory_bodies_stay_small_and_the_client_cannot_pick_its_address() {
    let rate = [("ROCKET_SESSION_RATE_PER_MINUTE", "1"), ("ROCKET_SESSION_RATE_BURST", "2")];
    let (app, _dir) = elsewhere(&rate).await;
    assert_eq!(http(app.port, "GET", "/", &[], "").await.status, 200, "the pages render");

    let item = "a".repeat(5_000);
    let json = [("Content-Type", "application/json")];
    let big = http(app.port, "POST", "/api/global/items", &json, &format!(r#"{{"item":"{item}"}}"#)).await;
    assert_eq!(big.status, 413, "a 5 KB JSON body passed the 4 KiB limit: {big:?}");
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let big = http(app.port, "POST", "/global/items", &form, &format!("item={item}")).await;
    assert_eq!(big.status, 413, "a 5 KB form passed the 4 KiB limit: {big:?}");

    // Three new sessions, each claiming another address: one bucket all the same.
    let mut statuses = Vec::new();
    for n in 1..=3 {
        let address = format!("203.0.113.{n}");
        let headers = [("Content-Type", "application/json"), ("X-Real-IP", address.as_str())];
        let reply = http(app.port, "POST", "/api/server-session/items", &headers, r#"{"item":"milk"}"#).await;
        statuses.push(reply.status);
    }
    assert!(statuses[..2].iter().all(|s| *s < 300), "{statuses:?}");
    assert_eq!(statuses[2], 429, "X-Real-IP chose the rate bucket: {statuses:?}");
}

#[tokio::test]
async fn from_an_empty_directory_the_release_profile_keeps_cookies_secure() {
    let (app, _dir) = elsewhere(&[("ROCKET_PROFILE", "release")]).await;
    let headers = [("Content-Type", "application/json")];
    let reply = http(app.port, "POST", "/api/server-session/items", &headers, r#"{"item":"milk"}"#).await;
    let cookie = reply.headers.iter().find(|(name, _)| name == "set-cookie").map(|(_, v)| v.as_str());
    let cookie = cookie.unwrap_or_else(|| panic!("no cookie: {reply:?}"));
    assert!(cookie.starts_with("__Host-session_id=") && cookie.contains("Secure"), "{cookie}");
    assert!(reply.headers.iter().any(|(name, _)| name == "strict-transport-security"), "{reply:?}");
}
