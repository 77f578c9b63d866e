//! The main table: what each strategy costs per request, as ratios to the floor (`GET
//! /healthz`: routing, a small JSON answer, the headers every answer gets) and, for pages, to
//! static bytes (`GET /static/style.css`, 8 KB compiled in: what sending a page's worth of bytes
//! costs with no template). Memory store, 32 connections.
//!
//! A visitor is prepared through the API just before its scenario and checked: a read with its
//! cookie lists exactly its items and sets no cookie. "0 items" differs by strategy: the global
//! list cleared; a live server session whose list was emptied (the store is still asked); and
//! for the private cookie no cookie at all, since clearing the list deletes it.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use crate::support::http::{add, http, items, list};
use crate::support::load::{self, Load, Outcome, Request, Script};
use crate::support::trips::markdown;
use crate::{count_of, errors, start, Options, UNBOUNDED};

pub const CONNECTIONS: usize = 32;
const STRATEGIES: [&str; 3] = ["global", "server-session", "cookie-session"];
/// An add scenario's lists start over at this many items, well before the cap of 100.
const RESET_AT: u64 = 30;
/// The global list is shared: past this count, connections read instead of adding until the
/// clear lands, so the list never reaches the cap however long the clear takes.
const BRAKE_AT: u64 = 100 - CONNECTIONS as u64 - 3;
/// What each strategy should cost at most: scenario kind, items or strategy, the baseline, and
/// the least ratio of req/s to it. And the p99 every scenario should stay under.
const TARGETS: [(&str, &str, &str, f64); 5] = [
    ("api read", "10", "floor", 0.9),
    ("page read", "10", "static", 0.6),
    ("page read", "50", "static", 0.35),
    ("add", "server-session", "floor", 0.7),
    ("add", "cookie-session", "floor", 0.6),
];
const P99_LIMIT_MS: f64 = 5.0;

pub struct Scenario {
    pub strategy: &'static str,
    pub kind: &'static str,
    pub items: String,
    /// A path read again and again, by a visitor of `strategy` holding `items` items
    /// (`None`: without cookies); or `None` for the adds.
    read: Option<(String, Option<usize>)>,
}

fn scenarios() -> Vec<Scenario> {
    let plain = |strategy, kind, items: &str, path: &str| Scenario {
        strategy,
        kind,
        items: items.to_owned(),
        read: Some((path.to_owned(), None)),
    };
    let mut all =
        vec![plain("-", "floor", "start", "/healthz"), plain("-", "static", "-", "/static/style.css")];
    for slug in STRATEGIES {
        for n in [0, 10, 50] {
            for (kind, path) in
                [("api read", format!("/api/{slug}/items")), ("page read", format!("/{slug}"))]
            {
                all.push(Scenario {
                    strategy: slug,
                    kind,
                    items: n.to_string(),
                    read: Some((path, Some(n))),
                });
            }
        }
    }
    for slug in STRATEGIES {
        all.push(Scenario { strategy: slug, kind: "add", items: format!("1-{RESET_AT}"), read: None });
    }
    all.push(plain("all", "cookie-less", "-", "/"));
    all.push(plain("server-session", "cookie-less", "-", "/api/server-session/items"));
    all.push(plain("-", "floor", "end", "/healthz"));
    all
}

pub async fn run(options: &Options) -> bool {
    let seconds = if options.smoke { 1.0 } else { options.duration.as_secs_f64() };
    let wanted = |s: &Scenario| {
        let name = format!("{} {} {}", s.kind, s.strategy, s.items);
        matches!(s.kind, "floor" | "static")
            || options.only.is_empty()
            || options.only.iter().any(|o| name.contains(o))
    };
    let server = start("memory", &UNBOUNDED).await;
    let load = Load {
        port: server.port,
        connections: CONNECTIONS,
        duration: std::time::Duration::from_secs_f64(seconds),
        server_pid: Some(server.pid()),
    };
    println!("\nmain table: memory store, {CONNECTIONS} connections, {seconds} s per scenario");
    load::run(&Load { duration: std::time::Duration::from_secs(1), ..load }, |_| {
        load::repeat(&Request::get("/"))
    })
    .await;
    let mut results = Vec::new();
    for scenario in scenarios().into_iter().filter(wanted) {
        let outcome = measure(&scenario, &load).await;
        println!(
            "  {:<12} {:<15} {:<6} {:>8.0} req/s  p50 {:5.2} ms  p99 {:5.2} ms  server CPU {:5.1} us/req  errors {}",
            scenario.kind,
            scenario.strategy,
            scenario.items,
            outcome.rps(),
            outcome.percentile_ms(50.0),
            outcome.percentile_ms(99.0),
            outcome.server_cpu_us,
            errors(&outcome)
        );
        results.push((scenario, outcome));
    }
    report(&results, !options.smoke)
}

async fn measure(scenario: &Scenario, load: &Load) -> Outcome {
    if scenario.strategy == "global" || scenario.items == "-" {
        http(load.port, "DELETE", "/api/global/items", &[], "").await;
    }
    match &scenario.read {
        Some((path, holding)) => {
            let cookie = match holding {
                Some(n) => prepare(load.port, scenario.strategy, *n).await,
                None => None,
            };
            load::run(load, |_| load::repeat(&Request::get(path).cookie(cookie.as_deref()))).await
        }
        None => {
            let clearing = Arc::new(AtomicBool::new(false));
            load::run(load, |_| adder(scenario.strategy, clearing.clone())).await
        }
    }
}

