//! Connecting to Redis: the URL (with the app's own `prefix` parameter), TLS verified by the
//! configured authority, and a connection manager that reconnects by itself.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::TlsCertificates;

use super::{revocation, scripts, RedisStore};
use crate::config::Lifetimes;
use crate::store::tls::RootCa;

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
