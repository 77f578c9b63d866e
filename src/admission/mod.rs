//! Who may start a new server-side session: the two bounds a flood of new sessions meets.
//!
//! Every cookie-less write creates a session, so without a bound a single client can fill the
//! store until the process (or the Redis or Postgres server) runs out of memory, and every
//! visitor's session goes with it. Two rules stand in the way, and both apply only to
//! *creating* a session: a visitor who already has one is never refused by them.
//!
//! - **A rate per client network** (`session_rate_per_minute`, with bursts of
//!   `session_rate_burst`): a token bucket per network ([`rate`]), answered with `429` and
//!   `Retry-After`. The session store keeps the buckets and charges one in the same step as
//!   it creates the session ([`crate::store::SessionStore::create`]): with Redis or Postgres
//!   every instance draws on the same bucket, so starting more instances buys a client no
//!   more sessions, and a store that is down stops new sessions rather than the bound. The address is [`ClientAddress`]: the
//!   peer's, unless the operator names a header (`ip_header`) or the proxies in front
//!   (`trusted_proxy_hops`). Any client can write a header, so the app trusts one only when
//!   told to. The defaults fit a class of 40 behind one address (docs/limits.md).
//! - **A limit on live sessions** (`session_limit`), answered with `503` and `Retry-After`.
//!   Live sessions are never evicted to make room: eviction would let a flood log real
//!   visitors out, which is the outage the limit exists to prevent. New sessions wait instead
//!   until old ones expire, and the global and private-cookie strategies keep working. The
//!   count is an estimate kept per process and corrected from the store ([`live`]).
//!
//! [`stage`] manages the [`Admission`] and the [`ClientRule`] that finds the client's address,
//! and keeps the estimate current.

pub mod client_address;
pub mod live;
pub mod rate;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use rocket::fairing::AdHoc;
use rocket::figment::value::Value;
use rocket::figment::Figment;

pub use self::client_address::{ClientAddress, ClientRule};
use self::live::LiveCount;
pub use self::live::{Ticket, RECOUNT_EVERY};
use self::rate::{Network, RateRule};
use crate::config::AppConfig;
use crate::store::{RateCharge, Store};

/// What a full store tells a client to wait: sessions free up only as they expire or end.
const FULL_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Why a new session was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// This client's network started sessions faster than its rate allows.
    TooFast { retry_after: Duration },
    /// The store already holds `limit` live sessions.
    Full { limit: usize, retry_after: Duration },
}

/// The admission rules and the live-session estimate, managed by [`stage`].
pub struct Admission {
    live: LiveCount,
    rule: RateRule,
    ipv6_prefix: u8,
}

impl Admission {
    /// `limit` live sessions at most; each network may start sessions as `rule` allows.
    pub fn new(limit: usize, rule: RateRule, ipv6_prefix: u8) -> Admission {
        Admission { live: LiveCount::new(limit), rule, ipv6_prefix }
    }

    /// The bounds `config` sets (checked by [`AppConfig::from_figment`]).
    pub fn from_config(config: &AppConfig) -> Admission {
        let rule = RateRule::new(config.session_rate_per_minute, config.session_rate_burst);
        Admission::new(config.session_limit, rule, config.session_rate_ipv6_prefix)
    }

    pub fn limit(&self) -> usize {
        self.live.limit()
    }

    /// Live sessions, as far as this process knows.
    pub fn live(&self) -> usize {
        self.live.taken()
    }

