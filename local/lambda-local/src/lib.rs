//! Lambda, offline: Step Functions' Lambda integration (`integration`: the payload, the `Payload`
//! wrapping, function errors as the task's error and cause) over handler sources run by Lambda's
//! Python runtime (`sandbox`: one warm `python3` process per function, its timeout enforced).
//!
//! `asl-run` and `sfn-local serve` both dispatch Lambda tasks here: [`LambdaTasks`] is an
//! [`asl::TaskDispatcher`] over any [`Invoke`] (Lambda's Invoke API); [`PythonFunctions`] is the
//! one that runs Python handler files. A registry file ([`load_functions`]) names the functions.

mod causes;
mod integration;
mod sandbox;

pub use causes::*;
pub use integration::{function_name, is_lambda_resource, LambdaTasks, RequestIds};
pub use sandbox::{PythonFunctions, SandboxError};

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

/// Lambda's default function timeout (3 s) and memory (128 MB).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// Lambda's default memory size.
pub const DEFAULT_MEMORY_MB: u32 = 128;

/// One function: its handler source and configuration, as CreateFunction would give them.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDef {
    /// The function's name.
    pub name: String,
    /// The handler's source file (run as `/var/task/<module>.py`).
    pub source: PathBuf,
    /// Lambda's `Handler`, `module.function` (default `handler.handler`).
    pub handler: String,
    /// Lambda's `Runtime` (`python3.12`).
    pub runtime: String,
    /// Lambda's `Timeout`.
    pub timeout: Duration,
    /// Lambda's `MemorySize`, in MB.
    pub memory_mb: u32,
}

/// One registry entry: `{"source": "fn.py", "handler"?, "runtime"?, "timeout"?, "memory"?}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    source: PathBuf,
    #[serde(default)]
    handler: Option<String>,
    #[serde(default)]
    runtime: Option<String>,
    /// Seconds.
    #[serde(default)]
    timeout: Option<u64>,
    #[serde(default)]
    memory: Option<u32>,
}

/// Why a registry file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a registry.
    #[error("{path} is not a function registry ({{\"name\": {{\"source\": \"file.py\", \"timeout\": 8}}}}): {source}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
}

/// Reads a registry file: `{"function-name": {"source": "handler.py", "handler":
/// "handler.handler", "runtime": "python3.12", "timeout": 3, "memory": 128}, ...}`; relative
/// sources are read from the file's folder; absent members take Lambda's defaults.
pub fn load_functions(path: &Path) -> Result<Vec<FunctionDef>, RegistryError> {
    let text = std::fs::read_to_string(path).map_err(|source| RegistryError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let entries: std::collections::BTreeMap<String, Entry> =
        serde_json::from_str(&text).map_err(|source| RegistryError::Format {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(entries
        .into_iter()
        .map(|(name, e)| FunctionDef {
            name,
            source: sandbox::resolve(path.parent(), e.source),
            handler: e.handler.unwrap_or_else(|| "handler.handler".into()),
            runtime: e.runtime.unwrap_or_else(|| "python3.12".into()),
            timeout: e.timeout.map_or(DEFAULT_TIMEOUT, Duration::from_secs),
            memory_mb: e.memory.unwrap_or(DEFAULT_MEMORY_MB),
        })
        .collect())
}

/// What Lambda's Invoke (RequestResponse) answered: the response body and whether it is a
/// function error document (`X-Amz-Function-Error: Unhandled`).
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The response body, as the runtime wrote it.
    pub body: Vec<u8>,
    /// The body is the function's error document.
    pub function_error: bool,
}

/// Why Lambda itself did not run the function.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LambdaError {
    /// No such function (Lambda's 404).
    #[error("function not found")]
    NotFound,
    /// Lambda could not run it (a 5xx): why.
    #[error("{0}")]
    Service(String),
}

/// Lambda's Invoke API, RequestResponse: run `function` on `payload` (the request body, JSON
/// text).
#[async_trait]
pub trait Invoke: Send + Sync {
    /// The function's answer, or why Lambda did not run it.
    async fn invoke(
        &self,
        function: &str,
        payload: &str,
        request_id: &str,
    ) -> Result<Invocation, LambdaError>;
}
