//! An API error as AWS sends it (`{"__type", "message"}` with an HTTP status), and each runner
//! error as the AWS error it stands for.

use hyper::StatusCode;

use crate::error::RunnerError;

/// An API error as AWS sends it: `{"__type", "message"}` with an HTTP status.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status (400 for a client error, 500 for the runner's own).
    pub status: StatusCode,
    /// The AWS error code, sent as `__type` (e.g. `ExecutionDoesNotExist`).
    pub kind: &'static str,
    /// The error's message.
    pub message: String,
}

impl ApiError {
    pub(super) fn new(kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind,
            message: message.into(),
        }
    }

    pub(super) fn validation(message: impl Into<String>) -> Self {
        ApiError::new("ValidationException", message)
    }
}

impl From<RunnerError> for ApiError {
    fn from(e: RunnerError) -> Self {
        let message = e.to_string();
        // The runner's messages start with the error's name; AWS's do not.
        let strip = |name: &str| -> String {
            message
                .strip_prefix(name)
                .and_then(|m| m.strip_prefix(": "))
                .unwrap_or(&message)
                .to_string()
        };
        match &e {
            RunnerError::StateMachineDoesNotExist(_) => ApiError::new(
                "StateMachineDoesNotExist",
                strip("StateMachineDoesNotExist"),
            ),
            RunnerError::ExecutionDoesNotExist(_) => {
                ApiError::new("ExecutionDoesNotExist", strip("ExecutionDoesNotExist"))
            }
            RunnerError::ExecutionAlreadyExists(_) => {
                ApiError::new("ExecutionAlreadyExists", strip("ExecutionAlreadyExists"))
            }
            RunnerError::InvalidName(_) => ApiError::new("InvalidName", strip("InvalidName")),
            RunnerError::ExecutionNotRedrivable(_) => {
                ApiError::new("ExecutionNotRedrivable", strip("ExecutionNotRedrivable"))
            }
            RunnerError::InvalidExecutionInput(_) => {
                ApiError::new("InvalidExecutionInput", strip("InvalidExecutionInput"))
            }
            RunnerError::Argument { .. } => ApiError::validation(message),
            _ => ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                kind: "InternalServerError",
                message,
            },
        }
    }
}
