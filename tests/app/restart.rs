//! Postgres restarting under a running app. Every pooled connection breaks; the app finds out
//! when it uses one, drops it and runs the statement again on a new connection, so once the
//! server is back no visitor gets a 503. This restarts the machine's Postgres itself
//! (`pg_ctlcluster ... restart`), so it is ignored by `cargo test` and run alone, by name:
//!
//! ```text
//! cargo test --test app -- --ignored --exact restart::a_postgres_restart_costs_no_visitor_a_503
//! ```

use std::time::{Duration, Instant};

use crate::support::http::{add, items, list};
use crate::support::network_store::NetworkStore;
use crate::support::server::Server;
use crate::support::store_servers::database_url;
use crate::support::visitor::figment;

const SERVER: &str = "server-session";

/// Restarts the local Postgres cluster and waits until it takes connections again.
async fn restart_postgres(url: &str) {
    let version = std::fs::read_dir("/etc/postgresql")
        .ok()
        .and_then(|mut dir| dir.next())
        .and_then(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .expect("a Debian Postgres cluster under /etc/postgresql");
    let status = std::process::Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", "restart"])
        .status()
        .expect("pg_ctlcluster runs");
    assert!(status.success(), "pg_ctlcluster restart: {status}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while <sqlx::PgConnection as sqlx::Connection>::connect(url).await.is_err() {
        assert!(Instant::now() < deadline, "Postgres did not come back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "restarts the machine's Postgres: run alone, by name"]
async fn a_postgres_restart_costs_no_visitor_a_503() {
    let Some(url) = database_url() else { return };
    let store = NetworkStore::postgres(&url, None, "").await;
    let server = Server::start(figment().merge(("session_store", &store.url))).await;
    // Eight visitors at once, so that the pool holds several connections when the server goes.
    let names: Vec<String> = (0..8).map(|n| format!("v{n}")).collect();
    let made = futures::future::join_all(names.iter().map(|name| add(server.port, SERVER, name, None))).await;
    let cookies: Vec<String> = made.iter().map(|reply| reply.cookie().expect("a session")).collect();

    restart_postgres(&url).await;

    let mut answers = Vec::new();
    for (n, cookie) in cookies.iter().enumerate() {
        let read = list(server.port, SERVER, Some(cookie)).await;
        answers.push(read.status);
        assert_eq!(items(&read), [format!("v{n}")], "read {n} after the restart");
        let write = add(server.port, SERVER, "after", Some(cookie)).await;
        answers.push(write.status);
        assert_eq!(write.status, 201, "write {n} after the restart: {write:?}");
    }
    println!("answers after the restart: {answers:?}");
}
