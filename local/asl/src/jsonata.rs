//! STUB written by the engine helper so the crate builds — the JSONata helper owns this file and
//! will overwrite it. Engine expectation: `evaluate(expr, bindings)` with bindings = variable name
//! (without `$`) → value; `Ok(None)` = the expression returned nothing (undefined).

use serde_json::{Map, Value};

/// A JSONata evaluation failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct JsonataError(pub String);

/// STUB: always fails until the real implementation lands.
pub fn evaluate(expr: &str, bindings: &Map<String, Value>) -> Result<Option<Value>, JsonataError> {
    let _ = bindings;
    Err(JsonataError(format!("JSONata is not available yet: {expr}")))
}
