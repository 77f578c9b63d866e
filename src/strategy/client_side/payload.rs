//! What a cookie session's cookie holds, and how a [`Codec`] turns it into a cookie value and
//! back under the app's keys (the current one, then each previous one).

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::Codec;
use crate::config::Lifetimes;
use crate::item::ItemList;
use crate::secret::SecretKeys;

/// Bumped whenever the payload's shape changes; other versions read as unreadable.
pub const FORMAT_VERSION: u32 = 1;

/// The highest epoch a cookie may carry: 2^53 - 1, the largest integer every store keeps
/// exactly (a Lua script in Redis counts in doubles). A real family signs out once per press,
/// so only a forged cookie comes near it; one that does reads as unreadable, and *Sign out
/// everywhere* can always raise an epoch by one.
pub const MAX_EPOCH: u64 = (1 << 53) - 1;

/// How far ahead of this server's clock a cookie's times may be: instances' clocks differ a
/// little, a cookie from the future does not exist.
pub const CLOCK_SKEW_MS: u64 = 60_000;

/// Why a payload that opened is not a session now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Past its idle or absolute deadline.
    Expired,
    /// Times or an epoch no server of this app writes: started after it was last seen, seen
    /// in the future, an epoch past [`MAX_EPOCH`]. Only a holder of the key can make one, so it
    /// is forged or broken, and it is never read as a session that lasts forever.
    Implausible,
}

/// What the cookie carries, as JSON. Short names on the wire (every byte travels on every
/// request), full names here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// Format version, [`FORMAT_VERSION`].
    #[serde(rename = "v")]
    pub version: u32,
    /// Only in a revocable cookie ([`Codec::REVOCABLE`]): its family id (random, not a
    /// credential on its own), what "sign out everywhere" revokes. See [`Payload::family`].
    #[serde(rename = "sid", skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// Only in a revocable cookie: the family's revocation epoch when this cookie was issued.
    #[serde(rename = "ep", skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
    /// When this cookie session started (Unix ms): fixes the absolute deadline.
    #[serde(rename = "iat")]
    pub started_ms: u64,
    /// When it was last written or refreshed (Unix ms): moves the idle deadline.
    #[serde(rename = "seen")]
    pub seen_ms: u64,
    pub items: ItemList,
}

/// What "sign out everywhere" revokes: every cookie of a family sealed at an older epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family<'a> {
    pub id: &'a str,
    pub epoch: u64,
}

impl Payload {
    /// A new, empty cookie session; a revocable one starts a family of its own.
    pub fn new(now_ms: u64, revocable: bool) -> Payload {
        let family = revocable.then(|| format!("{:032x}", rand::rng().random::<u128>()));
        let epoch = revocable.then_some(0);
        let items = ItemList::default();
        Payload { version: FORMAT_VERSION, family, epoch, started_ms: now_ms, seen_ms: now_ms, items }
    }

    /// The cookie's family and epoch, if it is revocable: both fields, or it is not.
    pub fn family(&self) -> Option<Family<'_>> {
        Some(Family { id: self.family.as_deref()?, epoch: self.epoch? })
    }

    /// The earlier of the idle and the absolute deadline, as for server-side sessions.
    pub fn expires_ms(&self, lifetimes: &Lifetimes) -> u64 {
        lifetimes.deadline_ms(self.started_ms, self.seen_ms)
    }

    /// Whether this payload is a live session at `now_ms`: its times and epoch are ones a
    /// server of this app writes, and neither deadline has passed.
    pub fn check(&self, now_ms: u64, lifetimes: &Lifetimes) -> Result<(), Refusal> {
        let future = now_ms.saturating_add(CLOCK_SKEW_MS);
        let plausible = self.started_ms <= self.seen_ms
            && self.seen_ms <= future
            && self.epoch.is_none_or(|epoch| epoch <= MAX_EPOCH);
        match plausible {
            false => Err(Refusal::Implausible),
            true if now_ms >= self.expires_ms(lifetimes) => Err(Refusal::Expired),
            true => Ok(()),
        }
    }
}

