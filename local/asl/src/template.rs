//! Payload templates (Parameters, ResultSelector, ItemSelector, Assign in JSONPath states: keys
//! ending in `.$` take a path or intrinsic) and JSONata `{% %}` templates (Arguments, Output, ...).

use serde_json::{Map, Value};

use crate::error::DefinitionError;
use crate::error::Failure;
use crate::intrinsics::Intrinsic;
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

/// A `.$` value (or a `*Path` field that may hold an intrinsic) compiled at load: a path or an
/// intrinsic call. What does not compile keeps the failure a run reports when it meets it.
#[derive(Debug, Clone)]
pub struct Expression {
    text: String,
    kind: ExprKind,
}

#[derive(Debug, Clone)]
enum ExprKind {
    Path(Path),
    Intrinsic(Intrinsic),
    Invalid(Failure),
}

impl Expression {
    /// Compile `text`: `$...` is a path, anything else an intrinsic call.
    pub fn compile(text: &str) -> Expression {
        let kind = if text.starts_with('$') {
            match Path::parse(text) {
                Ok(p) => ExprKind::Path(p),
                Err(_) => ExprKind::Invalid(Failure::runtime(format!("Invalid path '{text}'"))),
            }
        } else {
            match crate::intrinsics::parse(text) {
                Ok(f) => ExprKind::Intrinsic(f),
                Err(e) => ExprKind::Invalid(Failure::new(e.error(), e.cause())),
            }
        };
        Expression {
            text: text.to_string(),
            kind,
        }
    }

    /// The expression as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The compiled path, if the expression is one.
    pub fn path(&self) -> Option<&Path> {
        match &self.kind {
            ExprKind::Path(p) => Some(p),
            _ => None,
        }
    }

    /// Evaluate; `field` names the definition field in causes.
    pub fn evaluate(&self, field: &str, env: &Env) -> Result<Value, Failure> {
        match &self.kind {
            ExprKind::Path(p) => {
                p.evaluate(env.input, env.context, env.vars)
                    .map_err(|e| match e {
                        PathError::NotFound { .. } | PathError::UnknownVariable(_) => {
                            Failure::runtime(crate::causes::path_not_in_input(
                                &self.text, field, env.input,
                            ))
                        }
                        PathError::Syntax(_) => Failure::runtime(e.to_string()),
                    })
            }
            ExprKind::Intrinsic(f) => f
                .evaluate(&|p: &Path| p.evaluate(env.input, env.context, env.vars))
                .map_err(|e| Failure::new(e.error(), e.cause())),
            ExprKind::Invalid(f) => Err(f.clone()),
        }
    }
}

/// A JSONPath payload template (Parameters, ResultSelector, ItemSelector, Assign) compiled at
/// load: subtrees without a `.$` key stay literal JSON and are copied as they are.
#[derive(Debug, Clone)]
pub enum Template {
    /// No `.$` key anywhere below.
    Literal(Value),
    /// An object with at least one `.$` key below.
    Object(Vec<(String, Entry)>),
    /// An array with at least one `.$` key below.
    Array(Vec<Template>),
}

/// One member of a [`Template::Object`].
#[derive(Debug, Clone)]
pub enum Entry {
    /// `"name.$": "<path or intrinsic>"`: `field` is the key as written, for causes.
    Expr {
        /// The key as written (`name.$`).
        field: String,
        /// The compiled value.
        expr: Expression,
    },
    /// Any other member.
    Nested(Template),
}

impl Template {
    /// Compile a template; never fails (load-time checks are [`validate`]'s, and what does not
    /// compile fails when evaluated, as AWS reports it then).
    pub fn compile(t: &Value) -> Template {
        if !has_expression(t) {
            return Template::Literal(t.clone());
        }
        match t {
            Value::Object(o) => Template::Object(
                o.iter()
                    .map(|(k, v)| {
                        let entry = match (k.strip_suffix(".$"), v.as_str()) {
                            (Some(name), Some(expr)) => {
                                return (
                                    name.to_string(),
                                    Entry::Expr {
                                        field: k.clone(),
                                        expr: Expression::compile(expr),
                                    },
                                )
                            }
                            _ => Entry::Nested(Template::compile(v)),
                        };
                        (k.clone(), entry)
                    })
                    .collect(),
            ),
            Value::Array(a) => Template::Array(a.iter().map(Template::compile).collect()),
            other => Template::Literal(other.clone()),
        }
    }

    /// Evaluate against the state's input, the Context object and the variables.
    pub fn evaluate(&self, env: &Env) -> Result<Value, Failure> {
        match self {
            Template::Literal(v) => Ok(v.clone()),
            Template::Object(entries) => {
                let mut out = Map::new();
                for (name, e) in entries {
                    let v = match e {
                        Entry::Expr { field, expr } => expr.evaluate(field, env)?,
                        Entry::Nested(t) => t.evaluate(env)?,
                    };
                    out.insert(name.clone(), v);
                }
                Ok(Value::Object(out))
            }
            Template::Array(a) => Ok(Value::Array(
                a.iter()
                    .map(|x| x.evaluate(env))
                    .collect::<Result<_, _>>()?,
            )),
        }
    }
}

/// Whether a `.$` key with a string value occurs anywhere in `t`.
fn has_expression(t: &Value) -> bool {
    match t {
        Value::Object(o) => o
            .iter()
            .any(|(k, v)| (k.ends_with(".$") && v.is_string()) || has_expression(v)),
        Value::Array(a) => a.iter().any(has_expression),
        _ => false,
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
