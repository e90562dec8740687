//! Where a Lambda task goes: the in-process handlers over the embedded store (default), over the
//! real AWS adapters (`--aws-endpoint`), or a Lambda Invoke API (`--lambda-endpoint`); and the fault
//! switch (`--fail NAME=ErrorType:N|always[:crash-after]`) in front of any of them.
//!
//! `embedded` runs the handlers over the embedded tables (`store::journal`), `aws` over the real
//! adapters, `remote` through a Lambda Invoke API, `faults` is the `--fail` switch.

mod aws;
mod embedded;
mod faults;
mod remote;

pub use aws::AwsFunctions;
pub use embedded::EmbeddedFunctions;
pub use faults::{Fault, FaultTimes, Faulty, HANG};
pub use remote::RemoteFunctions;
// The state directory's file names, where they were (the console and the CLI read them).
pub use crate::store::journal::{JOURNAL_FILE, OUTBOX_FILE, TABLES_FILE};

use async_trait::async_trait;
use serde_json::{json, Value};

/// Why an invocation did not return a payload.
#[derive(Debug, Clone, PartialEq)]
pub enum InvokeError {
    /// The function ran and returned an error (`X-Amz-Function-Error`): its errorType and message.
    Function {
        /// The function's errorType (a DESIGN.md section 5 name for this project's functions).
        error_type: String,
        /// The function's error message.
        error_message: String,
    },
    /// Lambda itself failed (`Lambda.ServiceException`, `Lambda.ResourceNotFoundException`, ...).
    Service {
        /// The Step Functions error name (`Lambda.ServiceException`, ...).
        error: String,
        /// The error's cause, as the task's `Cause`.
        cause: String,
    },
}

impl InvokeError {
    /// The function's error payload as Lambda returns it for a Rust function (the runtime's
    /// Diagnostic), which Step Functions puts in the task's `Cause`.
    pub fn cause(&self) -> String {
        match self {
            InvokeError::Function {
                error_type,
                error_message,
            } => json!({"errorType": error_type, "errorMessage": error_message}).to_string(),
            InvokeError::Service { cause, .. } => cause.clone(),
        }
    }

    /// The Step Functions error name a Retrier or Catcher matches on.
    pub fn error(&self) -> &str {
        match self {
            InvokeError::Function { error_type, .. } => error_type,
            InvokeError::Service { error, .. } => error,
        }
    }
}

/// Runs a function by its binary name (`load-order`, ...) with a JSON payload.
#[async_trait]
pub trait Functions: Send + Sync {
    /// Invokes `binary` with `payload`; its result payload, or why there is none.
    async fn invoke(&self, binary: &str, payload: Value) -> Result<Value, InvokeError>;
}

pub(crate) fn function_error(e: unpaid_order::FunctionError) -> InvokeError {
    InvokeError::Function {
        error_type: e.error_type().to_string(),
        error_message: e.to_string(),
    }
}
