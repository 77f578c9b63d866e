//! The Shuttle entry point under `cargo shuttle run` (docs/shuttle.md): built with the
//! `shuttle` feature and configured from a throwaway `Secrets.toml`, it serves the page, keeps
//! a private cookie across requests, and keeps server-side sessions in the store its secrets
//! name. Needs cargo-shuttle (`scripts/shuttle-smoke.sh` installs it, then runs these) and
//! builds the app once more, so ignored by `cargo test`; run by name:
//!
//! ```text
//! cargo test --test app -- --ignored shuttle::
//! ```

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::http::{add, get, items, json, list};
use crate::support::processes::{free_port, wait_healthy, Process};
use crate::support::store_servers::database_url;
use crate::support::visitor::KEY;

/// Starts `cargo shuttle run` with a fresh key plus `secrets` and checks it; `/api/inspect`
/// must name `store`.
async fn smoke(secrets: &str, store: &str) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let had_secrets = repo.join("Secrets.toml").exists();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("Secrets.toml");
    std::fs::write(&file, format!("ROCKET_SECRET_KEY = \"{KEY}\"\n{secrets}")).expect("write Secrets.toml");
    let port = free_port();
    let mut command = Command::new("cargo");
    command
        .args(["shuttle", "--working-directory"])
        .arg(repo)
        .args(["run", "--port", &port.to_string(), "--secrets"])
        .arg(&file)
        .stdin(Stdio::null());
    // The first run compiles the app and its dependencies with the `shuttle` feature (into the
    // shared target directory: cargo links each feature set's binary anew when it is used).
    let _shuttle = Process::listening(&mut command, port, Duration::from_secs(900))
        .await
        .unwrap_or_else(|why| panic!("cargo shuttle run never served: {why}"));
    wait_healthy(port).await;

    let page = get(port, "/", None).await;
    assert!(page.status == 200 && page.body.contains("One list, kept three ways"), "{}", page.status);
    let added = add(port, "cookie-session", "smoke", None).await;
    assert_eq!(added.status, 201, "{added:?}");
    let set = added.header("set-cookie").unwrap_or_default().trim_start_matches("__Host-");
    assert!(set.starts_with("cookie_session=") && set.contains("HttpOnly"), "{set}");
    assert!(!set.contains("smoke"), "the private cookie is readable: {set}");
    assert_eq!(items(&list(port, "cookie-session", added.cookie().as_deref()).await), ["smoke"]);
    assert_eq!(items(&list(port, "cookie-session", None).await), Vec::<String>::new());
    let session = add(port, "server-session", "kept", None).await;
    assert_eq!(items(&list(port, "server-session", session.cookie().as_deref()).await), ["kept"]);
    assert_eq!(json(&get(port, "/api/inspect", None).await)["store"]["backend"], store);
    assert!(had_secrets || !repo.join("Secrets.toml").exists(), "a Secrets.toml appeared in the repository");
}

#[tokio::test]
#[ignore = "heavy: builds the app with cargo-shuttle; CI runs it by name (docs/testing.md)"]
async fn shuttle_run_serves_with_sessions_in_memory() {
    smoke("", "memory").await;
}

#[tokio::test]
#[ignore = "heavy: builds the app with cargo-shuttle; CI runs it by name (docs/testing.md)"]
async fn shuttle_run_keeps_sessions_in_the_shared_database() {
    // The entry point's `local_uri` is the local Postgres.
    if database_url().is_none() {
        return;
    }
    smoke("ROCKET_SESSION_STORE = \"shuttle-postgres\"\n", "postgres").await;
}
