//! The revocation contract: epochs only rise, expire and are purged, reload in full, and every
//! raise is announced on the change feed within 1 s.

use std::sync::Arc;
use std::time::Duration;

use server_side_sessions::session_id::SessionId;
use server_side_sessions::store::{Backend, RevocationStore};

fn family() -> String {
    let id = SessionId::generate();
    format!("{:032x}", u128::from_le_bytes(id.hash()[..16].try_into().unwrap()))
}

pub async fn epochs_only_rise_and_expire(store: Backend) {
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

pub async fn all_lists_every_kept_epoch(epochs: Arc<dyn RevocationStore>) {
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
pub async fn the_feed_announces_every_raise(epochs: Arc<dyn RevocationStore>) {
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
