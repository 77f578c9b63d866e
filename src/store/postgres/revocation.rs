//! Private-cookie revocation epochs in Postgres: the `cookie_epochs` table (see
//! `migrations/`), one row per family that signed out, deleted by the app's purge once its
//! `expires_ms` has passed. A raise is one statement that upserts the row and calls
//! `pg_notify` on the channel `cookie_epochs.<schema>`; Postgres delivers the notice to every
//! `LISTEN`ing connection when the statement commits, and that is the change feed each
//! instance's copy follows. (The schema is in the channel's name because channels belong to
//! the whole database, and two deployments may share one in different schemas.)

use std::time::Duration;

use rocket::tokio::sync::mpsc;
use sqlx::postgres::{PgListener, PgPoolOptions};

use super::{bigint, PostgresStore};
use crate::clock::{self, now_ms};
use crate::store::revocation::FEED_BUFFER;
use crate::store::{bounded, Change, Feed, RevocationStore, StoreError};

/// Raises a family's epoch (never lowering one still kept) and announces it on the schema's
/// channel, in one statement: $1 family, $2 epoch, $3 forget after, $4 now (ms).
const RAISE: &str = "WITH raised AS (
         INSERT INTO cookie_epochs (family, epoch, expires_ms) VALUES ($1, $2, $3)
         ON CONFLICT (family) DO UPDATE SET expires_ms = EXCLUDED.expires_ms,
             epoch = CASE WHEN cookie_epochs.expires_ms > $4
                          THEN GREATEST(cookie_epochs.epoch, EXCLUDED.epoch)
                          ELSE EXCLUDED.epoch END
         RETURNING family, epoch, expires_ms
     )
     SELECT family, epoch, expires_ms, pg_notify('cookie_epochs.' || current_schema(),
         family || ' ' || epoch || ' ' || expires_ms)::text
     FROM raised";

/// A row's columns as a [`Change`].
fn change((family, epoch, until): (String, i64, i64)) -> Change {
    Change { family, epoch: epoch.max(0) as u64, until_ms: until.max(0) as u64 }
}

#[rocket::async_trait]
impl RevocationStore for PostgresStore {
    async fn epoch(&self, family: &str) -> Result<u64, StoreError> {
        let (family, now) = (family.to_owned(), bigint(now_ms()));
        let epoch: Option<i64> = self
            .run("cookie epoch", &|c| {
                let query = sqlx::query_scalar(
                    "SELECT epoch FROM cookie_epochs WHERE family = $1 AND expires_ms > $2",
                );
                Box::pin(query.bind(family.clone()).bind(now).fetch_optional(c))
            })
            .await?;
        Ok(epoch.map_or(0, |e| e.max(0) as u64))
    }

    async fn raise(&self, family: &str, epoch: u64, ttl: Duration) -> Result<Change, StoreError> {
        let now = bigint(now_ms());
        let until = now.saturating_add(bigint(clock::millis(ttl)));
        let (family, epoch) = (family.to_owned(), bigint(epoch));
        let row: (String, i64, i64, String) = self
            .run("raise cookie epoch", &|c| {
                let query = sqlx::query_as(RAISE).bind(family.clone()).bind(epoch).bind(until).bind(now);
                Box::pin(query.fetch_one(c))
            })
            .await?;
        Ok(change((row.0, row.1, row.2)))
    }

    async fn all(&self) -> Result<Vec<Change>, StoreError> {
        let now = bigint(now_ms());
        let rows: Vec<(String, i64, i64)> = self
            .run("all cookie epochs", &|c| {
                let query = sqlx::query_as(
                    "SELECT family, epoch, expires_ms FROM cookie_epochs WHERE expires_ms > $1",
                );
                Box::pin(query.bind(now).fetch_all(c))
            })
            .await?;
        Ok(rows.into_iter().map(change).collect())
    }

    async fn subscribe(&self) -> Result<Feed, StoreError> {
        let schema: String = self
            .run("subscribe", &|c| Box::pin(sqlx::query_scalar("SELECT current_schema()::text").fetch_one(c)))
            .await?;
        let mut listener = bounded("postgres", "subscribe", async {
            // A connection of its own, held for as long as the feed lasts, so listening
            // never takes one from the requests' pool.
            let own = PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(crate::store::TIMEOUT)
                .connect_lazy_with(self.options.clone());
            let mut listener = PgListener::connect_with(&own).await?;
            // A lost connection ends the feed; reconnecting is the caller's job, because it
            // must reload everything that was announced in between.
            listener.eager_reconnect(false);
            listener.listen(&format!("cookie_epochs.{schema}")).await?;
            Ok::<_, sqlx::Error>(listener)
        })
        .await?;
        let (sender, feed) = mpsc::channel(FEED_BUFFER);
        rocket::tokio::spawn(async move {
            while let Ok(Some(notice)) = listener.try_recv().await {
                let Some(change) = Change::from_notice(notice.payload()) else { continue };
                if sender.send(change).await.is_err() {
                    break;
                }
            }
        });
        Ok(feed)
    }

    async fn purge_expired(&self) -> Result<usize, StoreError> {
        let now = bigint(now_ms());
        let purged = self
            .run("purge cookie epochs", &|c| {
                Box::pin(sqlx::query("DELETE FROM cookie_epochs WHERE expires_ms <= $1").bind(now).execute(c))
            })
            .await?;
        Ok(purged.rows_affected() as usize)
    }
}
