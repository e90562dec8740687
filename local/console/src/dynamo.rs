//! The console's DynamoDB reads (aws-sdk-dynamodb, against AWS, moto or `sfn-local serve`): the
//! order index (one Query per order; the failed-executions index per machine), the email log's
//! records of an attempt, and the attempt table's records of an order. Reads only.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::AttributeValue;
use unpaid_order::attr::item_from_sdk;
use unpaid_order::aws::DynamoOrderIndex;
use unpaid_order::evidence::items::{FAILED_INDEX, FAILED_INDEX_HASH_KEY, FAILED_INDEX_RANGE_KEY};
use unpaid_order::evidence::IndexEntry;
use unpaid_order::{Item, OrderIndex};

use crate::stack::Tables;

/// Most items read from one Query (pages of DynamoDB's 1 MB): bounds every read.
const MAX_ITEMS: usize = 10_000;

/// A failed DynamoDB read: the operation and table, and AWS's error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("DynamoDB {operation} {table}: {message}")]
pub struct DynamoError {
    /// The operation (`Query`, `GetItem`).
    pub operation: &'static str,
    /// The table read.
    pub table: String,
    /// AWS's error code (`ResourceNotFoundException`, `AccessDeniedException`, ...).
    pub code: Option<String>,
    /// AWS's error code and message.
    pub message: String,
}

impl DynamoError {
    /// The table does not exist (a stack deployed before it had the table, a wrong name).
    pub fn table_missing(&self) -> bool {
        self.code.as_deref() == Some("ResourceNotFoundException")
    }

    fn of(operation: &'static str, table: &str, e: impl std::fmt::Display) -> DynamoError {
        let message = e.to_string();
        // The domain adapter's errors carry the SDK's text, which names AWS's error code.
        let code = message
            .contains("ResourceNotFoundException")
            .then(|| "ResourceNotFoundException".to_string());
        DynamoError {
            operation,
            table: table.to_string(),
            code,
            message,
        }
    }
}

fn dynamo_error<E>(
    operation: &'static str,
    table: &str,
    e: aws_sdk_dynamodb::error::SdkError<E>,
) -> DynamoError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let message = match (e.code(), e.message()) {
        (Some(code), Some(m)) => format!("{code} ({m})"),
        (Some(code), None) => code.to_string(),
        _ => DisplayErrorContext(&e).to_string(),
    };
    DynamoError {
        operation,
        table: table.to_string(),
        code: e.code().map(str::to_string),
        message,
    }
}

/// The DynamoDB side of the console: a client and the tables it may read.
#[derive(Clone)]
pub struct Records {
    client: aws_sdk_dynamodb::Client,
    /// The tables configured (each `None` is read as "not configured").
    pub tables: Tables,
}

impl Records {
    /// Reads `tables` through `client`.
    pub fn new(client: aws_sdk_dynamodb::Client, tables: Tables) -> Self {
        Records { client, tables }
    }

    /// Every execution the order index holds for `order_id` (one paged Query); `None` without
    /// an index table.
    pub async fn executions_of(
        &self,
        order_id: &str,
    ) -> Result<Option<Vec<IndexEntry>>, DynamoError> {
        let Some(table) = &self.tables.index else {
            return Ok(None);
        };
        DynamoOrderIndex::new(self.client.clone(), table.clone())
            .executions_of(order_id)
            .await
            .map(Some)
            .map_err(|e| DynamoError::of("Query", table, e))
    }

    /// The index's items of `machine`'s FAILED executions started in [since, until) (the sparse
    /// failed-executions index, one paged Query); `None` without an index table.
    pub async fn failed_of(
        &self,
        machine: &str,
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<Option<Vec<IndexEntry>>, DynamoError> {
        let Some(table) = &self.tables.index else {
            return Ok(None);
        };
        let mut condition = "#m = :m".to_string();
        let mut values = vec![(":m", machine.to_string())];
        match (since, until) {
            (Some(s), Some(u)) => {
                condition.push_str(" AND #s BETWEEN :since AND :until");
                values.push((":since", s.to_string()));
                values.push((":until", u.to_string()));
            }
            (Some(s), None) => {
                condition.push_str(" AND #s >= :since");
                values.push((":since", s.to_string()));
            }
            (None, Some(u)) => {
                condition.push_str(" AND #s <= :until");
                values.push((":until", u.to_string()));
            }
            (None, None) => {}
        }
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(table)
                .index_name(FAILED_INDEX)
                .key_condition_expression(&condition)
                .expression_attribute_names("#m", FAILED_INDEX_HASH_KEY)
                .set_exclusive_start_key(start);
            if since.is_some() || until.is_some() {
                q = q.expression_attribute_names("#s", FAILED_INDEX_RANGE_KEY);
            }
            for (k, v) in &values {
                q = q.expression_attribute_values(*k, AttributeValue::S(v.clone()));
            }
            let page = q
                .send()
                .await
                .map_err(|e| dynamo_error("Query", table, e))?;
            for item in page.items() {
                let item = item_from_sdk(item).map_err(|e| DynamoError::of("Query", table, e))?;
                out.extend(IndexEntry::from_item(&item));
            }
            start = page.last_evaluated_key;
            if start.is_none() || out.len() >= MAX_ITEMS {
                return Ok(Some(out));
            }
        }
    }

    /// The email-log record under `email_id` (`{orderId}#{attemptId}#{channel}`); `None` when
    /// there is none, or no email log is configured.
    pub async fn email_record(&self, email_id: &str) -> Result<Option<Item>, DynamoError> {
        let Some(table) = &self.tables.email_log else {
            return Ok(None);
        };
        let got = self
            .client
            .get_item()
            .table_name(table)
            .key("emailId", AttributeValue::S(email_id.to_string()))
            .send()
            .await
            .map_err(|e| dynamo_error("GetItem", table, e))?;
        got.item
            .as_ref()
            .map(item_from_sdk)
            .transpose()
            .map_err(|e| DynamoError::of("GetItem", table, e))
    }

    /// The attempt table's records of `order_id`, oldest first (one paged Query); `None`
    /// without an attempt table.
    pub async fn attempt_records(&self, order_id: &str) -> Result<Option<Vec<Item>>, DynamoError> {
        let Some(table) = &self.tables.attempts else {
            return Ok(None);
        };
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(table)
                .key_condition_expression("#o = :o")
                .expression_attribute_names("#o", "orderId")
                .expression_attribute_values(":o", AttributeValue::S(order_id.to_string()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| dynamo_error("Query", table, e))?;
            for item in page.items() {
                out.push(item_from_sdk(item).map_err(|e| DynamoError::of("Query", table, e))?);
            }
            start = page.last_evaluated_key;
            if start.is_none() || out.len() >= MAX_ITEMS {
                return Ok(Some(out));
            }
        }
    }
}
