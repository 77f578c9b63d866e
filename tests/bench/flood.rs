//! `--flood`: what a flood of new sessions does (docs/limits.md). Every cookie-less
//! `POST /api/server-session/items` would start a session. A visitor makes one before the
//! flood; then one client floods (every request from 127.0.0.1), then 200 clients at once
//! (each request names one of 200 addresses in `X-Forwarded-For`, which the app believes with
//! `trusted_proxy_hops = 1`, as behind one proxy). Twice: with the bounds as configured, and
//! with them out of reach, as the app was before it had them.
//!
//! With the bounds on it checks them: one client gets its burst (120) and the refill (30 a
//! minute), then 429; the store holds at most `session_limit` (3000), then 503; and the early
//! session, `/healthz` and the other strategies are untouched.

use std::time::Duration;

use crate::support::http::{add, get, items, list};
use crate::support::load::{self, Load, Outcome, Request};
use crate::table::CONNECTIONS;
use crate::{kib, sessions, start, verdicts, Options, UNBOUNDED};

const CLIENTS: usize = 200;
const HOPS: (&str, &str) = ("ROCKET_TRUSTED_PROXY_HOPS", "1");
const EARLY: &str = "made before the flood";

pub async fn run(options: &Options) -> bool {
    let seconds = if options.smoke { 1.0 } else { options.duration.as_secs_f64() };
    println!(
        "\nflood: {CONNECTIONS} connections, {seconds} s from one client, then {seconds} s from {CLIENTS}"
    );
    let bounded = setting("bounds as configured", &[HOPS], seconds).await;
    setting("bounds out of reach", &[&UNBOUNDED[..], &[HOPS]].concat(), seconds).await;
    bounded
}

async fn setting(name: &str, env: &[(&str, &str)], seconds: f64) -> bool {
    let server = start("memory", env).await;
    let early = add(server.port, "server-session", EARLY, None).await.cookie();
    let base = kib(server.pid(), "VmRSS");
    let _ = std::fs::write(format!("/proc/{}/clear_refs", server.pid()), "5"); // a new VmHWM
    let load = Load {
        port: server.port,
        connections: CONNECTIONS,
        duration: Duration::from_secs_f64(seconds),
        server_pid: Some(server.pid()),
    };
    let flood = Request::add("server-session", "flood");
    let one = load::run(&load, |_| load::repeat(&flood)).await;
    let after_one = sessions(&server).await;
    let many = load::run(&load, |c| {
        let (flood, mut n) = (flood.clone(), c);
        Box::new(move |_| {
            n += CONNECTIONS;
            Some(flood.clone().header("X-Forwarded-For", format!("203.0.113.{}", 1 + n % CLIENTS)))
        })
    })
    .await;
    let after_many = sessions(&server).await;
    let kept = items(&list(server.port, "server-session", early.as_deref()).await);
    let health = get(server.port, "/healthz", None).await.status;
    let others = [
        add(server.port, "global", "after", None).await,
        add(server.port, "cookie-session", "after", None).await,
    ];
    let intact = kept == [EARLY] && health == 200 && others.iter().all(|r| r.status == 201);
    println!(
        "  {name}: one client {} -> {after_one} sessions; {CLIENTS} clients {} -> {after_many} sessions; VmRSS {:.1} -> peak {:.1} MiB; the early session, /healthz and the other strategies {}",
        answers(&one),
        answers(&many),
        base as f64 / 1024.0,
        kib(server.pid(), "VmHWM") as f64 / 1024.0,
        if intact { "intact" } else { "HURT" },
    );
    if !name.contains("configured") {
        return true;
    }
    // 120 at once and 30 a minute, from one address; plus the early visitor's session.
    let one_client_bound = 120 + (30.0 * seconds / 60.0).ceil() as u64 + 1;
    verdicts(&[
        (Some(intact), "the early session, /healthz and the other strategies are untouched".to_owned()),
        (
            Some(after_one <= one_client_bound),
            format!("one client holds at most {one_client_bound} sessions"),
        ),
        (Some(one.answered(429) > 0), "one client is refused with 429".into()),
        (Some(after_many <= 3000), "the store holds at most session_limit (3000)".into()),
    ])
}

/// Requests and answers by status, e.g. "41237 requests (20618/s): 121 x 201, 41116 x 429".
fn answers(outcome: &Outcome) -> String {
    let statuses: Vec<String> = outcome.statuses.iter().map(|(s, n)| format!("{n} x {s}")).collect();
    let broken = outcome.broken_connections;
    format!(
        "{} requests ({:.0}/s): {}, {broken} broken",
        outcome.requests,
        outcome.rps(),
        statuses.join(", ")
    )
}
