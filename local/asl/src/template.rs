//! Payload templates (Parameters, ResultSelector, ItemSelector, Assign in JSONPath states: keys
//! ending in `.$` take a path or intrinsic) and JSONata `{% %}` templates (Arguments, Output, ...).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde_json::{Map, Value};

use crate::error::DefinitionError;
use crate::error::Failure;
use crate::intrinsics::{Intrinsic, IntrinsicError};
use crate::path::{ContextRoot, Path, PathError};

/// What a template may read.
pub struct Env<'a> {
    /// The effective input (`$`).
    pub input: &'a Value,
    /// The Context object (`$$`): a `Value`, or the engine's borrowed view of it.
    pub context: &'a dyn ContextRoot,
    /// Variables in scope (`$name`).
    pub vars: &'a Map<String, Value>,
}

/// Parsed intrinsic calls by text, so a template evaluated per transition parses each once
/// (per thread; bounded).
const INTRINSIC_CACHE_MAX: usize = 1024;
thread_local! {
    static INTRINSICS: RefCell<HashMap<String, Rc<Intrinsic>>> = RefCell::new(HashMap::new());
}

fn parse_intrinsic(expr: &str) -> Result<Rc<Intrinsic>, IntrinsicError> {
    if let Some(f) = INTRINSICS.with(|c| c.borrow().get(expr).cloned()) {
        return Ok(f);
    }
    let f = Rc::new(crate::intrinsics::parse(expr)?);
    INTRINSICS.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= INTRINSIC_CACHE_MAX {
            c.clear();
        }
        c.insert(expr.to_string(), f.clone());
    });
    Ok(f)
}

/// Check a JSONPath template at load time: every `.$` value must be a path or an intrinsic.
pub fn validate(t: &Value, loc: &str) -> Result<(), DefinitionError> {
    match t {
        Value::Object(o) => {
            for (k, v) in o {
                if k.ends_with(".$") {
                    let Some(s) = v.as_str() else {
                        return Err(DefinitionError {
                            code: "SCHEMA_VALIDATION_FAILED".into(),
                            message: format!("The value for the field '{k}' must be a STRING that contains a JSONPath or an intrinsic function"),
                            location: format!("{loc}/{k}"),
                        });
                    };
                    let ok = if s.starts_with('$') {
                        Path::parse(s).is_ok()
                    } else {
                        crate::intrinsics::parse(s).is_ok()
                    };
                    if !ok {
                        return Err(DefinitionError {
                            code: "SCHEMA_VALIDATION_FAILED".into(),
                            message: format!("The value for the field '{k}' must be a valid JSONPath or a valid intrinsic function call"),
                            location: format!("{loc}/{k}"),
                        });
                    }
                } else {
                    validate(v, &format!("{loc}/{k}"))?;
                }
            }
            Ok(())
        }
        Value::Array(a) => a.iter().try_for_each(|x| validate(x, loc)),
        _ => Ok(()),
    }
}

pub use crate::value::to_json;

/// Evaluate one `.$` value: a path on input/context/variables or an intrinsic function.
pub fn eval_expr(expr: &str, field: &str, env: &Env) -> Result<Value, Failure> {
    if expr.starts_with('$') {
        let p =
            Path::parse(expr).map_err(|_| Failure::runtime(format!("Invalid path '{expr}'")))?;
        p.evaluate(env.input, env.context, env.vars).map_err(|e| match e {
            PathError::NotFound { .. } => Failure::runtime(format!(
                "The JSONPath '{expr}' specified for the field '{field}' could not be found in the input '{}'",
                to_json(env.input)
            )),
            PathError::UnknownVariable(_) => Failure::runtime(format!(
                "The JSONPath '{expr}' specified for the field '{field}' could not be found in the input '{}'",
                to_json(env.input)
            )),
            PathError::Syntax(_) => Failure::runtime(e.to_string()),
        })
    } else {
        let f = parse_intrinsic(expr).map_err(|e| Failure::new(e.error(), e.cause()))?;
        f.evaluate(&|p: &str| crate::path::evaluate_path(p, env.input, env.context, env.vars))
            .map_err(|e| Failure::new(e.error(), e.cause()))
    }
}

/// Evaluate a JSONPath-style template.
pub fn eval_template(t: &Value, env: &Env) -> Result<Value, Failure> {
    match t {
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, v) in o {
                if let (Some(name), Some(expr)) = (k.strip_suffix(".$"), v.as_str()) {
                    out.insert(name.to_string(), eval_expr(expr, k, env)?);
                } else {
                    out.insert(k.clone(), eval_template(v, env)?);
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(a) => Ok(Value::Array(
            a.iter()
                .map(|x| eval_template(x, env))
                .collect::<Result<_, _>>()?,
        )),
        other => Ok(other.clone()),
    }
}

/// The expression of a `{% ... %}` string, if it is one.
pub fn jsonata_expr(s: &str) -> Option<&str> {
    s.strip_prefix("{%")
        .and_then(|x| x.strip_suffix("%}"))
        .map(str::trim)
}

/// Evaluate a JSONata expression; `Ok(None)` means it returned nothing (undefined).
pub fn eval_jsonata(expr: &str, bindings: &Map<String, Value>) -> Result<Option<Value>, String> {
    crate::jsonata::evaluate(expr, bindings).map_err(|e| e.to_string())
}

/// Evaluate a JSONata template: `{% %}` strings anywhere inside objects and arrays.
/// `field` is the AWS field path used in causes (`Output`, `Arguments/key`, ...).
pub fn eval_jsonata_template(
    t: &Value,
    bindings: &Map<String, Value>,
    field: &str,
) -> Result<Value, Failure> {
    match t {
        Value::String(s) => match jsonata_expr(s) {
            Some(expr) => crate::jsonata::evaluate_field(expr, bindings, field)
                .map_err(|e| Failure::new(e.error(), e.cause())),
            None => Ok(t.clone()),
        },
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, v) in o {
                out.insert(
                    k.clone(),
                    eval_jsonata_template(v, bindings, &format!("{field}/{k}"))?,
                );
            }
            Ok(Value::Object(out))
        }
        Value::Array(a) => Ok(Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, x)| eval_jsonata_template(x, bindings, &format!("{field}[{i}]")))
                .collect::<Result<_, _>>()?,
        )),
        other => Ok(other.clone()),
    }
}
