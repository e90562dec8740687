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
                Err(_) => ExprKind::Invalid(Failure::runtime(crate::causes::invalid_path(text))),
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

/// A JSONata field compiled at load: `{% %}` strings anywhere inside objects and arrays, each
/// parsed once and labelled with the field path AWS names in causes (`Arguments/key`, `[0]`).
#[derive(Debug, Clone)]
pub enum JsonataTemplate {
    /// No `{% %}` string anywhere below.
    Literal(Value),
    /// A `{% %}` string.
    Expr {
        /// The parsed expression.
        expr: crate::jsonata::Expr,
        /// The field path for causes.
        field: String,
    },
    /// An object with a `{% %}` string below.
    Object(Vec<(String, JsonataTemplate)>),
    /// An array with a `{% %}` string below.
    Array(Vec<JsonataTemplate>),
}

impl JsonataTemplate {
    /// Compile the value of field `field`.
    pub fn compile(t: &Value, field: &str) -> JsonataTemplate {
        if !has_jsonata(t) {
            return JsonataTemplate::Literal(t.clone());
        }
        match t {
            Value::String(s) => match jsonata_expr(s) {
                Some(expr) => JsonataTemplate::Expr {
                    expr: crate::jsonata::Expr::parse(expr),
                    field: field.to_string(),
                },
                None => JsonataTemplate::Literal(t.clone()),
            },
            Value::Object(o) => JsonataTemplate::Object(
                o.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            JsonataTemplate::compile(v, &format!("{field}/{k}")),
                        )
                    })
                    .collect(),
            ),
            Value::Array(a) => JsonataTemplate::Array(
                a.iter()
                    .enumerate()
                    .map(|(i, x)| JsonataTemplate::compile(x, &format!("{field}[{i}]")))
                    .collect(),
            ),
            other => JsonataTemplate::Literal(other.clone()),
        }
    }

    /// The expression text of a whole-field `{% %}` string ("" for anything else).
    pub fn expr_text(&self) -> &str {
        match self {
            JsonataTemplate::Expr { expr, .. } => expr.text(),
            _ => "",
        }
    }

    /// Evaluate with `bindings` (`states` and the variables).
    pub fn evaluate(&self, bindings: &Map<String, Value>) -> Result<Value, Failure> {
        match self {
            JsonataTemplate::Literal(v) => Ok(v.clone()),
            JsonataTemplate::Expr { expr, field } => expr
                .evaluate_field(bindings, field)
                .map_err(|e| Failure::new(e.error(), e.cause())),
            JsonataTemplate::Object(entries) => {
                let mut out = Map::new();
                for (k, t) in entries {
                    out.insert(k.clone(), t.evaluate(bindings)?);
                }
                Ok(Value::Object(out))
            }
            JsonataTemplate::Array(a) => Ok(Value::Array(
                a.iter()
                    .map(|x| x.evaluate(bindings))
                    .collect::<Result<_, _>>()?,
            )),
        }
    }
}

/// Whether a `{% %}` string occurs anywhere in `t`.
fn has_jsonata(t: &Value) -> bool {
    match t {
        Value::String(s) => jsonata_expr(s).is_some(),
        Value::Object(o) => o.values().any(has_jsonata),
        Value::Array(a) => a.iter().any(has_jsonata),
        _ => false,
    }
}

/// A field in either query language: which one is a property of the field (its state's).
#[derive(Debug, Clone)]
pub enum Payload {
    /// A JSONPath `.$` template.
    JsonPath(Template),
    /// A JSONata template.
    Jsonata(JsonataTemplate),
}
