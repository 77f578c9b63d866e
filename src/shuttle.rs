//! Configuration on Shuttle: `Rocket.toml` (shipped as a build asset) plus Shuttle secrets.
//!
//! Every secret named `ROCKET_<KEY>` in `Secrets.toml` becomes the config key `<key>`, the
//! same mapping Rocket applies to environment variables, so `ROCKET_SECRET_KEY` sets
//! `secret_key`. Secrets win over `Rocket.toml` in every profile.

use rocket::figment::providers::Serialized;
use rocket::figment::value::Value;
use rocket::figment::Figment;
use shuttle_runtime::SecretStore;

pub fn figment(secrets: SecretStore) -> Figment {
    let mut figment = rocket::Config::figment();
    for (name, raw) in secrets {
        let Some(key) = name.strip_prefix("ROCKET_") else { continue };
        // Parsed like an environment variable: `'["a", "b"]'` becomes a list, `30` a number.
        let value: Value = raw.parse().unwrap_or_else(|_| Value::from(raw));
        figment = figment.merge(Serialized::global(&key.to_ascii_lowercase(), value));
    }
    figment
}
