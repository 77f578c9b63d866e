//! Which address is "the client", for the per-client rate on new sessions.
//!
//! Any client can write any header, so the app believes a header only as far as the operator
//! says it may. Three rules, chosen by configuration:
//!
//! - **The peer** (the default: `ip_header = false`, `trusted_proxy_hops = 0`): the address
//!   that opened the connection. Right when visitors connect to the app directly; behind a
//!   proxy every visitor shares the proxy's address, so one rate bucket.
//! - **`ip_header`** (e.g. `X-Real-IP`, which the cluster demo's nginx sets): Rocket's
//!   `client_ip()`, the header's address. Right only behind a proxy that overwrites it.
//! - **`trusted_proxy_hops = N`**: the address `N` hops from the right of `X-Forwarded-For`,
//!   the peer counting as hop 0: Express's `trust proxy` hop count. Each proxy appends the
//!   address it received the request from, so the `N` trusted proxies wrote the `N` rightmost
//!   entries; everything to their left came from the client and is never used. A header with
//!   fewer than `N` entries means the request did not come through all `N` proxies, so none of
//!   its entries can be trusted: the peer is used (Express would take the leftmost entry
//!   there). So is the peer when the entry is not an address.
//!
//! Setting both `ip_header` and `trusted_proxy_hops` is refused at start-up
//! ([`ClientRule::new`]): two answers to one question would leave one of them ignored.

use std::net::{IpAddr, SocketAddr};

use rocket::request::{self, FromRequest, Request};
use serde::Serialize;

/// How to find the client's address, managed by the configuration stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientRule {
    /// The peer address.
    Peer,
    /// The address in this header (Rocket's `ip_header`, read by its `client_ip()`), else
    /// the peer's.
    Header(String),
    /// This many trusted proxies append to `X-Forwarded-For` (at least 1).
    ForwardedFor { hops: u8 },
}

impl ClientRule {
    /// The rule for `trusted_proxy_hops` and Rocket's effective `ip_header`, or the reason
    /// they cannot both hold.
    pub fn new(hops: u8, ip_header: Option<String>) -> Result<ClientRule, String> {
        match (hops, ip_header) {
            (0, None) => Ok(ClientRule::Peer),
            (0, Some(header)) => Ok(ClientRule::Header(header)),
            (hops, None) => Ok(ClientRule::ForwardedFor { hops }),
            (hops, Some(header)) => Err(format!(
                "`trusted_proxy_hops = {hops}` and `ip_header = \"{header}\"` both say where the client's \
                 address is: keep one. Behind proxies that append to X-Forwarded-For, set \
                 ROCKET_IP_HEADER=false; behind one that sets {header}, set ROCKET_TRUSTED_PROXY_HOPS=0"
            )),
        }
    }

    /// How the log and `/api/inspect` name the rule.
    pub fn describe(&self) -> String {
        match self {
            ClientRule::Peer => "the peer address".into(),
            ClientRule::Header(header) => format!("the `{header}` header, else the peer address"),
            ClientRule::ForwardedFor { hops } => {
                format!("X-Forwarded-For, {hops} trusted hop(s) from the right, else the peer address")
            }
        }
    }
}

/// The client's address as the rate on new sessions sees it (`None`: an in-process request
/// without one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl ClientAddress {
    pub fn of(request: &Request<'_>) -> ClientAddress {
        match request.rocket().state::<ClientRule>() {
            Some(ClientRule::ForwardedFor { hops }) => {
                let peer = request.remote().map(|remote| remote.ip());
                ClientAddress(forwarded_for(peer, request.headers().get("X-Forwarded-For"), *hops))
            }
            // Rocket's own rule: the `ip_header` it was configured with, else the peer.
            _ => ClientAddress(request.client_ip()),
        }
    }
}

