//! The order index on DynamoDB (hash `orderId`, range `executionArn`, TTL `expiresAt`): one
//! conditional PutItem per status-change event (only over a lower rank), one Query per order.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;

use super::errors::aws_error;
use super::{dynamodb_budget, s};
use crate::attr::{item_from_sdk, item_to_sdk};
use crate::evidence::items::{INDEX_HASH_KEY, INDEX_RANGE_KEY};
use crate::evidence::{IndexEntry, IndexOutcome};
use crate::ports::OrderIndex;
use crate::FunctionError;
use async_trait::async_trait;

/// The order index table on DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoOrderIndex {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoOrderIndex {
    /// The index in `table` (ORDER_INDEX_TABLE).
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoOrderIndex {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl OrderIndex for DynamoOrderIndex {
    async fn record(&self, entry: &IndexEntry) -> Result<IndexOutcome, FunctionError> {
        // A duplicate or an older event finds the same or a higher rank: nothing is written. A
        // retried put whose first attempt landed finds its own rank: Stale, the item is right.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_to_sdk(&entry.to_item())?))
            .condition_expression("attribute_not_exists(#range) OR #rank < :rank")
            .expression_attribute_names("#range", INDEX_RANGE_KEY)
            .expression_attribute_names("#rank", "rank")
            .expression_attribute_values(":rank", AttributeValue::N(entry.rank.to_string()))
            .customize()
            .config_override(dynamodb_budget(&self.client))
            .send()
            .await;
        match result {
            Ok(_) => Ok(IndexOutcome::Written),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => Ok(IndexOutcome::Stale),
                _ => Err(aws_error(&format!("DynamoDB PutItem {}", self.table), err)),
            },
        }
    }

    async fn executions_of(&self, order_id: &str) -> Result<Vec<IndexEntry>, FunctionError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#hash = :id")
                .expression_attribute_names("#hash", INDEX_HASH_KEY)
                .expression_attribute_values(":id", s(order_id))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| aws_error(&format!("DynamoDB Query {}", self.table), e))?;
            for item in page.items() {
                if let Some(entry) = IndexEntry::from_item(&item_from_sdk(item)?) {
                    out.push(entry);
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(out);
            }
        }
    }
}
