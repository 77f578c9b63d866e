//! The two ways to start the app. Both call [`server_side_sessions::build`]; neither holds
//! any logic.
//!
//! - `cargo run`: a plain Rocket server, configured by `Rocket.toml` and `ROCKET_*`.
//! - `cargo shuttle run`: builds with `--no-default-features --features shuttle`, which
//!   selects the Shuttle entry point. Shuttle's hosted platform has closed, so
//!   `cargo shuttle deploy` has nowhere to deploy to; the runtime still runs locally, and the
//!   way to the cloud is the container image (`Containerfile`, docs/deploy.md).
//!   A `#[shuttle_runtime::main]` binary cannot serve under plain `cargo run` (it expects
//!   Shuttle's environment), hence the feature switch rather than two binaries.

#[cfg(not(feature = "shuttle"))]
#[rocket::launch]
fn launch() -> _ {
    server_side_sessions::rocket()
}

/// On Shuttle the app also gets the connection string of the project's shared Postgres
/// database, used (and only then connected to) when `session_store = "shuttle-postgres"` (see
/// `server_side_sessions::shuttle`). `local_uri` is the database `cargo shuttle run` uses
/// instead of starting one in Docker.
#[cfg(feature = "shuttle")]
#[shuttle_runtime::main]
async fn shuttle(
    #[shuttle_runtime::Secrets] secrets: shuttle_runtime::SecretStore,
    #[shuttle_shared_db::Postgres(local_uri = "postgres://postgres@localhost:5432/postgres")]
    database_url: String,
) -> shuttle_rocket::ShuttleRocket {
    Ok(server_side_sessions::shuttle::build(secrets, database_url).into())
}
