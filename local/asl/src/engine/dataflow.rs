//! JSONPath data flow between states: InputPath/OutputPath, ResultPath, Assign merging, the
//! payload quota, and the value conversions causes print.

use super::*;

/// Counts serialised bytes and stops the serialisation once past the quota.
pub(super) struct SizeCounter(usize);

impl std::io::Write for SizeCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        if self.0 > MAX_PAYLOAD_BYTES {
            return Err(std::io::Error::other("payload over quota"));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub(super) fn payload_too_big(v: &Value) -> bool {
    let mut c = SizeCounter(0);
    serde_json::to_writer(&mut c, v).is_err() && c.0 > MAX_PAYLOAD_BYTES
}

/// Apply a JSONPath InputPath/OutputPath (`null` → `{}`); without one, the value itself.
pub(super) fn apply_io_path<'v>(
    state: &State,
    field: &str,
    v: &'v Value,
    context: &dyn ContextRoot,
    vars: &Map<String, Value>,
) -> Result<Cow<'v, Value>, Failure> {
    match state.field(field) {
        None => Ok(Cow::Borrowed(v)),
        _ => select_io_path(state, field, v, context, vars).map(Cow::Owned),
    }
}

/// [`apply_io_path`] for an owned value (OutputPath on a state's result): no copy without one.
pub(super) fn apply_io_path_owned(
    state: &State,
    field: &str,
    v: Value,
    context: &dyn ContextRoot,
    vars: &Map<String, Value>,
) -> Result<Value, Failure> {
    match state.field(field) {
        None => Ok(v),
        _ => select_io_path(state, field, &v, context, vars),
    }
}

pub(super) fn select_io_path(
    state: &State,
    field: &str,
    v: &Value,
    context: &dyn ContextRoot,
    vars: &Map<String, Value>,
) -> Result<Value, Failure> {
    match state.field(field) {
        None => Ok(v.clone()),
        Some(Value::Null) => Ok(json!({})),
        Some(Value::String(p)) => {
            let path = Path::parse(p).map_err(|e| Failure::runtime(e.to_string()))?;
            path.evaluate(v, context, vars).map_err(|e| match e {
                PathError::NotFound { .. } | PathError::UnknownVariable(_) => {
                    Failure::runtime(format!(
                        "Invalid path '{p}' : No results for path: {}",
                        path.normalized()
                    ))
                }
                other => Failure::runtime(other.to_string()),
            })
        }
        Some(_) => Ok(v.clone()),
    }
}

/// Merge a result into the raw input per ResultPath (`null` discards the result).
pub(super) fn apply_result_path(
    rp: Option<&Value>,
    raw_input: &Value,
    result: Value,
) -> Result<Value, Failure> {
    match rp {
        None => Ok(result),
        Some(Value::Null) => Ok(raw_input.clone()),
        Some(Value::String(p)) => {
            let path = Path::parse(p).map_err(|e| Failure::runtime(e.to_string()))?;
            let fields = path
                .reference_fields()
                .ok_or_else(|| Failure::runtime(format!("Invalid ResultPath '{p}'")))?;
            if fields.is_empty() {
                return Ok(result);
            }
            let mut out = raw_input.clone();
            if !out.is_object() {
                return Err(Failure::runtime(format!(
                    "Unable to apply ResultPath '{p}' to input '{}'",
                    to_json(raw_input)
                )));
            }
            set_at(&mut out, &fields, result).map_err(|_| {
                Failure::runtime(format!(
                    "Unable to apply ResultPath '{p}' to input '{}'",
                    to_json(raw_input)
                ))
            })?;
            Ok(out)
        }
        Some(_) => Ok(result),
    }
}

/// A MaxConcurrency value as a limit (0 = none; anything not a non-negative integer, e.g. an
/// unevaluated JSONata template, counts as none).
pub(super) fn concurrency_limit(v: Option<&Value>) -> usize {
    v.and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
}

pub(super) fn integer_value(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(super) fn display_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => to_json(other),
    }
}

pub(super) fn merge_vars(vars: &mut Map<String, Value>, assigned: Value) {
    if let Value::Object(o) = assigned {
        for (k, v) in o {
            vars.insert(k, v);
        }
    }
}

/// Fail state ErrorPath/CausePath: a path or an intrinsic whose value must be a string.
pub(super) fn fail_field(expr: &str, field: &str, env: &Env) -> Result<String, Failure> {
    let v = if expr.starts_with('$') {
        let p = Path::parse(expr).map_err(|e| Failure::runtime(e.to_string()))?;
        p.evaluate(env.input, env.context, env.vars).map_err(|_| {
            Failure::runtime(format!(
                "The JSONPath '{expr}' specified for the field '{field}' could not be found in the input '{}'",
                to_json(env.input)
            ))
        })?
    } else {
        eval_expr(expr, field, env)?
    };
    Ok(display_value(&v))
}

pub(super) fn error_output(f: &Failure) -> Value {
    let mut m = Map::new();
    if let Some(e) = &f.error {
        m.insert("Error".into(), Value::String(e.clone()));
    }
    if let Some(c) = &f.cause {
        m.insert("Cause".into(), Value::String(c.clone()));
    }
    Value::Object(m)
}
