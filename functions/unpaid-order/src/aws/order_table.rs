//! The order table on DynamoDB: strongly consistent reads, and the payment header written under
//! a condition that re-checks, atomically, that the order is still clearly unpaid.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::errors::aws_error;
use super::{dynamodb_budget, s};
use crate::attr::item_from_sdk;
use crate::model::{plan_save, OrderId, PaymentHeader, SaveOutcome, SavePlan, StoredOrder};
use crate::ports::OrderTable;
use crate::FunctionError;

/// How often save-order re-reads and retries when the order changed under it.
const SAVE_TRIES: usize = 3;

/// The map-form condition: the order exists, `data` is a map, and its payment header is what
/// [`crate::model::PaymentState::Unpaid`] accepts (absent or null, or a map whose `isPaid` is
/// absent or `false` and whose `totalPaid` is absent or the number 0). Anything else fails the
/// write, and the re-read then names it (`OrderAlreadyPaid` / `InvalidInput`).
const UNPAID_MAP_CONDITION: &str = "attribute_exists(orderId) AND attribute_type(#data, :M) AND \
     (attribute_not_exists(#data.#payment) OR attribute_type(#data.#payment, :NULL) OR \
      (attribute_type(#data.#payment, :M) AND \
       (attribute_not_exists(#data.#payment.#isPaid) OR #data.#payment.#isPaid = :false) AND \
       (attribute_not_exists(#data.#payment.#totalPaid) OR #data.#payment.#totalPaid = :zero)))";

/// The order table on DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoOrderTable {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoOrderTable {
    /// The orders in `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoOrderTable {
            client,
            table: table.into(),
        }
    }

    fn key(order_id: &OrderId) -> HashMap<String, AttributeValue> {
        HashMap::from([("orderId".to_string(), s(order_id.as_str()))])
    }

    /// Runs a planned write; `Ok(false)` when its condition failed (the order changed since the
    /// plan was made). [`OrderTable::save_payment_header`] plans, applies and re-plans on `false`.
    pub async fn apply(
        &self,
        order_id: &OrderId,
        header: &PaymentHeader,
        plan: &SavePlan,
    ) -> Result<bool, FunctionError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(order_id)))
            .expression_attribute_names("#data", "data");
        let update = match plan {
            SavePlan::Unchanged => return Ok(true),
            // Only data.payment is written.
            SavePlan::SetMapPayment => update
                .update_expression("SET #data.#payment = :header")
                .condition_expression(UNPAID_MAP_CONDITION)
                .expression_attribute_names("#payment", "payment")
                .expression_attribute_names("#isPaid", "isPaid")
                .expression_attribute_names("#totalPaid", "totalPaid")
                .expression_attribute_values(":header", header.to_attr().to_sdk()?)
                .expression_attribute_values(":M", s("M"))
                .expression_attribute_values(":NULL", s("NULL"))
                .expression_attribute_values(":false", AttributeValue::Bool(false))
                .expression_attribute_values(":zero", AttributeValue::N("0".to_string())),
            // Optimistic concurrency: the string is replaced only if nobody changed it since
            // the plan (which checked it is clearly unpaid) was made from it.
            SavePlan::ReplaceJson { old, new } => update
                .update_expression("SET #data = :new")
                .condition_expression("#data = :old")
                .expression_attribute_values(":new", s(new))
                .expression_attribute_values(":old", s(old)),
        };
        match update
            .customize()
            .config_override(dynamodb_budget(&self.client))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(aws_error(&format!("DynamoDB UpdateItem {}", self.table), e)),
        }
    }
}

#[async_trait]
impl OrderTable for DynamoOrderTable {
    async fn get(&self, order_id: &OrderId) -> Result<Option<StoredOrder>, FunctionError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(order_id)))
            .consistent_read(true)
            .customize()
            .config_override(dynamodb_budget(&self.client))
            .send()
            .await
            .map_err(|e| aws_error(&format!("DynamoDB GetItem {}", self.table), e))?;
        match out.item {
            Some(item) => Ok(Some(StoredOrder::from_item(
                order_id,
                &item_from_sdk(&item)?,
            )?)),
            None => Ok(None),
        }
    }

    async fn save_payment_header(
        &self,
        order_id: &OrderId,
        header: &PaymentHeader,
    ) -> Result<SaveOutcome, FunctionError> {
        for _ in 0..SAVE_TRIES {
            let order = self
                .get(order_id)
                .await?
                .ok_or_else(|| FunctionError::OrderNotFound {
                    order_id: order_id.to_string(),
                })?;
            let plan = plan_save(&order, header)?;
            if plan == SavePlan::Unchanged {
                return Ok(SaveOutcome::Unchanged);
            }
            if self.apply(order_id, header, &plan).await? {
                return Ok(SaveOutcome::Saved);
            }
            tracing::warn!(table = %self.table, "order changed while saving the payment header; reading it again");
        }
        Err(FunctionError::transient(format!(
            "order {order_id} kept changing while saving the payment header ({SAVE_TRIES} tries)"
        )))
    }
}
