//! The store as a stage of its own: opened once, from `session_store`, and handed out as
//! Rocket state to whoever needs it, so no strategy opens, owns or names a backend.
//!
//! [`stage`] manages two handles:
//! - [`Store`]: the session store, for the server-side strategy, the bounds on new sessions
//!   ([`crate::admission`]), `/healthz` and `/api/inspect`;
//! - [`RevocationCopy`] (in an `Arc`): this process's copy of the revoked private-cookie
//!   families, for the private-cookie strategy;
//!
//! and runs three things once the server is up: a first reach for the store (connecting, and
//! for Postgres migrating), the purge of expired sessions and revocations, and the task that
//! keeps the revocation copy current.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use rocket::fairing::AdHoc;

use super::tls::RootCa;
use super::{memory, postgres, redis, RevocationCopy, RevocationStore, SessionStore};
use crate::config::{AppConfig, Lifetimes};

/// The connection string of the database the platform provides (Shuttle's
/// `#[shuttle_shared_db::Postgres]`), managed by the entry point for
/// `session_store = "shuttle-postgres"`. A string, not a pool: the store connects to it lazily,
/// like any `postgres://` URL, so nothing connects unless sessions are kept there.
pub struct SharedDatabase(pub String);

/// The session store `session_store` names (the [`SessionStore`] half of its [`Backend`]), as
/// Rocket state.
pub struct Store(pub Arc<dyn SessionStore>);

impl Deref for Store {
    type Target = dyn SessionStore;
    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}

/// One backend (memory, Redis or Postgres), opened once and seen through its two traits: every
/// backend implements both, and the store stage hands each half to whoever needs it.
#[derive(Clone)]
pub struct Backend {
    pub sessions: Arc<dyn SessionStore>,
    pub revocations: Arc<dyn RevocationStore>,
}

impl Backend {
    pub fn of<S: SessionStore + RevocationStore>(store: S) -> Backend {
        let store = Arc::new(store);
        Backend { sessions: store.clone(), revocations: store }
    }
}

/// Opens the store that the `session_store` setting names. Network stores connect lazily, so
/// this never waits for (or fails on) a store that is down; only a value that names no
/// backend, or a URL that does not parse, is an error, and its message says what is accepted.
/// `shared` is the Postgres database the platform (Shuttle) provides, used by `shuttle-postgres`;
/// `ca` is the authority `session_store_ca` names, for TLS to a network store ([`super::tls`]).
pub fn open(
    setting: &str,
    lifetimes: Lifetimes,
    shared: Option<&SharedDatabase>,
    ca: Option<&RootCa>,
) -> Result<Backend, String> {
    let scheme = setting.split_once("://").map_or(setting, |(scheme, _)| scheme);
    Ok(match scheme {
        "memory" if setting == "memory" => match ca {
            None => Backend::of(memory::MemoryStore::new(lifetimes)),
            Some(_) => {
                return Err("`session_store_ca` is set, but the memory store has no TLS to verify".into())
            }
        },
        "redis" | "rediss" => {
            let (url, prefix) = redis::split_prefix(setting)?;
            Backend::of(redis::RedisStore::with_options(&url, lifetimes, &prefix, ca)?)
        }
        "postgres" | "postgresql" => Backend::of(postgres::PostgresStore::with_ca(setting, lifetimes, ca)?),
        "dynamodb" => dynamodb(setting, lifetimes, ca)?,
        "shuttle-postgres" if setting == scheme => match shared {
            Some(database) => Backend::of(postgres::PostgresStore::with_ca(&database.0, lifetimes, ca)?),
            None => return Err(SHUTTLE_ONLY.into()),
        },
        // Only the scheme is echoed: the rest of a URL may hold a password.
        _ => return Err(format!("`session_store` must be {ACCEPTED}, not `{scheme}...`")),
    })
}

const ACCEPTED: &str = "`memory`, a `redis://` or `rediss://` URL (optionally with \
`?prefix=...` for its keys), a `postgres://` URL, `dynamodb://TABLE` (in a build with the \
`dynamodb` feature), or (on Shuttle) `shuttle-postgres`";

/// The DynamoDB store, in a build that has it. TLS to AWS is verified against the system's
/// roots; a CA of one's own is for the Redis and Postgres servers.
#[cfg(feature = "dynamodb")]
fn dynamodb(setting: &str, lifetimes: Lifetimes, ca: Option<&RootCa>) -> Result<Backend, String> {
    match ca {
        None => Ok(Backend::of(super::dynamodb::DynamoStore::new(setting, lifetimes)?)),
        Some(_) => {
            Err("`session_store_ca` is set, but DynamoDB's TLS is verified against the system's roots".into())
        }
    }
}

#[cfg(not(feature = "dynamodb"))]
fn dynamodb(_: &str, _: Lifetimes, _: Option<&RootCa>) -> Result<Backend, String> {
    Err("`session_store` names DynamoDB, but this build has no DynamoDB store: build with \
`--features dynamodb` (the Lambda build has it)"
        .into())
}

const SHUTTLE_ONLY: &str = "`session_store = \"shuttle-postgres\"` uses the database Shuttle \
provides, so it works only under `cargo shuttle run` or on Shuttle; elsewhere use a \
`postgres://` URL";

