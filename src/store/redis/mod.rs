//! Sessions in Redis: the usual home for them in a real deployment.
//!
//! - **Where the data lives:** one Redis hash per session, under `session:<sha256(id) hex>`,
//!   with the fields `items` (the list as JSON), `created_ms`, `seen_ms` and `version`.
//!   Redis keeps it in memory (and on disk if it is configured to persist).
//! - **How long it lasts:** each key carries a TTL (`PEXPIREAT`) set to the session's
//!   deadline ([`Lifetimes::deadline_ms`]), moved when a visit is recorded; Redis deletes the
//!   key when it runs out, so there is nothing to purge. It survives an app restart, and every
//!   instance that points at the same Redis sees the same sessions.
//! - **Who can read it:** anyone with access to Redis sees the lists, but not the ids: a key
//!   is a hash, so a dump cannot be replayed as cookies. Private-cookie revocation epochs
//!   live beside them ([`revocation`]).
//! - **What it costs:** a read is one plain `HMGET`; only when the last recorded visit is
//!   older than [`Lifetimes::refresh_after`] does a second call (a small script) move the
//!   idle deadline. A write is a read plus one script. All over one multiplexed connection.
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

pub mod revocation;

use std::collections::HashSet;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, RedisError, Script, TlsCertificates};

use super::tls::RootCa;
use super::{bounded, Record, SessionStore, StoreError, Updated, WriteTurns};
use crate::clock::{self, now_ms};
use crate::config::Lifetimes;
use crate::item::{ItemList, Op};
use crate::session_id::SessionId;

/// Key prefix in production; tests give each store its own so they cannot see each other.
pub const DEFAULT_PREFIX: &str = "session:";

/// Records a visit: `seen_ms` = ARGV[1] and the TTL moved to ARGV[2] (the new deadline), if
/// the session still exists. 1 if it did.
const TOUCH: &str = "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'seen_ms', ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1";
/// ARGV[1] is the version the caller read, ARGV[2] the new list, ARGV[3] now and ARGV[4] the
/// new deadline. -1: gone, 0: conflict, 1: written (and the visit recorded).
const WRITE_IF_UNCHANGED: &str = "local version = redis.call('HGET', KEYS[1], 'version')
if not version then return -1 end
if version ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'items', ARGV[2], 'seen_ms', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return 1";
/// RENAME keeps the TTL and is atomic: the old key is gone the moment the new one exists.
const ROTATE: &str = "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RENAME', KEYS[1], KEYS[2])
return 1";

const NOT_TLS: &str = "`session_store_ca` is set, but the Redis URL is `redis://`, which has no \
TLS to verify: use `rediss://`";

pub struct RedisStore {
    lifetimes: Lifetimes,
    prefix: String,
    /// For the change feed of revocation epochs, which needs a connection of its own.
    client: redis::Client,
    connection: ConnectionManager,
    touch: Script,
    write: Script,
    rotate: Script,
    epochs: revocation::Scripts,
    turns: WriteTurns,
}

/// The fields of a record's hash that a read needs, and with the version that a write checks.
/// A session's hash is created with all four at once (`create`), so one present means all.
const RECORD: [&str; 3] = ["items", "created_ms", "seen_ms"];
const VERSIONED: [&str; 4] = ["items", "created_ms", "seen_ms", "version"];
/// The fields of [`VERSIONED`] as read, before parsing (all `None`: no such key).
type Versioned = (Option<String>, Option<u64>, Option<u64>, Option<String>);

