//! The check-status table on DynamoDB: the order's oldest record, as the seed's first query row.

use async_trait::async_trait;

use super::errors::aws_error;
use super::{dynamodb_budget, s};
use crate::attr::item_from_sdk;
use crate::model::{CheckStatus, OrderId};
use crate::ports::CheckStatusTable;
use crate::FunctionError;

/// The check-status table on DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoCheckStatusTable {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoCheckStatusTable {
    /// The check-status records in `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoCheckStatusTable {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl CheckStatusTable for DynamoCheckStatusTable {
    async fn oldest(&self, order_id: &OrderId) -> Result<Option<CheckStatus>, FunctionError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#orderId = :orderId")
            .expression_attribute_names("#orderId", "orderId")
            .expression_attribute_values(":orderId", s(order_id.as_str()))
            .scan_index_forward(true)
            .limit(1)
            .consistent_read(true)
            .customize()
            .config_override(dynamodb_budget(&self.client))
            .send()
            .await
            .map_err(|e| aws_error(&format!("DynamoDB Query {}", self.table), e))?;
        match out.items.unwrap_or_default().first() {
            Some(item) => Ok(Some(CheckStatus::from_item(
                order_id,
                &item_from_sdk(item)?,
            )?)),
            None => Ok(None),
        }
    }
}
