//! Private-cookie revocation epochs in DynamoDB, and a change feed that polls.
//!
//! - **Where:** 16 items, `epochs#0` to `epochs#15`; a family's epoch is the attribute
//!   `f<family>` (`{e: epoch, u: forget after, Unix ms}`) of the one its SHA-256 picks. Few,
//!   fixed items, so reloading every epoch is one `BatchGetItem` of 16 keys, never a scan of the
//!   sessions; 16 of them so that one item's 400 KB limit holds about 120,000 families (each
//!   signed out within `session_max_lifetime`). The app's purge removes expired entries.
//! - **A raise** is one `TransactWriteItems`: the family's entry, on the condition that it does
//!   not lower an epoch still kept, and `ADD v 1` on `epochs#changes`. (A lower raise keeps the
//!   epoch and moves its time: a second transaction.)
//! - **The feed:** DynamoDB has no pub/sub an app can hold open (its Streams are read by a
//!   Lambda trigger, not by every running instance), so each instance reads `epochs#changes`
//!   every [`POLL_EVERY`] and, when `v` has moved, reloads the 16 items and announces what
//!   changed. A sign-out reaches every running instance within that plus two requests. A poll
//!   that fails ends the feed: the copy then asks the table on each read until it has
//!   subscribed and reloaded again ([`crate::store::revocation::copy`]), and after a freeze (a
//!   Lambda instance between invocations) the copy's own heartbeat reloads before trusting
//!   itself again, as with every store.
//! - **Cost:** per instance, 4 strongly consistent reads of one small item a second (the
//!   poll), and 16 a reload (every 5 s as the copy's backstop, and after each change); nothing
//!   per request while the feed is live. A frozen Lambda instance polls nothing.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use rocket::tokio::sync::mpsc;
use sha2::{Digest, Sha256};

use super::items::{self, get_number, number, text, Expression, Item};
use super::requests::{failed, failure, Answer};
use super::DynamoStore;
use crate::clock::{self, now_ms};
use crate::store::revocation::FEED_BUFFER;
use crate::store::{bounded, Change, Feed, RevocationStore, StoreError};

/// The item every raise counts in, and every instance polls.
pub const CHANGES: &str = "epochs#changes";
const SHARDS: u8 = 16;
/// How often each instance reads [`CHANGES`].
pub const POLL_EVERY: Duration = Duration::from_millis(250);

/// The item that holds `family`'s epoch.
fn shard(family: &str) -> String {
    format!("epochs#{}", Sha256::digest(family.as_bytes())[0] % SHARDS)
}

/// Every family's entry in a shard item: family -> (epoch, until).
fn entries(item: &Item) -> impl Iterator<Item = Change> + '_ {
    item.iter().filter_map(|(name, value)| {
        let family = name.strip_prefix('f')?.to_owned();
        let entry = value.as_m().ok()?;
        Some(Change { family, epoch: get_number(entry, "e")?, until_ms: get_number(entry, "u")? })
    })
}

impl DynamoStore {
    /// The raise of `family` to `epoch` until `until`, and the count of changes.
    async fn write_raise(
        &self,
        family: &str,
        epoch: u64,
        until: u64,
        lower: Option<u64>,
    ) -> Result<Answer, String> {
        let now = now_ms();
        let entry = AttributeValue::M(items::of([("e", number(epoch)), ("u", number(until))]));
        let raise = match lower {
            // Never lower an epoch still kept; an expired one is simply replaced.
            None => Expression::new(
                "SET #f = :entry",
                "attribute_not_exists(#f) OR #f.e <= :epoch OR #f.u <= :now",
            ),
            // The epoch kept is higher: keep it, and move its time, if it is still that one.
            Some(_) => Expression::new("SET #f.u = :until", "#f.e = :epoch"),
        };
        let raise = raise.value(":entry", entry).value(":epoch", number(lower.unwrap_or(epoch)));
        let raise = raise.value(":now", number(now)).value(":until", number(until));
        let writes = vec![
            self.update_in_transaction(&shard(family), &raise.name("#f".into(), format!("f{family}")))?,
            self.update_in_transaction(
                CHANGES,
                &Expression::new("ADD #v :one", "").value(":one", number(1)),
            )?,
        ];
        Ok(match self.transact(writes).await? {
            Ok(()) => Answer::Applied(Item::new()),
            Err(cancelled) => Answer::Refused(failed(&cancelled, 0).flatten().cloned()),
        })
    }

    async fn raise_epoch(&self, family: &str, epoch: u64, ttl: Duration) -> Result<Change, String> {
        let until = now_ms().saturating_add(clock::millis(ttl));
        let mut lower = None;
        for _ in 0..3 {
            let kept = match self.write_raise(family, epoch, until, lower).await? {
                Answer::Applied(_) => {
                    return Ok(Change {
                        family: family.into(),
                        epoch: lower.unwrap_or(epoch),
                        until_ms: until,
                    })
                }
                Answer::Refused(Some(shard)) => entries(&shard).find(|c| c.family == family),
                Answer::Refused(None) => None,
            };
            // Refused: a higher epoch is kept (or it changed meanwhile): try again with what is kept.
            lower = kept.map(|c| c.epoch).filter(|kept| *kept > epoch);
        }
        Err("dynamodb raise: the epoch kept changing".into())
    }

