//! Round trips from the app to its session store, per request, counted on the wire by the
//! [`Proxy`] between them; and each request's latency when the proxy adds a delay to every
//! round trip, as a store across a network would. The app runs in this process. The test
//! (`roundtrips.rs`) asserts on the counts; the benchmark prints the same table
//! (`scripts/bench.sh --roundtrips`, `--latency`).
//!
//! The app also talks to the store on its own (the revocation copy reloads every 5 s, the
//! live-session count every 2 s, Postgres purges): that traffic only ever adds, so each
//! operation is repeated and its smallest count kept, each one counted between two quiet
//! moments on the wire (a Postgres connection is pinged after it goes back to the pool, once
//! the reply has left), after a warm-up.

use std::time::{Duration, Instant};

use rocket::http::Status;
use server_side_sessions::strategy::Slug;

use super::proxy::{reroute, Proxy};
use super::visitor::{figment, App, Visitor};

#[derive(Clone, Copy)]
enum Step {
    Get(&'static str),
    Add,
    Remove,
    Clear,
    Rotate,
    End,
}

/// Each operation: its name, what it sends, whether it needs the session store, and whether
/// the visitor already has a server-side session (the reads: 10 items in every list).
const OPERATIONS: [(&str, Step, bool, bool); 13] = [
    ("page `/`", Step::Get("/"), true, true),
    ("page `/global`", Step::Get("/global"), false, true),
    ("page `/server-session`", Step::Get("/server-session"), true, true),
    ("page `/cookie-session`", Step::Get("/cookie-session"), false, true),
    ("read `/api/global/items`", Step::Get("/api/global/items"), false, true),
    ("read `/api/server-session/items`", Step::Get("/api/server-session/items"), true, true),
    ("read `/api/cookie-session/items`", Step::Get("/api/cookie-session/items"), false, true),
    ("create: the first add", Step::Add, true, false),
    ("add", Step::Add, true, true),
    ("remove one item", Step::Remove, true, true),
    ("clear", Step::Clear, true, true),
    ("rotate the id", Step::Rotate, true, true),
    ("end the session", Step::End, true, true),
];

#[derive(Clone)]
pub struct Measured {
    pub operation: &'static str,
    pub needs_store: bool,
    /// The fewest round trips seen.
    pub trips: u64,
    /// The median time from request to reply.
    pub latency: Duration,
}

/// Every operation `repeats` times against the store at `url`, through a proxy that adds
/// `delay` to each round trip.
pub async fn measure(url: &str, delay: Duration, repeats: usize) -> Vec<Measured> {
    let proxy = Proxy::with_delay(&reroute(url, 0).0, delay).await;
    let store = reroute(url, proxy.port).1;
    let settings = figment().merge(("session_store", store)).merge(("session_idle_timeout", 300));
    let app = App::with(settings.merge(("session_rate_burst", u32::MAX))).await;
    wait_healthy(&app).await;
    let reader = app.visitor();
    for slug in [Slug::Global, Slug::ServerSession, Slug::CookieSession] {
        for i in 0..10 {
            assert_eq!(reader.add(slug, &format!("item {i}")).await.status, Status::Created);
        }
    }
    warm_up(&app, &reader).await;
    let mut measured = Vec::new();
    for (operation, step, needs_store, has_session) in OPERATIONS {
        let (mut trips, mut latencies) = (u64::MAX, Vec::new());
        for _ in 0..repeats {
            let writer = app.visitor();
            if has_session && !matches!(step, Step::Get(_)) {
                assert_eq!(writer.add(Slug::ServerSession, "first").await.status, Status::Created);
            }
            let visitor = if matches!(step, Step::Get(_)) { &reader } else { &writer };
            let quiet = settle(&proxy, delay).await;
            let started = Instant::now();
            step.send(visitor, operation).await;
            latencies.push(started.elapsed());
            trips = trips.min(settle(&proxy, delay).await - quiet);
        }
        latencies.sort();
        measured.push(Measured { operation, needs_store, trips, latency: latencies[latencies.len() / 2] });
    }
    measured
}

/// Every operation three times, uncounted: a pooled Postgres connection prepares a statement
/// the first time it runs it (one more round trip), and the pool hands out its connections in
/// turn.
async fn warm_up(app: &App, reader: &Visitor<'_>) {
    for (operation, step, _, has_session) in OPERATIONS.iter().cycle().take(3 * OPERATIONS.len()) {
        let writer = app.visitor();
        if *has_session && !matches!(step, Step::Get(_)) {
            assert_eq!(writer.add(Slug::ServerSession, "first").await.status, Status::Created);
        }
        step.send(if matches!(step, Step::Get(_)) { reader } else { &writer }, operation).await;
    }
}

impl Step {
    /// Sends the step and checks that it did what it says.
    async fn send(self, visitor: &Visitor<'_>, operation: &str) {
        const BACK: &str = "return_to=%2Fserver-session";
        let reply = match self {
            Step::Get(path) => visitor.get(path).await,
            Step::Add => visitor.add(Slug::ServerSession, "item").await,
            Step::Remove => visitor.delete("/api/server-session/items/0").await,
            Step::Clear => visitor.delete("/api/server-session/items").await,
            Step::Rotate => visitor.post_form("/server-session/rotate", BACK).await,
            Step::End => visitor.post_form("/server-session/end", BACK).await,
        };
        // A refused form write redirects too, with its reason in the `flash` cookie.
        let done = reply.status.class().is_success()
            || reply.status == Status::SeeOther && visitor.cookie("flash").is_none();
        assert!(done, "{operation}: {} {}", reply.status, reply.body);
    }
}

/// The round-trip count once nothing has moved on the wire for a while.
async fn settle(proxy: &Proxy, delay: Duration) -> u64 {
    let mut seen = proxy.round_trips();
    loop {
        tokio::time::sleep(Duration::from_millis(20) + 2 * delay).await;
        let now = proxy.round_trips();
        if now == seen {
            return now;
        }
        seen = now;
    }
}

/// Waits until `/healthz` says the store is up (for Postgres: connected and migrated).
async fn wait_healthy(app: &App) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.visitor().get("/healthz").await.status != Status::Ok {
        assert!(Instant::now() < deadline, "the store never became healthy");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One row per operation, one column per store: `cell` of each measurement.
pub fn table(stores: &[(String, Vec<Measured>)], cell: impl Fn(&Measured) -> String) -> String {
    let mut head = vec!["operation".to_owned()];
    head.extend(stores.iter().map(|(name, _)| name.clone()));
    let rows = (0..OPERATIONS.len())
        .map(|i| {
            let mut row = vec![OPERATIONS[i].0.to_owned()];
            row.extend(stores.iter().map(|(_, measured)| cell(&measured[i])));
            row
        })
        .collect::<Vec<_>>();
    markdown(&head, &rows)
}

/// A Markdown table, its columns padded to line up.
pub fn markdown(head: &[String], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..head.len())
        .map(|i| rows.iter().chain([&head.to_vec()]).map(|row| row[i].chars().count()).max().unwrap_or(0))
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        format!("| {} |", padded.join(" | "))
    };
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
    let mut out = vec![line(head), format!("|{}|", rule.join("|"))];
    out.extend(rows.iter().map(|row| line(row)));
    out.join("\n")
}
