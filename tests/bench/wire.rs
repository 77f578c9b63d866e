//! `--roundtrips` and `--latency`: the round-trip test's table (`tests/app/roundtrips.rs`),
//! from the same code (`support/trips.rs`), for the stores named; and with a delay added to
//! every round trip, each operation's latency as a multiple of it.

use std::time::Duration;

use crate::support::trips::{measure, table, Measured};
use crate::{backend, isolate};

/// `--roundtrips` (no delay: round trips per operation, the test's table) or `--latency`
/// (each operation's median latency as a multiple of the added round trip).
pub async fn run(urls: &[String], delay: Duration) -> bool {
    let mut stores = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        let (store, _schemas) = isolate(url).await;
        let mut name = backend(url).to_owned();
        if stores.iter().any(|(seen, _)| *seen == name) {
            name = format!("{name} {}", i + 1);
        }
        stores.push((name, measure(&store, delay, if delay.is_zero() { 5 } else { 15 }).await));
    }
    let bypassed = stores.iter().flat_map(|(_, m)| m).filter(|m| m.needs_store && m.trips == 0).count();
    if delay.is_zero() {
        println!("round trips per request, the fewest of 5:\n{}", table(&stores, |m| m.trips.to_string()));
    } else {
        let rtt = delay.as_secs_f64();
        let cell = |m: &Measured| format!("{:.2}x ({} trips)", m.latency.as_secs_f64() / rtt, m.trips);
        println!("latency, median of 15, as a multiple of the {delay:?} round trip added to each:");
        println!("{}", table(&stores, cell));
        let session_operations = stores.iter().flat_map(|(_, m)| m).filter(|m| m.needs_store);
        let over = session_operations.clone().filter(|m| m.latency.as_secs_f64() > 1.2 * rtt).count();
        println!("over the 1.2x target: {over} of {} session operations", session_operations.count());
    }
    if bypassed > 0 {
        println!(
            "FAILED: {bypassed} operations that need the store made no round trip: the proxy is bypassed"
        );
    }
    bypassed == 0
}
