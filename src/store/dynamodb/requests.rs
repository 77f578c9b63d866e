//! The requests every operation is made of: a conditional `UpdateItem` that returns the item
//! either way, a consistent `GetItem`, and `TransactWriteItems`, with DynamoDB's answers turned
//! into what the operations need (the item a failed condition found), never a panic.

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    CancellationReason, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use super::items::{self, Expression, Item};
use super::DynamoStore;

/// What a conditional `UpdateItem` answered.
pub enum Answer {
    /// The condition held: the item as stored afterwards.
    Applied(Item),
    /// The condition failed: the item as it was (`None`: nothing under the key).
    Refused(Option<Item>),
}

/// DynamoDB refused a write because a transaction held its item (or cancelled a transaction
/// because another held one): nothing was written, and trying again shortly is right. The SDK
/// does not retry these itself. No emulator reproduces them: moto and dynalite apply requests
/// one at a time.
struct Conflict;

/// How many times a write that met a [`Conflict`] is tried in all.
const CONFLICT_ATTEMPTS: u32 = 5;

/// A short random pause, so that two writers that met do not meet again.
async fn conflict_pause() {
    let pause = std::time::Duration::from_millis(rand::random_range(10..60));
    rocket::tokio::time::sleep(pause).await;
}

impl DynamoStore {
    /// One conditional `UpdateItem` on `key`, returning the item after it, or as it was when the
    /// condition failed.
    pub(super) async fn update_item(&self, key: &str, expression: &Expression) -> Result<Answer, String> {
        let mut attempts = 1;
        loop {
            match self.update_once(key, expression).await {
                Err(Conflict) if attempts < CONFLICT_ATTEMPTS => {
                    attempts += 1;
                    conflict_pause().await;
                }
                Err(Conflict) => return Err("dynamodb: a transaction kept holding the item".into()),
                Ok(answer) => return answer,
            }
        }
    }

    /// One `UpdateItem`; [`Conflict`] when a transaction (a rotation) held the item.
    async fn update_once(
        &self,
        key: &str,
        expression: &Expression,
    ) -> Result<Result<Answer, String>, Conflict> {
        let client = match self.client().await {
            Ok(client) => client,
            Err(e) => return Ok(Err(e)),
        };
        let sent = client
            .update_item()
            .table_name(self.table())
            .key("pk", items::text(key))
            .update_expression(&expression.update)
            .condition_expression(&expression.condition)
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(expression.values())
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        Ok(match sent {
            Ok(output) => Ok(Answer::Applied(output.attributes.unwrap_or_default())),
            Err(SdkError::ServiceError(service)) => match service.into_err() {
                UpdateItemError::ConditionalCheckFailedException(failed) => Ok(Answer::Refused(failed.item)),
                UpdateItemError::TransactionConflictException(_) => return Err(Conflict),
                other => Err(DisplayErrorContext(other).to_string()),
            },
            Err(other) => Err(failure(other)),
        })
    }

    /// The item under `key`, read consistently (it includes every write that succeeded).
    pub(super) async fn get_item(&self, key: &str) -> Result<Option<Item>, String> {
        let output = self
            .client()
            .await?
            .get_item()
            .table_name(self.table())
            .key("pk", items::text(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(failure)?;
        Ok(output.item)
    }
}

/// A transaction was cancelled: why, for each of its writes in order (`ConditionalCheckFailed`
/// with the item as it was, or `None` for a write that was not the cause).
pub type Cancelled = Vec<CancellationReason>;

impl DynamoStore {
    /// A transaction's conditional update of `key`; on a failed condition, the cancellation
    /// carries the item as it was.
    pub(super) fn update_in_transaction(
        &self,
        key: &str,
        expression: &Expression,
    ) -> Result<TransactWriteItem, String> {
        let update = Update::builder()
            .table_name(self.table())
            .key("pk", items::text(key))
            .update_expression(&expression.update)
            .condition_expression(&expression.condition)
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(expression.values())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// A transaction's put of `item` (which holds its key), on `expression`'s condition.
    pub(super) fn put_in_transaction(
        &self,
        item: Item,
        expression: &Expression,
    ) -> Result<TransactWriteItem, String> {
        let put = Put::builder()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression(&expression.condition)
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(expression.values())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// One `TransactWriteItems`: all of `writes` or none. The SDK gives it an idempotency token,
    /// so a retry of a transaction that was applied is not applied twice.
    /// A transaction cancelled only because another held one of its items is tried again.
    pub(super) async fn transact(
        &self,
        writes: Vec<TransactWriteItem>,
    ) -> Result<Result<(), Cancelled>, String> {
        let mut attempts = 1;
        loop {
            let client = self.client().await?;
            let sent = client.transact_write_items().set_transact_items(Some(writes.clone())).send().await;
            let cancelled = match sent {
                Ok(_) => return Ok(Ok(())),
                Err(SdkError::ServiceError(service)) => match service.into_err() {
                    TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                        cancelled.cancellation_reasons.unwrap_or_default()
                    }
                    other => return Err(DisplayErrorContext(other).to_string()),
                },
                Err(other) => return Err(failure(other)),
            };
            let conflict = cancelled.iter().any(|reason| reason.code() == Some("TransactionConflict"));
            if !conflict || attempts == CONFLICT_ATTEMPTS {
                return Ok(Err(cancelled));
            }
            attempts += 1;
            conflict_pause().await;
        }
    }
}

/// Whether write `index` of a cancelled transaction failed its condition, and the item it found.
pub fn failed(cancelled: &Cancelled, index: usize) -> Option<Option<&Item>> {
    let reason = cancelled.get(index)?;
    (reason.code() == Some("ConditionalCheckFailed")).then(|| reason.item())
}

/// An SDK error as one line for the log, with its causes (a timeout, a refused connection, a
/// missing table), never a session id.
pub fn failure<E: std::error::Error + 'static, R: std::fmt::Debug>(error: SdkError<E, R>) -> String {
    DisplayErrorContext(error).to_string()
}