/// What `/api/inspect` shows: the address, and the rule that found it. Through the platform,
/// it should show the visitor's own public address; an operator checks the proxy settings
/// with it (docs/limits.md).
#[derive(Debug, Serialize)]
pub struct ClientView {
    /// `null` for a request without one (an in-process test client).
    address: Option<String>,
    rule: String,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClientView {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let ClientAddress(address) = ClientAddress::of(request);
        let rule = request.rocket().state::<ClientRule>().map(ClientRule::describe).unwrap_or_default();
        request::Outcome::Success(ClientView { address: address.map(|a| a.to_string()), rule })
    }
}

/// The address `hops` entries from the right of the `X-Forwarded-For` lines (in the order
/// received; several lines are one comma-separated list), or `peer` when there are fewer
/// entries than that, or the entry is not an address.
pub fn forwarded_for<'a>(
    peer: Option<IpAddr>,
    lines: impl Iterator<Item = &'a str>,
    hops: u8,
) -> Option<IpAddr> {
    let entries: Vec<&str> = lines.flat_map(|line| line.split(',')).map(str::trim).collect();
    let Some(at) = entries.len().checked_sub(usize::from(hops)) else {
        return peer;
    };
    parse_address(entries[at]).or(peer)
}

/// `192.0.2.1`, `2001:db8::1`, and the same with a port (`192.0.2.1:5000`, `[2001:db8::1]:5000`),
/// which some proxies write.
fn parse_address(entry: &str) -> Option<IpAddr> {
    entry.parse::<IpAddr>().ok().or_else(|| entry.parse::<SocketAddr>().ok().map(|socket| socket.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)));

    fn client(header: &[&str], hops: u8) -> Option<IpAddr> {
        forwarded_for(PEER, header.iter().copied(), hops)
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn the_entry_that_many_hops_from_the_right_is_the_client() {
        assert_eq!(client(&["198.51.100.7"], 1), ip("198.51.100.7"));
        assert_eq!(client(&["198.51.100.7, 10.0.0.9"], 2), ip("198.51.100.7"));
        assert_eq!(client(&["198.51.100.7", "10.0.0.9"], 2), ip("198.51.100.7"), "two lines are one list");
        assert_eq!(
            client(&["198.51.100.7, 10.0.0.9"], 1),
            ip("10.0.0.9"),
            "too few hops: a proxy, not a client"
        );
    }

    #[test]
    fn entries_left_of_the_trusted_hops_are_never_used() {
        for spoofed in ["203.0.113.1", "203.0.113.1, 203.0.113.2", "garbage, 203.0.113.3"] {
            let header = format!("{spoofed}, 198.51.100.7");
            assert_eq!(client(&[&header], 1), ip("198.51.100.7"), "{header}");
        }
    }

    #[test]
    fn a_missing_short_or_unreadable_header_falls_back_to_the_peer() {
        assert_eq!(client(&[], 1), PEER, "missing");
        assert_eq!(client(&["198.51.100.7"], 2), PEER, "short: not every trusted proxy appended");
        assert_eq!(client(&["not-an-address"], 1), PEER, "not an address");
        assert_eq!(client(&["198.51.100.7, "], 1), PEER, "an empty entry");
        assert_eq!(forwarded_for(None, std::iter::empty(), 1), None, "no peer either");
    }

    #[test]
    fn addresses_with_ports_and_ipv6_are_read() {
        assert_eq!(client(&["198.51.100.7:5000"], 1), ip("198.51.100.7"));
        assert_eq!(client(&["2001:db8::7"], 1), ip("2001:db8::7"));
        assert_eq!(client(&["[2001:db8::7]:5000"], 1), ip("2001:db8::7"));
    }

    #[test]
    fn a_header_and_hops_together_are_refused() {
        let real_ip = || Some("X-Real-IP".to_owned());
        assert_eq!(ClientRule::new(0, real_ip()), Ok(ClientRule::Header("X-Real-IP".into())));
        assert_eq!(ClientRule::new(0, None), Ok(ClientRule::Peer));
        assert_eq!(ClientRule::new(2, None), Ok(ClientRule::ForwardedFor { hops: 2 }));
        let refused = ClientRule::new(1, real_ip()).expect_err("both set");
        assert!(refused.contains("keep one"), "{refused}");
    }
}
