//! The process-unpaid-order table on DynamoDB: one item per attempt, put only if absent, and
//! this attempt's own earlier put (a retried call whose reply was lost) recognised as done.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::dynamodb_budget;
use super::errors::aws_error;
use crate::attr::{item_from_sdk, item_to_sdk, Attr, Item};
use crate::model::{AttemptRecord, LogOutcome};
use crate::ports::AttemptLog;
use crate::FunctionError;

/// The process-unpaid-order table on DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoAttemptLog {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoAttemptLog {
    /// The attempt log in `table` (the process-unpaid-order table).
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoAttemptLog {
            client,
            table: table.into(),
        }
    }

    /// Puts the item unless its key exists; returns the existing item when it does.
    async fn put_if_absent(&self, item: &Item) -> Result<Option<Item>, FunctionError> {
        let what = || format!("DynamoDB PutItem {}", self.table);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_to_sdk(item)?))
            .condition_expression("attribute_not_exists(orderId)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .customize()
            .config_override(dynamodb_budget(&self.client))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(None),
            Err(err) => err,
        };
        let Some(service) = err
            .as_service_error()
            .filter(|e| e.is_conditional_check_failed_exception())
        else {
            return Err(aws_error(&what(), err));
        };
        if let aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) = service {
            if let Some(old) = c.item() {
                return Ok(Some(item_from_sdk(old)?));
            }
        }
        // DynamoDB returns the item with the failure (ALL_OLD); without it, it counts as
        // another attempt's (a new record with a disambiguated key, never an overwrite).
        Ok(Some(Item::new()))
    }
}

fn attempt_of(item: &Item) -> Option<&str> {
    item.get("attemptId").and_then(Attr::as_s)
}

#[async_trait]
impl AttemptLog for DynamoAttemptLog {
    async fn record(&self, attempt: &AttemptRecord) -> Result<LogOutcome, FunctionError> {
        let ours = attempt.attempt_id.as_str();
        match self
            .put_if_absent(&attempt.to_item(&attempt.timestamp))
            .await?
        {
            None => {
                return Ok(LogOutcome {
                    created_at: attempt.timestamp.clone(),
                    logged: true,
                })
            }
            Some(old) if attempt_of(&old) == Some(ours) => {
                return Ok(LogOutcome {
                    created_at: attempt.timestamp.clone(),
                    logged: false,
                })
            }
            Some(_) => {}
        }
        // Another attempt started at the same instant holds the plain timestamp.
        let created_at = attempt.disambiguated_created_at();
        let existing = self.put_if_absent(&attempt.to_item(&created_at)).await?;
        Ok(LogOutcome {
            created_at,
            logged: existing.is_none(),
        })
    }
}