/// A visitor of `slug` holding `n` items: its `Cookie` header, if it has one.
pub async fn prepare(port: u16, slug: &str, n: usize) -> Option<String> {
    let mut cookie: Option<String> = None;
    let adds = if slug == "server-session" { n.max(1) } else { n };
    for i in 0..adds {
        let reply = add(port, slug, &format!("bench item {i:03}"), cookie.as_deref()).await;
        assert_eq!(reply.status, 201, "preparing a {slug} visitor: {reply:?}");
        cookie = reply.cookie().or(cookie);
    }
    if adds > n {
        let headers = [("Cookie", cookie.as_deref().unwrap_or_default())];
        assert_eq!(http(port, "DELETE", &format!("/api/{slug}/items"), &headers, "").await.status, 200);
    }
    let check = list(port, slug, cookie.as_deref()).await;
    assert!(items(&check).len() == n && check.cookie().is_none(), "the {slug} visitor: {check:?}");
    cookie
}

/// One visitor adding to `slug`, following `Set-Cookie`, and starting over at [`RESET_AT`]
/// items: a new session, a new private cookie, or one clear of the shared global list.
fn adder(slug: &'static str, clearing: Arc<AtomicBool>) -> Script {
    let (mut cookie, mut cleared_by_me) = (None, false);
    Box::new(move |reply| {
        let count = reply.map_or(0, |r| count_of(&r.body));
        if slug == "global" {
            if std::mem::take(&mut cleared_by_me) {
                clearing.store(false, Relaxed);
            } else if count >= RESET_AT && !clearing.swap(true, Relaxed) {
                cleared_by_me = true;
                return Some(Request::delete("/api/global/items"));
            } else if count >= BRAKE_AT {
                return Some(Request::get("/api/global/items"));
            }
        } else if let Some(reply) = reply {
            cookie = reply.cookie().or(cookie.take()).filter(|_| count < RESET_AT);
        }
        Some(Request::add(slug, "bench item").cookie(cookie.as_deref()))
    })
}

/// The table in Markdown; false when an answer was refused.
fn report(results: &[(Scenario, Outcome)], check_targets: bool) -> bool {
    let mean = |kind: &str, value: &dyn Fn(&Outcome) -> f64| {
        let of_kind: Vec<f64> =
            results.iter().filter(|(s, _)| s.kind == kind).map(|(_, o)| value(o)).collect();
        of_kind.iter().sum::<f64>() / of_kind.len() as f64
    };
    let (floor, floor_cpu, statik) =
        (mean("floor", &Outcome::rps), mean("floor", &|o| o.server_cpu_us), mean("static", &Outcome::rps));
    let head = ["strategy", "scenario", "items", "req/s", "x floor", "x static", "p50 ms", "p99 ms"];
    let head = [&head[..], &["server CPU us/req", "x floor", "errors", "target"]].concat();
    let refused: u64 = results.iter().map(|(_, o)| o.refused()).sum();
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|(s, o)| {
            let page =
                s.kind == "page read" || s.kind == "static" || s.read.as_ref().is_some_and(|(p, _)| p == "/");
            vec![
                s.strategy.to_owned(),
                s.kind.to_owned(),
                s.items.clone(),
                format!("{:.0}", o.rps()),
                format!("{:.2}", o.rps() / floor),
                if page { format!("{:.2}", o.rps() / statik) } else { "-".into() },
                format!("{:.2}", o.percentile_ms(50.0)),
                format!("{:.2}", o.percentile_ms(99.0)),
                format!("{:.1}", o.server_cpu_us),
                format!("{:.2}", o.server_cpu_us / floor_cpu),
                errors(o),
                if check_targets { verdict(s, o, floor, statik) } else { "-".into() },
            ]
        })
        .collect();
    let head: Vec<String> = head.iter().map(|h| h.to_string()).collect();
    println!(
        "\n{}\n\nfloor: {floor:.0} req/s (the mean of the two GET /healthz runs)",
        markdown(&head, &rows)
    );
    if refused > 0 {
        println!("FAILED: {refused} answers were neither 2xx nor 3xx");
    }
    refused == 0
}

fn verdict(s: &Scenario, o: &Outcome, floor: f64, statik: f64) -> String {
    let mut misses = Vec::new();
    let target =
        TARGETS.iter().find(|(kind, of, ..)| *kind == s.kind && (*of == s.items || *of == s.strategy));
    if let Some((_, _, base, least)) = target {
        let ratio = o.rps() / if *base == "floor" { floor } else { statik };
        if ratio < *least {
            misses.push(format!("req/s < {least}x {base}"));
        }
    }
    if o.percentile_ms(99.0) >= P99_LIMIT_MS {
        misses.push(format!("p99 >= {P99_LIMIT_MS} ms"));
    }
    match (target, misses.is_empty()) {
        (_, false) => format!("MISS: {}", misses.join(", ")),
        (Some((_, _, base, least)), true) => format!("ok (>= {least}x {base})"),
        (None, true) => "ok".into(),
    }
}
