//! Where a Lambda task goes: the in-process handlers over the embedded store (default), over the
//! real AWS adapters (`--aws-endpoint`), or a Lambda Invoke API (`--lambda-endpoint`); and the fault
//! switch (`--fail NAME=ErrorType:N|always[:crash-after]`) in front of any of them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{json, Value};
use unpaid_order::memory::MemoryState;
use unpaid_order::MemoryStore;

use crate::error::RunnerError;
use crate::handlers::{call_handler, Ports};
use crate::store::Store;

/// Why an invocation did not return a payload.
#[derive(Debug, Clone, PartialEq)]
pub enum InvokeError {
    /// The function ran and returned an error (`X-Amz-Function-Error`): its errorType and message.
    Function {
        error_type: String,
        error_message: String,
    },
    /// Lambda itself failed (`Lambda.ServiceException`, `Lambda.ResourceNotFoundException`, ...).
    Service { error: String, cause: String },
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
    async fn invoke(&self, binary: &str, payload: Value) -> Result<Value, InvokeError>;
}

fn function_error(e: unpaid_order::FunctionError) -> InvokeError {
    InvokeError::Function {
        error_type: e.error_type().to_string(),
        error_message: e.to_string(),
    }
}

/// The handlers over the embedded store. Each invocation is one transaction on the state
/// directory: lock, load the tables, run the handler, write them back.
pub struct EmbeddedFunctions {
    store: Store,
    /// `events/tables/`: what the tables hold before first use.
    fixtures: PathBuf,
    topic_arn: String,
    sender: String,
}

/// The tables and outbox file in the state directory.
pub const TABLES_FILE: &str = "tables.json";
/// A copy of the outbox alone, for people to read.
pub const OUTBOX_FILE: &str = "outbox.json";

impl EmbeddedFunctions {
    pub fn new(store: Store, fixtures: PathBuf, topic_arn: String, sender: String) -> Self {
        EmbeddedFunctions {
            store,
            fixtures,
            topic_arn,
            sender,
        }
    }

    /// The current tables, seeding them from the fixtures on first use. Call with the lock held.
    pub fn load_state(&self) -> Result<MemoryState, RunnerError> {
        if let Some(state) = self.store.read::<MemoryState>(TABLES_FILE)? {
            return Ok(state);
        }
        let state = MemoryState::load_fixtures(&self.fixtures).map_err(|e| RunnerError::File {
            path: self.fixtures.clone(),
            message: format!("cannot seed the tables: {e}"),
        })?;
        self.store.write(TABLES_FILE, &state)?;
        Ok(state)
    }

    /// The tables and outbox as they are now.
    pub async fn snapshot(&self) -> Result<MemoryState, RunnerError> {
        let _lock = self.store.lock().await?;
        self.load_state()
    }
}

#[async_trait]
impl Functions for EmbeddedFunctions {
    async fn invoke(&self, binary: &str, payload: Value) -> Result<Value, InvokeError> {
        let service = |e: RunnerError| InvokeError::Service {
            error: "Lambda.ServiceException".into(),
            cause: e.to_string(),
        };
        let _lock = self.store.lock().await.map_err(service)?;
        let state = self.load_state().map_err(service)?;
        let memory = MemoryStore::new(state.clone())
            .with_identity(self.topic_arn.clone(), self.sender.clone());
        let ports = Ports::from_memory(&memory);
        let result = call_handler(binary, payload, &ports).await;
        let after = memory.snapshot();
        // A handler that failed half-way may have written (as on DynamoDB): keep what it wrote.
        if after != state {
            self.store.write(TABLES_FILE, &after).map_err(service)?;
            if after.outbox != state.outbox {
                self.store
                    .write(OUTBOX_FILE, &after.outbox)
                    .map_err(service)?;
            }
        }
        result.map_err(|e| match e {
            crate::handlers::HandlerError::Function(e) => function_error(e),
            crate::handlers::HandlerError::Unknown(name) => InvokeError::Service {
                error: "Lambda.ResourceNotFoundException".into(),
                cause: format!("Function not found: {name} (no in-process handler)"),
            },
        })
    }
}

/// The handlers over the real AWS adapters (moto or AWS).
pub struct AwsFunctions {
    ports: Ports,
}

impl AwsFunctions {
    pub fn new(ports: Ports) -> Self {
        AwsFunctions { ports }
    }
}

