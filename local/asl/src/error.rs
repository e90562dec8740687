//! The two error kinds: a definition AWS would refuse ([`DefinitionError`], at load) and a state
//! or execution failure ([`Failure`], at run time: an error name and a cause).

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A state or execution failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The error name (`States.Runtime`, a Fail state's `Error`, ...).
    pub error: Option<String>,
    /// The cause text.
    pub cause: Option<String>,
    /// The cause still needs AWS's "An error occurred while executing the state ..." prefix.
    #[serde(skip)]
    pub needs_state_prefix: bool,
}

impl Failure {
    /// A failure whose cause still gets the state prefix.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Failure {
            error: Some(error.into()),
            cause: Some(cause.into()),
            needs_state_prefix: true,
        }
    }
    /// A States.Runtime error whose cause gets the state prefix.
    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new("States.Runtime", cause)
    }
    /// A failure whose cause is final as given (task errors, Fail states).
    pub fn raw(error: Option<String>, cause: Option<String>) -> Self {
        Failure {
            error,
            cause,
            needs_state_prefix: false,
        }
    }
    /// The error name, or "" if none.
    pub fn name(&self) -> &str {
        self.error.as_deref().unwrap_or("")
    }
}

/// A definition AWS would refuse; Display is the AWS-like message.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("Invalid State Machine Definition: '{code}: {message} at {location}'")]
pub struct DefinitionError {
    /// AWS's diagnostic code (`SCHEMA_VALIDATION_FAILED`, `MISSING_TRANSITION_TARGET`, ...).
    pub code: String,
    /// What is wrong.
    pub message: String,
    /// Where, as a JSON pointer-like path (`/States/S/Next`).
    pub location: String,
}
