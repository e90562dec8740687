//! JSON helpers shared by every layer: the compact text AWS prints in causes and the type names
//! it uses.

use serde_json::Value;

/// The compact JSON text AWS prints in causes.
pub fn to_json(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The JSON type name AWS uses in causes (`null`, `boolean`, `number`, ...).
pub fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
