//! Lambda's Python runtime, offline: each function's handler source runs in a warm sandbox (one
//! `python3` process running `shim.py`), started on first use and reused, its timeout enforced.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Mutex;

use crate::{causes, FunctionDef, Invocation, Invoke, LambdaError};

/// The runtime shim (standard library only), run with `python3 -c`.
const SHIM: &str = include_str!("shim.py");

/// How long a sandbox may take to import its handler (Lambda's Init phase limit: 10 s).
const INIT_LIMIT: Duration = Duration::from_secs(10);

/// Why a sandbox could not serve an invocation (not a function error: the runtime's own).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// `python3` could not be started.
    #[error("cannot start {python} for function {function}: {source}")]
    Spawn {
        /// The interpreter.
        python: String,
        /// The function.
        function: String,
        /// Why.
        source: std::io::Error,
    },
    /// The shim said something that is not its protocol, or its pipes broke.
    #[error("the runtime shim of function {function}: {detail}")]
    Protocol {
        /// The function.
        function: String,
        /// What went wrong.
        detail: String,
    },
    /// The handler module took longer than Lambda's Init limit to import.
    #[error("function {function}: the handler did not import within {INIT_LIMIT:?}")]
    InitTimeout {
        /// The function.
        function: String,
    },
}

/// One line the shim writes.
#[derive(Deserialize)]
struct Reply {
    /// Base64 of the response body.
    body: String,
    /// The body is Lambda's error document.
    error: bool,
}

/// One running sandbox: the process and its pipes.
struct Sandbox {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Sandbox {
    /// Starts the shim for `def` and waits until it imported the handler (or failed to, which
    /// it then reports on each invocation, as Lambda does).
    async fn start(def: &FunctionDef, python: &str) -> Result<Sandbox, SandboxError> {
        let protocol = |detail: String| SandboxError::Protocol {
            function: def.name.clone(),
            detail,
        };
        let mut child = Command::new(python)
            .args(["-I", "-B", "-c", SHIM])
            .arg(&def.source)
            .arg(&def.handler)
            .arg(&def.name)
            .arg(def.memory_mb.to_string())
            .arg(&def.runtime)
            .env("AWS_LAMBDA_FUNCTION_NAME", &def.name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", def.memory_mb.to_string())
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_FUNCTION_TIMEOUT",
                def.timeout.as_secs().to_string(),
            )
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", def.name),
            )
            .env("AWS_EXECUTION_ENV", format!("AWS_Lambda_{}", def.runtime))
            .env("LAMBDA_TASK_ROOT", "/var/task")
            .env("_HANDLER", &def.handler)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| SandboxError::Spawn {
                python: python.to_string(),
                function: def.name.clone(),
                source,
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(protocol("no pipes to the shim".into()));
        };
        let mut sandbox = Sandbox {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        };
        let ready = tokio::time::timeout(INIT_LIMIT, sandbox.read_line())
            .await
            .map_err(|_| SandboxError::InitTimeout {
                function: def.name.clone(),
            })?
            .map_err(protocol)?;
        if ready.trim() != r#"{"ready": true}"# {
            return Err(protocol(format!("expected the ready line, got {ready:?}")));
        }
        Ok(sandbox)
    }

    async fn read_line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        match self.stdout.read_line(&mut line).await {
            Ok(0) => Err("the shim exited".into()),
            Ok(_) => Ok(line),
            Err(e) => Err(e.to_string()),
        }
    }

    /// One invocation; `Err` when the process died during it (its exit status).
    async fn invoke(
        &mut self,
        request_id: &str,
        deadline: SystemTime,
        payload: &str,
    ) -> Result<Invocation, String> {
        let deadline_ms = deadline
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let mut line =
            json!({"requestId": request_id, "deadlineMs": deadline_ms, "payload": payload})
                .to_string();
        line.push('\n');
        let wrote = self.stdin.write_all(line.as_bytes()).await;
        let reply = match wrote {
            Ok(()) => self.read_line().await,
            Err(e) => Err(e.to_string()),
        };
        let reply = match reply {
            Ok(r) => r,
            Err(_) => return Err(self.exit_status().await),
        };
        let reply: Reply =
            serde_json::from_str(&reply).map_err(|e| format!("bad reply {reply:?}: {e}"))?;
        let body = base64::engine::general_purpose::STANDARD
            .decode(reply.body)
            .map_err(|e| format!("bad reply body: {e}"))?;
        Ok(Invocation {
            body,
            function_error: reply.error,
        })
    }

    /// How the process ended, as Lambda words it (`exit status 1`, `signal: killed`).
    async fn exit_status(&mut self) -> String {
        match self.child.wait().await {
            Ok(s) => match (s.code(), std::os::unix::process::ExitStatusExt::signal(&s)) {
                (Some(c), _) => format!("exit status {c}"),
                (None, Some(sig)) => format!("signal: {sig}"),
                _ => s.to_string(),
            },
            Err(e) => e.to_string(),
        }
    }
}

