//! Amazon States Language intrinsic functions (`States.Format(...)`, `States.Hash(...)`, ...):
//! parsed once when a definition loads, evaluated against paths the engine resolves.
//!
//! Semantics follow what AWS Step Functions (a JVM service) does, as recorded in the conformance
//! corpus: `States.Format` renders objects the way a Java `Map` prints (`{a=1, b=[]}`),
//! `States.StringSplit` tokenises like `java.util.StringTokenizer` (any delimiter character, empty
//! tokens dropped), `States.MathAdd`/`States.MathRandom` round non-integers like `Math.round`.

use std::fmt::Display;

mod array;
mod encoding;
mod json;
mod math;
mod parse;
mod string;

use parse::Parser;

use base64::Engine as _;
use serde_json::Value;

/// At most this many intrinsic calls in one field (AWS: "up to 10 intrinsic functions").
const MAX_CALLS: usize = 10;
/// `States.ArrayRange` may not produce more items than this.
const MAX_RANGE_ITEMS: usize = 1000;
/// Input length limit (characters) of `States.Hash`, `States.Base64Encode`, `States.Base64Decode`.
const MAX_INPUT_CHARS: usize = 10_000;

const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
const RUNTIME: &str = "States.Runtime";

/// The functions AWS offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

impl Func {
    fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "Format" => Func::Format,
            "StringToJson" => Func::StringToJson,
            "JsonToString" => Func::JsonToString,
            "Array" => Func::Array,
            "ArrayPartition" => Func::ArrayPartition,
            "ArrayContains" => Func::ArrayContains,
            "ArrayRange" => Func::ArrayRange,
            "ArrayGetItem" => Func::ArrayGetItem,
            "ArrayLength" => Func::ArrayLength,
            "ArrayUnique" => Func::ArrayUnique,
            "Base64Encode" => Func::Base64Encode,
            "Base64Decode" => Func::Base64Decode,
            "Hash" => Func::Hash,
            "JsonMerge" => Func::JsonMerge,
            "MathRandom" => Func::MathRandom,
            "MathAdd" => Func::MathAdd,
            "StringSplit" => Func::StringSplit,
            "UUID" => Func::Uuid,
            _ => return None,
        })
    }

    /// Allowed argument counts (inclusive range; `usize::MAX` = unbounded).
    fn arity(self) -> (usize, usize) {
        match self {
            Func::Format => (1, usize::MAX),
            Func::Array => (0, usize::MAX),
            Func::Uuid => (0, 0),
            Func::StringToJson
            | Func::JsonToString
            | Func::ArrayLength
            | Func::ArrayUnique
            | Func::Base64Encode
            | Func::Base64Decode => (1, 1),
            Func::ArrayPartition
            | Func::ArrayContains
            | Func::ArrayGetItem
            | Func::Hash
            | Func::MathAdd
            | Func::StringSplit => (2, 2),
            Func::ArrayRange | Func::JsonMerge => (3, 3),
            Func::MathRandom => (2, 3),
        }
    }
}

/// A parsed intrinsic function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Intrinsic {
    func: Func,
    /// `States.Format`, as written, for causes.
    name: String,
    args: Vec<Arg>,
}

/// One argument of an intrinsic call.
#[derive(Debug, Clone, PartialEq)]
enum Arg {
    /// A quoted string literal: its unescaped value, and its reading as a `States.Format`
    /// template (where `\{` and `\}` are literal braces, not placeholders).
    Str {
        value: String,
        template: Vec<Piece>,
    },
    /// A number, boolean or null literal.
    Literal(Value),
    /// A path on the input (`$`), the Context object (`$$`) or a variable (`$name`).
    Path(crate::path::Path),
    Call(Box<Intrinsic>),
}

/// A part of a `States.Format` template.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Placeholder,
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
        IntrinsicError {
            error: error.to_string(),
            cause: cause.into(),
        }
    }
    fn failure(cause: impl Into<String>) -> Self {
        Self::new(INTRINSIC_FAILURE, cause)
    }
    /// AWS's error name, e.g. `States.IntrinsicFailure` or `States.Runtime`.
    pub fn error(&self) -> &str {
        &self.error
    }
    /// AWS's cause text (without the engine's "An error occurred while executing the state" prefix).
    pub fn cause(&self) -> String {
        self.cause.clone()
    }
}

/// Whether a `.$` string value is an intrinsic call rather than a path.
pub fn is_intrinsic(s: &str) -> bool {
    s.trim_start().starts_with("States.")
}

/// Parse an intrinsic call expression; fails on syntax errors, unknown functions, wrong argument
/// counts and literal arguments of the wrong type (what AWS refuses when the definition is created).
pub fn parse(expr: &str) -> Result<Intrinsic, IntrinsicError> {
    let invalid = |why: &str| {
        IntrinsicError::failure(format!("Invalid intrinsic function call '{expr}': {why}"))
    };
    let mut p = Parser {
        s: expr,
        pos: 0,
        calls: 0,
    };
    p.skip_ws();
    if !p.rest().starts_with("States.") {
        return Err(invalid("it must start with 'States.'"));
    }
    let call = p.call().map_err(|why| invalid(&why))?;
    p.skip_ws();
    if p.pos != p.s.len() {
        return Err(invalid(&format!(
            "unexpected text '{}' after the call",
            p.rest()
        )));
    }
    Ok(call)
}

