//! Where the configuration comes from: the safe values compiled into the binary, then
//! `Rocket.toml`, then `ROCKET_*` environment variables, and the port a serverless platform
//! names in `PORT`.

use rocket::figment::providers::{Env, Format, Serialized, Toml};
use rocket::figment::{Figment, Profile};
use serde::Serialize;

use super::AppConfig;

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
pub(super) const BAD_PORT: &str = "__invalid_platform_port";

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
