//! Sessions in Redis: the usual home for them in a real deployment.
//!
//! - **Where the data lives:** one Redis hash per session, under `session:<sha256(id) hex>`,
//!   with the fields `items` (the list as JSON), `created_ms` and `seen_ms`; beside them the
//!   forwards of rotated-away ids and each network's rate bucket ([`scripts`] has the layout).
//!   Redis keeps it in memory (and on disk if it is configured to persist).
//! - **How long it lasts:** each key carries a TTL (`PEXPIREAT`) set to the session's
//!   deadline ([`Lifetimes::deadline_ms`]), moved when a visit is recorded; Redis deletes the
//!   key when it runs out, so there is nothing to purge. It survives an app restart, and every
//!   instance that points at the same Redis sees the same sessions and the same buckets.
//! - **Who can read it:** anyone with access to Redis sees the lists, but not the ids: a key
//!   is a hash, so a dump cannot be replayed as cookies. Private-cookie revocation epochs
//!   live beside them ([`revocation`]).
//! - **What it costs:** one round trip per operation: each is a Lua script ([`scripts`]),
//!   run by its SHA (`EVALSHA`) over one multiplexed connection. A read writes only when the
//!   last recorded visit is older than [`Lifetimes::refresh_after`].
//! - **How it fails:** the connection is made lazily and remade after a drop (the `redis`
//!   crate's `ConnectionManager`), so the app starts while Redis is down and recovers when it
//!   comes back; meanwhile each call fails within [`super::TIMEOUT`] and visitors get a 503.
//!
//! **No lost updates:** `update` sends the operation, not a new list: the script checks that
//! the session is live and that the list rule allows the operation ([`Op::allowed`]'s two
//! comparisons, with the item cap passed in), applies it and records the visit, and Redis runs
//! no other command in between. Two requests racing on one session are applied one after the
//! other.

mod connect;
pub mod revocation;
pub mod scripts;

pub use self::connect::{split_prefix, DEFAULT_PREFIX};

use std::collections::HashSet;

use redis::aio::ConnectionManager;
use redis::RedisError;

use super::{bounded, Created, RateCharge, Reached, Record, Rotated, SessionStore, StoreError, Updated};
use crate::clock::{self, now_ms};
use crate::config::Lifetimes;
use crate::item::{ItemList, Op, MAX_ITEMS};
use crate::session_id::SessionId;

pub struct RedisStore {
    lifetimes: Lifetimes,
    prefix: String,
    /// For the change feed of revocation epochs, which needs a connection of its own.
    client: redis::Client,
    connection: ConnectionManager,
    scripts: scripts::Scripts,
    revocation: revocation::Scripts,
}

/// A record as the load and update scripts return it: items, created, seen, and the seal of
/// the successor's id when it was reached through a forward.
type Found = (String, u64, u64, Option<String>);

impl RedisStore {
    /// The Redis key of a session: the prefix and the hex SHA-256 of its id.
    fn key(&self, id: &SessionId) -> String {
        format!("{}{}", self.prefix, id.storage_key())
    }

    /// Where the forward of a rotated-away `id` is kept.
    fn forward_key(&self, id: &SessionId) -> String {
        format!("forward:{}{}", self.prefix, id.storage_key())
    }

    /// Runs a script that finds a session (`KEYS`: its key and forward; `ARGV`: the prefix,
    /// now, refresh-after, idle and max, then `more`).
    async fn find<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        id: &SessionId,
        now: u64,
        more: &[String],
    ) -> Result<T, RedisError> {
        let mut call = script.key(self.key(id));
        call.key(self.forward_key(id)).arg(&self.prefix).arg(now);
        call.arg(clock::millis(self.lifetimes.refresh_after()));
        call.arg(clock::millis(self.lifetimes.idle)).arg(clock::millis(self.lifetimes.max));
        call.arg(more).invoke_async(&mut self.connection.clone()).await
    }

    /// The record a script found, if it is live (the check in Rust covers clocks that differ
    /// between instances), with the successor's id when it was reached through a forward.
    fn reached(
        &self,
        id: &SessionId,
        (items, created_ms, seen_ms, sealed): Found,
    ) -> Option<Reached<Record>> {
        let items: ItemList = serde_json::from_str(&items).ok()?;
        let record = Record { items, created_ms, seen_ms };
        if !record.is_live(&self.lifetimes, now_ms()) {
            return None;
        }
        let moved_to = match sealed {
            None => None,
            Some(sealed) => Some(successor(id, &sealed)?),
        };
        Some(Reached { value: record, moved_to })
    }
}

/// The successor a forward's `sealed` field names (`<seal> <its storage key>`); one that does
/// not open (never written by this app) makes the forward lead nowhere.
fn successor(id: &SessionId, sealed: &str) -> Option<SessionId> {
    let (seal, to) = sealed.split_once(' ')?;
    id.open_successor(seal, to)
}

