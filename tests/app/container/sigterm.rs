//! `SIGTERM` under load, as a platform stops an instance: Rocket stops accepting, finishes
//! the requests in flight and exits 0, and no request fails on the way.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{app_env, podman, stdout, Container};
use crate::support::load::{run, Load, Request, Script};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: needs podman and the image; CI runs it by name (docs/testing.md)"]
async fn sigterm_under_load_fails_no_request() {
    // Every add starts a session from one address: lift the bounds on new sessions, which
    // this is not about (the flood benchmark is).
    let unbounded = [("ROCKET_SESSION_LIMIT", "100000000"), ("ROCKET_SESSION_RATE_BURST", "4000000000")];
    let (app, port) = Container::published(
        8080,
        &app_env(&[("ROCKET_COOKIE_SECURE", "false"), unbounded[0], unbounded[1]]),
    );
    app.answers(port, "/healthz", 200).await;

    // A connection that breaks before the SIGTERM is a failure; after it, the listener is
    // closing, and a platform's balancer has stopped sending by then.
    let (terminating, broken_early) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let mix = [
        Request::get("/api/global/items"),
        Request::get("/global"),
        Request::add("server-session", "load"),
        Request::get("/healthz"),
    ];
    let (flag, count) = (terminating.clone(), broken_early.clone());
    let script = move |i: usize| -> Script {
        let (flag, count, mix, mut sent) = (flag.clone(), count.clone(), mix.clone(), 0);
        Box::new(move |last| {
            if last.is_none() && sent > 0 && !flag.load(SeqCst) {
                count.fetch_add(1, SeqCst);
            }
            sent += 1;
            Some(mix[(i + sent) % mix.len()].clone())
        })
    };
    let load = Load { port, connections: 16, duration: Duration::from_secs(6), server_pid: None };
    let running = tokio::spawn(async move { run(&load, script).await });
    tokio::time::sleep(Duration::from_secs(2)).await;

    // A POST whose body is half sent when the signal comes: it is in flight and must finish.
    let body = r#"{"item": "in flight"}"#;
    let head =
        "POST /api/global/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close";
    let mut slow = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    let first = format!("{head}\r\nContent-Length: {}\r\n\r\n{}", body.len(), &body[..5]);
    slow.write_all(first.as_bytes()).await.expect("the first half");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let signalled = Instant::now();
    terminating.store(true, SeqCst);
    stdout(&podman(&["kill", "--signal", "TERM", &app.id], &[]));
    tokio::time::sleep(Duration::from_millis(300)).await;
    slow.write_all(&body.as_bytes()[5..]).await.expect("the second half");
    let mut answer = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), slow.read_to_string(&mut answer)).await;
    let id = app.id.clone();
    let waited = tokio::task::spawn_blocking(move || podman(&["wait", &id], &[])).await.expect("podman wait");
    let exited_after = signalled.elapsed();
    let outcome = running.await.expect("the load ran");

    assert!(answer.starts_with("HTTP/1.1 201"), "the request in flight got: {answer:?}");
    assert_eq!(stdout(&waited), "0", "exit status: {}", app.logs());
    assert!(exited_after < Duration::from_secs(10), "exited {exited_after:?} after SIGTERM");
    assert!(outcome.requests > 100, "the load hardly ran: {} requests", outcome.requests);
    assert_eq!(outcome.refused(), 0, "error answers: {:?}", outcome.statuses);
    assert_eq!(outcome.cut_replies, 0, "replies cut short");
    assert_eq!(broken_early.load(SeqCst), 0, "connections broken before the SIGTERM");
    println!("{} requests, exit {exited_after:?} after SIGTERM", outcome.requests);
}
