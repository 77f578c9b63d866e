//! Who may start a new server-side session: the two bounds a flood of new sessions meets.
//!
//! Every cookie-less write creates a session, so without a bound a single client can fill the
//! store until the process (or the Redis or Postgres server) runs out of memory, and every
//! visitor's session goes with it. Two rules stand in the way, and both apply only to
//! *creating* a session: a visitor who already has one is never refused by them.
//!
//! - **A per-client rate** (`session_rate_per_minute`, with bursts of `session_rate_burst`): a
//!   token bucket per client address ([`governor`]), answered with `429` and `Retry-After`.
//!   The address is [`ClientAddress`](crate::web::client_address::ClientAddress): the peer's,
//!   unless the operator names a header (`ip_header`) or the proxies in front
//!   (`trusted_proxy_hops`). Any client can write a header, so the app trusts one only when
//!   told to. The defaults fit a class of 40 behind one address (docs/limits.md).
//! - **A limit on live sessions** (`session_limit`), answered with `503` and `Retry-After`.
//!   Live sessions are never evicted to make room: eviction would let a flood log real
//!   visitors out, which is the outage the limit exists to prevent. New sessions wait instead
//!   until old ones expire, and the global and private-cookie strategies keep working.
//!
//! The live count is kept here, per process: this process's own creations and endings are
//! counted exactly, and the store's real count replaces the estimate every few seconds
//! ([`Admission::recount`]), which also brings in expiries and, for Redis and Postgres, the
//! sessions other instances created. So with one instance the limit is exact (or errs on the
//! side of refusing); with several sharing a store it can be passed by what the other
//! instances create between two recounts.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::AppConfig;

/// How often the store's real count replaces the estimate.
pub const RECOUNT_EVERY: Duration = Duration::from_secs(2);

/// What a full store tells a client to wait: sessions free up only as they expire or end.
const FULL_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Why a new session was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// This client started sessions faster than its rate allows.
    TooFast { retry_after: Duration },
    /// The store already holds `limit` live sessions.
    Full { limit: usize, retry_after: Duration },
}

/// The admission rules and the live-session estimate, managed by the store stage.
pub struct Admission {
    limit: usize,
    /// The estimate: places taken, by live sessions and by creations under way.
    live: AtomicUsize,
    /// Sessions this process created minus those it ended, ever: what happened during a
    /// recount, which the store's count may not include yet.
    net: AtomicI64,
    /// Places taken by creations still under way (admitted, not yet stored or refused).
    in_flight: AtomicUsize,
    rate: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

/// A place among the live sessions, held while the session is being created. Dropped without
/// [`Ticket::created`] (the store refused the write), it gives the place back.
pub struct Ticket<'a> {
    admission: &'a Admission,
    kept: bool,
}

impl Ticket<'_> {
    pub fn created(mut self) {
        self.kept = true;
        self.admission.net.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.admission.in_flight.fetch_sub(1, Ordering::Relaxed);
        if !self.kept {
            let _ = self
                .admission
                .live
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_sub(1)));
        }
    }
}

/// Each client's token bucket: `burst` new sessions at once, refilled at `per_minute`.
pub fn quota(per_minute: NonZeroU32, burst: NonZeroU32) -> Quota {
    Quota::per_minute(per_minute).allow_burst(burst)
}

impl Admission {
    /// `limit` live sessions at most; each client may start `per_minute` sessions a minute,
    /// `burst` of them at once.
    pub fn new(limit: usize, per_minute: NonZeroU32, burst: NonZeroU32) -> Admission {
        let quota = quota(per_minute, burst);
        let clock = DefaultClock::default();
        let (live, net, in_flight) = (AtomicUsize::new(0), AtomicI64::new(0), AtomicUsize::new(0));
        Admission { limit, live, net, in_flight, rate: RateLimiter::keyed(quota), clock }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Live sessions, as far as this process knows.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Takes a place for a new session of `client`, or says why not. A full store is checked
    /// first, so that refusals while it is full do not use up the client's rate.
    pub fn admit(&self, client: Option<IpAddr>) -> Result<Ticket<'_>, Refused> {
        let taken = self.live.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let ticket = Ticket { admission: self, kept: false };
        if taken >= self.limit {
            return Err(Refused::Full { limit: self.limit, retry_after: FULL_RETRY_AFTER });
        }
        // A request without an address (an in-process test client) shares one bucket.
        let key = client.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        if let Err(not_until) = self.rate.check_key(&key) {
            let wait = not_until.wait_time_from(self.clock.now());
            // Retry-After counts whole seconds; round up so a client that obeys it succeeds.
            let retry_after = Duration::from_secs(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
            return Err(Refused::TooFast { retry_after });
        }
        Ok(ticket)
    }

    /// A session this process knew of ended (logged out).
    pub fn ended(&self) {
        self.net.fetch_sub(1, Ordering::Relaxed);
        let _ = self.live.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_sub(1)));
    }

    /// Where a recount starts: call before asking the store for its count.
    pub fn recount_begins(&self) -> i64 {
        self.net.load(Ordering::Relaxed)
    }

    /// The store's own count of live sessions replaces the estimate, plus what this process
    /// created or ended while the store was counting (`began` from
    /// [`Admission::recount_begins`]) and the creations still under way, which the count
    /// cannot have seen: a slow count must not erase creations made meanwhile. (A creation
    /// the count did see may be counted twice until the next recount: the error is on the
    /// side of refusing.) Clients whose buckets are full again are forgotten, so the rate
    /// limiter's memory stays bounded too.
    pub fn recount(&self, began: i64, live: usize) {
        let since = self.net.load(Ordering::Relaxed) - began;
        let under_way = i64::try_from(self.in_flight.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
        let live =
            i64::try_from(live).unwrap_or(i64::MAX).saturating_add(since).saturating_add(under_way).max(0);
        self.live.store(usize::try_from(live).unwrap_or(usize::MAX), Ordering::Relaxed);
        self.rate.retain_recent();
        self.rate.shrink_to_fit();
    }
}