#[async_trait]
impl Functions for AwsFunctions {
    async fn invoke(&self, binary: &str, payload: Value) -> Result<Value, InvokeError> {
        call_handler(binary, payload, &self.ports)
            .await
            .map_err(|e| match e {
                crate::handlers::HandlerError::Function(e) => function_error(e),
                crate::handlers::HandlerError::Unknown(name) => InvokeError::Service {
                    error: "Lambda.ResourceNotFoundException".into(),
                    cause: format!("Function not found: {name}"),
                },
            })
    }
}

/// Any Lambda Invoke API (`cargo lambda watch`, AWS): the function's name is its binary name
/// unless `names` maps it.
pub struct RemoteFunctions {
    client: aws_sdk_lambda::Client,
    names: BTreeMap<String, String>,
}

impl RemoteFunctions {
    pub fn new(client: aws_sdk_lambda::Client, names: BTreeMap<String, String>) -> Self {
        RemoteFunctions { client, names }
    }
}

#[async_trait]
impl Functions for RemoteFunctions {
    async fn invoke(&self, binary: &str, payload: Value) -> Result<Value, InvokeError> {
        let name = self.names.get(binary).map(String::as_str).unwrap_or(binary);
        let out = self
            .client
            .invoke()
            .function_name(name)
            .payload(aws_smithy_types::Blob::new(
                payload.to_string().into_bytes(),
            ))
            .send()
            .await
            .map_err(|e| {
                use aws_sdk_lambda::error::ProvideErrorMetadata;
                let code = e.code().unwrap_or("ServiceException").to_string();
                let error = if code.ends_with("Exception") {
                    format!("Lambda.{code}")
                } else {
                    "Lambda.SdkClientException".to_string()
                };
                InvokeError::Service {
                    error,
                    cause: aws_sdk_lambda::error::DisplayErrorContext(&e).to_string(),
                }
            })?;
        let body = out
            .payload()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default();
        let value: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).map_err(|e| InvokeError::Service {
                error: "Lambda.SdkClientException".into(),
                cause: format!("the function's response is not JSON: {e}"),
            })?
        };
        if out.function_error().is_some() {
            return Err(InvokeError::Function {
                error_type: value["errorType"]
                    .as_str()
                    .unwrap_or("Unhandled")
                    .to_string(),
                error_message: value["errorMessage"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            });
        }
        Ok(value)
    }
}

/// When an injected fault fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultTimes {
    /// The first N invocations.
    Times(u64),
    Always,
}

/// `--fail NAME=ErrorType:N|always[:crash-after]`: the function fails with `error_type`, before its
/// handler runs, or after it (its side effects done: a crash after the write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub function: String,
    pub error_type: String,
    pub times: FaultTimes,
    pub crash_after: bool,
}

impl std::str::FromStr for Fault {
    type Err = RunnerError;

    fn from_str(s: &str) -> Result<Fault, RunnerError> {
        let bad = |m: &str| {
            RunnerError::argument(
                format!("--fail {s}"),
                format!("{m}; expected NAME=ErrorType:N|always[:crash-after], e.g. notify-failure=TransientError:2"),
            )
        };
        let (function, spec) = s.split_once('=').ok_or_else(|| bad("no '='"))?;
        let mut parts = spec.split(':');
        let error_type = parts
            .next()
            .filter(|e| !e.is_empty())
            .ok_or_else(|| bad("no errorType"))?;
        let times = match parts.next() {
            Some("always") => FaultTimes::Always,
            Some(n) => FaultTimes::Times(
                n.parse()
                    .map_err(|_| bad("the count is not a number or 'always'"))?,
            ),
            None => return Err(bad("no count")),
        };
        let crash_after = match parts.next() {
            None => false,
            Some("crash-after") => true,
            Some(_) => return Err(bad("the only option after the count is crash-after")),
        };
        if parts.next().is_some() {
            return Err(bad("too many ':'"));
        }
        if function.is_empty() {
            return Err(bad("no function name"));
        }
        Ok(Fault {
            function: function.to_string(),
            error_type: error_type.to_string(),
            times,
            crash_after,
        })
    }
}

/// The fault "errorType" that makes the invocation hang instead of failing.
pub const HANG: &str = "Hang";

