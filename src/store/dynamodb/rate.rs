//! A new session, and the rate bucket of its network, in one `TransactWriteItems`.
//!
//! The bucket is GCRA's one number ([`crate::admission::rate`]), the theoretical arrival time
//! `tat`, in the item `rate#<network>`. GCRA's step is `tat = max(tat, now) + interval`, and
//! DynamoDB's update expressions have no `max`. So the store writes one of two updates, each
//! exact on its own side of `now` and guarded by a condition that says which side it is on:
//!
//! - **idle** (no bucket, or `tat <= now`): `SET tat = now + interval`;
//! - **in use** (`now < tat <= now + tolerance`): `SET tat = tat + interval`.
//!
//! Together they are exactly GCRA. Which one applies is not known before the request: a wrong
//! guess fails its condition, the failure returns the bucket, and the second request is the
//! right one; a bucket past its tolerance answers "too fast" at the first, whatever the guess.
//! The guess is what this process last saw of the bucket ([`Hints`]), so a class starting
//! sessions through one instance pays one request each, and a visitor whose network has not
//! started a session lately (most visitors) too.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::items::{self, get_number, number, ttl, Expression};
use super::requests::failed;
use super::DynamoStore;
use crate::admission::rate::{retry_after, RateRule};
use crate::clock::now_ms;
use crate::item::ItemList;
use crate::session_id::SessionId;
use crate::store::{Created, RateCharge, Record};

/// How many networks [`Hints`] remembers; past that it starts again (a guess is only a guess).
const MAX_HINTS: usize = 4096;

/// Each network's bucket as this process last saw it: a `tat` it knows the bucket reached.
#[derive(Default)]
pub struct Hints(Mutex<HashMap<String, u64>>);

impl Hints {
    /// Whether the bucket is likely in use at `now`.
    fn in_use(&self, network: &str, now: u64) -> bool {
        let hints = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        hints.get(network).is_some_and(|tat| *tat > now)
    }

    fn saw(&self, network: &str, tat: u64) {
        let mut hints = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if hints.len() >= MAX_HINTS {
            hints.clear();
        }
        hints.insert(network.to_owned(), tat);
    }
}

/// Which side of `now` the bucket is on: which of the two updates applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Idle,
    InUse,
}

/// The bucket's update for `side`, at `now`.
fn charge(side: Side, rule: &RateRule, now: u64) -> Expression {
    let (update, condition) = match side {
        Side::Idle => ("SET #tat = :next, #expires_at = :ttl", "attribute_not_exists(#tat) OR #tat <= :now"),
        Side::InUse => ("SET #tat = #tat + :interval, #expires_at = :ttl", "#tat > :now AND #tat <= :limit"),
    };
    let limit = now.saturating_add(rule.tolerance_ms);
    Expression::new(update, condition)
        .value(":now", number(now))
        .value(":next", number(now.saturating_add(rule.interval_ms)))
        .value(":interval", number(rule.interval_ms))
        .value(":limit", number(limit))
        // The bucket is full again, and may go, once its `tat` has passed: at most this.
        .value(":ttl", ttl(limit.saturating_add(rule.interval_ms)))
}

impl DynamoStore {
    /// Charges `rate`'s bucket and stores the session, or neither, in one transaction (two when
    /// the first guessed the bucket's side wrong).
    pub(super) async fn create_session(
        &self,
        id: &SessionId,
        items: ItemList,
        rate: &RateCharge,
    ) -> Result<Created, String> {
        let bucket = format!("rate#{}", rate.network);
        let mut side = if self.hints.in_use(&rate.network, now_ms()) { Side::InUse } else { Side::Idle };
        for _ in 0..3 {
            let now = now_ms();
            let record = Record::new(items.clone(), now);
            let session = items::session(&id.storage_key(), &record, &self.lifetimes);
            let writes = vec![
                self.update_in_transaction(&bucket, &charge(side, &rate.rule, now))?,
                self.put_in_transaction(session, &Expression::new("", "attribute_not_exists(#pk)"))?,
            ];
            let cancelled = match self.transact(writes).await? {
                Ok(()) => {
                    self.hints.saw(&rate.network, now.saturating_add(rate.rule.interval_ms));
                    return Ok(Created::Stored(record));
                }
                Err(cancelled) => cancelled,
            };
            let Some(found) = failed(&cancelled, 0).filter(|_| failed(&cancelled, 1).is_none()) else {
                return Err(format!("dynamodb create: cancelled ({cancelled:?})"));
            };
            match found.and_then(|bucket| get_number(bucket, "tat")) {
                Some(tat) if tat > now.saturating_add(rate.rule.tolerance_ms) => {
                    self.hints.saw(&rate.network, tat);
                    return Ok(Created::TooFast {
                        retry_after: retry_after(tat - rate.rule.tolerance_ms - now),
                    });
                }
                Some(tat) if tat > now => {
                    self.hints.saw(&rate.network, tat);
                    side = Side::InUse;
                }
                _ => side = Side::Idle,
            }
        }
        Err("dynamodb create: the rate bucket kept changing".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_side_is_one_half_of_gcra() {
        let (rule, now) = (RateRule::new(60, 3), 1_000_000);
        let idle = charge(Side::Idle, &rule, now);
        assert_eq!(idle.values().unwrap()[":next"], number(now + 1000));
        assert!(idle.condition.contains("#tat <= :now"));
        let in_use = charge(Side::InUse, &rule, now);
        assert_eq!(in_use.values().unwrap()[":limit"], number(now + 2000), "two intervals ahead");
        assert!(in_use.update.contains("#tat + :interval"));
        let hints = Hints::default();
        assert!(!hints.in_use("net", now));
        hints.saw("net", now + 1);
        assert!(hints.in_use("net", now) && !hints.in_use("net", now + 1));
    }
}
