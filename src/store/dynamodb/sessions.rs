//! The session operations, each the one request (or, where DynamoDB cannot do it in one, the
//! few) that the module doc counts. A session's liveness is a condition on its own attributes,
//! `seen > now - idle AND created > now - max`, so no request needs to know it beforehand.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, Select, TransactWriteItem};

use super::items::{self, number, session_key, text, ttl, Expression, Found, Item};
use super::requests::{failed, failure, Answer};
use super::DynamoStore;
use crate::clock::{self, now_ms};
use crate::item::{Op, MAX_ITEMS};
use crate::session_id::SessionId;
use crate::store::{Reached, Record, Rotated, Updated};

/// The session is live now.
const LIVE: &str = "#seen > :idle_cut AND #created > :max_cut";
/// This operation (`:op`, a random id) has not been applied already: an SDK retry of a request
/// whose answer was lost finds its own mark and changes nothing.
const NOT_DONE: &str = "(attribute_not_exists(#op) OR #op <> :op)";

impl DynamoStore {
    /// `expression` with the values every session request may use, for a request at `now`.
    fn at(&self, expression: Expression, now: u64) -> Expression {
        let (idle, max) = (clock::millis(self.lifetimes.idle), clock::millis(self.lifetimes.max));
        expression
            .value(":now", number(now))
            .value(":ttl", ttl(now.saturating_add(idle)))
            .value(":idle_cut", number(now.saturating_sub(idle)))
            .value(":max_cut", number(now.saturating_sub(max)))
    }

    /// A visit: records it when the last one is older than `refresh_after`, and fails (returning
    /// the session as it is) when it is not, or when there is no live session.
    pub(super) fn visit(&self, now: u64) -> Expression {
        let stale = now.saturating_sub(clock::millis(self.lifetimes.refresh_after()));
        let visit =
            Expression::new("SET #seen = :now, #expires_at = :ttl", format!("{LIVE} AND #seen <= :stale"));
        self.at(visit.value(":stale", number(stale)), now)
    }

    /// `op` applied by one `UpdateItem`, its list rule (with the item cap) in the condition.
    fn change(&self, op: &Op, op_id: &str, now: u64) -> Expression {
        let mark = "#seen = :now, #expires_at = :ttl, #op = :op";
        let (update, rule) = match op {
            Op::Add(_) => {
                (format!("SET #items = list_append(#items, :added), {mark}"), " AND size(#items) < :max")
            }
            // Past the cap, every index is refused anyway; the index must be written out.
            Op::Remove(index) => (
                format!("REMOVE #items[{}] SET {mark}", (*index).min(MAX_ITEMS)),
                " AND size(#items) > :index",
            ),
            Op::Clear => (format!("SET #items = :empty, {mark}"), ""),
        };
        let expression =
            Expression::new(update, format!("{LIVE} AND {NOT_DONE}{rule}")).value(":op", text(op_id));
        let expression = match op {
            Op::Add(item) => expression.value(":added", AttributeValue::L(vec![text(item.as_str())])),
            Op::Remove(index) => expression.value(":index", number((*index).min(MAX_ITEMS) as u64)),
            Op::Clear => expression.value(":empty", AttributeValue::L(vec![])),
        };
        self.at(expression.value(":max", number(MAX_ITEMS as u64)), now)
    }

    /// Sends `expression` to the session `id` names or, when a rotation left a forward in its
    /// place, to the successor it leads to (one hop, a second request). `None` when the
    /// forward leads nowhere.
    async fn reach(
        &self,
        id: &SessionId,
        expression: &Expression,
        now: u64,
    ) -> Result<Option<Reached<Answer>>, String> {
        let answer = self.update_item(&session_key(&id.storage_key()), expression).await?;
        let Answer::Refused(Some(item)) = &answer else { return Ok(Some(Reached::here(answer))) };
        let found = Found::of(item)?;
        if !matches!(found, Found::Forward { .. }) {
            return Ok(Some(Reached::here(answer)));
        }
        let Some(successor) = found.lead(id, now) else { return Ok(None) };
        let answer = self.update_item(&session_key(&successor.storage_key()), expression).await?;
        Ok(Some(Reached { value: answer, moved_to: Some(successor) }))
    }

    /// The live session an answer holds, and the mark of the last operation applied to it.
    fn live(&self, answer: Answer, now: u64) -> Result<Option<(Record, Option<String>)>, String> {
        match answer {
            Answer::Applied(item) | Answer::Refused(Some(item)) => {
                Ok(Found::of(&item)?.live(&self.lifetimes, now))
            }
            Answer::Refused(None) => Ok(None),
        }
    }

    pub(super) async fn load_session(&self, id: &SessionId) -> Result<Option<Reached<Record>>, String> {
        let now = now_ms();
        let Some(Reached { value, moved_to }) = self.reach(id, &self.visit(now), now).await? else {
            return Ok(None);
        };
        Ok(self.live(value, now)?.map(|(record, _)| Reached { value: record, moved_to }))
    }

    pub(super) async fn update_session(
        &self,
        id: &SessionId,
        op: &Op,
    ) -> Result<Option<Reached<Updated>>, String> {
        let (now, op_id) = (now_ms(), format!("{:032x}", rand::random::<u128>()));
        let Some(Reached { value, moved_to }) = self.reach(id, &self.change(op, &op_id, now), now).await?
        else {
            return Ok(None);
        };
        let applied = matches!(value, Answer::Applied(_));
        let Some((record, mark)) = self.live(value, now)? else { return Ok(None) };
        if applied || mark.as_deref() == Some(op_id.as_str()) {
            return Ok(Some(Reached { value: Ok(record), moved_to }));
        }
        let refused = op
            .allowed(record.items.len())
            .err()
            .ok_or("dynamodb: refused an operation the list rule allows")?;
        // A refused operation still counts as a visit: a second request, when the visit is stale.
        if record.seen_ms <= now.saturating_sub(clock::millis(self.lifetimes.refresh_after())) {
            let reached = moved_to.as_ref().unwrap_or(id);
            self.update_item(&session_key(&reached.storage_key()), &self.visit(now)).await?;
        }
        Ok(Some(Reached { value: Err(refused), moved_to }))
    }

