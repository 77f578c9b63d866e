//! The rate on new sessions: a token bucket per client network, kept as one number.
//!
//! The bucket is GCRA (the generic cell rate algorithm, what token-bucket libraries such as
//! `governor` implement): for each network the store keeps a *theoretical arrival time* (TAT),
//! the moment the bucket would be full again. A new session is admitted while the TAT is at
//! most `tolerance` ahead of now, and moves it `interval` further. That is `burst` sessions at
//! once, then one every `interval`. One number per network, updated in one step, is what lets
//! every store keep the bucket atomically: in this process for the memory store, in a Lua
//! script on Redis, in one statement on Postgres ([`crate::store`]).
//!
//! The key is the client's *network*, not its address: an IPv6 client normally holds a whole
//! /64 and can take a new address for every request, so IPv6 addresses are keyed by their
//! first `session_rate_ipv6_prefix` bits (64 by default); an IPv4-mapped IPv6 address
//! (`::ffff:198.51.100.7`) is the IPv4 address it maps.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

/// The bucket's shape, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateRule {
    /// Time between two sessions at the steady rate.
    pub interval_ms: u64,
    /// How far ahead of now the TAT may be for a session to be admitted: `burst - 1`
    /// intervals, so that `burst` sessions at once are admitted.
    pub tolerance_ms: u64,
}

impl RateRule {
    /// `per_minute` sessions a minute, `burst` of them at once (both at least 1).
    pub fn new(per_minute: u32, burst: u32) -> RateRule {
        let interval_ms = 60_000 / u64::from(per_minute.max(1));
        RateRule { interval_ms, tolerance_ms: interval_ms * u64::from(burst.max(1) - 1) }
    }

    /// One admission against a bucket whose TAT is `tat_ms` (`None`: never used, or forgotten):
    /// the new TAT to keep, or how long to wait. Stores that keep the TAT elsewhere do the
    /// same arithmetic there.
    pub fn admit(&self, tat_ms: Option<u64>, now_ms: u64) -> Result<u64, Duration> {
        let tat = tat_ms.unwrap_or(now_ms).max(now_ms);
        if tat - now_ms > self.tolerance_ms {
            return Err(retry_after(tat - self.tolerance_ms - now_ms));
        }
        Ok(tat + self.interval_ms)
    }

    /// How long a store must keep a TAT: after that the bucket is full again, and a missing
    /// TAT reads the same.
    pub fn keep_for(&self, tat_ms: u64, now_ms: u64) -> Duration {
        Duration::from_millis(tat_ms.saturating_sub(now_ms))
    }
}

/// `Retry-After` counts whole seconds: round up, so that a client that obeys it succeeds.
pub fn retry_after(wait_ms: u64) -> Duration {
    Duration::from_secs(wait_ms.div_ceil(1000).max(1))
}

/// The network a client address is keyed by: the address itself for IPv4 (and IPv4-mapped
/// IPv6), the first `ipv6_prefix` bits of an IPv6 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Network {
    base: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn of(address: IpAddr, ipv6_prefix: u8) -> Network {
        match address {
            IpAddr::V4(v4) => Network { base: IpAddr::V4(v4), prefix: 32 },
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Network { base: IpAddr::V4(v4), prefix: 32 },
                None => {
                    let prefix = ipv6_prefix.min(128);
                    let mask = u128::MAX.checked_shl(u32::from(128 - prefix)).unwrap_or(0);
                    let base = Ipv6Addr::from(u128::from(v6) & mask);
                    Network { base: IpAddr::V6(base), prefix }
                }
            },
        }
    }
}

/// `198.51.100.7`, `2001:db8:1:2::/64`: how stores key the bucket and the log names it.
impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.base {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/{}", self.prefix),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> String {
        Network::of(text.parse().unwrap(), 64).to_string()
    }

    #[test]
    fn ipv6_is_keyed_by_its_network_and_a_mapped_address_by_its_ipv4() {
        assert_eq!(net("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(net("2001:db8:1:2:ffff:ffff:ffff:ffff"), net("2001:db8:1:2::1"), "one /64");
        assert_ne!(net("2001:db8:1:2::1"), net("2001:db8:1:3::1"), "two /64s");
        assert_eq!(net("::ffff:198.51.100.77"), net("198.51.100.77"));
        assert_eq!(net("198.51.100.77"), "198.51.100.77");
        let wide = Network::of("2001:db8:1:2::1".parse().unwrap(), 48).to_string();
        assert_eq!(wide, "2001:db8:1::/48");
        assert_eq!(Network::of("2001:db8::1".parse().unwrap(), 0).to_string(), "::/0");
        assert_eq!(Network::of("2001:db8::1".parse().unwrap(), 200).to_string(), "2001:db8::1/128");
    }

    /// Replays a bucket kept as one number, as every store keeps it.
    fn bucket(rule: RateRule) -> impl FnMut(u64) -> bool {
        let mut tat = None;
        move |now| match rule.admit(tat, now) {
            Ok(next) => {
                tat = Some(next);
                true
            }
            Err(_) => false,
        }
    }

    #[test]
    fn a_bucket_admits_its_burst_then_its_rate() {
        let rule = RateRule::new(60, 3);
        let mut admit = bucket(rule);
        assert_eq!((0..4).map(|_| admit(0)).collect::<Vec<_>>(), [true, true, true, false]);
        assert!(!admit(999) && admit(1_000), "one more a second");
        assert_eq!(rule.admit(Some(4_000), 0), Err(Duration::from_secs(2)), "rounded up to a second");
        assert_eq!(retry_after(1), Duration::from_secs(1));
    }

    /// The defaults: a class behind one address gets every session it starts, and one network
    /// cannot hold more than half of `session_limit` within the idle timeout (the arithmetic
    /// is in docs/limits.md).
    #[test]
    fn the_default_bucket_fits_a_class_and_caps_one_network_at_half_the_limit() {
        let config = crate::config::AppConfig::default();
        let rule = RateRule::new(config.session_rate_per_minute, config.session_rate_burst);
        // 40 students, 10 new sessions each in 20 minutes, all at the starts of exercises:
        // the first in three windows at once (120), four more every 4 minutes (70 each).
        let mut class = bucket(rule);
        let mut admitted = 0;
        for (minute, at_once) in [(0, 120), (4, 70), (8, 70), (12, 70), (16, 70)] {
            admitted += (0..at_once).filter(|_| class(minute * 60_000)).count();
        }
        assert_eq!(admitted, 400, "every session of the class was admitted");
        // One network asking every 100 ms for the whole idle timeout.
        let mut flood = bucket(rule);
        let held = (0..config.session_idle_timeout * 10).filter(|i| flood(i * 100)).count();
        let half = config.session_limit / 2;
        assert!(held <= half, "one network started {held} sessions in one idle timeout; half is {half}");
    }
}
