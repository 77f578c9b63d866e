//! The app's own configuration keys, read from the same figment as Rocket's
//! (`Rocket.toml`, then `ROCKET_*` environment variables, then Shuttle secrets under `cargo shuttle run`).
//!
//! **Safe without any file.** The values below, and the safe values of Rocket's own keys
//! (`ip_header` off, 4 KiB bodies), are compiled into the binary by [`figment()`]: `Rocket.toml`
//! and `ROCKET_*` only override them. A binary started from another directory, a container, a
//! Lambda package or `cargo shuttle run` without the file behaves exactly as one started from the
//! repository root; Rocket's own defaults (trust `X-Real-IP`, 1 MiB JSON) never apply.
//!
//! | key                    | default            | meaning                                        |
//! |------------------------|--------------------|------------------------------------------------|
//! | `session_idle_timeout` | 1800 (30 minutes)  | seconds without a visit before a session ends   |
//! | `session_max_lifetime` | 28800 (8 hours)    | seconds after creation when a session ends      |
//! | `session_rotation_grace` | 10               | seconds a rotated-away session id still leads to the new one (a request already on its way loses nothing), at most 300 |
//! | `cookie_secure`        | false (debug), true (release) | mark cookies `Secure`, use `__Host-` names |
//! | `session_store`        | `memory`           | where server-side sessions are kept: `memory`, a `redis://` or `postgres://` URL, or `shuttle-postgres` ([`crate::store::open`]) |
//! | `session_limit`        | 3000               | live server-side sessions at most; new ones get 503 beyond it ([`crate::admission`]) |
//! | `session_rate_per_minute` | 30              | new server-side sessions one client may start per minute (429 beyond it) |
//! | `session_rate_burst`   | 120                | how many of those it may start at once (defaults sized for a class: docs/limits.md) |
//! | `session_rate_ipv6_prefix` | 64             | an IPv6 client is keyed by this many leading bits of its address (its network); IPv4 by its address ([`crate::admission::rate`]) |
//! | `trusted_proxy_hops`   | 0                  | proxies in front that append to `X-Forwarded-For`; the client is the address that many hops from the right ([`crate::admission::client_address`]) |
//! | `session_store_ca`     | none (public web roots) | path of a PEM file: the only authority trusted for the store's TLS certificate (`rediss://`, `sslmode=verify-full`; [`crate::store::tls`]) |
//!
//! Rocket's own `port` has one more source, for serverless platforms: see [`with_platform_port`].

use std::time::Duration;

use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use serde::{Deserialize, Serialize};

use crate::cookie_rules::CookiePolicy;

mod figment;

pub use self::figment::{figment, with_platform_port};

/// Longest timeout accepted: a year. Longer values are almost certainly a unit mistake.
const MAX_SECONDS: u64 = 365 * 24 * 60 * 60;

/// Longest rotation grace accepted: the window in which a pre-rotation id still works is a
/// window for a thief too, so it stays short.
const MAX_GRACE: u64 = 300;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct AppConfig {
    pub session_idle_timeout: u64,
    pub session_max_lifetime: u64,
    pub session_rotation_grace: u64,
    pub cookie_secure: bool,
    pub session_store: String,
    pub session_limit: usize,
    pub session_rate_per_minute: u32,
    pub session_rate_burst: u32,
    pub session_rate_ipv6_prefix: u8,
    pub trusted_proxy_hops: u8,
    pub session_store_ca: Option<String>,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            session_idle_timeout: 30 * 60,
            session_max_lifetime: 8 * 60 * 60,
            session_rotation_grace: 10,
            cookie_secure: false,
            session_store: "memory".into(),
            session_limit: 3_000,
            session_rate_per_minute: 30,
            session_rate_burst: 120,
            session_rate_ipv6_prefix: 64,
            trusted_proxy_hops: 0,
            session_store_ca: None,
        }
    }
}

/// One timeout policy for both session strategies, enforced on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// A session not seen for this long is over.
    pub idle: Duration,
    /// A session this old is over, however active.
    pub max: Duration,
    /// How long a rotated-away session id still leads to the session's new id.
    pub rotation_grace: Duration,
}

impl Lifetimes {
    /// When a session created at `created_ms` and last visited at `seen_ms` ends (Unix ms):
    /// the earlier of the idle and the absolute deadline. Both session strategies, and every
    /// store, take their deadline from here.
    pub fn deadline_ms(&self, created_ms: u64, seen_ms: u64) -> u64 {
        let idle = seen_ms.saturating_add(crate::clock::millis(self.idle));
        idle.min(created_ms.saturating_add(crate::clock::millis(self.max)))
    }

