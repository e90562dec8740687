//! The `save-order` Lambda: writes the unpaid payment header into the order with a conditional
//! update; a paid order is never overwritten and the same header again changes nothing.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::Instrument;
use unpaid_order::model::SaveOutcome;
use unpaid_order::{parse_input, FunctionError, OrderId, OrderTable, PaymentHeader};

/// What the state machine passes in: build-failed-header's output plus the order id.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    /// The order to write the header into.
    pub order_id: OrderId,
    /// The unpaid payment header to write.
    pub payment_header: PaymentHeader,
}

/// What goes on to log-attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    /// The order written.
    pub order_id: OrderId,
    /// `saved`, or `unchanged` when the order already had this header.
    pub outcome: SaveOutcome,
}

/// `{"orderId", "paymentHeader"}` -> `{"orderId", "outcome"}`. `OrderNotFound`, `OrderAlreadyPaid`.
pub async fn handle(orders: &dyn OrderTable, event: Value) -> Result<Output, FunctionError> {
    let input: Input = parse_input(event)?;
    let span = tracing::info_span!("save-order", orderId = %input.order_id);
    async {
        let result = save(orders, input).await;
        unpaid_order::log_result(&result);
        result
    }
    .instrument(span)
    .await
}

async fn save(orders: &dyn OrderTable, input: Input) -> Result<Output, FunctionError> {
    input.payment_header.validate_failed()?;
    let outcome = orders
        .save_payment_header(&input.order_id, &input.payment_header)
        .await?;
    tracing::info!(outcome = ?outcome, "payment header saved");
    Ok(Output {
        order_id: input.order_id,
        outcome,
    })
}
