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

pub mod revocation;
pub mod scripts;

use std::collections::HashSet;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, TlsCertificates};

use super::tls::RootCa;
use super::{bounded, Created, RateCharge, Reached, Record, Rotated, SessionStore, StoreError, Updated};
use crate::clock::{self, now_ms};
use crate::config::Lifetimes;
use crate::item::{ItemList, Op, MAX_ITEMS};
use crate::session_id::SessionId;

/// The prefix of every session key, unless the URL names another (`?prefix=`).
pub const DEFAULT_PREFIX: &str = "session:";

/// A `session_store` URL without its `prefix` query parameter, and the key prefix that names
/// ([`DEFAULT_PREFIX`] without one). Several deployments (or test runs) can share one Redis
/// database this way, each with its own sessions, buckets and revocations: the parameter is
/// the app's, Redis's client never sees it.
pub fn split_prefix(url: &str) -> Result<(String, String), String> {
    let Some((base, query)) = url.split_once('?') else { return Ok((url.to_owned(), DEFAULT_PREFIX.into())) };
    let (mut prefix, mut kept) = (None, Vec::new());
    for pair in query.split('&') {
        match pair.strip_prefix("prefix=") {
            Some(value) => prefix = Some(value.to_owned()),
            None => kept.push(pair),
        }
    }
    let prefix = prefix.unwrap_or_else(|| DEFAULT_PREFIX.into());
    let allowed = |c: char| c.is_ascii_alphanumeric() || ":-_.".contains(c);
    if prefix.is_empty() || prefix.len() > 64 || !prefix.chars().all(allowed) {
        return Err("`session_store`'s `prefix` must be 1 to 64 letters, digits or `:-_.`".into());
    }
    let url = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    Ok((url, prefix))
}

const NOT_TLS: &str = "`session_store_ca` is set, but the Redis URL is `redis://`, which has no \
TLS to verify: use `rediss://`";

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
    /// A store for the Redis at `url`, its keys under `prefix` ([`DEFAULT_PREFIX`] for the
    /// app). Does not connect yet. With `ca`, the server's certificate must be signed by that
    /// authority (`rediss://` only).
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
        let (scripts, revocation) = (scripts::Scripts::new(), revocation::Scripts::new());
        Ok(RedisStore { lifetimes, prefix: prefix.to_owned(), client, connection, scripts, revocation })
    }

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

#[cfg(test)]
mod tests {
    use super::split_prefix;

    #[test]
    fn a_prefix_parameter_is_the_apps_and_redis_never_sees_it() {
        let split = |url: &str| split_prefix(url).map(|(url, prefix)| format!("{url} {prefix}"));
        assert_eq!(split("redis://h:6379/2"), Ok("redis://h:6379/2 session:".into()));
        assert_eq!(split("redis://h/2?prefix=app1:"), Ok("redis://h/2 app1:".into()));
        assert_eq!(
            split("rediss://h/2?protocol=resp3&prefix=a.b-c_"),
            Ok("rediss://h/2?protocol=resp3 a.b-c_".into())
        );
        for bad in ["redis://h?prefix=", "redis://h?prefix=a%20b", "redis://h?prefix=a*"] {
            assert!(split(bad).is_err(), "{bad}");
        }
    }
}
