//! The store's two contracts, written once: session records ([`SessionStore`]) and
//! revocation epochs ([`RevocationStore`]). Each backend runs [`conformance`], which runs both.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use server_side_sessions::config::Lifetimes;
use server_side_sessions::item::{Item, ItemList, ListError, Op};
use server_side_sessions::session_id::SessionId;
use server_side_sessions::store::memory::MemoryStore;
use server_side_sessions::store::{Backend, RevocationStore, SessionStore, Updated};

fn add(text: &str) -> Op {
    Op::Add(Item::parse(text).unwrap())
}

fn list(items: &[&str]) -> ItemList {
    let mut list = ItemList::default();
    for item in items {
        list.apply(&add(item)).unwrap();
    }
    list
}

fn texts(list: &ItemList) -> Vec<&str> {
    list.items().iter().map(Item::as_str).collect()
}

pub const LONG: Lifetimes = Lifetimes { idle: Duration::from_secs(600), max: Duration::from_secs(3600) };
/// Long enough that loads 600 ms apart keep a session alive even on a loaded CI machine.
const SHORT: Lifetimes = Lifetimes { idle: Duration::from_millis(1600), max: Duration::from_secs(3600) };

/// Runs both contracts against stores made by `make`, a fresh (empty) store each time.
pub async fn conformance<F, Fut>(make: F)
where
    F: Fn(Lifetimes) -> Fut,
    Fut: Future<Output = Backend>,
{
    let records = |lifetimes| {
        let made = make(lifetimes);
        async move { made.await.sessions }
    };
    unknown_ids_are_absent(records(LONG).await).await;
    create_load_update_destroy(records(LONG).await).await;
    refused_updates_change_nothing(records(LONG).await).await;
    concurrent_updates_are_all_kept(records(LONG).await).await;
    a_clear_racing_adds_never_brings_items_back(records(LONG).await).await;
    rotate_moves_and_kills(records(LONG).await).await;
    expiry_and_purge(records(SHORT).await).await;

    epochs_only_rise_and_expire(make(LONG).await).await;
    all_lists_every_kept_epoch(make(LONG).await.revocations).await;
    the_feed_announces_every_raise(make(LONG).await.revocations).await;
}

fn family() -> String {
    let id = SessionId::generate();
    format!("{:032x}", u128::from_le_bytes(id.hash()[..16].try_into().unwrap()))
}

async fn epochs_only_rise_and_expire(store: Backend) {
    let (epochs, family) = (store.revocations, family());
    assert_eq!(epochs.epoch(&family).await.unwrap(), 0, "never revoked");
    assert_eq!(epochs.raise(&family, 2, Duration::from_secs(60)).await.unwrap().epoch, 2);
    assert_eq!(epochs.epoch(&family).await.unwrap(), 2);
    assert_eq!(epochs.raise(&family, 1, Duration::from_secs(60)).await.unwrap().epoch, 2, "never lowered");
    assert_eq!(epochs.epoch(&family).await.unwrap(), 2, "never lowered");
    assert_eq!(store.sessions.count().await.unwrap(), 0, "epochs are not sessions");
    let short = format!("{family}-short");
    // A second to live: a loaded CI machine can take a few hundred ms over two statements.
    epochs.raise(&short, 5, Duration::from_secs(1)).await.unwrap();
    assert_eq!(epochs.epoch(&short).await.unwrap(), 5);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(epochs.epoch(&short).await.unwrap(), 0, "forgotten after its ttl");
    assert_eq!(epochs.purge_expired().await.unwrap(), 1, "and purged");
    assert_eq!(epochs.epoch(&family).await.unwrap(), 2, "the purge keeps what is still kept");
}

