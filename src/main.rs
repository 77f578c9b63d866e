//! The three ways to start the app. Each calls [`server_side_sessions::build`]; none holds
//! any logic.
//!
//! - `cargo run`: a plain Rocket server, configured by `Rocket.toml` and `ROCKET_*`.
//! - `cargo lambda build --features lambda` (or `scripts/lambda.sh build`): the AWS Lambda
//!   entry point, which answers function-URL events (`server_side_sessions::lambda`).
//! - `cargo shuttle run`: builds with `--no-default-features --features shuttle`, which
//!   selects the Shuttle entry point. Shuttle's hosted platform has closed, so
//!   `cargo shuttle deploy` has nowhere to deploy to; the runtime still runs locally, and the
//!   way to the cloud is the container image (`Containerfile`, docs/deploy.md).
//!   A `#[shuttle_runtime::main]` binary cannot serve under plain `cargo run` (it expects
//!   Shuttle's environment), hence the feature switch rather than two binaries.

/// Not `#[rocket::launch]`: that drops a failed launch's error, and Rocket answers a dropped
/// error with a panic and a backtrace. A stage that refuses to start (no secret key, a bad
/// setting) has already logged why, so here the process just exits with status 1; any other
/// launch error (a port in use, say) gets Rocket's own explanation first.
#[cfg(not(any(feature = "shuttle", feature = "lambda")))]
#[rocket::main]
async fn main() -> std::process::ExitCode {
    let Err(error) = server_side_sessions::rocket().launch().await else {
        return std::process::ExitCode::SUCCESS;
    };
    if !matches!(error.kind(), rocket::error::ErrorKind::FailedFairings(_)) {
        error.pretty_print();
    }
    std::process::ExitCode::FAILURE
}

/// On Lambda the process lives as long as Lambda keeps the instance; it ends here only when
/// the launch failed (already logged) or the runtime API is gone. (With `--all-features`, as
/// clippy builds, the Shuttle entry point wins.)
#[cfg(all(feature = "lambda", not(feature = "shuttle")))]
#[rocket::main]
async fn main() -> std::process::ExitCode {
    match server_side_sessions::lambda::serve().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            std::process::ExitCode::FAILURE
        }
    }
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

/// Every entry point allocates with mimalloc: why, and what it costs, in `allocator.rs`.
#[global_allocator]
static ALLOCATOR: server_side_sessions::allocator::Allocator = server_side_sessions::allocator::Allocator;
