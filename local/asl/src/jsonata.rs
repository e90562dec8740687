//! JSONata for JSONata-mode states (`{% ... %}`), on the `jsonata-core` crate, with what Step
//! Functions adds: `$partition`, `$range`, `$hash`, `$random`, `$uuid`, `$parse`, no `$eval`.
//!
//! Contract with the engine:
//! - [`template`] recognises a whole `{% expr %}` string (no space before `{%` or after `%}`, as AWS)
//!   and returns the trimmed expression.
//! - [`evaluate`] returns `Ok(Some(v))`, `Ok(None)` when the expression returns nothing (JSONata
//!   `undefined`), or an error; [`evaluate_field`] turns `undefined` into AWS's error and writes
//!   AWS's cause texts, which name the field (`Output`, `Arguments/FunctionName`, `Items`, ...).
//! - `bindings` are the variables without `$`: `states` (`input`, `context`, `result`,
//!   `errorOutput`) and the workflow variables.
//! - JSONata numbers are f64; integral values come back as JSON integers (AWS prints `7`, not `7.0`).

use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use jsonata_core::ast::AstNode;
use jsonata_core::evaluator::{Context, Evaluator, EvaluatorError};
use jsonata_core::parser;
use jsonata_core::value::JValue;
use serde_json::{Map, Number, Value};

/// The error name AWS gives every JSONata failure.
pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";

/// Why an evaluation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonataErrorKind {
    /// The expression returned nothing where a value is required.
    Undefined,
    /// The expression returned a function (or regex), which has no JSON form.
    UnsupportedResult,
    /// The expression did not parse or threw while evaluating (`detail` holds JSONata's message).
    Evaluation(String),
}

/// A JSONata failure as AWS reports it: [`error`](Self::error) and [`cause`](Self::cause).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonataError {
    expr: String,
    field: Option<String>,
    kind: JsonataErrorKind,
}

impl JsonataError {
    fn new(expr: &str, kind: JsonataErrorKind) -> Self {
        JsonataError {
            expr: expr.to_string(),
            field: None,
            kind,
        }
    }

    /// The same failure, reported for a definition field (`Output`, `Assign/x`, `Items`, ...).
    pub fn for_field(mut self, field: &str) -> Self {
        self.field = Some(field.to_string());
        self
    }

    /// AWS's error name.
    pub fn error(&self) -> &'static str {
        QUERY_EVALUATION_ERROR
    }

    /// Why it failed.
    pub fn kind(&self) -> &JsonataErrorKind {
        &self.kind
    }

    /// AWS's cause text (the engine prefixes "An error occurred while executing the state ...").
    pub fn cause(&self) -> String {
        let subject = match &self.field {
            Some(f) => format!(
                "The JSONata expression '{}' specified for the field '{f}'",
                self.expr
            ),
            None => format!("The JSONata expression '{}'", self.expr),
        };
        match &self.kind {
            JsonataErrorKind::Undefined => format!("{subject} returned nothing (undefined)."),
            JsonataErrorKind::UnsupportedResult => {
                format!("{subject} returned an unsupported result type.")
            }
            JsonataErrorKind::Evaluation(detail) => {
                format!("{subject} threw an error during evaluation. {detail}")
            }
        }
    }
}

impl fmt::Display for JsonataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.cause())
    }
}

impl std::error::Error for JsonataError {}

/// The expression inside a whole-string `{% ... %}` template, trimmed.
pub fn template(s: &str) -> Option<&str> {
    s.strip_prefix("{%")
        .and_then(|x| x.strip_suffix("%}"))
        .map(str::trim)
}

/// A JSONata expression parsed once, when the definition loads; a parse error is reported
/// when the expression is evaluated, as AWS reports it.
#[derive(Debug, Clone)]
pub struct Expr {
    text: String,
    ast: Result<Arc<AstNode>, String>,
}

impl Expr {
    /// Parse `text` (the inside of `{% ... %}`).
    pub fn parse(text: &str) -> Expr {
        Expr {
            text: text.to_string(),
            ast: parser::parse(text).map(Arc::new).map_err(|e| e.to_string()),
        }
    }

    /// The expression as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Evaluate with `bindings` as `$name` variables; `Ok(None)` = undefined.
    pub fn evaluate(&self, bindings: &Map<String, Value>) -> Result<Option<Value>, JsonataError> {
        let expr = self.text.as_str();
        let fail = |detail: String| JsonataError::new(expr, JsonataErrorKind::Evaluation(detail));
        let ast = self.ast.as_ref().map_err(|e| fail(e.clone()))?;
        let mut context = Context::new();
        for (name, value) in bindings {
            context.bind(name.clone(), JValue::from(value.clone()));
        }
        let mut evaluator = Evaluator::with_context(context);
        register_step_functions(&mut evaluator).map_err(|e| fail(message(&e)))?;
        // AWS evaluates with no input document: everything comes through `$states` and variables.
        let result = evaluator
            .evaluate(ast, &JValue::Undefined)
            .map_err(|e| fail(message(&e)))?;
        if result.is_undefined() {
            return Ok(None);
        }
        to_json(&result)
            .map(Some)
            .ok_or_else(|| JsonataError::new(expr, JsonataErrorKind::UnsupportedResult))
    }