async fn all_lists_every_kept_epoch(epochs: Arc<dyn RevocationStore>) {
    let (one, two, gone) = (family(), family(), family());
    epochs.raise(&one, 1, Duration::from_secs(60)).await.unwrap();
    epochs.raise(&two, 3, Duration::from_secs(60)).await.unwrap();
    epochs.raise(&gone, 1, Duration::from_millis(100)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut all: Vec<(String, u64)> =
        epochs.all().await.unwrap().into_iter().map(|c| (c.family, c.epoch)).collect();
    all.sort();
    let mut want = vec![(one, 1), (two, 3)];
    want.sort();
    assert_eq!(all, want, "every kept epoch, and no expired one");
}

/// What each instance's copy of the revocations relies on: once `subscribe` returns, every
/// raise is announced, with the epoch as stored, and promptly.
async fn the_feed_announces_every_raise(epochs: Arc<dyn RevocationStore>) {
    let mut feed = epochs.subscribe().await.unwrap();
    let families = [family(), family(), family()];
    for (i, family) in families.iter().enumerate() {
        let stored = epochs.raise(family, i as u64 + 1, Duration::from_secs(60)).await.unwrap();
        let heard = tokio::time::timeout(Duration::from_secs(1), feed.recv()).await;
        let heard =
            heard.unwrap_or_else(|_| panic!("raise {i} not announced within 1 s")).expect("feed open");
        assert_eq!(heard, stored);
    }
    let lower = epochs.raise(&families[2], 1, Duration::from_secs(60)).await.unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(1), feed.recv()).await.unwrap().unwrap();
    assert_eq!((heard.epoch, lower.epoch), (3, 3), "a lower raise announces the epoch kept");
}

async fn unknown_ids_are_absent(store: Arc<dyn SessionStore>) {
    let id = SessionId::generate();
    assert_eq!(store.load(&id).await.unwrap(), None);
    assert_eq!(store.update(&id, &Op::Clear).await.unwrap(), Updated::Missing);
    assert!(!store.rotate(&id, &SessionId::generate()).await.unwrap());
    assert!(!store.destroy(&id).await.unwrap());
    assert_eq!(store.count().await.unwrap(), 0, "looking creates nothing");
}

async fn create_load_update_destroy(store: Arc<dyn SessionStore>) {
    let id = SessionId::generate();
    assert_eq!(store.load(&id).await.unwrap(), None, "unknown id");
    assert_eq!(store.update(&id, &add("x")).await.unwrap(), Updated::Missing, "update never creates");
    let created = store.create(&id, list(&["a"])).await.unwrap();
    assert_eq!(texts(&created.items), ["a"]);
    assert_eq!(store.count().await.unwrap(), 1);
    let Updated::Applied(after) = store.update(&id, &add("b")).await.unwrap() else { panic!("applied") };
    assert_eq!(texts(&after.items), ["a", "b"]);
    assert_eq!(after.created_ms, created.created_ms);
    store.update(&id, &Op::Remove(0)).await.unwrap();
    assert_eq!(texts(&store.load(&id).await.unwrap().unwrap().items), ["b"]);
    store.update(&id, &Op::Clear).await.unwrap();
    assert!(store.load(&id).await.unwrap().unwrap().items.is_empty(), "a cleared session still exists");
    assert!(store.destroy(&id).await.unwrap());
    assert!(!store.destroy(&id).await.unwrap());
    assert_eq!(store.load(&id).await.unwrap(), None);
    assert_eq!(store.count().await.unwrap(), 0);
}

async fn refused_updates_change_nothing(store: Arc<dyn SessionStore>) {
    let id = SessionId::generate();
    let full: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    let full: Vec<&str> = full.iter().map(String::as_str).collect();
    store.create(&id, list(&full)).await.unwrap();
    assert_eq!(store.update(&id, &add("101st")).await.unwrap(), Updated::Refused(ListError::Full));
    assert_eq!(
        store.update(&id, &Op::Remove(100)).await.unwrap(),
        Updated::Refused(ListError::NoSuchIndex { index: 100, len: 100 })
    );
    assert_eq!(store.load(&id).await.unwrap().unwrap().items.len(), 100);
}