/// The fault switch in front of a backend. Faults are keyed by binary name.
pub struct Faulty {
    inner: Arc<dyn Functions>,
    faults: Mutex<BTreeMap<String, (Fault, AtomicU64)>>,
}

impl Faulty {
    pub fn new(inner: Arc<dyn Functions>, faults: Vec<Fault>) -> Self {
        Faulty {
            inner,
            faults: Mutex::new(
                faults
                    .into_iter()
                    .map(|f| (f.function.clone(), (f, AtomicU64::new(0))))
                    .collect(),
            ),
        }
    }

    /// Replaces the faults (e.g. "the outage is over"), resetting their counters.
    pub fn set(&self, faults: Vec<Fault>) {
        *self.faults.lock().unwrap_or_else(|p| p.into_inner()) = faults
            .into_iter()
            .map(|f| (f.function.clone(), (f, AtomicU64::new(0))))
            .collect();
    }

    /// The fault to inject now for `binary`, if any (counts this invocation).
    fn fire(&self, binary: &str) -> Option<(Fault, u64)> {
        let faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        let (fault, count) = faults.get(binary)?;
        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
        match fault.times {
            FaultTimes::Always => Some((fault.clone(), n)),
            FaultTimes::Times(limit) if n <= limit => Some((fault.clone(), n)),
            FaultTimes::Times(_) => None,
        }
    }
}

#[async_trait]
impl Functions for Faulty {
    async fn invoke(&self, binary: &str, payload: Value) -> Result<Value, InvokeError> {
        let Some((fault, n)) = self.fire(binary) else {
            return self.inner.invoke(binary, payload).await;
        };
        if fault.error_type == HANG {
            // A function that never answers (until the task's TimeoutSeconds, or the runner's end):
            // to rehearse a runner stopped while an execution is RUNNING.
            return std::future::pending().await;
        }
        let injected = |when: &str| InvokeError::Function {
            error_type: fault.error_type.clone(),
            error_message: format!(
                "injected by sfn-local --fail {binary} ({when}, invocation {n})"
            ),
        };
        if fault.crash_after {
            // The handler's side effects happen; its answer is lost.
            let _ = self.inner.invoke(binary, payload).await;
            return Err(injected("after the handler ran"));
        }
        Err(injected("before the handler ran"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo(AtomicU64);

    #[async_trait]
    impl Functions for Echo {
        async fn invoke(&self, _binary: &str, payload: Value) -> Result<Value, InvokeError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(payload)
        }
    }

    #[test]
    fn parses_fault_specs_and_names_bad_ones() {
        let f: Fault = "notify-failure=TransientError:2".parse().unwrap();
        assert_eq!(f.times, FaultTimes::Times(2));
        assert!(!f.crash_after);
        let f: Fault = "save-order=TransientError:always:crash-after"
            .parse()
            .unwrap();
        assert_eq!(f.times, FaultTimes::Always);
        assert!(f.crash_after);
        for bad in ["x", "x=E", "x=E:z", "=E:1", "x=E:1:later"] {
            let err = bad.parse::<Fault>().unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[tokio::test]
    async fn fails_n_times_then_runs_the_handler() {
        let echo = Arc::new(Echo(AtomicU64::new(0)));
        let faulty = Faulty::new(echo.clone(), vec!["f=TransientError:2".parse().unwrap()]);
        for _ in 0..2 {
            let err = faulty.invoke("f", json!(1)).await.unwrap_err();
            assert_eq!(err.error(), "TransientError");
        }
        assert_eq!(echo.0.load(Ordering::SeqCst), 0);
        assert_eq!(faulty.invoke("f", json!(1)).await.unwrap(), json!(1));
        assert_eq!(faulty.invoke("other", json!(2)).await.unwrap(), json!(2));
        assert_eq!(echo.0.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn crash_after_runs_the_handler_and_fails() {
        let echo = Arc::new(Echo(AtomicU64::new(0)));
        let faulty = Faulty::new(
            echo.clone(),
            vec!["f=Boom:always:crash-after".parse().unwrap()],
        );
        let err = faulty.invoke("f", json!(1)).await.unwrap_err();
        assert_eq!(err.error(), "Boom");
        assert!(err.cause().contains("after the handler ran"));
        assert_eq!(echo.0.load(Ordering::SeqCst), 1);
        faulty.set(vec![]);
        assert!(faulty.invoke("f", json!(1)).await.is_ok());
    }
}