/// The functions whose handler sources run here, by name, each with at most one warm sandbox
/// (invocations of one function take turns on it; different functions run side by side).
pub struct PythonFunctions {
    defs: HashMap<String, FunctionDef>,
    warm: HashMap<String, Arc<Mutex<Option<Sandbox>>>>,
    python: String,
}

impl PythonFunctions {
    /// Runs `defs` with `python3` from the PATH (`python` to choose another interpreter).
    pub fn new(defs: Vec<FunctionDef>) -> Self {
        let warm = defs
            .iter()
            .map(|d| (d.name.clone(), Arc::new(Mutex::new(None))))
            .collect();
        PythonFunctions {
            defs: defs.into_iter().map(|d| (d.name.clone(), d)).collect(),
            warm,
            python: "python3".into(),
        }
    }

    /// Uses this interpreter instead of `python3`.
    pub fn with_python(mut self, python: impl Into<String>) -> Self {
        self.python = python.into();
        self
    }

    /// Whether `name` is one of these functions.
    pub fn contains(&self, name: &str) -> bool {
        self.defs.contains_key(name)
    }

    /// The functions' names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.defs.keys().map(String::as_str)
    }
}

#[async_trait]
impl Invoke for PythonFunctions {
    async fn invoke(
        &self,
        function: &str,
        payload: &str,
        request_id: &str,
    ) -> Result<Invocation, LambdaError> {
        let (Some(def), Some(slot)) = (self.defs.get(function), self.warm.get(function)) else {
            return Err(LambdaError::NotFound);
        };
        let mut slot = slot.lock().await;
        // Out of the slot while it runs: a sandbox whose invocation is abandoned (a timeout, a
        // cancelled task) is dropped, and so killed, never handed a second request mid-answer.
        let mut sandbox = match slot.take() {
            Some(s) => s,
            None => Sandbox::start(def, &self.python)
                .await
                .map_err(|e| LambdaError::Service(e.to_string()))?,
        };
        let deadline = SystemTime::now() + def.timeout;
        match tokio::time::timeout(def.timeout, sandbox.invoke(request_id, deadline, payload)).await
        {
            Ok(Ok(invocation)) => {
                *slot = Some(sandbox);
                Ok(invocation)
            }
            Ok(Err(exit)) => Ok(function_error(causes::runtime_exited(request_id, &exit))),
            Err(_) => Ok(function_error(causes::function_timed_out(
                request_id,
                def.timeout,
            ))),
        }
    }
}

/// Lambda's answer for a function error document.
fn function_error(document: Value) -> Invocation {
    Invocation {
        body: document.to_string().into_bytes(),
        function_error: true,
    }
}

/// Where a registry file's relative `source` paths are read from.
pub(crate) fn resolve(base: Option<&std::path::Path>, p: PathBuf) -> PathBuf {
    match base {
        Some(b) if p.is_relative() => b.join(p),
        _ => p,
    }
}
