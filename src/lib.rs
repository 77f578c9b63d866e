//! # server-side-sessions
//!
//! One little list, kept three ways, so you can see where web state lives. Read in this
//! order:
//!
//! 1. [`item`]: the list and its rules, shared by every strategy.
//! 2. [`strategy`]: the three strategies behind one trait: [`strategy::global`],
//!    [`strategy::server_session`] and [`strategy::private_cookie`], and next to the last,
//!    [`strategy::signed_cookie`]: the list signed but not encrypted, as Flask does. The two
//!    cookie strategies are codecs on one core, [`strategy::client_side`].
//! 3. [`store`] and [`session_id`]: the session store (a stage of its own, [`store::stage()`]:
//!    its two traits, the memory, Redis and Postgres backends, and this process's copy of the
//!    revoked private cookies), and the opaque id; [`admission`]: the bounds on new sessions
//!    (a stage of its own too), and which address is the client's.
//! 4. [`web`]: pages, forms, the JSON API, the cross-site write guard, error pages and bodies.
//! 5. [`config`], [`cookie_rules`], [`instance`], [`secret`], [`error`], [`clock`],
//!    [`allocator`]: the supporting pieces.
//!
//! [`rocket()`] builds the whole app; `cargo run`, the Shuttle entry point and the tests all
//! start from it. The AWS Lambda entry point (`lambda`, with `--features lambda`) builds the
//! same app and answers function-URL events through Rocket's in-process client.

pub mod admission;
pub mod allocator;
pub mod clock;
pub mod config;
pub mod cookie_rules;
pub mod error;
pub mod instance;
pub mod item;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod secret;
pub mod session_id;
#[cfg(feature = "shuttle")]
pub mod shuttle;
pub mod store;
pub mod strategy;
pub mod web;

use rocket::figment::Figment;
use rocket::{Build, Rocket};

/// The app, configured from its compiled-in safe values, `Rocket.toml` and `ROCKET_*`
/// environment variables ([`config::figment`]), listening on the port a serverless platform
/// names in `PORT` ([`config::with_platform_port`]).
pub fn rocket() -> Rocket<Build> {
    build(config::with_platform_port(config::figment()))
}

/// The app, configured from `figment` (tests and the Shuttle entry point pass their own).
/// Each stage wires itself up and manages only its own state; order matters only in that
/// `config` comes first, and the store before admission and the strategies, which take it
/// from Rocket state.
pub fn build(figment: Figment) -> Rocket<Build> {
    rocket::custom(figment)
        .attach(config::stage())
        .attach(secret::stage())
        .attach(instance::stage())
        .attach(store::stage())
        .attach(admission::stage())
        .attach(strategy::global::stage())
        .attach(strategy::server_session::stage())
        .attach(strategy::private_cookie::stage())
        .attach(strategy::signed_cookie::stage())
        .attach(web::stage())
}
