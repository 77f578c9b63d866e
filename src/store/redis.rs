//! Sessions in Redis: the usual home for them in a real deployment.
//!
//! - **Where the data lives:** one Redis hash per session, under `session:<sha256(id) hex>`,
//!   with the fields `items` (the list as JSON), `created_ms`, `seen_ms` and `version`.
//!   Redis keeps it in memory (and on disk if it is configured to persist).
//! - **How long it lasts:** each key carries a TTL (`PEXPIREAT`) set to the earlier of the
//!   idle and absolute deadlines, moved on every visit; Redis deletes the key when it runs
//!   out, so there is nothing to purge. It survives an app restart, and every instance that
//!   points at the same Redis sees the same sessions.
//! - **Who can read it:** anyone with access to Redis sees the lists, but not the ids: a key
//!   is a hash, so a dump cannot be replayed as cookies. Private-cookie revocation epochs
//!   live beside them under `cookie-epoch:session:<family>`, with a TTL of their own.
//! - **What it costs:** one or two round trips per request over one multiplexed connection.
//! - **How it fails:** the connection is made lazily and remade after a drop (the `redis`
//!   crate's `ConnectionManager`), so the app starts while Redis is down and recovers when it
//!   comes back; meanwhile each call fails within [`super::TIMEOUT`] and visitors get a 503.
//!
//! **No lost updates:** `update` reads the record and its `version`, applies the operation in
//! Rust (where the list rules live) and writes back with a Lua script that succeeds only if
//! the version is unchanged; on a conflict it reads again and retries. Lua scripts run
//! atomically in Redis, so the check and the write cannot be split by another request.
//! Writers in one process also take turns per session (`WriteTurns` in the store module), so
//! conflicts, and retries, come only from other instances.

use std::collections::HashSet;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script};

use super::{bounded, Record, SessionStore, StoreError, Updated, WriteTurns};
use crate::clock::{self, now_ms};
use crate::config::Lifetimes;
use crate::item::{ItemList, Op};
use crate::session_id::SessionId;

/// Key prefix in production; tests give each store its own so they cannot see each other.
pub const DEFAULT_PREFIX: &str = "session:";

/// Shared by the scripts: if `key` holds a live session, record the visit (`seen_ms`, TTL)
/// and return its deadline; otherwise delete any remains and return nil.
/// ARGV[1..3] are now, idle and max in milliseconds.
const TOUCH: &str = r"
local function touch(key)
  local created = tonumber(redis.call('HGET', key, 'created_ms'))
  if not created then return nil end
  local now = tonumber(ARGV[1])
  local expires = math.min(now + tonumber(ARGV[2]), created + tonumber(ARGV[3]))
  if expires <= now then redis.call('DEL', key) return nil end
  redis.call('HSET', key, 'seen_ms', ARGV[1])
  redis.call('PEXPIREAT', key, string.format('%.0f', expires))
  return expires
end
";
const LOAD: &str = "if not touch(KEYS[1]) then return false end
return redis.call('HMGET', KEYS[1], 'items', 'created_ms', 'seen_ms', 'version')";
/// ARGV[4] is the version the caller read, ARGV[5] the new list. -1: gone, 0: conflict.
const WRITE_IF_UNCHANGED: &str = "if not touch(KEYS[1]) then return -1 end
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[4] then return 0 end
redis.call('HSET', KEYS[1], 'items', ARGV[5])
redis.call('HINCRBY', KEYS[1], 'version', 1)
return 1";
/// ARGV[1] the epoch, ARGV[2] the TTL in ms: raise, never lower.
const RAISE_EPOCH: &str = "local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1";
/// RENAME keeps the TTL and is atomic: the old key is gone the moment the new one exists.
const ROTATE: &str = "if not touch(KEYS[1]) then return 0 end
redis.call('RENAME', KEYS[1], KEYS[2])
return 1";

pub struct RedisStore {
    lifetimes: Lifetimes,
    prefix: String,
    connection: ConnectionManager,
    load: Script,
    write: Script,
    rotate: Script,
    raise_epoch: Script,
    turns: WriteTurns,
}

/// A stored record as read: the fields of the hash, before parsing.
type Raw = Option<(String, u64, u64, String)>;

impl RedisStore {
    /// A store for the Redis at `url`, under [`DEFAULT_PREFIX`]. Does not connect yet.
    pub fn new(url: &str, lifetimes: Lifetimes) -> Result<RedisStore, String> {
        RedisStore::with_prefix(url, lifetimes, DEFAULT_PREFIX)
    }