impl RedisStore {
    /// A store for the Redis at `url`, its keys under `prefix` ([`DEFAULT_PREFIX`] for the
    /// app). Does not connect yet. With `ca`, the server's certificate must be signed by that authority (`rediss://` only).
    pub fn with_options(
        url: &str,
        lifetimes: Lifetimes,
        prefix: &str,
        ca: Option<&RootCa>,
    ) -> Result<RedisStore, String> {
        // The error text never includes the URL, which may carry a password.
        let client = match ca {
            None => redis::Client::open(url),
            Some(_) if !url.starts_with("rediss://") => return Err(NOT_TLS.into()),
            Some(ca) => {
                let roots = TlsCertificates { client_tls: None, root_cert: Some(ca.pem().to_vec()) };
                redis::Client::build_with_tls(url, roots)
            }
        }
        .map_err(|e| format!("`session_store` is not a usable Redis URL: {e}"))?;
        // No response timeout of the connection's own: every call already runs under
        // `bounded` (the same TIMEOUT), and a second timer per call cost instructions on
        // every read for nothing. A timeout does not make the manager reconnect either way
        // (only a dropped connection does), so nothing else depends on it.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(None)
            // Give up on a reconnection quickly; the next request starts another one.
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| format!("could not set up the Redis connection: {e}"))?;
        Ok(RedisStore {
            lifetimes,
            prefix: prefix.to_owned(),
            client,
            connection,
            touch: Script::new(TOUCH),
            write: Script::new(WRITE_IF_UNCHANGED),
            rotate: Script::new(ROTATE),
            epochs: revocation::Scripts::new(),
            turns: WriteTurns::new(),
        })
    }

    /// The Redis key of a session: the prefix and the hex SHA-256 of its id.
    fn key(&self, id: &SessionId) -> String {
        format!("{}{}", self.prefix, id.storage_key())
    }

    /// `HMGET key fields...`, in one plain round trip.
    async fn hmget<T: FromRedisValue>(&self, key: &str, fields: &[&str]) -> Result<T, RedisError> {
        // Sized for the whole command up front: growing it argument by argument reallocated.
        let mut get = redis::Cmd::with_capacity(2 + fields.len(), 48 + key.len());
        get.arg("HMGET").arg(key).arg(fields);
        get.query_async(&mut self.connection.clone()).await
    }

    /// Reads the record under `key`, in one plain round trip. A key that exists is live (its
    /// TTL is its deadline); the check in Rust covers clocks that differ between instances.
    async fn read(&self, key: &str) -> Result<Option<Record>, RedisError> {
        let (items, created_ms, seen_ms): (Option<String>, Option<u64>, Option<u64>) =
            self.hmget(key, &RECORD).await?;
        self.live(items, created_ms, seen_ms)
    }

    /// [`Self::read`], with the version a write must find unchanged. Only writers ask for
    /// it: every field of a reply costs parsing on both sides, so a plain read leaves it out.
    async fn read_versioned(&self, key: &str) -> Result<Option<(Record, String)>, RedisError> {
        let (items, created_ms, seen_ms, version): Versioned = self.hmget(key, &VERSIONED).await?;
        let Some(version) = version else { return Ok(None) };
        Ok(self.live(items, created_ms, seen_ms)?.map(|record| (record, version)))
    }

    /// The record from the fields of its hash, if they are all there and it is live.
    fn live(
        &self,
        items: Option<String>,
        created_ms: Option<u64>,
        seen_ms: Option<u64>,
    ) -> Result<Option<Record>, RedisError> {
        let (Some(items), Some(created_ms), Some(seen_ms)) = (items, created_ms, seen_ms) else {
            return Ok(None);
        };
        let items: ItemList = serde_json::from_str(&items).map_err(|e| unreadable(&e))?;
        let record = Record { items, created_ms, seen_ms };
        Ok(record.is_live(&self.lifetimes, now_ms()).then_some(record))
    }

    /// Records a visit to `record` if its last one is older than [`Lifetimes::refresh_after`]
    /// (the rule every store follows): most reads write nothing. `None` if it has just gone.
    async fn touch_if_stale(&self, key: &str, mut record: Record) -> Result<Option<Record>, RedisError> {
        let now = now_ms();
        if now.saturating_sub(record.seen_ms) < clock::millis(self.lifetimes.refresh_after()) {
            return Ok(Some(record));
        }
        let deadline = self.lifetimes.deadline_ms(record.created_ms, now);
        let mut call = self.touch.key(key);
        call.arg(now).arg(deadline);
        let touched: i64 = call.invoke_async(&mut self.connection.clone()).await?;
        record.seen_ms = now;
        Ok((touched == 1).then_some(record))
    }

    /// One optimistic attempt at `update`: `None` if another write got in first.
    async fn try_update(&self, key: &str, op: &Op) -> Result<Option<Updated>, RedisError> {
        let Some((mut record, version)) = self.read_versioned(key).await? else {
            return Ok(Some(Updated::Missing));
        };
        if let Err(refused) = record.items.apply(op) {
            // Still a visit: the deadline moves as for a read.
            return Ok(Some(match self.touch_if_stale(key, record).await? {
                Some(_) => Updated::Refused(refused),
                None => Updated::Missing,
            }));
        }
        let items = serde_json::to_string(&record.items).map_err(|e| unreadable(&e))?;
        let now = now_ms();
        let mut call = self.write.key(key);
        call.arg(version).arg(items).arg(now).arg(self.lifetimes.deadline_ms(record.created_ms, now));
        let written: i64 = call.invoke_async(&mut self.connection.clone()).await?;
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
        let key = self.key(id);
        bounded("redis", "load", async {
            match self.read(&key).await? {
                Some(record) => self.touch_if_stale(&key, record).await,
                None => Ok(None),
            }
        })
        .await
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
        call.key(self.key(new));
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
}