impl Admission {
    /// The bounds `config` sets (checked non-zero by [`AppConfig::from_figment`]).
    pub fn from_config(config: &AppConfig) -> Admission {
        let at_least_one = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        let per_minute = at_least_one(config.session_rate_per_minute);
        Admission::new(config.session_limit, per_minute, at_least_one(config.session_rate_burst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    const A: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)));
    const B: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2)));

    #[test]
    fn each_client_gets_its_burst_then_waits() {
        let admission = Admission::new(100, nz(1), nz(3));
        for _ in 0..3 {
            admission.admit(A).expect("within the burst").created();
        }
        match admission.admit(A).err() {
            Some(Refused::TooFast { retry_after }) => assert!(retry_after >= Duration::from_secs(1)),
            other => panic!("expected TooFast, got {other:?}"),
        }
        admission.admit(B).expect("another client has its own bucket").created();
        assert_eq!(admission.live(), 4, "a refused admission holds no place");
    }

    #[test]
    fn a_full_store_refuses_without_evicting_and_frees_places_as_sessions_end() {
        let admission = Admission::new(2, nz(60), nz(60));
        admission.admit(A).unwrap().created();
        drop(admission.admit(A).unwrap()); // the store refused the write: the place comes back
        admission.admit(B).unwrap().created();
        assert!(matches!(admission.admit(A).err(), Some(Refused::Full { limit: 2, .. })));
        assert_eq!(admission.live(), 2);
        admission.ended();
        admission.admit(A).expect("a place freed up").created();
        let began = admission.recount_begins();
        admission.ended(); // while the store counts, which still saw that session
        admission.recount(began, 2);
        assert_eq!(admission.live(), 1, "the store's count, plus what it could not have seen");
        admission.recount(admission.recount_begins(), 0);
        assert_eq!(admission.live(), 0, "the store's count wins");
        let under_way = admission.admit(A).unwrap(); // admitted before the count, stored after
        admission.recount(admission.recount_begins(), 0);
        under_way.created();
        assert_eq!(admission.live(), 1, "a creation under way during a recount still holds its place");
    }

    /// The defaults, on governor's fake clock: a class behind one address gets every session
    /// it starts, and one address cannot hold more than half of `session_limit` within the
    /// idle timeout (the arithmetic is in docs/limits.md).
    #[test]
    fn the_default_bucket_fits_a_class_and_caps_one_address_at_half_the_limit() {
        use governor::clock::FakeRelativeClock;
        let config = crate::config::AppConfig::default();
        let bucket = || {
            let quota = quota(nz(config.session_rate_per_minute), nz(config.session_rate_burst));
            let clock = FakeRelativeClock::default();
            (RateLimiter::dashmap_with_clock(quota, clock.clone()), clock)
        };
        // 40 students, 10 new sessions each in 20 minutes, all at the starts of exercises:
        // the first in three windows at once (120), four more every 4 minutes (70 each).
        let (class, clock) = bucket();
        let (mut admitted, mut asked, mut now) = (0, 0, 0);
        for (minute, at_once) in [(0, 120), (4, 70), (8, 70), (12, 70), (16, 70)] {
            clock.advance(Duration::from_secs(60 * (minute - now)));
            now = minute;
            for _ in 0..at_once {
                asked += 1;
                admitted += u64::from(class.check_key(&A).is_ok());
            }
        }
        assert_eq!((asked, admitted), (400, 400), "every session of the class was admitted");
        // One address asking every 100 ms for the whole idle timeout.
        let (flood, clock) = bucket();
        let mut held = 0;
        for _ in 0..(config.session_idle_timeout * 10) {
            held += u64::from(flood.check_key(&A).is_ok());
            clock.advance(Duration::from_millis(100));
        }
        let half = config.session_limit as u64 / 2;
        assert!(
            held <= half,
            "one address started {held} sessions in one idle timeout; half the limit is {half}"
        );
    }
}
