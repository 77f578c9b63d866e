//! Postgres connections, pooled without a round trip of the pool's own.
//!
//! sqlx's own pool checks a connection with a round trip as it hands it out
//! (`test_before_acquire`, which can be turned off) and again, always, as it takes it back: sqlx
//! 0.8 has no setting for the second. Each statement would cost three round trips on the wire
//! where one does the work. So the connections (sqlx's `PgConnection`, which runs every
//! statement) are pooled by `deadpool`, whose checks are ours to write, and they cost nothing:
//!
//! - A connection is taken back as it is, unless it was left in the middle of a statement (the
//!   call timed out or was dropped): then it is closed, because its protocol state is unknown.
//! - A connection idle for longer than [`IDLE_MAX`] is closed rather than handed out: past that
//!   a firewall or the server may have dropped it without a word.
//! - A connection found broken when it is used (the server restarted, the network dropped it)
//!   is closed, with every idle connection from before (they went the same way), and the
//!   statement runs once more on a new connection. Every statement the store runs may run
//!   twice: reads, and writes that a second run leaves as the first did ([`super::sql`]).

use std::time::Duration;

use deadpool::managed::{self, Metrics, Object, RecycleError, RecycleResult};
use futures_util::future::BoxFuture;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::Connection as _;

/// How long a connection may sit idle and still be handed out.
pub const IDLE_MAX: Duration = Duration::from_secs(5 * 60);

/// A pooled connection, and whether it finished what it was asked.
pub struct Connection {
    raw: PgConnection,
    settled: bool,
}

pub struct Connector {
    options: PgConnectOptions,
}

impl managed::Manager for Connector {
    type Type = Connection;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<Connection, sqlx::Error> {
        Ok(Connection { raw: PgConnection::connect_with(&self.options).await?, settled: true })
    }

    async fn recycle(&self, connection: &mut Connection, metrics: &Metrics) -> RecycleResult<sqlx::Error> {
        if !connection.settled {
            return Err(RecycleError::message("left in the middle of a statement"));
        }
        if metrics.last_used() > IDLE_MAX {
            return Err(RecycleError::message("idle too long"));
        }
        Ok(())
    }
}

pub struct Pool {
    pool: managed::Pool<Connector>,
}

/// A statement to run on a connection; called again for the one retry, so it owns what it binds.
pub type Statement<'s, T> =
    &'s (dyn for<'c> Fn(&'c mut PgConnection) -> BoxFuture<'c, Result<T, sqlx::Error>> + Sync);

impl Pool {
    /// At most `size` connections to `options`' server, made when first needed.
    pub fn new(options: PgConnectOptions, size: usize) -> Pool {
        let pool = managed::Pool::builder(Connector { options })
            .max_size(size)
            .runtime(deadpool::Runtime::Tokio1)
            .wait_timeout(Some(crate::store::TIMEOUT))
            .create_timeout(Some(crate::store::TIMEOUT))
            .build()
            .expect("a pool with a runtime for its timeouts");
        Pool { pool }
    }

    /// Runs `statement` on a pooled connection; on a connection found broken, once more on a
    /// new one.
    pub async fn run<T>(&self, statement: Statement<'_, T>) -> Result<T, sqlx::Error> {
        let mut connection = self.get().await?;
        match settle(&mut connection, statement).await {
            Err(error) if broken(&error) => {
                log::info!("a pooled Postgres connection was broken ({error}); running the statement again on a new one");
                drop(Object::take(connection));
                self.pool.retain(|_, _| false);
                settle(&mut *self.get().await?, statement).await
            }
            result => result,
        }
    }

    async fn get(&self) -> Result<Object<Connector>, sqlx::Error> {
        self.pool.get().await.map_err(|error| match error {
            managed::PoolError::Backend(error) => error,
            managed::PoolError::Timeout(_) => sqlx::Error::PoolTimedOut,
            other => sqlx::Error::Protocol(format!("connection pool: {other}")),
        })
    }
}

/// Runs `statement`, marking the connection settled only once it has an answer (an error the
/// server sent is an answer too).
async fn settle<T>(connection: &mut Connection, statement: Statement<'_, T>) -> Result<T, sqlx::Error> {
    connection.settled = false;
    let result = statement(&mut connection.raw).await;
    connection.settled = match &result {
        Ok(_) => true,
        Err(error) => matches!(error, sqlx::Error::Database(_)) && !broken(error),
    };
    result
}

/// Whether `error` says the connection itself is gone: the socket failed, or the server said it
/// is shutting down or was shut down (SQLSTATE class 57P: operator intervention; 08: connection
/// exception).
pub fn broken(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(error) => {
            error.code().is_some_and(|code| code.starts_with("57P") || code.starts_with("08"))
        }
        _ => false,
    }
}
