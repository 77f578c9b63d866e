//! `--memory`: what server-side sessions cost in memory, that cookie-less traffic adds
//! nothing, and that expired sessions give their memory back. Memory store.
//!
//! 1. Create the sessions (10 items each) through the API: resident memory (VmRSS) before and
//!    after, so bytes per session.
//! 2. Cookie-less requests (reads, and a clear of nothing): the store must not grow, and no
//!    answer may set a cookie.
//! 3. Stop and wait: the sessions pass their idle timeout, the purge (every idle / 4, at most
//!    60 s) frees them, and VmRSS comes back down.
//!
//! The idle timeout is short for this, and must outlast phases 1 and 2.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::load::{self, Load, Request, Script};
use crate::support::processes::AppProcess;
use crate::table::CONNECTIONS;
use crate::{count_of, errors, kib, sessions, start, verdicts, Options, UNBOUNDED};

const ITEMS: u64 = 10;
const MIB: f64 = 1024.0;
/// How long creating the sessions, or the cookie-less requests, may take at most.
const WITHIN: Duration = Duration::from_secs(1800);

pub async fn run(options: &Options) -> bool {
    let (total, cookieless, idle) =
        if options.smoke { (1_000, 10_000, 6) } else { (100_000, 1_000_000, 180) };
    let purge_every = (idle / 4).clamp(1, 60);
    let idle_setting = idle.to_string();
    let env = [&UNBOUNDED[..], &[("ROCKET_SESSION_IDLE_TIMEOUT", idle_setting.as_str())]].concat();
    let server = start("memory", &env).await;
    println!(
        "\nmemory: {total} sessions of {ITEMS} items, idle timeout {idle} s, purge every {purge_every} s"
    );
    let load = Load { port: server.port, connections: CONNECTIONS, duration: WITHIN, server_pid: None };
    load::run(&Load { duration: Duration::from_secs(1), ..load }, |_| load::repeat(&Request::get("/"))).await;
    let base = kib(server.pid(), "VmRSS") as f64;
    let began = Instant::now();
    let made = load::run(&load, quota(total, creator)).await;
    let (full, count) = (kib(server.pid(), "VmRSS") as f64, sessions(&server).await);
    let per_session = (full - base) * 1024.0 / count.max(1) as f64;
    println!("  created {count} sessions in {:.1} s, errors {}", made.seconds, errors(&made));
    println!("  VmRSS {:.1} -> {:.1} MiB: {per_session:.0} bytes per session", base / MIB, full / MIB);
    let plain = load::run(&load, quota(cookieless, reader)).await;
    let (after_plain, cookies) = (sessions(&server).await, plain.cookies_set);
    let (requests, seconds) = (plain.requests, plain.seconds);
    println!(
        "  {requests} cookie-less requests in {seconds:.1} s: {after_plain} sessions, {cookies} cookies set"
    );
    if began.elapsed().as_secs() >= idle {
        println!("  NOTE: that took longer than the idle timeout: sessions expired meanwhile");
    }
    let left_over = expire(&server, began + Duration::from_secs(idle * 3 + purge_every + 120)).await;
    tokio::time::sleep(Duration::from_secs(purge_every + 2)).await; // the next purge frees them
    let after = kib(server.pid(), "VmRSS") as f64;
    let released = (full - after) / (full - base).max(1.0);
    let judged = |passed: bool| (!options.smoke).then_some(passed);
    verdicts(&[
        (Some(count == total as u64 && made.refused() == 0), format!("{count} of {total} sessions created")),
        (Some(after_plain == count && cookies == 0 && plain.refused() == 0), "cookie-less: no growth".into()),
        (Some(left_over == 0), format!("expiry: every session gone ({left_over} left)")),
        (judged(full < 100.0 * MIB), format!("{total} sessions under 100 MiB RSS ({:.1} MiB)", full / MIB)),
        (judged(released >= 0.8), format!("memory released after expiry: {:.0}% (>= 80%)", released * 100.0)),
    ])
}

/// Waits until the store holds no session, or `deadline`; the sessions left.
async fn expire(server: &AppProcess, deadline: Instant) -> u64 {
    while sessions(server).await > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    sessions(server).await
}

/// Scripts that share `total` requests (or sessions) between the connections.
fn quota(total: usize, script: fn(Arc<AtomicUsize>, usize) -> Script) -> impl Fn(usize) -> Script {
    let left = Arc::new(AtomicUsize::new(total));
    move |connection| script(left.clone(), connection)
}

/// Takes one from `left`, if any is left.
fn claim(left: &AtomicUsize) -> bool {
    left.fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1)).is_ok()
}

/// Cookie-less reads of every kind (and a clear of nothing), while `left` has any.
fn reader(left: Arc<AtomicUsize>, connection: usize) -> Script {
    let paths = ["/", "/server-session", "/api/server-session/items"];
    let mut next = connection;
    Box::new(move |_| {
        next += 1;
        let path = paths.get(next % 4).copied();
        claim(&left).then(|| path.map_or(Request::delete("/api/server-session/items"), Request::get))
    })
}

/// Sessions of [`ITEMS`] items one after another, while `left` has any to start.
fn creator(left: Arc<AtomicUsize>, _: usize) -> Script {
    let mut cookie = None;
    Box::new(move |reply| {
        let count = reply.map_or(0, |r| count_of(&r.body));
        if let Some(reply) = reply.filter(|r| r.status == 201) {
            cookie = reply.cookie().or(cookie.take()).filter(|_| count < ITEMS);
        }
        if cookie.is_none() && !claim(&left) {
            return None;
        }
        let item = format!("session item {:02}", if cookie.is_some() { count + 1 } else { 1 });
        Some(Request::add("server-session", &item).cookie(cookie.as_deref()))
    })
}
