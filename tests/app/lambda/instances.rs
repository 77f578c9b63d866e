//! Several instances of the function on one store, as Lambda runs them: a sign-out made on
//! one reaches another that was frozen meanwhile, and a burst spread over three instances
//! draws on one rate bucket. (What each store shares across instances, and what it does not,
//! is the same with or without Lambda: `tests/app/instances.rs`.)

use std::time::{Duration, Instant};

use super::{signal, Emulator};
use crate::support::http::{get, http, json, Jar, Reply};
use crate::support::store_servers::{redis_url, unique};

/// Waits until the instance's copy of the revocations is live (its feed from the store is up).
pub async fn wait_live(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while json(&get(port, "/api/inspect", None).await)["revocation"]["live"] != true {
        assert!(Instant::now() < deadline, "the revocation copy never went live");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A thief's copy of a private cookie, read on instance A; A is frozen (`SIGSTOP`, as Lambda
/// freezes an instance between invocations) while the family signs out everywhere through B;
/// A's first read after the thaw refuses the copy.
pub async fn a_frozen_instance_refuses_a_family_signed_out_elsewhere(store: &str) {
    let env = [("ROCKET_SESSION_STORE", store)];
    let (a, b) = tokio::join!(Emulator::start(&env), Emulator::start(&env));
    let mut thief = Jar::default();
    assert_eq!(thief.add(a.port, "cookie-session", "milk", &[]).await.status, 201);
    let copy = thief.clone();
    assert_eq!(thief.items(a.port, "cookie-session").await, ["milk"]);
    wait_live(a.port).await;
    let frozen = a.instances();
    assert_eq!(frozen.len(), 1, "one instance of A: {frozen:?}");
    signal(frozen[0], libc::SIGSTOP);
    let out = copy.clone().form(b.port, "/cookie-session/sign-out-everywhere", "return_to=/").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    signal(frozen[0], libc::SIGCONT);
    assert_eq!(out.status, 303, "sign out everywhere on B: {out:?}");
    let mut thief = copy;
    assert!(thief.items(a.port, "cookie-session").await.is_empty(), "the thawed A took a signed-out cookie");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: CI runs it by name (docs/testing.md)"]
async fn on_redis_a_frozen_instance_refuses_a_family_signed_out_elsewhere() {
    let Some(redis) = redis_url() else { return };
    a_frozen_instance_refuses_a_family_signed_out_elsewhere(&redis).await;
}

/// `LAMBDA_CONCURRENCY=3` on Redis: a burst of new sessions from one address, which the
/// emulator spreads over its instances, gets one bucket's burst in all, not one per instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: CI runs it by name (docs/testing.md)"]
async fn a_burst_over_three_instances_draws_on_one_bucket() {
    let Some(redis) = redis_url() else { return };
    // Keys of their own: the emulator's address (127.0.0.1) may hold a bucket from an earlier run.
    let store = format!("{redis}?prefix={}:", unique("lambda-burst-"));
    let env = [
        ("ROCKET_SESSION_STORE", store.as_str()),
        ("LAMBDA_CONCURRENCY", "3"),
        ("ROCKET_SESSION_RATE_BURST", "10"),
        ("ROCKET_SESSION_RATE_PER_MINUTE", "1"),
    ];
    let function = Emulator::start(&env).await;
    // The emulator starts another instance only while every running one is busy: pages in
    // bursts (slow enough to keep an instance busy; they start no session) until three have
    // answered. Started instances stay, so the burst below is spread over them.
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while seen.len() < 3 {
        assert!(Instant::now() < deadline, "the emulator ran only {seen:?}");
        let pages =
            futures::future::join_all((0..12).map(|_| http(function.port, "GET", "/", &[], ""))).await;
        seen.extend(instances(&pages).into_iter().map(str::to_owned));
    }
    let headers = [("Content-Type", "application/json")];
    let add = |_| http(function.port, "POST", "/api/server-session/items", &headers, r#"{"item":"x"}"#);
    let replies = futures::future::join_all((0..60).map(add)).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert!(instances(&replies).len() >= 2, "the burst met one instance only");
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 10, "one bucket: {statuses:?}");
    assert!(statuses.iter().all(|s| [201, 429].contains(s)), "{statuses:?}");
}

/// The instances that answered `replies` (their `X-Instance` header's first word).
fn instances(replies: &[Reply]) -> Vec<&str> {
    let mut ids: Vec<&str> =
        replies.iter().filter_map(|r| r.header("x-instance")?.split(' ').next()).collect();
    ids.sort();
    ids.dedup();
    ids
}
