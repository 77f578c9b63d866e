//! Round trips from the app to each network store per request, counted on the wire by a proxy
//! between them (`support/trips.rs`, whose table `scripts/bench.sh --roundtrips` prints too).
//! The contract: every session operation (a read, a page, creating, adding, removing,
//! clearing, rotating, ending) is exactly one round trip, the floor a store across a network
//! allows; the global list and the private cookie make none. The one exception is *Rotate id*
//! on DynamoDB, whose requests cannot copy an item: a read, then one transaction. One also shows that the proxy
//! sees the app's store calls (nothing caches sessions in the app).

use std::time::Duration;

use crate::support::network_store::each_network_store;
use crate::support::trips::{measure, table};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_session_operation_is_one_round_trip() {
    each_network_store(|store| async move {
        let measured = measure(&store.url, Duration::ZERO, 5).await;
        let title = format!("{} round trips", store.kind);
        println!("{}", table(&[(title, measured.clone())], |m| m.trips.to_string()));
        for m in measured {
            let copies = store.kind == "dynamodb" && m.operation.starts_with("rotate");
            let expected = u32::from(m.needs_store) + u32::from(copies);
            assert_eq!(
                m.trips as u32, expected,
                "{}: {} takes {} round trips",
                store.kind, m.operation, m.trips
            );
        }
    })
    .await;
}
