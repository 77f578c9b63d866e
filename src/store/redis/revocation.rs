//! Private-cookie revocation epochs in Redis.
//!
//! One hash per deployment, `cookie-epochs:<prefix>` (`cookie-epochs:session:`), one field
//! per family that signed out: `<epoch> <forget after, Unix ms>`. A hash rather than a key per
//! family so that reloading them all is one `HGETALL` of just the epochs, not a `SCAN` over
//! every session; the app's purge removes fields past their time, and the hash itself expires
//! when no raise has touched it for the maximum lifetime. Every raise is also `PUBLISH`ed, in
//! the same script, on the channel `cookie-epochs:<prefix>@<database number>` (channels are
//! shared by every database of a Redis server; keys are not): that is the change feed each
//! instance's copy follows.

use std::time::Duration;

use futures_util::StreamExt;
use redis::{RedisError, Script};
use rocket::tokio::sync::mpsc;

use super::RedisStore;
use crate::clock::{self, now_ms};
use crate::store::revocation::FEED_BUFFER;
use crate::store::{bounded, Change, Feed, RevocationStore, StoreError};

/// KEYS[1] the hash; ARGV: family, epoch, forget-after ms, now ms, hash TTL ms, channel.
/// Raises (never lowers an epoch that is still kept), makes the hash last at least as long as
/// the new field (never shorter), announces, and returns the stored value.
const RAISE: &str = "local epoch = tonumber(ARGV[2])
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local stored, untl = string.match(current, '^(%d+) (%d+)$')
  if stored and tonumber(untl) > tonumber(ARGV[4]) and tonumber(stored) > epoch then epoch = tonumber(stored) end
end
local value = string.format('%d', epoch) .. ' ' .. ARGV[3]
redis.call('HSET', KEYS[1], ARGV[1], value)
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[5]) then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
redis.call('PUBLISH', ARGV[6], ARGV[1] .. ' ' .. value)
return value";

/// KEYS[1] the hash, ARGV[1] now: removes the fields whose time has passed.
const PURGE: &str = "local all = redis.call('HGETALL', KEYS[1])
local removed = 0
for i = 1, #all, 2 do
  local untl = tonumber(string.match(all[i + 1], ' (%d+)$') or '0')
  if untl <= tonumber(ARGV[1]) then redis.call('HDEL', KEYS[1], all[i]) removed = removed + 1 end
end
return removed";

pub(super) struct Scripts {
    raise: Script,
    purge: Script,
}

impl Scripts {
    pub fn new() -> Scripts {
        Scripts { raise: Script::new(RAISE), purge: Script::new(PURGE) }
    }
}

impl RedisStore {
    /// The hash of epochs.
    fn epochs_key(&self) -> String {
        format!("cookie-epochs:{}", self.prefix)
    }

    /// The channel raises are announced on.
    fn epochs_channel(&self) -> String {
        format!("{}@{}", self.epochs_key(), self.client.get_connection_info().redis_settings().db())
    }
}

/// `family` and a stored `<epoch> <until>` value as a [`Change`], if it parses.
fn change(family: &str, value: &str) -> Option<Change> {
    Change::from_notice(&format!("{family} {value}"))
}

#[rocket::async_trait]
impl RevocationStore for RedisStore {
    async fn epoch(&self, family: &str) -> Result<u64, StoreError> {
        let (mut get, mut connection) = (redis::cmd("HGET"), self.connection.clone());
        get.arg(self.epochs_key()).arg(family);
        let value: Option<String> =
            bounded("redis", "cookie epoch", get.query_async(&mut connection)).await?;
        let kept = value.and_then(|value| change(family, &value)).filter(|c| c.until_ms > now_ms());
        Ok(kept.map_or(0, |c| c.epoch))
    }

    async fn raise(&self, family: &str, epoch: u64, ttl: Duration) -> Result<Change, StoreError> {
        let (now, ttl) = (now_ms(), clock::millis(ttl).max(1));
        let key = self.epochs_key();
        let mut call = self.revocation.raise.key(&key);
        call.arg(family).arg(epoch).arg(now.saturating_add(ttl)).arg(now).arg(ttl).arg(self.epochs_channel());
        let mut connection = self.connection.clone();
        let value: String =
            bounded("redis", "raise cookie epoch", call.invoke_async(&mut connection)).await?;
        change(family, &value)
            .ok_or_else(|| StoreError(format!("redis raise cookie epoch: stored `{value}`")))
    }

    async fn all(&self) -> Result<Vec<Change>, StoreError> {
        let (mut get, mut connection) = (redis::cmd("HGETALL"), self.connection.clone());
        get.arg(self.epochs_key());
        let all: Vec<(String, String)> =
            bounded("redis", "all cookie epochs", get.query_async(&mut connection)).await?;
        let now = now_ms();
        Ok(all
            .iter()
            .filter_map(|(family, value)| change(family, value))
            .filter(|c| c.until_ms > now)
            .collect())
    }

    async fn subscribe(&self) -> Result<Feed, StoreError> {
        let channel = self.epochs_channel();
        let mut pubsub = bounded("redis", "subscribe", async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, RedisError>(pubsub)
        })
        .await?;
        let (sender, feed) = mpsc::channel(FEED_BUFFER);
        // The feed ends when this task does: when the connection closes, or nobody listens.
        rocket::tokio::spawn(async move {
            let mut messages = pubsub.on_message();
            while let Some(message) = messages.next().await {
                let Ok(notice) = message.get_payload::<String>() else { continue };
                let Some(change) = Change::from_notice(&notice) else { continue };
                if sender.send(change).await.is_err() {
                    break;
                }
            }
        });
        Ok(feed)
    }

    async fn purge_expired(&self) -> Result<usize, StoreError> {
        let mut call = self.revocation.purge.key(self.epochs_key());
        call.arg(now_ms());
        let mut connection = self.connection.clone();
        let removed: u64 =
            bounded("redis", "purge cookie epochs", call.invoke_async(&mut connection)).await?;
        Ok(removed as usize)
    }
}
