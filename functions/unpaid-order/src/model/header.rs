//! The payment header written into `order.payment` for a failed payment.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::CheckStatus;
use crate::attr::Attr;
use crate::FunctionError;

/// The header written into `order.payment`. For a failed payment always `isPaid: false` and
/// `totalPaid: 0`; `paymentId` is the check-status `chargeId`; `timestamp` is the execution's
/// start time (RFC 3339), so the same attempt always builds the same header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentHeader {
    /// The check-status `chargeId`.
    pub payment_id: String,
    /// The check-status `paymentMethod`.
    pub payment_method: String,
    /// Always `false` for a failed payment; `true` in a stored header means the order is paid (`OrderAlreadyPaid`).
    pub is_paid: bool,
    /// Always 0 for a failed payment.
    pub total_paid: u64,
    /// The check-status `status`.
    pub status: String,
    /// The execution's start time (RFC 3339).
    pub timestamp: String,
}

impl PaymentHeader {
    /// The unpaid header for a failed payment (seed: `create_payment_header(isPaid=False, totalPaid=0)`).
    pub fn failed(check: &CheckStatus, timestamp: &str) -> Result<PaymentHeader, FunctionError> {
        let header = PaymentHeader {
            payment_id: check.charge_id.clone(),
            payment_method: check.payment_method.clone(),
            is_paid: false,
            total_paid: 0,
            status: check.status.clone(),
            timestamp: timestamp.to_string(),
        };
        header.validate_failed()?;
        Ok(header)
    }

    /// What save-order, log-attempt and notify-failure accept: an unpaid header with every field set.
    pub fn validate_failed(&self) -> Result<(), FunctionError> {
        if self.is_paid || self.total_paid != 0 {
            return Err(FunctionError::invalid(
                "paymentHeader of a failed payment must have isPaid false and totalPaid 0",
            ));
        }
        for (name, value) in [
            ("paymentId", &self.payment_id),
            ("paymentMethod", &self.payment_method),
            ("status", &self.status),
        ] {
            if value.is_empty() {
                return Err(FunctionError::invalid(format!(
                    "paymentHeader.{name} is empty"
                )));
            }
        }
        chrono::DateTime::parse_from_rfc3339(&self.timestamp).map_err(|e| {
            FunctionError::invalid(format!(
                "timestamp {:?} is not an RFC 3339 date-time: {e}",
                self.timestamp
            ))
        })?;
        Ok(())
    }

    /// The header as a DynamoDB map (the map form of the order document).
    pub fn to_attr(&self) -> Attr {
        Attr::M(BTreeMap::from([
            ("paymentId".to_string(), Attr::s(&self.payment_id)),
            ("paymentMethod".to_string(), Attr::s(&self.payment_method)),
            ("isPaid".to_string(), Attr::Bool(self.is_paid)),
            (
                "totalPaid".to_string(),
                Attr::N(self.total_paid.to_string()),
            ),
            ("status".to_string(), Attr::s(&self.status)),
            ("timestamp".to_string(), Attr::s(&self.timestamp)),
        ]))
    }

    /// The header as plain JSON (camelCase), as the SNS message carries it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "paymentId": self.payment_id,
            "paymentMethod": self.payment_method,
            "isPaid": self.is_paid,
            "totalPaid": self.total_paid,
            "status": self.status,
            "timestamp": self.timestamp,
        })
    }
}
