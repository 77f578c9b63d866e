//! Opening the Postgres store: the URL, TLS verified by the configured authority, and the
//! schema migration, run once before the first statement.

use std::sync::Arc;

use rocket::tokio::sync::OnceCell;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};
use sqlx::Connection;

use super::{pool, PostgresStore, MIGRATOR};
use crate::config::Lifetimes;
use crate::store::tls::RootCa;

const NOT_VERIFYING: &str = "`session_store_ca` is set, but the Postgres URL does not ask for \
verification: add `sslmode=verify-full` (a weaker mode skips the check, and `prefer`, the \
default, falls back to plain text)";

impl PostgresStore {
    /// A store for the database at `url`. Does not connect yet. With `ca`, the server's
    /// certificate must be signed by that authority, and the URL must ask for verification
    /// (`sslmode=verify-full` or `verify-ca`).
    pub fn with_ca(url: &str, lifetimes: Lifetimes, ca: Option<&RootCa>) -> Result<PostgresStore, String> {
        // The error text never includes the URL, which may carry a password.
        let mut options: PgConnectOptions =
            url.parse().map_err(|e| format!("`session_store` is not a usable Postgres URL: {e}"))?;
        if let Some(ca) = ca {
            if !matches!(options.get_ssl_mode(), PgSslMode::VerifyFull | PgSslMode::VerifyCa) {
                return Err(NOT_VERIFYING.into());
            }
            options = options.ssl_root_cert_from_pem(ca.pem().to_vec());
        }
        let pool = pool::Pool::new(options.clone(), 10);
        Ok(PostgresStore { lifetimes, options, pool, migrated: Arc::new(OnceCell::new()) })
    }

    /// Runs the migrations unless they have run, on a connection of their own that is closed
    /// afterwards (so the migrator's advisory lock goes with it, whatever happened). In a task
    /// of its own: a request that stops waiting must not cancel a migration half-way, and later
    /// callers wait for the same run.
    pub(super) async fn ready(&self) -> Result<(), sqlx::Error> {
        if self.migrated.initialized() {
            return Ok(());
        }
        let (options, migrated) = (self.options.clone(), self.migrated.clone());
        let run = rocket::tokio::spawn(async move {
            let migrate = || async {
                let mut connection = PgConnection::connect_with(&options).await?;
                MIGRATOR.run_direct(&mut connection).await?;
                connection.close().await?;
                log::info!("postgres session schema is up to date");
                Ok::<_, sqlx::Error>(())
            };
            migrated.get_or_try_init(migrate).await.map(drop)
        });
        run.await.map_err(|e| sqlx::Error::Protocol(format!("migration task failed: {e}")))?
    }
}