pub fn stage() -> AdHoc {
    AdHoc::try_on_ignite("Session store", |rocket| async {
        let Some(config) = rocket.state::<AppConfig>().cloned() else {
            // The configuration stage failed and has said why; one message is enough.
            return Err(rocket);
        };
        let ca_path = config.session_store_ca.as_deref().filter(|path| !path.trim().is_empty());
        let opened = ca_path
            .map(RootCa::load)
            .transpose()
            .and_then(|ca| open(&config.session_store, config.lifetimes(), rocket.state(), ca.as_ref()));
        let backend = match opened {
            Ok(backend) => backend,
            Err(message) => {
                log::error!("{message}");
                return Err(rocket);
            }
        };
        let name = backend.sessions.backend();
        let revocations = Arc::new(RevocationCopy::new(backend.revocations.clone(), name));
        Ok(rocket
            .manage(Store(backend.sessions.clone()))
            .manage(revocations.clone())
            .attach(crate::config::announce(vec![format!("session store: {name}")]))
            .attach(check_at_start(backend.sessions.clone()))
            .attach(purge_in_background(backend, config.lifetimes()))
            .attach(AdHoc::on_liftoff("Revocation copy", move |rocket| {
                let shutdown = rocket.shutdown();
                Box::pin(async move {
                    rocket::tokio::spawn(revocations.keep_current(shutdown));
                })
            })))
    })
}

/// Reaches the store once as the server starts (connecting, and for Postgres migrating),
/// without holding up the launch: a store that is down is logged here, reported by
/// `/healthz`, and retried by the next request that needs it.
fn check_at_start(store: Arc<dyn SessionStore>) -> AdHoc {
    AdHoc::on_liftoff("Session store check", move |_| {
        Box::pin(async move {
            rocket::tokio::spawn(async move {
                match store.ping().await {
                    Ok(()) => log::info!("session store {} is reachable", store.backend()),
                    Err(e) => log::warn!("{e}; server-side sessions answer 503 until it is back"),
                }
            });
        })
    })
}

/// Frees expired sessions and revocation epochs periodically, so the store's size stays
/// bounded by the live ones.
fn purge_in_background(backend: Backend, lifetimes: Lifetimes) -> AdHoc {
    let period = (lifetimes.idle / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
    periodically("Session purge", period, move || {
        let backend = backend.clone();
        async move { purge(&backend).await }
    })
}

/// Runs `task` every `period` (the first time at liftoff) until the server shuts down.
pub(crate) fn periodically<F, Fut>(name: &'static str, period: Duration, task: F) -> AdHoc
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    AdHoc::on_liftoff(name, move |rocket| {
        let shutdown = rocket.shutdown();
        Box::pin(async move {
            rocket::tokio::spawn(async move {
                let mut ticks = rocket::tokio::time::interval(period);
                // After a freeze (AWS Lambda between invocations), run once, not once per
                // period missed.
                ticks.set_missed_tick_behavior(rocket::tokio::time::MissedTickBehavior::Delay);
                rocket::tokio::pin!(shutdown);
                loop {
                    rocket::tokio::select! {
                        _ = &mut shutdown => break,
                        _ = ticks.tick() => task().await,
                    }
                }
            });
        })
    })
}

async fn purge(backend: &Backend) {
    match backend.sessions.purge_expired().await {
        Ok(0) => {}
        Ok(n) => log::info!("purged {n} expired sessions"),
        Err(e) => log::warn!("purging expired sessions failed: {e}"),
    }
    if let Err(e) = backend.revocations.purge_expired().await {
        log::warn!("purging expired revocation epochs failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFETIMES: Lifetimes = Lifetimes {
        idle: Duration::from_secs(60),
        max: Duration::from_secs(60),
        rotation_grace: Duration::ZERO,
    };

    fn refused(setting: &str) -> String {
        open(setting, LIFETIMES, None, None).err().unwrap_or_else(|| panic!("{setting} was accepted"))
    }

    #[test]
    fn a_setting_that_names_no_backend_is_refused_without_echoing_secrets() {
        let message = refused("mysql://user:hunter2@db/app");
        assert!(message.contains("`memory`") && message.contains("redis://"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        for bad in ["", "Memory", "memory://x", "redis//host", "shuttle-postgres://x"] {
            refused(bad);
        }
        assert!(refused("shuttle-postgres").contains("Shuttle"));
    }

    #[rocket::async_test]
    async fn network_stores_open_without_connecting() {
        for setting in
            ["memory", "redis://127.0.0.1:1", "rediss://127.0.0.1:1/0", "postgres://u@127.0.0.1:1/db"]
        {
            assert!(open(setting, LIFETIMES, None, None).is_ok(), "{setting}");
        }
        let dynamodb = open("dynamodb://sessions", LIFETIMES, None, None);
        assert_eq!(dynamodb.is_ok(), cfg!(feature = "dynamodb"), "{:?}", dynamodb.err());
        assert!(
            refused("dynamodb://x").contains("dynamodb"),
            "a malformed table, or no such store in this build"
        );
    }
}
