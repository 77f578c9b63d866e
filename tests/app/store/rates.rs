//! The rate contract: a store keeps each network's bucket and charges it in the same step as it
//! creates a session, so every instance on a shared store draws on one bucket, and concurrent
//! creations cannot overdraw it.

use std::time::Duration;

use server_side_sessions::admission::rate::RateRule;
use server_side_sessions::item::ItemList;
use server_side_sessions::session_id::SessionId;
use server_side_sessions::store::{Created, RateCharge};

use super::{list, Shared};
use crate::support::store_servers::unique;

fn charge(network: &str, burst: u32) -> RateCharge {
    RateCharge { network: network.to_owned(), rule: RateRule::new(1, burst) }
}

async fn try_create(store: &Shared, rate: &RateCharge) -> Created {
    store.create(&SessionId::generate(), list(&["x"]), rate).await.unwrap()
}

pub async fn each_network_gets_its_burst_then_waits(store: Shared) {
    let (a, b) = (charge(&unique("198.51.100."), 3), charge(&unique("2001:db8:"), 3));
    for _ in 0..3 {
        assert!(matches!(try_create(&store, &a).await, Created::Stored(_)));
    }
    match try_create(&store, &a).await {
        // One a minute: the fourth waits about a minute, rounded up to whole seconds.
        Created::TooFast { retry_after } => {
            assert!(
                (Duration::from_secs(55)..=Duration::from_secs(60)).contains(&retry_after),
                "{retry_after:?}"
            )
        }
        other => panic!("the fourth was {other:?}"),
    }
    assert!(matches!(try_create(&store, &b).await, Created::Stored(_)), "another network's own bucket");
    let before = store.count().await.unwrap();
    assert!(matches!(try_create(&store, &a).await, Created::TooFast { .. }));
    assert_eq!(store.count().await.unwrap(), before, "a refused creation stores nothing");
}

pub async fn concurrent_creations_from_one_network_admit_exactly_the_burst(store: Shared) {
    let rate = charge(&unique("203.0.113."), 7);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..30 {
        let (store, rate) = (store.clone(), rate.clone());
        tasks.spawn(async move {
            store.create(&SessionId::generate(), ItemList::default(), &rate).await.unwrap()
        });
    }
    let stored = tasks.join_all().await.into_iter().filter(|c| matches!(c, Created::Stored(_))).count();
    assert_eq!(stored, 7, "the bucket's burst, exactly");
}