fn unreadable(what: &str) -> StoreError {
    StoreError(format!("redis {what}: the stored session is unreadable"))
}

#[rocket::async_trait]
impl SessionStore for RedisStore {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        bounded("redis", "ping", redis::cmd("PING").query_async::<String>(&mut connection)).await.map(drop)
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Reached<Record>>, StoreError> {
        let found: Option<Found> =
            bounded("redis", "load", self.find(&self.scripts.load, id, now_ms(), &[])).await?;
        Ok(found.and_then(|found| self.reached(id, found)))
    }

    async fn create(
        &self,
        id: &SessionId,
        items: ItemList,
        rate: &RateCharge,
    ) -> Result<Created, StoreError> {
        let record = Record::new(items, now_ms());
        let items = serde_json::to_string(&record.items).map_err(|e| StoreError(e.to_string()))?;
        let mut call = self.scripts.create.key(self.key(id));
        call.key(format!("rate:{}{}", self.prefix, rate.network));
        call.arg(items).arg(record.created_ms).arg(record.expires_ms(&self.lifetimes));
        call.arg(rate.rule.interval_ms).arg(rate.rule.tolerance_ms);
        let mut connection = self.connection.clone();
        let wait_ms: u64 = bounded("redis", "create", call.invoke_async(&mut connection)).await?;
        Ok(match wait_ms {
            0 => Created::Stored(record),
            wait_ms => Created::TooFast { retry_after: crate::admission::rate::retry_after(wait_ms) },
        })
    }

    async fn update(&self, id: &SessionId, op: &Op) -> Result<Option<Reached<Updated>>, StoreError> {
        let (name, arg) = match op {
            Op::Add(item) => ("add", item.as_str().to_owned()),
            Op::Remove(index) => ("remove", index.to_string()),
            Op::Clear => ("clear", String::new()),
        };
        let more = [name.to_owned(), arg, MAX_ITEMS.to_string()];
        type Outcome = Option<(u8, String, u64, u64, Option<String>, usize)>;
        let outcome: Outcome =
            bounded("redis", "update", self.find(&self.scripts.update, id, now_ms(), &more)).await?;
        let Some((applied, items, created, seen, sealed, len)) = outcome else { return Ok(None) };
        let Some(reached) = self.reached(id, (items, created, seen, sealed)) else {
            return Err(unreadable("update"));
        };
        let value = match applied {
            1 => Ok(reached.value),
            // The script refused: say which rule, as the list itself would have.
            _ => Err(op.allowed(len).err().ok_or_else(|| unreadable("update"))?),
        };
        Ok(Some(Reached { value, moved_to: reached.moved_to }))
    }

    async fn rotate(&self, old: &SessionId, new: &SessionId) -> Result<Rotated, StoreError> {
        let mut call = self.scripts.rotate.key(self.key(old));
        call.key(self.forward_key(old)).key(self.key(new));
        // The seal carries the successor's storage key too, so the holder can check it.
        let sealed = format!("{} {}", old.seal_successor(new), new.storage_key());
        call.arg(&self.prefix).arg(new.storage_key()).arg(sealed);
        call.arg(clock::millis(self.lifetimes.rotation_grace).max(1));
        let mut connection = self.connection.clone();
        let reply: (u8, Option<String>, Option<String>) =
            bounded("redis", "rotate", call.invoke_async(&mut connection)).await?;
        Ok(match reply {
            (1, _, _) => Rotated::Moved,
            (2, _, Some(sealed)) => successor(old, &sealed).map_or(Rotated::Missing, Rotated::Already),
            _ => Rotated::Missing,
        })
    }

    async fn destroy(&self, id: &SessionId) -> Result<bool, StoreError> {
        let mut call = self.scripts.destroy.key(self.key(id));
        call.key(self.forward_key(id)).arg(&self.prefix);
        let mut connection = self.connection.clone();
        Ok(bounded("redis", "destroy", call.invoke_async::<u64>(&mut connection)).await? > 0)
    }

    async fn purge_expired(&self) -> Result<usize, StoreError> {
        Ok(0) // Redis deletes expired keys itself: sessions, forwards and buckets alike
    }

    async fn count(&self) -> Result<usize, StoreError> {
        // SCAN in batches rather than KEYS, which would block Redis for every other client.
        // SCAN may return a key twice, hence the set; it skips keys whose TTL has passed.
        let pattern = format!("{}*", self.prefix);
        bounded("redis", "count", async {
            let (mut cursor, mut keys) = (0u64, HashSet::new());
            loop {
                let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut self.connection.clone())
                    .await?;
                keys.extend(batch);
                if next == 0 {
                    return Ok::<_, RedisError>(keys.len());
                }
                cursor = next;
            }
        })
        .await
    }
}
