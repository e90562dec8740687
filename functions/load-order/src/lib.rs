//! The `load-order` Lambda: checks the order exists and is unpaid, and reads its oldest
//! check-status record; only the order id and the check-status travel on (README function table).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::Instrument;
use unpaid_order::{
    parse_input, CheckStatus, CheckStatusTable, FunctionError, OrderId, OrderTable,
};

/// The per-order execution's input: `{"orderId"}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    /// The order to process.
    pub order_id: OrderId,
}

/// What goes on to build-failed-header: the id and the check-status, never the order document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    /// The order, checked to exist and be unpaid.
    pub order_id: OrderId,
    /// The order's oldest check-status record.
    pub check_status: CheckStatus,
}

/// `{"orderId"}` -> `{"orderId", "checkStatus"}`. `OrderNotFound`, `OrderAlreadyPaid` (checked
/// before the check-status, so a paid order stops here), `CheckStatusNotFound`.
pub async fn handle(
    orders: &dyn OrderTable,
    check_status: &dyn CheckStatusTable,
    event: Value,
) -> Result<Output, FunctionError> {
    let input: Input = parse_input(event)?;
    let span = tracing::info_span!("load-order", orderId = %input.order_id);
    async {
        let result = load(orders, check_status, input).await;
        unpaid_order::log_result(&result);
        result
    }
    .instrument(span)
    .await
}

async fn load(
    orders: &dyn OrderTable,
    check_status: &dyn CheckStatusTable,
    input: Input,
) -> Result<Output, FunctionError> {
    let order_id = input.order_id;
    let order = orders
        .get(&order_id)
        .await?
        .ok_or_else(|| FunctionError::OrderNotFound {
            order_id: order_id.to_string(),
        })?;
    order.data.ensure_unpaid(&order_id)?;
    let check = check_status.oldest(&order_id).await?.ok_or_else(|| {
        FunctionError::CheckStatusNotFound {
            order_id: order_id.to_string(),
        }
    })?;
    tracing::info!(chargeId = %check.charge_id, status = %check.status, createdAt = %check.created_at, "order loaded");
    Ok(Output {
        order_id,
        check_status: check,
    })
}
