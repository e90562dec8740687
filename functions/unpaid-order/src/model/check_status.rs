//! The check-status record: what the payment provider said about the failed charge.

use serde::{Deserialize, Serialize};

use super::OrderId;
use crate::attr::{Attr, Item};
use crate::FunctionError;

/// The order's oldest check-status record (what the seed's `next(CheckStatusTable.query(id))` gives).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckStatus {
    /// The failed charge's id; becomes the header's `paymentId`.
    pub charge_id: String,
    /// How the customer tried to pay (card, ...), copied into the header.
    pub payment_method: String,
    /// The payment provider's status of the charge, copied into the header.
    pub status: String,
    /// The record's range key: the oldest one is the one used.
    pub created_at: String,
}

impl CheckStatus {
    /// Reads a check-status item (`orderId`, `created_at` S or N, `chargeId`, `paymentMethod`, `status`).
    pub fn from_item(order_id: &OrderId, item: &Item) -> Result<CheckStatus, FunctionError> {
        let created_at = item
            .get("created_at")
            .and_then(Attr::key_text)
            .ok_or_else(|| {
                FunctionError::invalid(format!(
                    "check-status of order {order_id} has no created_at"
                ))
            })?
            .to_string();
        let text = |name: &str| -> Result<String, FunctionError> {
            match item.get(name).and_then(Attr::as_s) {
                Some(s) if !s.is_empty() => Ok(s.to_string()),
                _ => Err(FunctionError::invalid(format!(
                    "check-status of order {order_id} at {created_at} has no {name} string"
                ))),
            }
        };
        Ok(CheckStatus {
            charge_id: text("chargeId")?,
            payment_method: text("paymentMethod")?,
            status: text("status")?,
            created_at,
        })
    }
}