/// A payload read from a cookie, and whether it needed a previous key.
#[derive(Debug, PartialEq, Eq)]
pub struct Opened {
    pub payload: Payload,
    pub under_previous_key: bool,
}

/// `payload` made into cookie `name`'s value, under the current key.
pub fn seal<C: Codec>(name: &str, payload: &Payload, keys: &SecretKeys) -> String {
    let json = serde_json::to_string(payload).expect("strings and numbers always serialize");
    C::seal(name, json, &keys.current)
}

/// The payload in cookie `name`'s `value`: tried under the current key, then each previous
/// one. `None` if no key opens it, or what it holds is not a payload of this version and kind.
pub fn open<C: Codec>(name: &str, value: &str, keys: &SecretKeys) -> Option<Opened> {
    let all_keys = std::iter::once(&keys.current).chain(&keys.previous);
    all_keys.enumerate().find_map(|(i, key)| {
        let json = C::open(name, value, key)?;
        let payload = serde_json::from_str::<Payload>(&json).ok()?;
        let ours = payload.version == FORMAT_VERSION && payload.family().is_some() == C::REVOCABLE;
        ours.then_some(Opened { payload, under_previous_key: i > 0 })
    })
}

/// Keys made from one repeated byte each: the current one, then the previous ones.
#[cfg(test)]
pub(crate) fn test_keys(current: u8, previous: &[u8]) -> SecretKeys {
    let key = |b: u8| cookie::Key::derive_from(&[b; 32]);
    SecretKeys { current: key(current), previous: previous.iter().map(|b| key(*b)).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_from_the_future_and_epochs_past_the_limit_are_never_a_session() {
        let lifetimes = Lifetimes {
            idle: std::time::Duration::from_secs(60),
            max: std::time::Duration::from_secs(600),
            rotation_grace: std::time::Duration::ZERO,
        };
        let now = 1_000_000_000;
        let checked = |started_ms, seen_ms, epoch| {
            let mut payload = Payload::new(started_ms, true);
            (payload.seen_ms, payload.epoch) = (seen_ms, Some(epoch));
            payload.check(now, &lifetimes)
        };
        assert_eq!(checked(now - 1_000, now - 500, 3), Ok(()));
        assert_eq!(checked(now - 61_000, now - 61_000, 0), Err(Refusal::Expired), "idle");
        assert_eq!(checked(u64::MAX, u64::MAX, 0), Err(Refusal::Implausible), "forever");
        assert_eq!(checked(now, u64::MAX, 0), Err(Refusal::Implausible));
        assert_eq!(checked(now, now + CLOCK_SKEW_MS + 1, 0), Err(Refusal::Implausible), "from the future");
        assert_eq!(checked(now, now + 1_000, 0), Ok(()), "another instance's clock a second ahead");
        assert_eq!(checked(now, now - 1, 0), Err(Refusal::Implausible), "seen before it started");
        assert_eq!(checked(now, now, MAX_EPOCH), Ok(()));
        assert_eq!(checked(now, now, MAX_EPOCH + 1), Err(Refusal::Implausible));
        assert_eq!(checked(now, now, u64::MAX), Err(Refusal::Implausible));
    }

    #[test]
    fn the_json_is_the_same_with_or_without_a_family() {
        let mut payload = Payload::new(1, true);
        (payload.family, payload.epoch) = (Some("ab".into()), Some(2));
        let with = r#"{"v":1,"sid":"ab","ep":2,"iat":1,"seen":1,"items":[]}"#;
        assert_eq!(serde_json::to_string(&payload).unwrap(), with);
        assert_eq!(serde_json::from_str::<Payload>(with).unwrap(), payload);
        let without = r#"{"v":1,"iat":1,"seen":1,"items":[]}"#;
        assert_eq!(serde_json::to_string(&Payload::new(1, false)).unwrap(), without);
        assert_eq!(serde_json::from_str::<Payload>(without).unwrap(), Payload::new(1, false));
    }
}