    /// Evaluate for a definition field: undefined is an error, and causes name the field.
    pub fn evaluate_field(
        &self,
        bindings: &Map<String, Value>,
        field: &str,
    ) -> Result<Value, JsonataError> {
        match self.evaluate(bindings) {
            Ok(Some(v)) => Ok(v),
            Ok(None) => {
                Err(JsonataError::new(&self.text, JsonataErrorKind::Undefined).for_field(field))
            }
            Err(e) => Err(e.for_field(field)),
        }
    }
}

/// Evaluate `expr` with `bindings` as `$name` variables; `Ok(None)` = undefined.
pub fn evaluate(expr: &str, bindings: &Map<String, Value>) -> Result<Option<Value>, JsonataError> {
    Expr::parse(expr).evaluate(bindings)
}

/// Evaluate for a definition field: undefined is an error, and causes name the field.
pub fn evaluate_field(
    expr: &str,
    bindings: &Map<String, Value>,
    field: &str,
) -> Result<Value, JsonataError> {
    Expr::parse(expr).evaluate_field(bindings, field)
}

/// JSONata's message, which starts with its error code (`T0410: Argument 1 ...`) as AWS shows it.
fn message(e: &EvaluatorError) -> String {
    e.message().to_string()
}

/// A JSONata value as JSON; `None` if it holds a function or regex (no JSON form). Undefined
/// members vanish as in JSONata's own serialisation.
fn to_json(v: &JValue) -> Option<Value> {
    Some(match v {
        JValue::Null | JValue::Undefined => Value::Null,
        JValue::Bool(b) => Value::Bool(*b),
        JValue::Number(n) => number(*n),
        JValue::String(s) => Value::String(s.to_string()),
        JValue::Array(a) => Value::Array(
            a.iter()
                .filter(|x| !x.is_undefined())
                .map(to_json)
                .collect::<Option<_>>()?,
        ),
        JValue::Object(o) => Value::Object(
            o.iter()
                .filter(|(_, x)| !x.is_undefined())
                .map(|(k, x)| to_json(x).map(|x| (k.clone(), x)))
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    })
}

/// Integral doubles print as integers (`-0` as `0`), as AWS's output does.
fn number(n: f64) -> Value {
    // 2^63: beyond it an integral double no longer fits i64.
    if n.fract() == 0.0 && n.abs() < 9.223_372_036_854_776e18 {
        Value::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

fn custom(msg: impl Into<String>) -> EvaluatorError {
    EvaluatorError::EvaluationError(msg.into())
}

/// A signature mismatch worded as JSONata words it (T0410).
fn signature(function: &str, argument: usize) -> EvaluatorError {
    EvaluatorError::TypeError(format!(
        "T0410: Argument {argument} of function \"{function}\" does not match function signature"
    ))
}

fn register_step_functions(ev: &mut Evaluator) -> Result<(), EvaluatorError> {
    ev.register_fn("partition", partition)?;
    ev.register_fn("range", range)?;
    ev.register_fn("hash", hash)?;
    ev.register_fn("uuid", uuid)?;
    ev.register_fn("parse", parse)?;
    ev.register_fn_override("random", random)?;
    // Step Functions does not offer $eval ($parse replaces it).
    ev.register_fn_override("eval", |_: &[JValue]| -> Result<JValue, EvaluatorError> {
        Err(EvaluatorError::ReferenceError(
            "T1006: Attempted to invoke a non-function".into(),
        ))
    })?;
    Ok(())
}

fn integer_arg(args: &[JValue], i: usize, function: &str) -> Result<i64, EvaluatorError> {
    match args.get(i) {
        Some(JValue::Number(n)) if n.is_finite() => Ok(n.trunc() as i64),
        _ => Err(signature(function, i + 1)),
    }
}

/// `$partition(array, size)`: chunks of `size`, the last one shorter.
fn partition(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    if args.len() > 2 {
        return Err(signature("partition", 3));
    }
    let items: Vec<JValue> = match args.first() {
        Some(JValue::Array(a)) => a.iter().cloned().collect(),
        Some(JValue::Undefined) | None => return Ok(JValue::Undefined),
        // JSONata treats a single value as a one-item array.
        Some(other) => vec![other.clone()],
    };
    let size = integer_arg(args, 1, "partition")?;
    let size = usize::try_from(size)
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| custom("The chunk size of $partition must be a positive integer"))?;
    Ok(JValue::array(
        items
            .chunks(size)
            .map(|c| JValue::array(c.to_vec()))
            .collect(),
    ))
}

/// Most items `$range` builds: AWS caps its own arrays; this keeps a typo from eating memory.
const RANGE_LIMIT: i128 = 1_000_000;

/// `$range(start, end, step)`: inclusive of `end`; a JSONata sequence, so one item collapses to
/// that item (AWS returns `1` for `$range(1, 9, 9)`) and none to undefined.
fn range(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    if args.len() > 3 {
        return Err(signature("range", 4));
    }
    for (i, a) in args.iter().enumerate() {
        if !matches!(a, JValue::Number(_) | JValue::Undefined) {
            return Err(signature("range", i + 1));
        }
    }
    if args.len() < 3 || args.iter().any(JValue::is_undefined) {
        return Ok(JValue::Undefined);
    }
    let (start, end, step) = (
        i128::from(integer_arg(args, 0, "range")?),
        i128::from(integer_arg(args, 1, "range")?),
        i128::from(integer_arg(args, 2, "range")?),
    );
    if step == 0 || (step > 0 && start > end) || (step < 0 && start < end) {
        return Ok(JValue::Undefined);
    }
    let count = (end - start) / step + 1;
    if count > RANGE_LIMIT {
        return Err(custom(format!(
            "$range would build {count} items; the offline engine stops at {RANGE_LIMIT}"
        )));
    }
    Ok(JValue::sequence(
        (0..count)
            .map(|i| JValue::Number((start + i * step) as f64))
            .collect(),
    ))
}

/// `$hash(value, algorithm)`: hex digest; non-strings are hashed as their JSON text.
fn hash(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    if args.len() > 2 {
        return Err(signature("hash", 3));
    }
    let data = match args.first() {
        Some(JValue::String(s)) => s.to_string(),
        Some(JValue::Undefined) | None => return Ok(JValue::Undefined),
        Some(other) => to_json(other)
            .ok_or_else(|| signature("hash", 1))?
            .to_string(),
    };
    let Some(JValue::String(algorithm)) = args.get(1) else {
        return Err(signature("hash", 2));
    };
    let data = data.as_bytes();
    // md-5/sha1 and sha2 implement different `digest` generations: name each trait.
    let digest = match algorithm.as_ref() {
        "MD5" => hex::encode(<md5::Md5 as md5::Digest>::digest(data)),
        "SHA-1" => hex::encode(<sha1::Sha1 as sha1::Digest>::digest(data)),
        "SHA-256" => hex::encode(<sha2::Sha256 as sha2::Digest>::digest(data)),
        "SHA-384" => hex::encode(<sha2::Sha384 as sha2::Digest>::digest(data)),
        "SHA-512" => hex::encode(<sha2::Sha512 as sha2::Digest>::digest(data)),
        other => {
            return Err(custom(format!(
                "The hash algorithm '{other}' is not supported; use one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"
            )))
        }
    };
    Ok(JValue::String(Rc::from(digest)))
}

/// `$uuid()`: a random version-4 UUID.
fn uuid(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    if !args.is_empty() {
        return Err(signature("uuid", 1));
    }
    Ok(JValue::String(Rc::from(uuid::Uuid::new_v4().to_string())))
}

/// `$parse(text)`: the JSON value a string holds.
fn parse(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    if args.len() > 1 {
        return Err(signature("parse", 2));
    }
    match args.first() {
        Some(JValue::String(s)) => serde_json::from_str::<Value>(s)
            .map(JValue::from)
            .map_err(|e| custom(format!("$parse: the string is not valid JSON ({e})"))),
        Some(JValue::Undefined) | None => Ok(JValue::Undefined),
        Some(_) => Err(signature("parse", 1)),
    }
}

/// `$random([seed])`: in [0, 1); a seed draws what `java.util.Random(seed).nextDouble()` draws,
/// as the JVM-based service does for `States.MathRandom`.
fn random(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    if args.len() > 1 {
        return Err(signature("random", 2));
    }
    let value = match args.first() {
        None | Some(JValue::Undefined) => {
            use rand::RngExt as _;
            rand::rng().random::<f64>()
        }
        Some(JValue::Number(n)) if n.is_finite() => JavaRandom::new(n.trunc() as i64).next_double(),
        Some(_) => return Err(signature("random", 1)),
    };
    Ok(JValue::Number(value))
}

/// The 48-bit linear congruential generator of `java.util.Random`.
struct JavaRandom(i64);

impl JavaRandom {
    const MULTIPLIER: i64 = 0x5_DEEC_E66D;
    const MASK: i64 = (1 << 48) - 1;

    fn new(seed: i64) -> Self {
        JavaRandom((seed ^ Self::MULTIPLIER) & Self::MASK)
    }

    fn next(&mut self, bits: u32) -> i64 {
        self.0 = (self.0.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB)) & Self::MASK;
        self.0 >> (48 - bits)
    }

    fn next_double(&mut self) -> f64 {
        let high = self.next(26);
        let low = self.next(27);
        ((high << 27) + low) as f64 * (1.0 / (1_i64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_random_matches_the_jvm() {
        // new java.util.Random(42).nextDouble() on a JVM.
        assert_eq!(JavaRandom::new(42).next_double(), 0.7275636800328681);
        assert_eq!(JavaRandom::new(0).next_double(), 0.730967787376657);
    }

    #[test]
    fn integral_numbers_print_as_integers() {
        assert_eq!(number(7.0).to_string(), "7");
        assert_eq!(number(-0.0).to_string(), "0");
        assert_eq!(number(2.5).to_string(), "2.5");
        assert!(number(1e300).is_f64());
    }
}
