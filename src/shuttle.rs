//! Configuration on Shuttle: `Rocket.toml` (shipped as a build asset) plus Shuttle secrets.
//!
//! Every secret named `ROCKET_<KEY>` in `Secrets.toml` becomes the config key `<key>`, the
//! same mapping Rocket applies to environment variables, so `ROCKET_SECRET_KEY` sets
//! `secret_key`. Secrets win over `Rocket.toml` in every profile.
//!
//! **Session store on Shuttle.** The entry point always receives a pool for the project's
//! shared Postgres (`#[shuttle_shared_db::Postgres]`), and [`build`] hands it to the app:
//!
//! - `ROCKET_SESSION_STORE = "shuttle-postgres"`: server-side sessions live in that
//!   database (table `sessions`, created by the app's migration at start), so they survive
//!   redeploys and restarts.
//! - `ROCKET_SESSION_STORE = "memory"` (or no such secret, as `Rocket.toml` says `memory`):
//!   sessions stay in the process, as with `cargo run`; the database is provisioned but
//!   unused.
//! - A `redis://` or `postgres://` URL works here as everywhere else.
//!
//! `cargo shuttle run` connects the pool to the entry point's `local_uri`
//! (`postgres://postgres@localhost:5432/postgres`) before the app starts, whichever store is
//! chosen: that database must be up, or remove `local_uri` to let Shuttle start one in Docker.
//! (`local_uri` may interpolate secrets, as in `"postgres://app:{secrets.PG_PASSWORD}@..."`,
//! but every named secret must then exist in every `Secrets.toml`, deployments included, or
//! the start fails; so the URI here names none.)

use rocket::figment::providers::Serialized;
use rocket::figment::value::Value;
use rocket::figment::Figment;
use rocket::{Build, Rocket};
use shuttle_runtime::SecretStore;

use crate::store::postgres::SharedPool;

/// The app as Shuttle runs it: configured from `Rocket.toml` and the secrets, with the shared
/// database available to `session_store = "shuttle-postgres"`.
pub fn build(secrets: SecretStore, pool: sqlx::PgPool) -> Rocket<Build> {
    crate::build(figment(secrets)).manage(SharedPool(pool))
}

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
