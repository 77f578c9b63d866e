//! Sessions in DynamoDB: the store a serverless deploy on AWS uses, with nothing running (and
//! nothing billed by the hour) between classes. Behind the `dynamodb` cargo feature, which the
//! Lambda build turns on.
//!
//! - **Where the data lives:** one table whose only key is the partition key `pk` (a string),
//!   sessions under `session#<sha256(id) hex>` beside the rate buckets and the revocation
//!   epochs (`items.rs` has the layout); `session_store = "dynamodb://TABLE"` names it
//!   (`client.rs` has the form). The app does not create the table: the deploy does (docs/stores.md).
//! - **How long it lasts:** every item carries `expires_at`, the table's TTL attribute, and
//!   DynamoDB deletes expired items at no cost, but typically within two days of their time
//!   (its documentation), so every request checks the idle and absolute deadlines itself and an
//!   expired item counts as absent. Sessions survive restarts and are shared by every instance
//!   that uses the table.
//! - **Who can read it:** whoever the account's IAM lets read the table sees the lists, but not
//!   the ids (keys are hashes). The function's role authorises the app: there is no password.
//! - **What it costs:** one request per operation, billed per request (on demand). A read is a
//!   conditional `UpdateItem` that records a stale visit and returns the session either way;
//!   it is billed as a write (a write unit per KB of the session) even when its condition fails
//!   and nothing is written: the price of one request, where a `GetItem` would need a second to
//!   record the visit. An add, remove or clear is one conditional `UpdateItem` whose condition
//!   is the list rule; a new session is one `TransactWriteItems` that charges its network's
//!   bucket (`rate.rs`) and stores it. What DynamoDB cannot do in one request: a request through
//!   a rotated-away id takes two (the forward, then its successor); rotation takes two (it
//!   reads the session, then moves it in one transaction on the condition that it is
//!   unchanged: DynamoDB cannot copy an item); a refused add or remove takes a second to record
//!   the visit, when it is stale. Counting live sessions reads the whole table, so the app does
//!   it every [`RECOUNT_EVERY`] rather than every 2 s. Revocation epochs: [`revocation`].
//! - **How it fails:** the client is made on first use, so the app starts while DynamoDB cannot
//!   be reached; each call then fails within [`super::TIMEOUT`] (the SDK's own timeouts and
//!   retries fit inside it) and visitors get a 503, until the table answers again.
//!
//! **No lost updates:** `update` sends the operation, not a new list: DynamoDB applies an
//! `UpdateItem` to one item atomically, checking its condition (live, the list rule with the
//! item cap passed in) against the item as the previous update left it.

mod client;
mod items;
mod rate;
mod requests;
pub mod revocation;
mod sessions;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use rocket::tokio::sync::OnceCell;

pub use self::client::Setting;
use crate::clock::{self, now_ms};
use crate::config::Lifetimes;
use crate::item::{ItemList, Op};
use crate::session_id::SessionId;
use crate::store::{
    bounded, Created, RateCharge, Reached, Record, Rotated, SessionStore, StoreError, Updated,
};

/// How often the app counts live sessions on DynamoDB: a count is a `Scan` of the whole table
/// (every item read, billed by size), so it runs every 30 s per instance, not every 2 s.
pub const RECOUNT_EVERY: Duration = Duration::from_secs(30);

/// The longest a count may take: it pages through the whole table, in the background.
const COUNT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct DynamoStore {
    setting: Setting,
    lifetimes: Lifetimes,
    client: OnceCell<Client>,
    /// Where each network's bucket was last seen ([`rate::Hints`]).
    hints: rate::Hints,
    /// The last count: when it began (Unix ms), what it found, and [`DynamoStore::made`] then;
    /// for [`count_recent`](crate::store::SessionStore::count_recent).
    counted: Mutex<Option<(u64, usize, i64)>>,
    /// Sessions this store created minus those it ended, ever: what a recent count lacks.
    made: AtomicI64,
}

