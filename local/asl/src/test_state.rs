//! AWS's TestState API (run one state with optional mocked task result, variables and context),
//! and the dispatchers the conformance CLI uses.

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use crate::engine::{Engine, ExecutionContext, TaskDispatcher, TaskFailure, TaskRequest};

/// Dispatcher for the conformance corpus: no function is deployed offline, so every Lambda
/// invocation fails as AWS does for an unknown function.
#[derive(Debug, Default, Clone, Copy)]
pub struct CorpusDispatcher;

#[async_trait]
impl TaskDispatcher for CorpusDispatcher {
    async fn invoke(&self, req: TaskRequest) -> Result<Value, TaskFailure> {
        Err(TaskFailure {
            error: "States.Runtime".into(),
            cause: Some(format!("No offline handler for resource '{}'", req.resource)),
        })
    }
}

/// Returns the TestState `--mock` result (or error).
#[derive(Debug, Clone)]
pub struct MockDispatcher {
    mock: Option<Value>,
}

impl MockDispatcher {
    pub fn new(mock: Option<Value>) -> Self {
        MockDispatcher { mock }
    }
}

#[async_trait]
impl TaskDispatcher for MockDispatcher {
    async fn invoke(&self, req: TaskRequest) -> Result<Value, TaskFailure> {
        match &self.mock {
            Some(m) => {
                if let Some(r) = m.get("result") {
                    let text = r.as_str().map(str::to_string).unwrap_or_else(|| r.to_string());
                    return serde_json::from_str(&text).map_err(|e| TaskFailure { error: "States.Runtime".into(), cause: Some(e.to_string()) });
                }
                if let Some(e) = m.get("errorOutput") {
                    return Err(TaskFailure {
                        error: e.get("error").and_then(Value::as_str).unwrap_or("").to_string(),
                        cause: e.get("cause").and_then(Value::as_str).map(str::to_string),
                    });
                }
                Ok(Value::Null)
            }
            None => CorpusDispatcher.invoke(req).await,
        }
    }
}

/// A TestState call.
#[derive(Debug, Clone)]
pub struct TestStateRequest {
    pub definition: Value,
    pub state_name: Option<String>,
    pub input: Value,
    pub variables: Map<String, Value>,
    pub mock: Option<Value>,
    pub context: Option<Value>,
    pub inspection_level: String,
}

/// Run a TestState request; the result is `{status, output|error/cause, nextState}`.
pub async fn test_state(engine: &Engine, req: TestStateRequest, ctx: ExecutionContext) -> Value {
    let _ = (engine, ctx);
    json!({"status": "FAILED", "error": "States.Runtime", "cause": format!("TestState not implemented for {:?}", req.state_name)})
}
