//! How the copy follows the store: subscribe, reload in full, apply the feed, reload again
//! every [`RELOAD_EVERY`], mark the copy as watched every [`HEARTBEAT`], and after any failure
//! or gap (a frozen process) start over before trusting the copy again.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{RevocationCopy, HEARTBEAT, RELOAD_EVERY, RETRY_AFTER, STALE_AFTER};
use crate::clock::now_ms;
use crate::store::StoreError;

impl RevocationCopy {
    /// Keeps the copy current until `shutdown`: subscribes, reloads, applies the feed and
    /// reloads again every [`RELOAD_EVERY`]; after any failure, starts over.
    pub async fn keep_current(self: Arc<Self>, shutdown: rocket::Shutdown) {
        rocket::tokio::pin!(shutdown);
        loop {
            rocket::tokio::select! {
                _ = &mut shutdown => return,
                () = self.follow_feed() => {}
            }
            self.live.store(false, Ordering::Release);
            rocket::tokio::select! {
                _ = &mut shutdown => return,
                () = rocket::tokio::time::sleep(RETRY_AFTER) => {}
            }
        }
    }

    /// One connection's worth of feed; returns when it breaks (or could not be set up).
    async fn follow_feed(&self) {
        let mut feed = match self.store.subscribe().await {
            Ok(feed) => feed,
            Err(error) => return self.lost(&error),
        };
        if let Err(error) = self.trust_after_reload().await {
            return self.lost(&error);
        }
        log::info!("revoked private-cookie families: copy loaded, following the store's changes");
        let mut reloads = rocket::tokio::time::interval(RELOAD_EVERY);
        reloads.tick().await; // the first tick is immediate, and the copy was just loaded
        let mut beats = rocket::tokio::time::interval(HEARTBEAT);
        beats.set_missed_tick_behavior(rocket::tokio::time::MissedTickBehavior::Delay);
        loop {
            rocket::tokio::select! {
                _ = beats.tick() => if let Err(error) = self.beat().await {
                    return self.lost(&error);
                },
                change = feed.recv() => match change {
                    Some(change) => self.apply(change),
                    None => {
                        self.confirmed_ms.store(now_ms(), Ordering::Release);
                        log::warn!("revocation feed lost; private-cookie reads ask the store until it is back");
                        return;
                    }
                },
                _ = reloads.tick() => if let Err(error) = self.reload().await {
                    return self.lost(&error);
                },
            }
        }
    }

    /// Marks the copy as watched; after a gap (a freeze), first reloads it in full, trusting
    /// it only once the reload is done.
    async fn beat(&self) -> Result<(), StoreError> {
        let since = now_ms().saturating_sub(self.watched_ms.load(Ordering::Acquire));
        if since <= crate::clock::millis(STALE_AFTER) {
            self.watched_ms.store(now_ms(), Ordering::Release);
            return Ok(());
        }
        log::info!("the revocation feed went unread for {since} ms (a frozen process?): reloading the copy");
        self.live.store(false, Ordering::Release);
        self.trust_after_reload().await
    }

    async fn trust_after_reload(&self) -> Result<(), StoreError> {
        self.reload().await?;
        self.watched_ms.store(now_ms(), Ordering::Release);
        self.live.store(true, Ordering::Release);
        Ok(())
    }

    fn lost(&self, error: &StoreError) {
        self.answering.store(false, Ordering::Release);
        log::warn!("revocation feed unavailable: {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::millis;
    use crate::config::Lifetimes;
    use crate::store::memory::MemoryStore;
    use crate::store::revocation::copy::Confirmed;
    use crate::store::RevocationStore;
    use std::time::Duration;

    const MINUTE: Duration = Duration::from_secs(60);

    /// A copy that was loaded and followed, then went unwatched as a frozen process's would,
    /// while another instance raised an epoch that the copy never heard of.
    async fn frozen_copy() -> (Arc<MemoryStore>, RevocationCopy) {
        let store =
            Arc::new(MemoryStore::new(Lifetimes { idle: MINUTE, max: MINUTE, rotation_grace: MINUTE }));
        let copy = RevocationCopy::new(store.clone(), "memory");
        copy.trust_after_reload().await.expect("the copy loads");
        store.raise("family", 3, MINUTE).await.expect("raised elsewhere");
        copy.watched_ms.store(now_ms() - millis(STALE_AFTER) - 1_000, Ordering::Release);
        (store, copy)
    }

    #[rocket::async_test]
    async fn an_unwatched_copy_is_not_trusted_so_the_store_is_asked() {
        let (_, copy) = frozen_copy().await;
        assert_eq!(copy.epoch("family").await, (3, Confirmed::Asked));
        assert!(!copy.status().0, "the page would call it live");
    }

    #[rocket::async_test]
    async fn the_first_beat_after_a_gap_reloads_before_the_copy_is_trusted_again() {
        let (store, copy) = frozen_copy().await;
        copy.beat().await.expect("reloads");
        assert_eq!(copy.epoch("family").await, (3, Confirmed::Live));
        // Trusted again: a raise the copy has not heard of is not looked up (the feed would
        // have brought it).
        store.raise("unheard", 1, MINUTE).await.expect("raised");
        assert_eq!(copy.epoch("unheard").await, (0, Confirmed::Live));
    }
}
