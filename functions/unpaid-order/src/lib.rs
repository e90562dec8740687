//! The domain of process-unpaid-order (orders, check-status, payment header, typed errors),
//! the ports the functions use, their DynamoDB / SNS / SESv2 adapters and in-memory versions.

pub mod attr;
#[cfg(feature = "aws")]
pub mod aws;
pub mod config;
pub mod deadline;
mod error;
pub mod evidence;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod notice;
mod payment_state;
pub mod ports;
pub mod telemetry;

pub use attr::{Attr, Item};
pub use config::{Config, ConfigError, Setting};
pub use error::FunctionError;
pub use memory::{MemoryState, MemoryStore};
pub use model::{
    AttemptId, CheckStatus, OrderData, OrderId, PaymentHeader, PaymentState, StoredOrder,
};
pub use ports::{
    AttemptLog, CheckStatusTable, EmailLog, ExecutionInputs, Mailer, Notifier, OrderIndex,
    OrderTable,
};

/// Parses a function's input document; any mismatch is `InvalidInput` naming what is wrong.
pub fn parse_input<T: serde::de::DeserializeOwned>(
    event: serde_json::Value,
) -> Result<T, FunctionError> {
    serde_json::from_value(event).map_err(|e| FunctionError::invalid(format!("invalid input: {e}")))
}

/// Reads the settings a function needs at start-up, logging the failure (which names the
/// variable) before `main` returns it.
pub fn startup_config(required: &[Setting]) -> Result<Config, ConfigError> {
    Config::from_env(required).inspect_err(|e| tracing::error!(error = %e, "configuration"))
}

/// Logs how an invocation ended (errors with their errorType), inside the invocation's span.
pub fn log_result<T>(result: &Result<T, FunctionError>) {
    match result {
        Ok(_) => {}
        Err(FunctionError::Transient(message)) => {
            tracing::warn!(errorType = "TransientError", error = %message, "failed; the state machine retries")
        }
        Err(
            e @ (FunctionError::Configuration(_) | FunctionError::NotificationUnconfirmed { .. }),
        ) => {
            tracing::error!(errorType = e.error_type(), error = %e, "failed; an operator must act (docs/failure-modes.md)")
        }
        Err(e @ FunctionError::EmailAwaitingEvidence { .. }) => {
            tracing::info!(errorType = e.error_type(), error = %e, "waiting for SES's evidence")
        }
        Err(e) => {
            tracing::info!(errorType = e.error_type(), error = %e, "answered with a business error")
        }
    }
}
