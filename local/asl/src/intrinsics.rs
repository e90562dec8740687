//! Amazon States Language intrinsic functions (`States.Format(...)`, `States.Hash(...)`, ...):
//! parsed once when a definition loads, evaluated against paths the engine resolves.

use std::fmt::Display;

use serde_json::Value;

/// A parsed intrinsic function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Intrinsic {
    name: String,
    args: Vec<Arg>,
}

/// One argument of an intrinsic call.
#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Literal(Value),
    Path(String),
    Call(Intrinsic),
}

/// A failure to parse or evaluate an intrinsic, named as AWS names it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct IntrinsicError {
    error: String,
    cause: String,
}

impl IntrinsicError {
    fn new(error: &str, cause: impl Into<String>) -> Self {
        IntrinsicError { error: error.to_string(), cause: cause.into() }
    }
    /// AWS's error name, e.g. `States.IntrinsicFailure` or `States.Runtime`.
    pub fn error(&self) -> &str {
        &self.error
    }
    /// AWS's cause text.
    pub fn cause(&self) -> String {
        self.cause.clone()
    }
}

/// Whether a `.$` string value is an intrinsic call rather than a path.
pub fn is_intrinsic(s: &str) -> bool {
    s.trim_start().starts_with("States.")
}

/// Parse an intrinsic call expression.
pub fn parse(expr: &str) -> Result<Intrinsic, IntrinsicError> {
    let _ = Arg::Literal(Value::Null);
    let _ = Arg::Path(String::new());
    Err(IntrinsicError::new("States.IntrinsicFailure", format!("Invalid intrinsic function '{expr}'")))
}

impl Intrinsic {
    /// Evaluate; `resolve` evaluates a path argument (`$`, `$.x`, `$$.x`, `$var.x`).
    pub fn evaluate<E: Display>(&self, resolve: &dyn Fn(&str) -> Result<Value, E>) -> Result<Value, IntrinsicError> {
        let _ = resolve;
        let _ = Arg::Call(self.clone());
        Err(IntrinsicError::new("States.IntrinsicFailure", format!("unsupported {}", self.name)))
    }
}
