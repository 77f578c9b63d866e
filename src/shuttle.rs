//! Configuration under the Shuttle runtime (`cargo shuttle run`): `Rocket.toml` plus Shuttle
//! secrets. Shuttle's hosted platform has closed, so this runtime now runs only locally.
//!
//! Every secret named `ROCKET_<KEY>` in `Secrets.toml` becomes the config key `<key>`, the
//! same mapping Rocket applies to environment variables, so `ROCKET_SECRET_KEY` sets
//! `secret_key`. Secrets win over `Rocket.toml` in every profile.
//!
//! **Session store on Shuttle.** The entry point receives the connection string of the
//! project's shared Postgres (`#[shuttle_shared_db::Postgres]`), and [`build`] hands it to the
//! app, which connects to it only if it keeps sessions there:
//!
//! - `ROCKET_SESSION_STORE = "shuttle-postgres"`: server-side sessions live in that
//!   database (table `sessions`, created by the app's migration at start), so they survive
//!   restarts.
//! - `ROCKET_SESSION_STORE = "memory"` (or no such secret, as `Rocket.toml` says `memory`):
//!   sessions stay in the process, as with `cargo run`; the database is provisioned but
//!   never connected to.
//! - A `redis://` or `postgres://` URL works here as everywhere else.
//!
//! Under `cargo shuttle run` the string is the entry point's `local_uri`
//! (`postgres://postgres@localhost:5432/postgres`): that database must be up only when
//! `shuttle-postgres` is chosen (remove `local_uri` to let Shuttle start one in Docker).
//! (`local_uri` may interpolate secrets, as in `"postgres://app:{secrets.PG_PASSWORD}@..."`,
//! but every named secret must then exist in every `Secrets.toml`, deployments included, or
//! the start fails; so the URI here names none.)

use rocket::figment::providers::Serialized;
use rocket::figment::value::Value;
use rocket::figment::Figment;
use rocket::{Build, Rocket};
use shuttle_runtime::SecretStore;

use crate::store::SharedDatabase;

/// The app as Shuttle runs it: configured from `Rocket.toml` and the secrets, with the shared
/// database (its connection string) available to `session_store = "shuttle-postgres"`.
pub fn build(secrets: SecretStore, database_url: String) -> Rocket<Build> {
    crate::build(figment(secrets)).manage(SharedDatabase(database_url))
}

pub fn figment(secrets: SecretStore) -> Figment {
    let mut figment = crate::config::figment();
    for (name, raw) in secrets {
        let Some(key) = name.strip_prefix("ROCKET_") else { continue };
        // Parsed like an environment variable: `'["a", "b"]'` becomes a list, `30` a number.
        let value: Value = raw.parse().unwrap_or_else(|_| Value::from(raw));
        figment = figment.merge(Serialized::global(&key.to_ascii_lowercase(), value));
    }
    figment
}
