//! The two ways to start the app. Both call [`server_side_sessions::build`]; neither holds
//! any logic.
//!
//! - `cargo run`: a plain Rocket server, configured by `Rocket.toml` and `ROCKET_*`.
//! - `cargo shuttle run` / `cargo shuttle deploy`: these build with
//!   `--no-default-features --features shuttle`, which selects the Shuttle entry point.
//!   A `#[shuttle_runtime::main]` binary cannot serve under plain `cargo run` (it expects
//!   Shuttle's environment), hence the feature switch rather than two binaries.

#[cfg(not(feature = "shuttle"))]
#[rocket::launch]
fn launch() -> _ {
    server_side_sessions::rocket()
}

#[cfg(feature = "shuttle")]
#[shuttle_runtime::main]
async fn shuttle(
    #[shuttle_runtime::Secrets] secrets: shuttle_runtime::SecretStore,
) -> shuttle_rocket::ShuttleRocket {
    let figment = server_side_sessions::shuttle::figment(secrets);
    Ok(server_side_sessions::build(figment).into())
}