impl Intrinsic {
    /// Evaluate; `resolve` evaluates a path argument (`$`, `$.x`, `$$.x`, `$var.x`) and its error
    /// text becomes the cause of a `States.Runtime` failure.
    pub fn evaluate<E: Display>(
        &self,
        resolve: &dyn Fn(&crate::path::Path) -> Result<Value, E>,
    ) -> Result<Value, IntrinsicError> {
        let mut vals = Vec::with_capacity(self.args.len());
        for a in &self.args {
            vals.push(match a {
                Arg::Str { value, .. } => Value::String(value.clone()),
                Arg::Literal(v) => v.clone(),
                Arg::Path(p) => {
                    resolve(p).map_err(|e| IntrinsicError::new(RUNTIME, e.to_string()))?
                }
                Arg::Call(c) => c.evaluate(resolve)?,
            });
        }
        let f = Invocation { name: &self.name };
        match self.func {
            Func::Format => f.format(&self.args[0], &vals),
            Func::StringToJson => f.string_to_json(&vals[0]),
            Func::JsonToString => Ok(Value::String(
                serde_json::to_string(&vals[0]).unwrap_or_default(),
            )),
            Func::Array => Ok(Value::Array(vals)),
            Func::ArrayPartition => f.array_partition(&vals[0], &vals[1]),
            Func::ArrayContains => Ok(Value::Bool(f.array(&vals[0], 1)?.contains(&vals[1]))),
            Func::ArrayRange => f.array_range(&vals[0], &vals[1], &vals[2]),
            Func::ArrayGetItem => f.array_get_item(&vals[0], &vals[1]),
            Func::ArrayLength => Ok(Value::from(f.array(&vals[0], 1)?.len())),
            Func::ArrayUnique => f.array_unique(&vals[0]),
            Func::Base64Encode => {
                let s = f.limited_string(&vals[0], 1)?;
                Ok(Value::String(
                    base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
                ))
            }
            Func::Base64Decode => f.base64_decode(&vals[0]),
            Func::Hash => f.hash(&vals[0], &vals[1]),
            Func::JsonMerge => f.json_merge(&vals[0], &vals[1], &vals[2]),
            Func::MathRandom => f.math_random(&vals),
            Func::MathAdd => {
                let a = f.rounded_int(&vals[0], 1)?;
                let b = f.rounded_int(&vals[1], 2)?;
                Ok(Value::from(a + b))
            }
            Func::StringSplit => f.string_split(&vals[0], &vals[1]),
            Func::Uuid => Ok(Value::String(uuid::Uuid::new_v4().to_string())),
        }
    }
}

/// The function being evaluated, for messages.
struct Invocation<'a> {
    name: &'a str,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl Invocation<'_> {
    pub(super) fn fail(&self, why: impl Display) -> IntrinsicError {
        IntrinsicError::failure(format!("Invalid arguments in {}: {why}", self.name))
    }

    pub(super) fn wrong_type(&self, pos: usize, want: &str, got: &Value) -> IntrinsicError {
        self.fail(format!(
            "argument {pos} must be {want}, but was {} {}",
            type_name(got),
            compact(got)
        ))
    }

    pub(super) fn string<'v>(&self, v: &'v Value, pos: usize) -> Result<&'v str, IntrinsicError> {
        v.as_str()
            .ok_or_else(|| self.wrong_type(pos, "a string", v))
    }

    pub(super) fn limited_string<'v>(
        &self,
        v: &'v Value,
        pos: usize,
    ) -> Result<&'v str, IntrinsicError> {
        let s = self.string(v, pos)?;
        if s.chars().count() > MAX_INPUT_CHARS {
            return Err(self.fail(format!(
                "the input string exceeds {MAX_INPUT_CHARS} characters"
            )));
        }
        Ok(s)
    }

    pub(super) fn array<'v>(
        &self,
        v: &'v Value,
        pos: usize,
    ) -> Result<&'v Vec<Value>, IntrinsicError> {
        v.as_array()
            .ok_or_else(|| self.wrong_type(pos, "an array", v))
    }

    /// An integer argument; a number with a fractional part is refused.
    pub(super) fn int(&self, v: &Value, pos: usize) -> Result<i64, IntrinsicError> {
        let n = v
            .as_f64()
            .ok_or_else(|| self.wrong_type(pos, "an integer", v))?;
        match v.as_i64() {
            Some(i) => Ok(i),
            None if n.fract() == 0.0 && n.abs() < 9.0e15 => Ok(n as i64),
            None => Err(self.wrong_type(pos, "an integer", v)),
        }
    }

    /// A number rounded half up to an integer, as Java's `Math.round` does.
    pub(super) fn rounded_int(&self, v: &Value, pos: usize) -> Result<i64, IntrinsicError> {
        if let Some(i) = v.as_i64() {
            return Ok(i);
        }
        let n = v
            .as_f64()
            .ok_or_else(|| self.wrong_type(pos, "a number", v))?;
        if !n.is_finite() || n.abs() > 9.0e18 {
            return Err(self.fail(format!("argument {pos} is out of range: {}", compact(v))));
        }
        Ok((n + 0.5).floor() as i64)
    }
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[cfg(test)]
mod tests;