    /// Every epoch the 16 items hold, expired or not, read consistently in one request (more
    /// only if DynamoDB hands some keys back unprocessed).
    async fn entries(&self) -> Result<Vec<Change>, String> {
        let keys: Vec<Item> = (0..SHARDS).map(|n| items::of([("pk", text(format!("epochs#{n}")))])).collect();
        let all_keys = KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build();
        let (mut wanted, mut all) = (Some(all_keys.map_err(|e| e.to_string())?), Vec::new());
        while let Some(keys) = wanted.take() {
            let request = self.client().await?.batch_get_item().request_items(self.table(), keys);
            let output = request.send().await.map_err(failure)?;
            for item in output.responses.unwrap_or_default().remove(self.table()).unwrap_or_default() {
                all.extend(entries(&item));
            }
            wanted = output.unprocessed_keys.unwrap_or_default().remove(self.table());
        }
        Ok(all)
    }

    /// Every epoch still kept.
    async fn all_epochs(&self) -> Result<Vec<Change>, String> {
        let now = now_ms();
        Ok(self.entries().await?.into_iter().filter(|c| c.until_ms > now).collect())
    }

    /// How many raises there have been.
    async fn changes(&self) -> Result<u64, String> {
        Ok(self.get_item(CHANGES).await?.and_then(|item| get_number(&item, "v")).unwrap_or(0))
    }

    /// Removes the expired entries of each shard, on the condition that they are still expired.
    async fn purge_epochs(&self) -> Result<usize, String> {
        let now = now_ms();
        let mut by_shard: HashMap<String, Vec<String>> = HashMap::new();
        for change in self.entries().await?.into_iter().filter(|c| c.until_ms <= now) {
            by_shard.entry(shard(&change.family)).or_default().push(change.family);
        }
        let mut removed = 0;
        for (key, families) in by_shard {
            // An expression holds at most 4 KB: a few dozen entries at a time.
            for chunk in families.chunks(40) {
                let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("#f{i}")).collect();
                let gone: Vec<String> = placeholders.iter().map(|p| format!("{p}.u <= :now")).collect();
                let mut remove =
                    Expression::new(format!("REMOVE {}", placeholders.join(", ")), gone.join(" AND "));
                for (placeholder, family) in placeholders.into_iter().zip(chunk) {
                    remove = remove.name(placeholder, format!("f{family}"));
                }
                // Refused: one was raised again meanwhile; the next purge tries again.
                if let Answer::Applied(_) = self.update_item(&key, &remove.value(":now", number(now))).await?
                {
                    removed += chunk.len();
                }
            }
        }
        Ok(removed)
    }

    /// A second handle on this store's table, with the same client, for a task of its own.
    async fn handle(&self) -> Result<DynamoStore, String> {
        let client = rocket::tokio::sync::OnceCell::new_with(Some(self.client().await?.clone()));
        let (setting, lifetimes) = (self.setting.clone(), self.lifetimes);
        let (hints, counted, made) = (Default::default(), Default::default(), Default::default());
        Ok(DynamoStore { setting, lifetimes, client, hints, counted, made })
    }
}

/// Reads [`CHANGES`] every [`POLL_EVERY`] and, when it has moved past `seen`, reloads every
/// epoch and announces each that differs from `known`. Ends, closing the feed, when a read
/// fails (the copy then subscribes and reloads again) or nobody listens any more.
async fn poll(store: DynamoStore, mut seen: u64, known: Vec<Change>, sender: mpsc::Sender<Change>) {
    let mut known: HashMap<String, (u64, u64)> =
        known.into_iter().map(|c| (c.family, (c.epoch, c.until_ms))).collect();
    let mut ticks = rocket::tokio::time::interval(POLL_EVERY);
    ticks.set_missed_tick_behavior(rocket::tokio::time::MissedTickBehavior::Delay);
    loop {
        rocket::tokio::select! {
            _ = sender.closed() => return,
            _ = ticks.tick() => {}
        }
        let Ok(now_seen) = bounded("dynamodb", "poll cookie epochs", store.changes()).await else { return };
        if now_seen == seen {
            continue;
        }
        let Ok(all) = bounded("dynamodb", "reload cookie epochs", store.all_epochs()).await else { return };
        seen = now_seen;
        let fresh: HashMap<String, (u64, u64)> =
            all.into_iter().map(|c| (c.family, (c.epoch, c.until_ms))).collect();
        for (family, &(epoch, until_ms)) in &fresh {
            if known.get(family) != Some(&(epoch, until_ms)) {
                let change = Change { family: family.clone(), epoch, until_ms };
                if sender.send(change).await.is_err() {
                    return;
                }
            }
        }
        known = fresh;
    }
}

#[rocket::async_trait]
impl RevocationStore for DynamoStore {
    async fn epoch(&self, family: &str) -> Result<u64, StoreError> {
        let item = bounded("dynamodb", "cookie epoch", self.get_item(&shard(family))).await?;
        let kept = item.iter().flat_map(entries).find(|c| c.family == family && c.until_ms > now_ms());
        Ok(kept.map_or(0, |c| c.epoch))
    }

    async fn raise(&self, family: &str, epoch: u64, ttl: Duration) -> Result<Change, StoreError> {
        bounded("dynamodb", "raise cookie epoch", self.raise_epoch(family, epoch, ttl)).await
    }

    async fn all(&self) -> Result<Vec<Change>, StoreError> {
        bounded("dynamodb", "all cookie epochs", self.all_epochs()).await
    }

    async fn subscribe(&self) -> Result<Feed, StoreError> {
        // The count first: a raise between the two reads is in `all` or moves the count.
        let (handle, seen, all) = bounded("dynamodb", "subscribe", async {
            let seen = self.changes().await?;
            Ok::<_, String>((self.handle().await?, seen, self.all_epochs().await?))
        })
        .await?;
        let (sender, feed) = mpsc::channel(FEED_BUFFER);
        rocket::tokio::spawn(poll(handle, seen, all, sender));
        Ok(feed)
    }

    async fn purge_expired(&self) -> Result<usize, StoreError> {
        bounded("dynamodb", "purge cookie epochs", self.purge_epochs()).await
    }
}
