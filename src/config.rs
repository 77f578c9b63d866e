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
//! | `cookie_secure`        | false (debug), true (release) | mark cookies `Secure`, use `__Host-` names |
//! | `session_store`        | `memory`           | where server-side sessions are kept: `memory`, a `redis://` or `postgres://` URL, or `shuttle-postgres` ([`crate::store::open`]) |
//! | `session_limit`        | 3000               | live server-side sessions at most; new ones get 503 beyond it ([`crate::admission`]) |
//! | `session_rate_per_minute` | 30              | new server-side sessions one client may start per minute (429 beyond it) |
//! | `session_rate_burst`   | 120                | how many of those it may start at once (defaults sized for a class: docs/limits.md) |
//! | `trusted_proxy_hops`   | 0                  | proxies in front that append to `X-Forwarded-For`; the client is the address that many hops from the right ([`crate::web::client_address`]) |
//! | `session_store_ca`     | none (public web roots) | path of a PEM file: the only authority trusted for the store's TLS certificate (`rediss://`, `sslmode=verify-full`; [`crate::store::tls`]) |
//!
//! Rocket's own `port` has one more source, for serverless platforms: see [`with_platform_port`].

use std::time::Duration;

use rocket::fairing::AdHoc;
use rocket::figment::providers::{Env, Format, Serialized, Toml};
use rocket::figment::{Figment, Profile};
use serde::{Deserialize, Serialize};

use crate::web::client_address::ClientRule;

/// Longest timeout accepted: a year. Longer values are almost certainly a unit mistake.
const MAX_SECONDS: u64 = 365 * 24 * 60 * 60;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct AppConfig {
    pub session_idle_timeout: u64,
    pub session_max_lifetime: u64,
    pub cookie_secure: bool,
    pub session_store: String,
    pub session_limit: usize,
    pub session_rate_per_minute: u32,
    pub session_rate_burst: u32,
    pub trusted_proxy_hops: u8,
    pub session_store_ca: Option<String>,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            session_idle_timeout: 30 * 60,
            session_max_lifetime: 8 * 60 * 60,
            cookie_secure: false,
            session_store: "memory".into(),
            session_limit: 3_000,
            session_rate_per_minute: 30,
            session_rate_burst: 120,
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

/// Cookie names and attributes that follow from `cookie_secure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookiePolicy {
    pub secure: bool,
}

