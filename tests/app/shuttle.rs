//! The Shuttle entry point under `cargo shuttle run` (docs/shuttle.md): built with the
//! `shuttle` feature and configured from a throwaway `Secrets.toml`, it serves the page, keeps
//! a private cookie across requests, and keeps server-side sessions in the store its secrets
//! name. Needs cargo-shuttle (`scripts/shuttle-smoke.sh` installs it, then runs these) and
//! builds the app once more, so ignored by `cargo test`; run by name:
//!
//! ```text
//! cargo test --test app -- --ignored shuttle::
//! ```

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::http::{add, get, items, json, list, try_get};
use crate::support::processes::free_port;
use crate::support::store_servers::database_url;
use crate::support::visitor::KEY;

/// `cargo shuttle run` and all it starts (cargo, the app) as one process group, killed on drop.
struct Shuttle(Child);

impl Drop for Shuttle {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the group this test started, led by a child not yet reaped.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

/// Starts `cargo shuttle run` with a fresh key plus `secrets` and checks it; `/api/inspect`
/// must name `store`.
async fn smoke(secrets: &str, store: &str) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let had_secrets = repo.join("Secrets.toml").exists();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (file, log) = (dir.path().join("Secrets.toml"), dir.path().join("shuttle.log"));
    std::fs::write(&file, format!("ROCKET_SECRET_KEY = \"{KEY}\"\n{secrets}")).expect("write Secrets.toml");
    let output = std::fs::File::create(&log).expect("a log file");
    let port = free_port();
    let child = Command::new("cargo")
        .args(["shuttle", "--working-directory"])
        .arg(repo)
        .args(["run", "--port", &port.to_string(), "--secrets"])
        .arg(&file)
        // A target directory of its own: the Shuttle build would replace target/debug's plain
        // binary, which other tests start.
        .env("CARGO_TARGET_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("shuttle"))
        .stdin(Stdio::null())
        .stdout(output.try_clone().expect("the log"))
        .stderr(output)
        .process_group(0)
        .spawn()
        .expect("cargo runs");
    let mut shuttle = Shuttle(child);
    // The first run compiles the app and its dependencies with the `shuttle` feature.
    let deadline = Instant::now() + Duration::from_secs(900);
    while try_get(port, "/healthz").await.is_none_or(|reply| reply.status != 200) {
        let exited = shuttle.0.try_wait().ok().flatten();
        if exited.is_some() || Instant::now() > deadline {
            let said = std::fs::read_to_string(&log).unwrap_or_default();
            let tail = &said[said.len().saturating_sub(3000)..];
            panic!("cargo shuttle run never served (exit {exited:?}):\n{tail}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

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