    /// Reads the session (DynamoDB cannot copy an item), then in one transaction puts it under
    /// the new key and its forward in its place, on the condition that it has not changed in
    /// between (else reads again). A forward found instead leads to the earlier successor.
    pub(super) async fn rotate_session(&self, old: &SessionId, new: &SessionId) -> Result<Rotated, String> {
        let old_key = session_key(&old.storage_key());
        for _ in 0..3 {
            let now = now_ms();
            let Some(item) = self.get_item(&old_key).await? else { return Ok(Rotated::Missing) };
            let found = Found::of(&item)?;
            if let Some(successor) = found.lead(old, now) {
                return self.earlier_rotation(successor, new, now).await;
            }
            let Some((record, mark)) = found.live(&self.lifetimes, now) else { return Ok(Rotated::Missing) };
            let moved = self.moved(&record, new)?;
            let forward = self.forward(old, new, now, &record, mark)?;
            match self.transact(vec![moved, forward]).await? {
                Ok(()) => return Ok(Rotated::Moved),
                Err(cancelled) if failed(&cancelled, 1).is_some() => continue, // it changed meanwhile
                Err(cancelled) => return Err(format!("dynamodb rotate: cancelled ({cancelled:?})")),
            }
        }
        Err("dynamodb rotate: the session kept changing".into())
    }

    /// A second rotation through an id already rotated to `successor`: that successor, if its
    /// session is live (a second run of this very rotation finds its own forward).
    async fn earlier_rotation(
        &self,
        successor: SessionId,
        new: &SessionId,
        now: u64,
    ) -> Result<Rotated, String> {
        let item = self.get_item(&session_key(&successor.storage_key())).await?;
        let live = match item {
            Some(item) => Found::of(&item)?.live(&self.lifetimes, now).is_some(),
            None => false,
        };
        Ok(match live {
            false => Rotated::Missing,
            true if &successor == new => Rotated::Moved,
            true => Rotated::Already(successor),
        })
    }

    /// The put of the rotated session under its new key.
    fn moved(&self, record: &Record, new: &SessionId) -> Result<TransactWriteItem, String> {
        let item = items::session(&new.storage_key(), record, &self.lifetimes);
        self.put_in_transaction(item, &Expression::new("", "attribute_not_exists(#pk)"))
    }

    /// The put of the forward in the old session's place, if the session is as it was read.
    fn forward(
        &self,
        old: &SessionId,
        new: &SessionId,
        now: u64,
        record: &Record,
        mark: Option<String>,
    ) -> Result<TransactWriteItem, String> {
        let until = now.saturating_add(clock::millis(self.lifetimes.rotation_grace));
        let item = items::of([
            ("pk", text(session_key(&old.storage_key()))),
            ("to", text(new.storage_key())),
            ("sealed", text(old.seal_successor(new))),
            ("until", number(until)),
            ("expires_at", ttl(until)),
        ]);
        let unchanged = match mark {
            Some(mark) => Expression::new("", "#seen = :seen AND #op = :op").value(":op", text(mark)),
            None => Expression::new("", "#seen = :seen AND attribute_not_exists(#op)"),
        };
        self.put_in_transaction(item, &unchanged.value(":seen", number(record.seen_ms)))
    }

    /// Deletes the session, or through a forward the one it leads to (a second request).
    pub(super) async fn destroy_session(&self, id: &SessionId) -> Result<bool, String> {
        let now = now_ms();
        let Some(item) = self.delete_item(&session_key(&id.storage_key())).await? else { return Ok(false) };
        let found = Found::of(&item)?;
        let Some(successor) = found.lead(id, now) else {
            return Ok(found.live(&self.lifetimes, now).is_some());
        };
        let Some(item) = self.delete_item(&session_key(&successor.storage_key())).await? else {
            return Ok(false);
        };
        Ok(Found::of(&item)?.live(&self.lifetimes, now).is_some())
    }

    /// Deletes the item under `key`, returning what it was.
    async fn delete_item(&self, key: &str) -> Result<Option<Item>, String> {
        let client = self.client().await?;
        let deleted = client.delete_item().table_name(self.table()).key("pk", text(key));
        let output = deleted.return_values(ReturnValue::AllOld).send().await.map_err(failure)?;
        Ok(output.attributes)
    }

    /// Live sessions: a `Scan` of the whole table, page by page, counting the items that are
    /// live sessions (DynamoDB bills every item it reads, counted or not).
    pub(super) async fn count_sessions(&self) -> Result<usize, String> {
        let now = now_ms();
        let live = self.at(Expression::new("", LIVE), now);
        let (client, mut start, mut total) = (self.client().await?, None, 0usize);
        loop {
            let page = client
                .scan()
                .table_name(self.table())
                .select(Select::Count)
                .filter_expression(&live.condition)
                .set_expression_attribute_names(live.names())
                .set_expression_attribute_values(live.values())
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(failure)?;
            total += usize::try_from(page.count).unwrap_or(0);
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(total);
            }
        }
    }
}
