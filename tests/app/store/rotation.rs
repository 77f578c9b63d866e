//! The rotation contract: the old id leads to the new session for the grace window (1.5 s in
//! these tests), so that a request already on its way with it loses nothing, and then it is
//! dead; it never reopens a session that has ended.

use server_side_sessions::item::Op;
use server_side_sessions::session_id::SessionId;
use server_side_sessions::store::{Reached, Rotated};

use super::{add, create, list, texts, Shared, GRACE};

/// A session with one item, rotated from `old` to `new`.
async fn rotated(store: &Shared) -> (SessionId, SessionId) {
    let (old, new) = (SessionId::generate(), SessionId::generate());
    create(store.as_ref(), &old, list(&["kept"])).await;
    assert_eq!(store.rotate(&old, &new).await.unwrap(), Rotated::Moved);
    (old, new)
}

pub async fn the_old_id_leads_to_the_new_one_for_the_grace_window_only(store: Shared) {
    let started = std::time::Instant::now();
    let (old, new) = rotated(&store).await;
    let through_old = store.load(&old).await.unwrap().expect("the old id leads on");
    assert_eq!(through_old.moved_to.as_ref(), Some(&new), "the answer carries the new id");
    assert_eq!(texts(&through_old.value.items), ["kept"]);
    let direct = store.load(&new).await.unwrap().expect("the new id is the session");
    assert_eq!((direct.moved_to, direct.value.created_ms), (None, through_old.value.created_ms));
    assert_eq!(store.count().await.unwrap(), 1, "a forward is not a session");
    assert!(started.elapsed() < GRACE, "the machine is too slow for this test's window");
    tokio::time::sleep(GRACE + std::time::Duration::from_millis(200)).await;
    assert_eq!(store.load(&old).await.unwrap(), None, "a stolen pre-rotation id is useless after the window");
    assert_eq!(store.update(&old, &add("x")).await.unwrap(), None);
    assert!(!store.destroy(&old).await.unwrap());
    assert_eq!(texts(&store.load(&new).await.unwrap().unwrap().value.items), ["kept"], "untouched");
}

/// Tab B's add, sent with the old id while tab A rotated: it lands on the rotated session, and
/// its answer carries the new id, which the browser then keeps.
pub async fn a_write_racing_a_rotation_lands_on_the_rotated_session(store: Shared) {
    let (old, new) = rotated(&store).await;
    let Some(Reached { value: Ok(record), moved_to }) = store.update(&old, &add("from tab B")).await.unwrap()
    else {
        panic!("the add through the old id was not applied")
    };
    assert_eq!((texts(&record.items), moved_to.as_ref()), (vec!["kept", "from tab B"], Some(&new)));
    let refused = store.update(&old, &Op::Remove(7)).await.unwrap().expect("reached");
    assert!(refused.value.is_err() && refused.moved_to.as_ref() == Some(&new), "{refused:?}");
    assert_eq!(texts(&store.load(&new).await.unwrap().unwrap().value.items), ["kept", "from tab B"]);
    assert_eq!(store.count().await.unwrap(), 1, "nothing stranded, no second session");
}

/// A second *Rotate id* with the old id (another tab, a double click) gets the same successor,
/// so whichever answer the browser keeps last, it holds the live id.
pub async fn a_second_rotation_through_the_old_id_gets_the_same_successor(store: Shared) {
    let (old, new) = rotated(&store).await;
    assert_eq!(store.rotate(&old, &SessionId::generate()).await.unwrap(), Rotated::Already(new.clone()));
    assert!(store.load(&new).await.unwrap().is_some());
    assert_eq!(store.count().await.unwrap(), 1);
}

pub async fn an_ended_session_is_never_reopened_through_its_old_id(store: Shared) {
    let (old, new) = rotated(&store).await;
    assert!(store.destroy(&new).await.unwrap(), "ended under its new id");
    assert_eq!(store.load(&old).await.unwrap(), None, "the forward leads to nothing");
    assert_eq!(store.update(&old, &add("x")).await.unwrap(), None);
    assert_eq!(store.rotate(&old, &SessionId::generate()).await.unwrap(), Rotated::Missing);
    let (old, new) = rotated(&store).await;
    assert!(store.destroy(&old).await.unwrap(), "ended through the old id, within the window");
    assert_eq!(store.load(&new).await.unwrap(), None);
    assert_eq!(store.count().await.unwrap(), 0);
}