async fn concurrent_updates_are_all_kept(store: Arc<dyn SessionStore>) {
    let id = SessionId::generate();
    store.create(&id, ItemList::default()).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let (store, id) = (store.clone(), id.clone());
        tasks.spawn(async move { store.update(&id, &add(&format!("n{i}"))).await.unwrap() });
    }
    while let Some(result) = tasks.join_next().await {
        assert!(matches!(result.unwrap(), Updated::Applied(_)));
    }
    let items = store.load(&id).await.unwrap().unwrap().items;
    let mut got: Vec<&str> = texts(&items);
    got.sort();
    let mut want: Vec<String> = (0..50).map(|i| format!("n{i}")).collect();
    want.sort();
    assert_eq!(got, want, "no lost updates");
}

/// Adds race one clear. Whatever order the store picks, it must be one order: every add
/// before the clear returned a list that still starts with the wiped item, every add after
/// it returned a prefix of the final list, and nothing wiped is in the final list.
async fn a_clear_racing_adds_never_brings_items_back(store: Arc<dyn SessionStore>) {
    let id = SessionId::generate();
    store.create(&id, list(&["before"])).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..21 {
        let (store, id) = (store.clone(), id.clone());
        let op = if i == 10 { Op::Clear } else { add(&format!("r{i}")) };
        tasks.spawn(async move { (op.clone(), store.update(&id, &op).await.unwrap()) });
    }
    let results = tasks.join_all().await;
    let final_items = store.load(&id).await.unwrap().expect("live").items;
    let final_items = texts(&final_items);
    assert!(!final_items.contains(&"before"), "a cleared item came back: {final_items:?}");
    for (op, updated) in results {
        let Updated::Applied(record) = updated else { panic!("{op:?} was not applied") };
        let seen = texts(&record.items);
        match op {
            Op::Add(item) if final_items.contains(&item.as_str()) => assert!(
                final_items.starts_with(&seen) && seen.last() == Some(&item.as_str()),
                "an add after the clear saw {seen:?}, the list ended as {final_items:?}"
            ),
            Op::Add(_) => assert_eq!(seen.first(), Some(&"before"), "an add after the clear was lost"),
            _ => assert!(seen.is_empty(), "the clear returned {seen:?}"),
        }
    }
}

async fn rotate_moves_and_kills(store: Arc<dyn SessionStore>) {
    let (old, new) = (SessionId::generate(), SessionId::generate());
    let created = store.create(&old, list(&["keep"])).await.unwrap();
    assert!(store.rotate(&old, &new).await.unwrap());
    assert_eq!(store.load(&old).await.unwrap(), None, "old id dead at once");
    let moved = store.load(&new).await.unwrap().unwrap();
    assert_eq!(
        (texts(&moved.items), moved.created_ms),
        (vec!["keep"], created.created_ms),
        "same data, same absolute deadline"
    );
    assert!(!store.rotate(&old, &SessionId::generate()).await.unwrap(), "a dead id cannot be rotated");
    assert_eq!(store.count().await.unwrap(), 1);
}

async fn expiry_and_purge(store: Arc<dyn SessionStore>) {
    let (kept, dropped) = (SessionId::generate(), SessionId::generate());
    store.create(&kept, list(&["k"])).await.unwrap();
    store.create(&dropped, list(&["d"])).await.unwrap();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(store.load(&kept).await.unwrap().is_some(), "loading keeps it alive");
    }
    assert_eq!(store.load(&dropped).await.unwrap(), None, "idle past the timeout");
    assert_eq!(store.update(&dropped, &add("x")).await.unwrap(), Updated::Missing);
    assert!(!store.rotate(&dropped, &SessionId::generate()).await.unwrap());
    assert_eq!(store.count().await.unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(1700)).await;
    store.purge_expired().await.unwrap();
    assert_eq!(store.count().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_conformance() {
    conformance(|lifetimes| async move { Backend::of(MemoryStore::new(lifetimes)) }).await;
}

#[tokio::test]
async fn memory_store_purge_frees_expired_records() {
    let store = MemoryStore::new(SHORT);
    for _ in 0..1000 {
        store.create(&SessionId::generate(), list(&["x"])).await.unwrap();
    }
    assert_eq!(SessionStore::purge_expired(&store).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert_eq!(SessionStore::purge_expired(&store).await.unwrap(), 1000);
    assert_eq!(store.count().await.unwrap(), 0);
}
