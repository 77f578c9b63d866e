//! Round trips from the app to Redis and Postgres per request, counted on the wire by a proxy
//! between them (`support/trips.rs`, whose table `scripts/bench.sh --roundtrips` prints too):
//! every request that needs the session store makes at least one (so the proxy sees the app's
//! store calls: nothing caches sessions in the app), and the global list and the private
//! cookie make none.

use std::time::Duration;

use crate::support::backends::{database_url, redis_url, Schemas};
use crate::support::trips::{measure, table};

async fn count(store: &str, url: &str) {
    let measured = measure(url, Duration::ZERO, 5).await;
    println!("{}", table(&[(format!("{store} round trips"), measured.clone())], |m| m.trips.to_string()));
    for m in measured {
        if m.needs_store {
            assert!(m.trips >= 1, "{store}: {} made no round trip: the proxy is bypassed", m.operation);
        } else {
            assert_eq!(m.trips, 0, "{store}: {} needs no store", m.operation);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_round_trips_per_request() {
    let Some(url) = redis_url() else { return };
    count("redis", &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_round_trips_per_request() {
    let Some(url) = database_url() else { return };
    let schemas = Schemas::new(&url);
    count("postgres", &schemas.fresh().await).await;
}
