//! Failures as AWS names them: an error name (optional for a Fail state without one) and a cause.

use serde::{Deserialize, Serialize};

/// A state or execution failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub error: Option<String>,
    pub cause: Option<String>,
    /// The cause still needs AWS's "An error occurred while executing the state ..." prefix.
    #[serde(skip)]
    pub needs_state_prefix: bool,
}

impl Failure {
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
    pub fn name(&self) -> &str {
        self.error.as_deref().unwrap_or("")
    }
}
