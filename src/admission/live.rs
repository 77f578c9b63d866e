//! The limit on live sessions: this process's estimate of how many the store holds.
//!
//! This process's own creations and endings are counted exactly, and the store's real count
//! replaces the estimate every [`RECOUNT_EVERY`], which also brings in
//! expiries and, for a shared store, the sessions other instances created. So with one instance
//! the limit is exact (or errs on the side of refusing); with several sharing a store it can be
//! passed by what the other instances create between two recounts.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

/// How often the store's real count replaces the estimate.
pub const RECOUNT_EVERY: Duration = Duration::from_secs(2);

/// Places among the live sessions: the estimate, and what a recount must not erase.
pub(super) struct LiveCount {
    limit: usize,
    /// The estimate: places taken, by live sessions and by creations under way.
    taken: AtomicUsize,
    /// Sessions this process created minus those it ended, ever: what happened during a
    /// recount, which the store's count may not include yet.
    net: AtomicI64,
    /// Places taken by creations still under way (admitted, not yet stored or refused).
    in_flight: AtomicUsize,
}

/// A place among the live sessions, held while the session is being created. Dropped without
/// [`Ticket::created`] (the store refused the write), it gives the place back.
pub struct Ticket<'a> {
    live: &'a LiveCount,
    kept: bool,
}

impl Ticket<'_> {
    pub fn created(mut self) {
        self.kept = true;
        self.live.net.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.live.in_flight.fetch_sub(1, Ordering::Relaxed);
        if !self.kept {
            self.live.release();
        }
    }
}

impl LiveCount {
    pub(super) fn new(limit: usize) -> LiveCount {
        let (taken, net, in_flight) = (AtomicUsize::new(0), AtomicI64::new(0), AtomicUsize::new(0));
        LiveCount { limit, taken, net, in_flight }
    }

    pub(super) fn limit(&self) -> usize {
        self.limit
    }

    pub(super) fn taken(&self) -> usize {
        self.taken.load(Ordering::Relaxed)
    }

    /// A place for a new session, or `None` when `limit` are taken.
    pub(super) fn take(&self) -> Option<Ticket<'_>> {
        let taken = self.taken.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let ticket = Ticket { live: self, kept: false };
        (taken < self.limit).then_some(ticket)
    }

    fn release(&self) {
        let _ = self.taken.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_sub(1)));
    }

    /// A session this process knew of ended.
    pub(super) fn ended(&self) {
        self.net.fetch_sub(1, Ordering::Relaxed);
        self.release();
    }

    /// Where a recount starts: call before asking the store for its count.
    pub(super) fn recount_begins(&self) -> i64 {
        self.net.load(Ordering::Relaxed)
    }

    /// The store's own count replaces the estimate, plus what this process created or ended
    /// while the store was counting (`began` from [`LiveCount::recount_begins`]) and the
    /// creations still under way, which the count cannot have seen: a slow count must not
    /// erase creations made meanwhile. (A creation the count did see may be counted twice
    /// until the next recount: the error is on the side of refusing.)
    pub(super) fn recount(&self, began: i64, live: usize) {
        let since = self.net.load(Ordering::Relaxed) - began;
        let under_way = i64::try_from(self.in_flight.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
        let live =
            i64::try_from(live).unwrap_or(i64::MAX).saturating_add(since).saturating_add(under_way).max(0);
        self.taken.store(usize::try_from(live).unwrap_or(usize::MAX), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::LiveCount;

    #[test]
    fn a_full_count_refuses_and_frees_places_as_sessions_end() {
        let live = LiveCount::new(2);
        live.take().unwrap().created();
        drop(live.take().unwrap()); // the store refused the write: the place comes back
        live.take().unwrap().created();
        assert!(live.take().is_none());
        assert_eq!(live.taken(), 2);
        live.ended();
        live.take().expect("a place freed up").created();
        let began = live.recount_begins();
        live.ended(); // while the store counts, which still saw that session
        live.recount(began, 2);
        assert_eq!(live.taken(), 1, "the store's count, plus what it could not have seen");
        live.recount(live.recount_begins(), 0);
        assert_eq!(live.taken(), 0, "the store's count wins");
        let under_way = live.take().unwrap(); // admitted before the count, stored after
        live.recount(live.recount_begins(), 0);
        under_way.created();
        assert_eq!(live.taken(), 1, "a creation under way during a recount still holds its place");
    }
}
