//! The `build-failed-header` Lambda: builds the unpaid payment header from the check-status and
//! the execution's start time (pure: no AWS access), so a redrive builds the same header.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use unpaid_order::{parse_input, CheckStatus, FunctionError, OrderId, PaymentHeader};

/// What the state machine passes in: load-order's output.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    /// The order the header is for.
    pub order_id: OrderId,
    /// The order's oldest check-status record: the failed charge the header describes.
    pub check_status: CheckStatus,
    /// `$$.Execution.StartTime` (RFC 3339).
    pub timestamp: String,
}

/// What goes on to save-order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    /// The unpaid payment header (`isPaid: false`), the same for every run of one attempt.
    pub payment_header: PaymentHeader,
}

/// `{"orderId", "checkStatus", "timestamp"}` -> `{"paymentHeader"}`. `InvalidInput` only.
pub async fn handle(event: Value) -> Result<Output, FunctionError> {
    let input: Input = parse_input(event)?;
    let _span = tracing::info_span!("build-failed-header", orderId = %input.order_id).entered();
    let result = PaymentHeader::failed(&input.check_status, &input.timestamp);
    unpaid_order::log_result(&result);
    Ok(Output {
        payment_header: result?,
    })
}
