//! Where server-side state lives: the session store and the revocation epochs of private
//! cookies, behind two small traits, opened once by [`stage()`] and handed out as Rocket state.
//!
//! - [`SessionStore`] maps a session id to a [`Record`] (the visitor's list plus two
//!   timestamps) and enforces the [`Lifetimes`](crate::config::Lifetimes) it was built with: a
//!   record not seen for `idle`, or older than `max`, is gone as far as every method is
//!   concerned, and `purge_expired` frees it. Stores are keyed by
//!   [`SessionId::storage_key`](crate::session_id::SessionId::storage_key), never by the id. A
//!   rotated-away id leads to its successor for a short grace window, then it is dead. The
//!   store also keeps the rate bucket of each network that starts sessions
//!   ([`crate::admission::rate`]), so that every instance on a shared store draws on one bucket.
//! - [`RevocationStore`] keeps one number per private-cookie family ("sign out everywhere" raises
//!   it) and tells every instance when one rises; [`RevocationCopy`] is this process's copy of
//!   them, so reading a private cookie asks no one.
//!
//! The traits are async and fallible because real stores (Redis, Postgres, DynamoDB) are
//! across a network and can be down. Every operation is one step in the store, one round trip for a
//! network store: `update` takes the operation rather than a new list, and the store applies
//! it, checking the list rule itself, so two requests writing the same session never lose an
//! update and the app never reads and then writes. Every backend implements both traits:
//!
//! | backend                | `session_store`                  | survives a restart | shared by instances |
//! |------------------------|----------------------------------|--------------------|---------------------|
//! | [`memory`]             | `memory` (the default)           | no                 | no                  |
//! | [`redis`]              | `redis://...` or `rediss://...`  | yes                | yes                 |
//! | [`postgres`]           | `postgres://...`                 | yes                | yes                 |
//! | [`postgres`] (Shuttle) | `shuttle-postgres`               | yes                | yes                 |
//! | `dynamodb` (feature)   | `dynamodb://TABLE`               | yes                | yes                 |
//!
//! A network store never holds up a request for long: every call gives up after [`TIMEOUT`]
//! with a [`StoreError`], which the app answers with 503. Nothing falls back to memory.

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
pub mod memory;
pub mod postgres;
pub mod redis;
pub mod revocation;
mod session;
pub mod stage;
pub mod tls;

pub use revocation::{Change, Feed, RevocationCopy, RevocationStore};
pub use session::{Created, RateCharge, Reached, Record, Rotated, SessionStore, Updated};
pub use stage::{open, stage, Backend, SharedDatabase, Store};

use std::future::Future;
use std::time::Duration;

/// The store could not be reached or answered with an error. The message is for the log;
/// visitors see only that the session store is unavailable.
#[derive(Debug, Clone, thiserror::Error)]
#[error("session store unavailable: {0}")]
pub struct StoreError(pub String);

/// The longest any store call may take, connecting included. Long enough for a store that
/// is merely busy, short enough that a visitor gets a clear 503 rather than a spinner.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// Runs one store call under [`TIMEOUT`], turning its error or its silence into a
/// [`StoreError`] that names the backend and the operation (never a session id).
pub(crate) async fn bounded<T, E: std::fmt::Display>(
    backend: &str,
    what: &str,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, StoreError> {
    match rocket::tokio::time::timeout(TIMEOUT, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(StoreError(format!("{backend} {what}: {error}"))),
        Err(_) => Err(StoreError(format!("{backend} {what}: no answer within {TIMEOUT:?}"))),
    }
}
