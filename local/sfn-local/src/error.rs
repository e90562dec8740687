//! The runner's errors. Each names the argument, file or execution it is about, because the CLI
//! prints it as is.

use std::path::PathBuf;

/// Why a runner operation failed: the CLI prints it, the API maps it to an AWS error.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// A file (records, input, fixtures) could not be read or parsed.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        message: String,
    },
    /// `template.yaml` could not be read or does not declare what the runner needs.
    #[error("{}: {message}", path.display())]
    Template {
        /// The template file.
        path: PathBuf,
        /// What was wrong with it.
        message: String,
    },
    /// A state machine's ASL definition does not load.
    #[error("{}: invalid state machine definition: {message}", path.display())]
    Definition {
        /// The definition file (`DefinitionUri`).
        path: PathBuf,
        /// The ASL engine's error.
        message: String,
    },
    /// A command-line or API argument is invalid.
    #[error("{argument}: {message}")]
    Argument {
        /// The argument, as the user wrote its name (`--input`, `executionArn`...).
        argument: String,
        /// What is wrong with its value.
        message: String,
    },
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
    /// The state directory could not be read or written.
    #[error("state directory {}: {message}", path.display())]
    Store {
        /// The file or folder of the state directory.
        path: PathBuf,
        /// The I/O or JSON error.
        message: String,
    },
    /// Anything else the runner relies on failed: the AWS back end, the server, the JSON output.
    #[error("{0}")]
    Backend(String),
}

impl RunnerError {
    /// An [`RunnerError::Argument`] about `argument`.
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
