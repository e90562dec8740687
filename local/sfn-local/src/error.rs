//! The runner's errors. Each names the argument, file or execution it is about, because the CLI
//! prints it as is.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error("{}: {message}", path.display())]
    Template { path: PathBuf, message: String },
    #[error("{}: invalid state machine definition: {message}", path.display())]
    Definition { path: PathBuf, message: String },
    #[error("{argument}: {message}")]
    Argument { argument: String, message: String },
    /// As AWS: StateMachineDoesNotExist.
    #[error("StateMachineDoesNotExist: no state machine {0} in the template")]
    StateMachineDoesNotExist(String),
    /// As AWS: ExecutionDoesNotExist.
    #[error("ExecutionDoesNotExist: {0}")]
    ExecutionDoesNotExist(String),
    /// As AWS: ExecutionAlreadyExists.
    #[error("ExecutionAlreadyExists: execution {0} already exists")]
    ExecutionAlreadyExists(String),
    /// As AWS: InvalidName.
    #[error("InvalidName: {0}")]
    InvalidName(String),
    /// As AWS: ExecutionNotRedrivable.
    #[error("ExecutionNotRedrivable: {0}")]
    ExecutionNotRedrivable(String),
    /// As AWS: InvalidExecutionInput.
    #[error("InvalidExecutionInput: {0}")]
    InvalidExecutionInput(String),
    #[error("state directory {}: {message}", path.display())]
    Store { path: PathBuf, message: String },
    #[error("{0}")]
    Backend(String),
}

impl RunnerError {
    pub fn argument(argument: impl Into<String>, message: impl Into<String>) -> Self {
        RunnerError::Argument {
            argument: argument.into(),
            message: message.into(),
        }
    }

    pub(crate) fn store(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> Self {
        RunnerError::Store {
            path: path.into(),
            message: e.to_string(),
        }
    }

    /// The name of the Step Functions API error, as the `states:startExecution` integration
    /// reports it (`StepFunctions.<Name>Exception`).
    pub fn integration_error(&self) -> String {
        let name = match self {
            RunnerError::StateMachineDoesNotExist(_) => "StateMachineDoesNotExist",
            RunnerError::ExecutionAlreadyExists(_) => "ExecutionAlreadyExists",
            RunnerError::InvalidName(_) => "InvalidName",
            RunnerError::InvalidExecutionInput(_) => "InvalidExecutionInput",
            RunnerError::ExecutionDoesNotExist(_) => "ExecutionDoesNotExist",
            _ => "AWSStepFunctions",
        };
        format!("StepFunctions.{name}Exception")
    }
}