impl DynamoStore {
    /// A store for the table `url` names (`dynamodb://TABLE`, see `client.rs`). Does not connect.
    pub fn new(url: &str, lifetimes: Lifetimes) -> Result<DynamoStore, String> {
        let setting = Setting::parse(url)?;
        let (client, hints, counted) = (OnceCell::new(), rate::Hints::default(), Mutex::new(None));
        Ok(DynamoStore { setting, lifetimes, client, hints, counted, made: AtomicI64::new(0) })
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.setting.table
    }

    /// The SDK client, made on first use (and again after a failure).
    async fn client(&self) -> Result<&Client, String> {
        self.client.get_or_try_init(|| client::connect(&self.setting)).await
    }
}

#[rocket::async_trait]
impl SessionStore for DynamoStore {
    fn backend(&self) -> &'static str {
        "dynamodb"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        // A read of the one item every instance polls: the table is there, and the role may read it.
        bounded("dynamodb", "ping", self.get_item(revocation::CHANGES)).await.map(drop)
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Reached<Record>>, StoreError> {
        bounded("dynamodb", "load", self.load_session(id)).await
    }

    async fn create(
        &self,
        id: &SessionId,
        items: ItemList,
        rate: &RateCharge,
    ) -> Result<Created, StoreError> {
        let created = bounded("dynamodb", "create", self.create_session(id, items, rate)).await?;
        if matches!(created, Created::Stored(_)) {
            self.made.fetch_add(1, Ordering::Relaxed);
        }
        Ok(created)
    }

    async fn update(&self, id: &SessionId, op: &Op) -> Result<Option<Reached<Updated>>, StoreError> {
        bounded("dynamodb", "update", self.update_session(id, op)).await
    }

    async fn rotate(&self, old: &SessionId, new: &SessionId) -> Result<Rotated, StoreError> {
        bounded("dynamodb", "rotate", self.rotate_session(old, new)).await
    }

    async fn destroy(&self, id: &SessionId) -> Result<bool, StoreError> {
        let ended = bounded("dynamodb", "destroy", self.destroy_session(id)).await?;
        if ended {
            self.made.fetch_sub(1, Ordering::Relaxed);
        }
        Ok(ended)
    }

    async fn purge_expired(&self) -> Result<usize, StoreError> {
        Ok(0) // DynamoDB deletes expired items itself (TTL), and every read skips them until then
    }

    async fn count(&self) -> Result<usize, StoreError> {
        let (began, made) = (now_ms(), self.made.load(Ordering::Relaxed));
        let counting = rocket::tokio::time::timeout(COUNT_TIMEOUT, self.count_sessions());
        let live = match counting.await {
            Ok(counted) => counted.map_err(|e| StoreError(format!("dynamodb count: {e}")))?,
            Err(_) => return Err(StoreError(format!("dynamodb count: not done within {COUNT_TIMEOUT:?}"))),
        };
        *self.counted.lock().unwrap_or_else(PoisonError::into_inner) = Some((began, live, made));
        Ok(live)
    }

    fn recount_every(&self) -> Duration {
        RECOUNT_EVERY
    }

    /// The last count while it is younger than [`RECOUNT_EVERY`], with the sessions this store
    /// created and ended since, once a read shows that the table still answers; else a new count.
    async fn count_recent(&self) -> Result<usize, StoreError> {
        let counted = *self.counted.lock().unwrap_or_else(PoisonError::into_inner);
        match counted {
            Some((at, live, made)) if now_ms().saturating_sub(at) < clock::millis(RECOUNT_EVERY) => {
                let since = self.made.load(Ordering::Relaxed) - made;
                let live = i64::try_from(live).unwrap_or(i64::MAX).saturating_add(since).max(0);
                self.ping().await.map(|()| usize::try_from(live).unwrap_or(usize::MAX))
            }
            _ => self.count().await,
        }
    }
}