impl CookiePolicy {
    /// `__Host-` cookies must be Secure, `Path=/` and have no `Domain`; browsers enforce it,
    /// which pins the cookie to this exact host.
    pub fn name(&self, base: &'static str) -> String {
        if self.secure {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
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
        let counts = [
            ("session_limit", config.session_limit as u64),
            ("session_rate_per_minute", config.session_rate_per_minute.into()),
            ("session_rate_burst", config.session_rate_burst.into()),
        ];
        if let Some((key, _)) = counts.iter().find(|(_, value)| *value == 0) {
            return Err(format!("`{key}` must be at least 1"));
        }
        Ok(config)
    }

    pub fn lifetimes(&self) -> Lifetimes {
        Lifetimes {
            idle: Duration::from_secs(self.session_idle_timeout),
            max: Duration::from_secs(self.session_max_lifetime),
        }
    }

    pub fn cookies(&self) -> CookiePolicy {
        CookiePolicy { secure: self.cookie_secure }
    }
}

/// Rocket's own settings that the app needs safe, whatever Rocket's defaults are.
#[derive(Serialize)]
struct RocketSettings {
    /// Which header names the client's address: none. Rocket's default trusts `X-Real-IP`,
    /// which any client can set to pick its own bucket of the per-client rate.
    ip_header: bool,
    template_dir: &'static str,
    /// Small bodies only (an item is at most 200 characters); Rocket's default for JSON is 1 MiB.
    limits: BodyLimits,
}

#[derive(Serialize)]
struct BodyLimits {
    form: &'static str,
    json: &'static str,
}

const ROCKET_SETTINGS: RocketSettings = RocketSettings {
    ip_header: false,
    template_dir: "templates",
    limits: BodyLimits { form: "4 KiB", json: "4 KiB" },
};

/// The app's configuration sources, weakest first: Rocket's defaults, then the safe values this
/// binary carries (the app's keys from [`AppConfig::default`], Rocket's from `ROCKET_SETTINGS`,
/// and `cookie_secure` on in the `release` profile), then `Rocket.toml` (or the file
/// `ROCKET_CONFIG` names), then `ROCKET_*` environment variables. Rocket's own
/// `Config::figment()` is the same but for the compiled-in layer.
pub fn figment() -> Figment {
    compiled_in()
        .merge(Toml::file(Env::var_or("ROCKET_CONFIG", "Rocket.toml")).nested())
        .merge(Env::prefixed("ROCKET_").ignore(&["PROFILE"]).global())
        .select(Profile::from_env_or("ROCKET_PROFILE", rocket::Config::DEFAULT_PROFILE))
}

/// Rocket's defaults under the safe values this binary carries.
fn compiled_in() -> Figment {
    Figment::from(rocket::Config::default())
        .merge(Serialized::defaults(AppConfig::default()))
        .merge(Serialized::defaults(ROCKET_SETTINGS))
        .merge(Serialized::default("cookie_secure", true).profile(rocket::Config::RELEASE_PROFILE))
}

/// Serverless container platforms (Cloud Run, Knative, AWS App Runner, Fly.io, ...) tell the
/// app which port to listen on in the `PORT` environment variable. It wins over `Rocket.toml`,
/// and `ROCKET_PORT` wins over it, so an operator can still pin the port. A `PORT` that is not
/// a port number stops the launch with a message instead of being ignored.
pub fn with_platform_port(figment: Figment) -> Figment {
    let port = std::env::var("PORT").ok();
    let pinned = std::env::var_os("ROCKET_PORT").is_some();
    match platform_port(port.as_deref(), pinned) {
        Ok(Some(port)) => figment.merge(("port", port)),
        Ok(None) => figment,
        // Remembered, so the config stage can refuse to launch with the reason.
        Err(message) => figment.merge((BAD_PORT, message)),
    }
}

/// Where [`with_platform_port`] leaves the complaint about a malformed `PORT`.
const BAD_PORT: &str = "__invalid_platform_port";

/// The port `PORT` asks for, unless `ROCKET_PORT` is set (`pinned`).
fn platform_port(port: Option<&str>, pinned: bool) -> Result<Option<u16>, String> {
    match port {
        None => Ok(None),
        Some(_) if pinned => Ok(None),
        Some(raw) => match raw.trim().parse::<u16>() {
            Ok(port) if port > 0 => Ok(Some(port)),
            _ => Err(format!("`PORT` must be a port number from 1 to 65535, not `{raw}`")),
        },
    }
}

/// Reads and checks the configuration and the secret key once, at ignition, and manages
/// both for the other stages. A bad value stops the launch with a message that says which
/// key is wrong and how to fix it.
pub fn stage() -> AdHoc {
    AdHoc::try_on_ignite("App configuration", |rocket| async move {
        if let Ok(message) = rocket.figment().extract_inner::<String>(BAD_PORT) {
            log::error!("{message}");
            return Err(rocket);
        }
        let figment = rocket.figment();
        let checked = crate::secret::resolve(figment)
            .and_then(|key| Ok((key, AppConfig::from_figment(figment)?)))
            .and_then(|(key, config)| {
                let rule = ClientRule::new(config.trusted_proxy_hops, ip_header(figment)?)?;
                Ok((key, config, rule))
            });
        match checked {
            Ok((key, config, rule)) => {
                log::info!("client address for the rate on new sessions: {}", rule.describe());
                let names = crate::cookies::ALL.map(|n| config.cookies().name(n));
                let names = names.join(", ");
                log::info!(
                    "cookies {names}: HttpOnly, SameSite=Lax, Path=/, Secure={}; session lifetimes: idle {}s, max {}s",
                    config.cookie_secure,
                    config.session_idle_timeout,
                    config.session_max_lifetime
                );
                if !config.cookie_secure && figment.profile() != rocket::Config::DEBUG_PROFILE {
                    log::warn!(
                        "cookie_secure is off in the `{}` profile: cookies will travel over plain http; \
                         turn it on for any deployment behind TLS",
                        figment.profile()
                    );
                }
                Ok(rocket.manage(config).manage(key).manage(rule))
            }
            Err(message) => {
                log::error!("{message}");
                Err(rocket)
            }
        }
    })
}

/// Rocket's effective `ip_header` (its own default applies when no source sets one).
fn ip_header(figment: &Figment) -> Result<Option<String>, String> {
    let rocket =
        rocket::Config::try_from(figment.clone()).map_err(|e| format!("invalid configuration: {e}"))?;
    Ok(rocket.ip_header.map(|header| header.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Rocket.toml` shows the settings where a reader looks for them; it must say what the
    /// binary does without it, so that deleting or forgetting the file changes nothing.
    #[test]
    fn rocket_toml_restates_the_compiled_in_values() {
        let file = || Toml::file(concat!(env!("CARGO_MANIFEST_DIR"), "/Rocket.toml")).nested();
        for profile in [rocket::Config::DEBUG_PROFILE, rocket::Config::RELEASE_PROFILE] {
            let bare = compiled_in().select(profile.clone());
            let read = compiled_in().merge(file()).select(profile.clone());
            let rocket = |f: &Figment| rocket::Config::from(f);
            assert!(rocket(&bare) == rocket(&read), "Rocket's keys differ in {profile}");
            let app = |f: &Figment| format!("{:?}", AppConfig::from_figment(f));
            assert_eq!(app(&bare), app(&read), "the app's keys differ in {profile}");
            let dir = |f: &Figment| f.extract_inner::<String>("template_dir").ok();
            assert_eq!(dir(&bare), dir(&read));
        }
    }

    #[test]
    fn the_release_profile_marks_cookies_secure_without_any_file() {
        let release = AppConfig::from_figment(&compiled_in().select(rocket::Config::RELEASE_PROFILE));
        assert!(release.expect("valid").cookie_secure);
        let debug = AppConfig::from_figment(&compiled_in().select(rocket::Config::DEBUG_PROFILE));
        assert!(!debug.expect("valid").cookie_secure);
    }

    #[test]
    fn port_follows_the_platform_unless_rocket_port_pins_it() {
        assert_eq!(platform_port(None, false), Ok(None));
        assert_eq!(platform_port(Some("8080"), false), Ok(Some(8080)));
        assert_eq!(platform_port(Some("8080"), true), Ok(None), "ROCKET_PORT wins");
        for bad in ["", "0", "http", "70000", "-1"] {
            let error = platform_port(Some(bad), false).expect_err(bad);
            assert!(error.contains("`PORT` must be a port number"), "{error}");
        }
    }
}