    /// The network `client` is keyed by. A request without an address (an in-process test
    /// client) shares one bucket.
    pub fn network(&self, client: Option<IpAddr>) -> Network {
        Network::of(client.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), self.ipv6_prefix)
    }

    /// Takes a place among the live sessions for a new one, or says that there is none. The
    /// rate is not checked here: the store charges [`Admission::charge`] as it creates the
    /// session, so a full store spends no one's rate.
    pub fn admit(&self) -> Result<Ticket<'_>, Refused> {
        let limit = self.live.limit();
        self.live.take().ok_or(Refused::Full { limit, retry_after: FULL_RETRY_AFTER })
    }

    /// What a new session costs `client`'s network, for the store to check and charge.
    pub fn charge(&self, client: Option<IpAddr>) -> RateCharge {
        RateCharge { network: self.network(client).to_string(), rule: self.rule }
    }

    /// A session this process knew of ended (logged out).
    pub fn ended(&self) {
        self.live.ended();
    }

    /// Replaces the estimate with the store's count of `live` sessions (see [`live`]). `began`
    /// is [`Admission::recount_begins`], read before the store counted.
    pub fn recount(&self, began: i64, live: usize) {
        self.live.recount(began, live);
    }

    /// Where a recount starts: call before asking the store for its count.
    pub fn recount_begins(&self) -> i64 {
        self.live.recount_begins()
    }
}

/// Manages the [`Admission`] and the [`ClientRule`], and replaces the estimate of live
/// sessions with the store's count every [`RECOUNT_EVERY`], or as often as the store allows
/// ([`SessionStore::recount_every`](crate::store::SessionStore::recount_every)): expiries and
/// other instances' sessions count; a store that is down leaves the estimate as it was.
/// Attach after the store's stage.
pub fn stage() -> AdHoc {
    AdHoc::try_on_ignite("Session admission", |rocket| async {
        let (Some(config), Some(Store(store))) = (rocket.state::<AppConfig>(), rocket.state::<Store>())
        else {
            // An earlier stage failed and has said why; one message is enough.
            return Err(rocket);
        };
        let rule =
            match ip_header(rocket.figment()).and_then(|h| ClientRule::new(config.trusted_proxy_hops, h)) {
                Ok(rule) => rule,
                Err(message) => {
                    log::error!("{message}");
                    return Err(rocket);
                }
            };
        let said = vec![
            format!("client address for the rate on new sessions: {}", rule.describe()),
            format!(
                "new server-side sessions: at most {} live, {} a minute per client network (bursts of {})",
                config.session_limit, config.session_rate_per_minute, config.session_rate_burst
            ),
        ];
        let (admission, store) = (Arc::new(Admission::from_config(config)), store.clone());
        let recount = admission.clone();
        let every = store.recount_every();
        let task = crate::store::stage::periodically("Live-session recount", every, move || {
            let (store, admission) = (store.clone(), recount.clone());
            async move {
                let began = admission.recount_begins();
                if let Ok(live) = store.count().await {
                    admission.recount(began, live);
                }
            }
        });
        Ok(rocket.manage(admission).manage(rule).attach(task).attach(crate::config::announce(said)))
    })
}

/// Rocket's effective `ip_header`: a header's name, or `false` for none. Read from the figment
/// rather than through Rocket's whole `Config`, so that another key's mistake (a malformed
/// `secret_key`) is reported once, by the stage it concerns.
fn ip_header(figment: &Figment) -> Result<Option<String>, String> {
    match figment.find_value("ip_header") {
        Err(_) => Ok(Some("X-Real-IP".into())), // Rocket's own default
        Ok(Value::Bool(_, false)) => Ok(None),
        Ok(value) => match value.as_str() {
            Some(name) if !name.trim().is_empty() => Ok(Some(name.to_owned())),
            _ => Err("`ip_header` must be a header's name, or false".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));

    #[test]
    fn a_full_store_refuses_and_each_network_is_charged_by_its_own_key() {
        let admission = Admission::new(1, RateRule::new(1, 3), 64);
        admission.admit().expect("a place").created();
        assert!(matches!(admission.admit().err(), Some(Refused::Full { limit: 1, .. })));
        admission.ended();
        admission.admit().expect("a place freed up").created();
        assert_eq!(admission.charge(A).network, "192.0.2.1");
        assert_eq!(admission.charge(None).network, "0.0.0.0", "in-process requests share one bucket");
        let v6 = admission.charge(Some("2001:db8::1".parse().unwrap()));
        assert_eq!((v6.network.as_str(), v6.rule), ("2001:db8::/64", RateRule::new(1, 3)));
    }
}
