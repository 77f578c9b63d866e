//! The records contract: what a store does with one session's list and times.

use std::time::Duration;

use server_side_sessions::item::{ItemList, ListError, Op};
use server_side_sessions::session_id::SessionId;
use server_side_sessions::store::{Reached, Rotated};

use super::{add, create, list, texts, Shared};

pub async fn unknown_ids_are_absent(store: Shared) {
    let id = SessionId::generate();
    assert_eq!(store.load(&id).await.unwrap(), None);
    assert_eq!(store.update(&id, &Op::Clear).await.unwrap(), None);
    assert_eq!(store.rotate(&id, &SessionId::generate()).await.unwrap(), Rotated::Missing);
    assert!(!store.destroy(&id).await.unwrap());
    assert_eq!(store.count().await.unwrap(), 0, "looking creates nothing");
}

/// The list after an update that must have been applied to the session under its own id.
async fn applied(store: &Shared, id: &SessionId, op: &Op) -> Vec<String> {
    match store.update(id, op).await.unwrap() {
        Some(Reached { value: Ok(record), moved_to: None }) => {
            texts(&record.items).into_iter().map(str::to_owned).collect()
        }
        other => panic!("{op:?} not applied: {other:?}"),
    }
}

pub async fn create_load_update_destroy(store: Shared) {
    let id = SessionId::generate();
    assert_eq!(store.load(&id).await.unwrap(), None, "unknown id");
    assert_eq!(store.update(&id, &add("x")).await.unwrap(), None, "update never creates");
    let created = create(store.as_ref(), &id, list(&["a"])).await;
    assert_eq!(texts(&created.items), ["a"]);
    assert_eq!(store.count().await.unwrap(), 1);
    assert_eq!(applied(&store, &id, &add("b")).await, ["a", "b"]);
    assert_eq!(applied(&store, &id, &add("c")).await, ["a", "b", "c"]);
    assert_eq!(applied(&store, &id, &Op::Remove(1)).await, ["a", "c"]);
    let loaded = store.load(&id).await.unwrap().expect("live");
    assert_eq!((texts(&loaded.value.items), loaded.value.created_ms), (vec!["a", "c"], created.created_ms));
    assert_eq!(applied(&store, &id, &Op::Clear).await, Vec::<String>::new());
    let cleared = store.load(&id).await.unwrap().expect("a cleared session still exists");
    assert!(cleared.value.items.is_empty());
    assert_eq!(
        applied(&store, &id, &add("é 🍪 \"quoted\" / back\\slash")).await,
        ["é 🍪 \"quoted\" / back\\slash"]
    );
    assert!(store.destroy(&id).await.unwrap());
    assert!(!store.destroy(&id).await.unwrap());
    assert_eq!(store.load(&id).await.unwrap(), None);
    assert_eq!(store.count().await.unwrap(), 0);
}

pub async fn refused_updates_change_nothing_but_still_count_as_a_visit(store: Shared) {
    let id = SessionId::generate();
    let full: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    let full: Vec<&str> = full.iter().map(String::as_str).collect();
    create(store.as_ref(), &id, list(&full)).await;
    let refused = |op: Op| {
        let (store, id) = (store.clone(), id.clone());
        async move { store.update(&id, &op).await.unwrap().expect("live").value.expect_err("refused") }
    };
    assert_eq!(refused(add("101st")).await, ListError::Full);
    assert_eq!(refused(Op::Remove(100)).await, ListError::NoSuchIndex { index: 100, len: 100 });
    assert_eq!(refused(Op::Remove(usize::MAX)).await, ListError::NoSuchIndex { index: usize::MAX, len: 100 });
    assert_eq!(store.load(&id).await.unwrap().unwrap().value.items.len(), 100);
}

pub async fn concurrent_updates_are_all_kept(store: Shared) {
    let id = SessionId::generate();
    create(store.as_ref(), &id, ItemList::default()).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let (store, id) = (store.clone(), id.clone());
        tasks.spawn(async move { store.update(&id, &add(&format!("n{i}"))).await.unwrap() });
    }
    while let Some(result) = tasks.join_next().await {
        assert!(matches!(result.unwrap(), Some(Reached { value: Ok(_), .. })));
    }
    let items = store.load(&id).await.unwrap().unwrap().value.items;
    let mut got: Vec<&str> = texts(&items);
    got.sort();
    let mut want: Vec<String> = (0..50).map(|i| format!("n{i}")).collect();
    want.sort();
    assert_eq!(got, want, "no lost updates");
}

/// Adds race one clear. Whatever order the store picks, it must be one order: every add
/// before the clear returned a list that still starts with the wiped item, every add after
/// it returned a prefix of the final list, and nothing wiped is in the final list.
pub async fn a_clear_racing_adds_never_brings_items_back(store: Shared) {
    let id = SessionId::generate();
    create(store.as_ref(), &id, list(&["before"])).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..21 {
        let (store, id) = (store.clone(), id.clone());
        let op = if i == 10 { Op::Clear } else { add(&format!("r{i}")) };
        tasks.spawn(async move { (op.clone(), store.update(&id, &op).await.unwrap()) });
    }
    let results = tasks.join_all().await;
    let final_items = store.load(&id).await.unwrap().expect("live").value.items;
    let final_items = texts(&final_items);
    assert!(!final_items.contains(&"before"), "a cleared item came back: {final_items:?}");
    for (op, updated) in results {
        let Some(Reached { value: Ok(record), .. }) = updated else { panic!("{op:?} was not applied") };
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

pub async fn expiry_and_purge(store: Shared) {
    let (kept, dropped) = (SessionId::generate(), SessionId::generate());
    create(store.as_ref(), &kept, list(&["k"])).await;
    create(store.as_ref(), &dropped, list(&["d"])).await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(store.load(&kept).await.unwrap().is_some(), "loading keeps it alive");
    }
    assert_eq!(store.load(&dropped).await.unwrap(), None, "idle past the timeout");
    assert_eq!(store.update(&dropped, &add("x")).await.unwrap(), None);
    assert_eq!(store.rotate(&dropped, &SessionId::generate()).await.unwrap(), Rotated::Missing);
    assert_eq!(store.count().await.unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(1700)).await;
    store.purge_expired().await.unwrap();
    assert_eq!(store.count().await.unwrap(), 0);
}