    pub fn with_prefix(url: &str, lifetimes: Lifetimes, prefix: &str) -> Result<RedisStore, String> {
        // The error text never includes the URL, which may carry a password.
        let client = redis::Client::open(url)
            .map_err(|e| format!("`session_store` is not a usable Redis URL: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(super::TIMEOUT))
            // Give up on a reconnection quickly; the next request starts another one.
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| format!("could not set up the Redis connection: {e}"))?;
        let script = |body: &str| Script::new(&format!("{TOUCH}{body}"));
        Ok(RedisStore {
            lifetimes,
            prefix: prefix.to_owned(),
            connection,
            load: script(LOAD),
            write: script(WRITE_IF_UNCHANGED),
            rotate: script(ROTATE),
            raise_epoch: Script::new(RAISE_EPOCH),
            turns: WriteTurns::new(),
        })
    }

    /// The Redis key of a session: the prefix and the hex SHA-256 of its id.
    pub fn key(&self, id: &SessionId) -> String {
        format!("{}{}", self.prefix, id.storage_key())
    }

    /// Where a private-cookie family's epoch lives: outside the sessions' prefix, so that
    /// `count` does not see it: `cookie-epoch:session:<family>`.
    fn epoch_key(&self, family: &str) -> String {
        format!("cookie-epoch:{}{family}", self.prefix)
    }

    /// now, idle and max: the arguments every script starts with.
    fn clock_args(&self) -> [u64; 3] {
        [now_ms(), clock::millis(self.lifetimes.idle), clock::millis(self.lifetimes.max)]
    }

    /// Loads (and touches) the record under `key`, with its version.
    async fn read(&self, key: &str) -> Result<Option<(Record, String)>, RedisError> {
        let raw: Raw =
            self.load.key(key).arg(&self.clock_args()[..]).invoke_async(&mut self.connection.clone()).await?;
        let Some((items, created_ms, seen_ms, version)) = raw else { return Ok(None) };
        let items: ItemList = serde_json::from_str(&items).map_err(|e| unreadable(&e))?;
        Ok(Some((Record { items, created_ms, seen_ms }, version)))
    }

    /// One optimistic attempt at `update`: `None` if another write got in first.
    async fn try_update(&self, key: &str, op: &Op) -> Result<Option<Updated>, RedisError> {
        let Some((mut record, version)) = self.read(key).await? else { return Ok(Some(Updated::Missing)) };
        if let Err(refused) = record.items.apply(op) {
            return Ok(Some(Updated::Refused(refused)));
        }
        let items = serde_json::to_string(&record.items).map_err(|e| unreadable(&e))?;
        let [now, idle, max] = self.clock_args();
        let written: i64 = self
            .write
            .key(key)
            .arg(now)
            .arg(idle)
            .arg(max)
            .arg(version)
            .arg(items)
            .invoke_async(&mut self.connection.clone())
            .await?;
        record.seen_ms = now;
        Ok(match written {
            1 => Some(Updated::Applied(record)),
            0 => None,
            _ => Some(Updated::Missing),
        })
    }
}

fn unreadable(error: &serde_json::Error) -> RedisError {
    RedisError::from((redis::ErrorKind::Parse, "stored session is unreadable", error.to_string()))
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

    async fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        bounded("redis", "load", self.read(&self.key(id))).await.map(|found| found.map(|(record, _)| record))
    }

    async fn create(&self, id: &SessionId, items: ItemList) -> Result<Record, StoreError> {
        let record = Record::new(items, now_ms());
        let items = serde_json::to_string(&record.items).map_err(|e| StoreError(e.to_string()))?;
        let fields = [("items", items), ("created_ms", record.created_ms.to_string())];
        let key = self.key(id);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset_multiple(&key, &fields)
            .hset(&key, "seen_ms", record.seen_ms)
            .hset(&key, "version", 0)
            .pexpire_at(&key, record.expires_ms(&self.lifetimes) as i64);
        bounded("redis", "create", pipe.exec_async(&mut self.connection.clone())).await?;
        Ok(record)
    }

    async fn update(&self, id: &SessionId, op: &Op) -> Result<Updated, StoreError> {
        let key = self.key(id);
        bounded("redis", "update", async {
            let _turn = self.turns.wait(id).await;
            for _ in 0..super::MAX_ATTEMPTS {
                if let Some(outcome) = self.try_update(&key, op).await? {
                    return Ok(outcome);
                }
                rocket::tokio::task::yield_now().await;
            }
            Err(RedisError::from((redis::ErrorKind::Client, "too many concurrent writes to one session")))
        })
        .await
    }

    async fn rotate(&self, old: &SessionId, new: &SessionId) -> Result<bool, StoreError> {
        let mut call = self.rotate.key(self.key(old));
        call.key(self.key(new)).arg(&self.clock_args()[..]);
        let mut connection = self.connection.clone();
        let moved: i64 = bounded("redis", "rotate", call.invoke_async(&mut connection)).await?;
        Ok(moved == 1)
    }

    async fn destroy(&self, id: &SessionId) -> Result<bool, StoreError> {
        // An expired key is already gone (Redis checks the TTL on access), so DEL counts
        // only live sessions.
        let (mut del, mut connection) = (redis::cmd("DEL"), self.connection.clone());
        del.arg(self.key(id));
        Ok(bounded("redis", "destroy", del.query_async::<u64>(&mut connection)).await? == 1)
    }

    async fn purge_expired(&self) -> Result<usize, StoreError> {
        Ok(0) // Redis deletes expired keys itself
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

    async fn cookie_epoch(&self, family: &str) -> Result<u64, StoreError> {
        let (mut get, mut connection) = (redis::cmd("GET"), self.connection.clone());
        get.arg(self.epoch_key(family));
        let epoch: Option<u64> = bounded("redis", "cookie epoch", get.query_async(&mut connection)).await?;
        Ok(epoch.unwrap_or(0))
    }

    async fn raise_cookie_epoch(&self, family: &str, epoch: u64, ttl: Duration) -> Result<(), StoreError> {
        let mut call = self.raise_epoch.key(self.epoch_key(family));
        call.arg(epoch).arg(clock::millis(ttl).max(1));
        let mut connection = self.connection.clone();
        bounded("redis", "raise cookie epoch", call.invoke_async::<i64>(&mut connection)).await.map(drop)
    }
}
