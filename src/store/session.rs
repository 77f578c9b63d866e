//! The session store's contract: [`SessionStore`], and what its operations answer.
//!
//! Every operation is one step in the store (for a network store, one round trip): the store
//! itself checks the conditions (the session is live, the list rule holds, the rate allows a
//! new session) and applies the change, so two requests racing on one session never lose an
//! update and the app never reads and then writes. The list rules are [`Op::allowed`]'s; a
//! store that applies operations itself checks the same comparisons and says what it decided.

use std::time::Duration;

use crate::admission::rate::RateRule;
use crate::admission::RECOUNT_EVERY;
use crate::config::Lifetimes;
use crate::item::{ItemList, ListError, Op};
use crate::session_id::SessionId;

use super::StoreError;

/// What a store keeps for one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub items: ItemList,
    /// When the session was created (Unix ms); fixes the absolute deadline.
    pub created_ms: u64,
    /// When the session was last loaded or written (Unix ms); moves the idle deadline.
    pub seen_ms: u64,
}

impl Record {
    pub fn new(items: ItemList, now_ms: u64) -> Record {
        Record { items, created_ms: now_ms, seen_ms: now_ms }
    }

    /// The moment this record stops existing: the earlier of the idle and absolute deadlines.
    pub fn expires_ms(&self, lifetimes: &Lifetimes) -> u64 {
        lifetimes.deadline_ms(self.created_ms, self.seen_ms)
    }

    pub fn is_live(&self, lifetimes: &Lifetimes, now_ms: u64) -> bool {
        now_ms < self.expires_ms(lifetimes)
    }
}

/// What an operation on an id reached: the live session under that id, or, in a rotation's
/// grace window ([`Lifetimes::rotation_grace`]), the session the id was rotated to, whose id
/// the answer must carry from then on (`moved_to`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reached<T> {
    pub value: T,
    pub moved_to: Option<SessionId>,
}

impl<T> Reached<T> {
    pub fn here(value: T) -> Reached<T> {
        Reached { value, moved_to: None }
    }
}

/// The outcome of [`SessionStore::update`]: the record as stored afterwards, or the list rule
/// the operation broke (the list is unchanged, but the visit still counts).
pub type Updated = Result<Record, ListError>;

/// The outcome of [`SessionStore::create`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    Stored(Record),
    /// The creator's network started sessions faster than its bucket allows.
    TooFast {
        retry_after: Duration,
    },
}

/// The outcome of [`SessionStore::rotate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotated {
    /// The session moved to the new id; the old one leads to it for the grace window.
    Moved,
    /// The old id was already rotated, within the grace window, to this id: a second press of
    /// *Rotate id* (another tab, a double click) gets the same successor, not a third id.
    Already(SessionId),
    /// No live session has this id.
    Missing,
}

/// What a new session costs its creator's network: one admission against its bucket
/// ([`crate::admission::rate`]), checked and charged in the same step as the creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateCharge {
    /// The bucket's key: the client's network (`198.51.100.7`, `2001:db8:1:2::/64`).
    pub network: String,
    pub rule: RateRule,
}

/// A place to keep server-side sessions. Every method treats an expired record as absent, and
/// an id rotated away longer than the grace window ago as unknown.
#[rocket::async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// A short name for the page and `/api/inspect` (`memory`, `redis`, `postgres`).
    fn backend(&self) -> &'static str;

    /// Whether the sessions live in this process only (gone on restart, not shared by other
    /// instances), as the memory store's do.
    fn per_process(&self) -> bool {
        false
    }

    /// Checks that the store answers (for `/healthz`); a network store also uses it to connect
    /// and, for Postgres, to bring the schema up to date. Memory is always reachable.
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The live record for `id`, or `None`. A load counts as a visit: it moves the idle
    /// deadline (never the absolute one), but only once the last recorded visit is older than
    /// [`Lifetimes::refresh_after`], so that most reads write nothing.
    async fn load(&self, id: &SessionId) -> Result<Option<Reached<Record>>, StoreError>;

    /// Stores a new session holding `items` under `id`, which the caller has just generated, if
    /// the creator's network may start one now: `rate` is checked and charged in the same step.
    async fn create(&self, id: &SessionId, items: ItemList, rate: &RateCharge)
        -> Result<Created, StoreError>;

    /// Applies `op` to the session's list atomically: when several updates to one session
    /// race, each is applied to the result of the one before, and none is lost. `None` when no
    /// live session has this id. A refused operation still counts as a visit.
    async fn update(&self, id: &SessionId, op: &Op) -> Result<Option<Reached<Updated>>, StoreError>;

    /// Moves a live session from `old` to `new` (same list and timestamps) in one step. For
    /// [`Lifetimes::rotation_grace`] the old id leads to the new session (a request already on
    /// its way with it loses nothing), then it is dead.
    async fn rotate(&self, old: &SessionId, new: &SessionId) -> Result<Rotated, StoreError>;

    /// Deletes the session (through a rotated-away id too, within the grace window). `false` if
    /// there was no live session.
    async fn destroy(&self, id: &SessionId) -> Result<bool, StoreError>;

    /// Frees every expired record, forward and rate bucket, and says how many sessions it
    /// removed.
    async fn purge_expired(&self) -> Result<usize, StoreError>;

    /// How many live sessions the store holds.
    async fn count(&self) -> Result<usize, StoreError>;

    /// How often the app may [`count`](SessionStore::count) to correct its estimate of live
    /// sessions ([`crate::admission::live`]): every [`RECOUNT_EVERY`] unless counting is costly
    /// (a DynamoDB count reads the whole table).
    fn recount_every(&self) -> Duration {
        RECOUNT_EVERY
    }

    /// A count for a page anyone may request (`/api/inspect`): [`count`](SessionStore::count)
    /// itself, unless counting is costly, when the store answers from a recent count (and
    /// still fails when it cannot be reached).
    async fn count_recent(&self) -> Result<usize, StoreError> {
        self.count().await
    }
}
