//! The functions' typed errors and the `errorType` each one reaches Step Functions with.

#[cfg(feature = "aws")]
use lambda_runtime::Diagnostic;

/// Every error a function returns. The `errorType` strings (see [`FunctionError::error_type`]) are
/// what the state machine's Retry and Catch match, so they are part of the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FunctionError {
    /// The input document (or a stored record it leads to) is malformed. Terminal.
    #[error("{0}")]
    InvalidInput(String),
    /// No order with that id in the order table. Terminal.
    #[error("order {order_id} not found in the order table")]
    OrderNotFound {
        /// The order looked for.
        order_id: String,
    },
    /// No check-status record for the order. Terminal.
    #[error("no check-status record for order {order_id}")]
    CheckStatusNotFound {
        /// The order that has no check-status record.
        order_id: String,
    },
    /// The order's payment header says it is paid: it is never overwritten and gets no email.
    #[error("order {order_id} is already paid")]
    OrderAlreadyPaid {
        /// The paid order.
        order_id: String,
    },
    /// AWS throttling, 5xx, timeouts, dispatch failures: the state machine retries.
    #[error("{0}")]
    Transient(String),
    /// AWS refused the call for a reason a retry cannot change (access denied, missing table or
    /// topic, unverified sender, disabled key). Not retried and not caught: the execution fails
    /// at this step, and a redrive after the fix re-runs it.
    #[error("{0}")]
    Configuration(String),
    /// The email was handed to SES but its outcome is not known yet (reply lost, 5xx, timeout,
    /// or sent and not recorded): SES's sending events for its claim decide. Caught by the
    /// per-order machine, which waits (a Wait state) and asks notify-failure again.
    #[error("email {email_id} was handed to SES {elapsed_secs} s ago and no SES event has confirmed it yet; next check in {next_check_secs} s (confirmation window {window_secs} s)")]
    EmailAwaitingEvidence {
        /// The email-log slot left `sending`.
        email_id: String,
        /// Seconds since the claim was handed to SES.
        elapsed_secs: u64,
        /// When to look again (the Wait state reads it from this message).
        next_check_secs: u64,
        /// The confirmation window.
        window_secs: u64,
    },
    /// An email was handed to SES, no SES event confirmed it within the confirmation window,
    /// and `AMBIGUOUS_EMAIL_POLICY=page`: sending again could deliver twice, not sending could
    /// lose it. Not retried: an operator confirms or releases it (docs/runbook.md).
    #[error("{channel} for {email_id} may or may not have been sent: {cause}")]
    NotificationUnconfirmed {
        /// `sns` or `email`.
        channel: String,
        /// The email-log slot left `sending`, for the operator to confirm or release.
        email_id: String,
        /// What made the outcome unknown.
        cause: String,
    },
}

impl FunctionError {
    /// The `errorType` Step Functions sees.
    pub fn error_type(&self) -> &'static str {
        match self {
            FunctionError::InvalidInput(_) => "InvalidInput",
            FunctionError::OrderNotFound { .. } => "OrderNotFound",
            FunctionError::CheckStatusNotFound { .. } => "CheckStatusNotFound",
            FunctionError::OrderAlreadyPaid { .. } => "OrderAlreadyPaid",
            FunctionError::Transient(_) => "TransientError",
            FunctionError::Configuration(_) => "ConfigurationError",
            FunctionError::NotificationUnconfirmed { .. } => "NotificationUnconfirmed",
            FunctionError::EmailAwaitingEvidence { .. } => "EmailAwaitingEvidence",
        }
    }

    /// An `InvalidInput` error with this message.
    pub fn invalid(message: impl Into<String>) -> Self {
        FunctionError::InvalidInput(message.into())
    }

    /// A `TransientError`: the state machine retries.
    pub fn transient(message: impl Into<String>) -> Self {
        FunctionError::Transient(message.into())
    }

    /// A `ConfigurationError`: an operator must fix the stack, then redrive.
    pub fn configuration(message: impl Into<String>) -> Self {
        FunctionError::Configuration(message.into())
    }
}

/// lambda_runtime would otherwise name the errorType after the Rust type.
#[cfg(feature = "aws")]
impl From<FunctionError> for Diagnostic {
    fn from(error: FunctionError) -> Diagnostic {
        Diagnostic {
            error_type: error.error_type().to_string(),
            error_message: error.to_string(),
        }
    }
}

#[cfg(all(test, feature = "aws"))]
mod tests {
    use super::*;

    #[test]
    fn every_error_maps_to_its_contract_name() {
        let cases = [
            (FunctionError::invalid("bad"), "InvalidInput", "bad"),
            (
                FunctionError::OrderNotFound {
                    order_id: "1".into(),
                },
                "OrderNotFound",
                "order 1 not found in the order table",
            ),
            (
                FunctionError::CheckStatusNotFound {
                    order_id: "2".into(),
                },
                "CheckStatusNotFound",
                "no check-status record for order 2",
            ),
            (
                FunctionError::OrderAlreadyPaid {
                    order_id: "3".into(),
                },
                "OrderAlreadyPaid",
                "order 3 is already paid",
            ),
            (
                FunctionError::transient("throttled"),
                "TransientError",
                "throttled",
            ),
            (
                FunctionError::configuration("access denied"),
                "ConfigurationError",
                "access denied",
            ),
            (
                FunctionError::NotificationUnconfirmed {
                    channel: "email".into(),
                    email_id: "1#a#email".into(),
                    cause: "timeout".into(),
                },
                "NotificationUnconfirmed",
                "email for 1#a#email may or may not have been sent: timeout",
            ),
            (
                FunctionError::EmailAwaitingEvidence {
                    email_id: "1#a#email".into(),
                    elapsed_secs: 30,
                    next_check_secs: 30,
                    window_secs: 900,
                },
                "EmailAwaitingEvidence",
                "email 1#a#email was handed to SES 30 s ago and no SES event has confirmed it yet; next check in 30 s (confirmation window 900 s)",
            ),
        ];
        for (error, error_type, message) in cases {
            let diagnostic = Diagnostic::from(error);
            assert_eq!(diagnostic.error_type, error_type);
            assert_eq!(diagnostic.error_message, message);
            let wire = serde_json::to_value(&diagnostic).unwrap();
            assert_eq!(
                wire,
                serde_json::json!({"errorType": error_type, "errorMessage": message})
            );
        }
    }
}
