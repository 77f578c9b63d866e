//! The store's two contracts, written once: session records ([`SessionStore`]: [`records`],
//! [`rotation`], [`rates`]) and revocation epochs ([`revocations`]). Each backend runs
//! [`conformance`], which runs both.

mod rates;
mod records;
mod revocations;
mod rotation;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use server_side_sessions::admission::rate::RateRule;
use server_side_sessions::config::Lifetimes;
use server_side_sessions::item::{Item, ItemList, Op};
use server_side_sessions::session_id::SessionId;
use server_side_sessions::store::memory::MemoryStore;
use server_side_sessions::store::{Backend, Created, RateCharge, Record, SessionStore};

use crate::support::store_servers::unique;

pub fn add(text: &str) -> Op {
    Op::Add(Item::parse(text).unwrap())
}

pub fn list(items: &[&str]) -> ItemList {
    let mut list = ItemList::default();
    for item in items {
        list.apply(&add(item)).unwrap();
    }
    list
}

pub fn texts(list: &ItemList) -> Vec<&str> {
    list.items().iter().map(Item::as_str).collect()
}

const GRACE: Duration = Duration::from_millis(1500);
pub const LONG: Lifetimes =
    Lifetimes { idle: Duration::from_secs(600), max: Duration::from_secs(3600), rotation_grace: GRACE };
/// Long enough that loads 600 ms apart keep a session alive even on a loaded CI machine.
const SHORT: Lifetimes =
    Lifetimes { idle: Duration::from_millis(1600), max: Duration::from_secs(3600), rotation_grace: GRACE };

/// A bucket no test fills: a network of its own with room for a thousand sessions at once.
pub fn roomy() -> RateCharge {
    RateCharge { network: unique("192.0.2."), rule: RateRule::new(60_000, 1000) }
}

/// Creates a session that must be admitted.
pub async fn create(store: &dyn SessionStore, id: &SessionId, items: ItemList) -> Record {
    match store.create(id, items, &roomy()).await.unwrap() {
        Created::Stored(record) => record,
        other => panic!("not stored: {other:?}"),
    }
}

/// Runs both contracts against stores made by `make`, a fresh (empty) store each time.
pub async fn conformance<F, Fut>(make: F)
where
    F: Fn(Lifetimes) -> Fut,
    Fut: Future<Output = Backend>,
{
    let sessions = |lifetimes| {
        let made = make(lifetimes);
        async move { made.await.sessions }
    };
    records::unknown_ids_are_absent(sessions(LONG).await).await;
    records::create_load_update_destroy(sessions(LONG).await).await;
    records::refused_updates_change_nothing_but_still_count_as_a_visit(sessions(LONG).await).await;
    records::concurrent_updates_are_all_kept(sessions(LONG).await).await;
    records::a_clear_racing_adds_never_brings_items_back(sessions(LONG).await).await;
    records::expiry_and_purge(sessions(SHORT).await).await;
    rotation::the_old_id_leads_to_the_new_one_for_the_grace_window_only(sessions(LONG).await).await;
    rotation::a_write_racing_a_rotation_lands_on_the_rotated_session(sessions(LONG).await).await;
    rotation::a_second_rotation_through_the_old_id_gets_the_same_successor(sessions(LONG).await).await;
    rotation::an_ended_session_is_never_reopened_through_its_old_id(sessions(LONG).await).await;
    let shared = make(LONG).await.sessions;
    rates::each_network_gets_its_burst_then_waits(shared.clone()).await;
    rates::concurrent_creations_from_one_network_admit_exactly_the_burst(shared).await;

    revocations::epochs_only_rise_and_expire(make(LONG).await).await;
    revocations::all_lists_every_kept_epoch(make(LONG).await.revocations).await;
    revocations::the_feed_announces_every_raise(make(LONG).await.revocations).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_conformance() {
    conformance(|lifetimes| async move { Backend::of(MemoryStore::new(lifetimes)) }).await;
}

#[tokio::test]
async fn memory_store_purge_frees_expired_records() {
    let store = MemoryStore::new(SHORT);
    for _ in 0..1000 {
        create(&store, &SessionId::generate(), list(&["x"])).await;
    }
    assert_eq!(SessionStore::purge_expired(&store).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert_eq!(SessionStore::purge_expired(&store).await.unwrap(), 1000);
    assert_eq!(store.count().await.unwrap(), 0);
}

/// A store shared by the bodies of one contract.
pub type Shared = Arc<dyn SessionStore>;