    /// How stale a visit may be before a read moves the idle deadline again: a quarter of the
    /// idle timeout, at most a minute. Reads in between cost no write (no re-sealed cookie, no
    /// database update), and a session may end up to this much before a full `idle` after the
    /// last read.
    pub fn refresh_after(&self) -> Duration {
        (self.idle / 4).min(Duration::from_secs(60))
    }
}

impl AppConfig {
    pub fn from_figment(figment: &Figment) -> Result<AppConfig, String> {
        let config: AppConfig = figment.extract().map_err(|e| format!("invalid configuration: {e}"))?;
        for (key, value) in [
            ("session_idle_timeout", config.session_idle_timeout),
            ("session_max_lifetime", config.session_max_lifetime),
        ] {
            if value == 0 || value > MAX_SECONDS {
                return Err(format!("`{key}` must be between 1 and {MAX_SECONDS} seconds, not {value}"));
            }
        }
        if config.session_rotation_grace > MAX_GRACE {
            return Err(format!(
                "`session_rotation_grace` must be at most {MAX_GRACE} seconds (a stolen pre-rotation id works \
                 that long), not {}",
                config.session_rotation_grace
            ));
        }
        let counts = [
            ("session_limit", config.session_limit as u64),
            ("session_rate_per_minute", config.session_rate_per_minute.into()),
            ("session_rate_burst", config.session_rate_burst.into()),
        ];
        if let Some((key, _)) = counts.iter().find(|(_, value)| *value == 0) {
            return Err(format!("`{key}` must be at least 1"));
        }
        // The bucket counts in whole milliseconds: a faster rate would be no rate at all.
        if config.session_rate_per_minute > 60_000 {
            return Err("`session_rate_per_minute` must be at most 60000 (one a millisecond)".into());
        }
        if !(1..=128).contains(&config.session_rate_ipv6_prefix) {
            return Err(format!(
                "`session_rate_ipv6_prefix` must be between 1 and 128 bits, not {}",
                config.session_rate_ipv6_prefix
            ));
        }
        Ok(config)
    }

    pub fn lifetimes(&self) -> Lifetimes {
        Lifetimes {
            idle: Duration::from_secs(self.session_idle_timeout),
            max: Duration::from_secs(self.session_max_lifetime),
            rotation_grace: Duration::from_secs(self.session_rotation_grace),
        }
    }

    pub fn cookies(&self) -> CookiePolicy {
        CookiePolicy { secure: self.cookie_secure }
    }
}

/// Reads and checks the app's own keys once, at ignition, and manages them for the other
/// stages. A bad value stops the launch with a message that says which key is wrong and how
/// to fix it.
pub fn stage() -> AdHoc {
    AdHoc::try_on_ignite("App configuration", |rocket| async move {
        if let Ok(message) = rocket.figment().extract_inner::<String>(figment::BAD_PORT) {
            log::error!("{message}");
            return Err(rocket);
        }
        let figment = rocket.figment();
        let config = match AppConfig::from_figment(figment) {
            Ok(config) => config,
            Err(message) => {
                log::error!("{message}");
                return Err(rocket);
            }
        };
        let mut said = vec![format!(
            "session lifetimes: idle {}s, max {}s",
            config.session_idle_timeout, config.session_max_lifetime
        )];
        if !config.cookie_secure && figment.profile() != rocket::Config::DEBUG_PROFILE {
            said.push(format!(
                "warning: cookie_secure is off in the `{}` profile: cookies will travel over plain http; \
                 turn it on for any deployment behind TLS",
                figment.profile()
            ));
        }
        let rocket = rocket.attach(announce(said));
        Ok(rocket.manage(config))
    })
}

/// Logs `lines` once the server is up. Stages say what they set up at liftoff rather than at
/// ignition: a launch that another stage stops then prints only why it stopped.
pub fn announce(lines: Vec<String>) -> AdHoc {
    AdHoc::on_liftoff("Announce settings", move |_| {
        Box::pin(async move {
            for line in &lines {
                match line.strip_prefix("warning: ") {
                    Some(warning) => log::warn!("{warning}"),
                    None => log::info!("{line}"),
                }
            }
        })
    })
}
