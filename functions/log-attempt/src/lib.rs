//! The `log-attempt` Lambda: records the attempt (the order as saved, in its stored form) in the
//! process-unpaid-order table, once per attempt.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::Instrument;
use unpaid_order::model::AttemptRecord;
use unpaid_order::{
    parse_input, AttemptId, AttemptLog, FunctionError, OrderId, OrderTable, PaymentHeader,
};

/// What the state machine passes in after save-order.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    /// The order the attempt was for.
    pub order_id: OrderId,
    /// The attempt (the execution), so a retry or redrive of it logs once.
    pub attempt_id: AttemptId,
    /// The header save-order wrote, recorded with the order.
    pub payment_header: PaymentHeader,
}

/// Whether this invocation wrote the attempt's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The record was written by this invocation.
    Logged,
    /// An earlier invocation of this attempt already wrote it: nothing changed.
    Unchanged,
}

/// What goes on to notify-failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    /// The order the attempt was for.
    pub order_id: OrderId,
    /// The attempt that was logged.
    pub attempt_id: AttemptId,
    /// The record's range key: the header's timestamp, or `timestamp#attemptId` when another
    /// attempt of the same order already holds that instant.
    pub created_at: String,
    /// Whether this invocation wrote the record.
    pub outcome: Outcome,
}

/// `{"orderId", "attemptId", "paymentHeader"}` -> `{"orderId", "attemptId", "createdAt", "outcome"}`.
/// `OrderNotFound`.
pub async fn handle(
    orders: &dyn OrderTable,
    attempts: &dyn AttemptLog,
    event: Value,
) -> Result<Output, FunctionError> {
    let input: Input = parse_input(event)?;
    let span = tracing::info_span!("log-attempt", orderId = %input.order_id, attemptId = %input.attempt_id);
    async {
        let result = log(orders, attempts, input).await;
        unpaid_order::log_result(&result);
        result
    }
    .instrument(span)
    .await
}

async fn log(
    orders: &dyn OrderTable,
    attempts: &dyn AttemptLog,
    input: Input,
) -> Result<Output, FunctionError> {
    input.payment_header.validate_failed()?;
    let order = orders
        .get(&input.order_id)
        .await?
        .ok_or_else(|| FunctionError::OrderNotFound {
            order_id: input.order_id.to_string(),
        })?;
    let record = AttemptRecord {
        order_id: input.order_id.clone(),
        attempt_id: input.attempt_id.clone(),
        timestamp: input.payment_header.timestamp.clone(),
        data: order.data,
    };
    let logged = attempts.record(&record).await?;
    let outcome = if logged.logged {
        Outcome::Logged
    } else {
        Outcome::Unchanged
    };
    tracing::info!(createdAt = %logged.created_at, outcome = ?outcome, "attempt logged");
    Ok(Output {
        order_id: input.order_id,
        attempt_id: input.attempt_id,
        created_at: logged.created_at,
        outcome,
    })
}
