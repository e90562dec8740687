//! `States.StringToJson` and `States.JsonMerge`.

use serde_json::{Map, Value};

use super::*;

impl Invocation<'_> {
    pub(super) fn string_to_json(&self, v: &Value) -> Result<Value, IntrinsicError> {
        let s = self.string(v, 1)?;
        if s.trim().is_empty() {
            return Ok(Value::Null);
        }
        let parsed: Value = serde_json::from_str(s)
            .map_err(|e| self.fail(format!("the string is not valid JSON ({e})")))?;
        Ok(normalize_negative_zero(parsed))
    }
}

impl Invocation<'_> {
    pub(super) fn json_merge(
        &self,
        a: &Value,
        b: &Value,
        deep: &Value,
    ) -> Result<Value, IntrinsicError> {
        let a = a
            .as_object()
            .ok_or_else(|| self.wrong_type(1, "a JSON object", a))?;
        let b = b
            .as_object()
            .ok_or_else(|| self.wrong_type(2, "a JSON object", b))?;
        match deep {
            Value::Bool(false) => {}
            Value::Bool(true) => {
                return Err(
                    self.fail("deep merge is not supported; the third argument must be false")
                )
            }
            other => return Err(self.wrong_type(3, "a boolean", other)),
        }
        let mut out: Map<String, Value> = a.clone();
        for (k, v) in b {
            out.insert(k.clone(), v.clone());
        }
        Ok(Value::Object(out))
    }
}

/// `-0` parses to an integer zero, as Jackson reads it.
pub(super) fn normalize_negative_zero(v: Value) -> Value {
    match v {
        Value::Number(n)
            if n.as_f64() == Some(0.0) && n.as_i64().is_none() && n.as_u64().is_none() =>
        {
            if n.as_f64().is_some_and(|f| f.is_sign_negative()) {
                Value::from(0)
            } else {
                Value::Number(n)
            }
        }
        other => other,
    }
}
