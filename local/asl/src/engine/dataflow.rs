//! Data flow between states: the [`Dataflow`] a query language provides, the JSONPath
//! InputPath/OutputPath and ResultPath, Assign merging, the payload quota, and value conversions.

use super::*;

/// What a state's query language decides: where its arguments come from and how its result
/// becomes its output. One impl per language (`JsonPathFlow`, `JsonataFlow`); the control
/// flow of each state kind is written once, in `exec_body`. Each method evaluates its fields
/// in the order AWS does, which decides which error a state with two faults reports.
pub(super) trait Dataflow: Send {
    /// What TestState's `inspectionData` calls a Task's arguments (`afterParameters`,
    /// `afterArguments`).
    const ARGUMENTS: &'static str;
    /// JSONPath: the effective input (after InputPath), which `inspectionData` shows.
    fn after_input_path(&self) -> Option<&Value>;
    /// The Context object (`$$`) as a task receives it.
    fn task_context(&self) -> TaskContext;
    /// A Task's or Parallel's input: Parameters/Arguments, else the (effective) input.
    fn arguments(&self, vars: &Map<String, Value>) -> Result<Value, Failure>;
    /// A Pass state's result (JSONPath: Result, else Parameters, else its input).
    fn pass_result(&self, vars: &Map<String, Value>) -> Result<Option<Value>, Failure>;
    /// The state's output from its result; applies Assign to `vars`.
    fn finish(
        &mut self,
        result: Option<Value>,
        vars: &mut Map<String, Value>,
    ) -> Result<Value, Failure>;
    /// The output of a state without a result (Succeed, Wait, a Choice's Default), with its
    /// Assign; `None`: the state's input, unchanged.
    fn pass_on(&mut self, vars: &mut Map<String, Value>) -> Result<Option<Value>, Failure>;
    /// The first Choice rule that matches, as the step it takes (with the rule's Assign).
    fn choose(&mut self, vars: &mut Map<String, Value>) -> Result<Option<Step>, Failure>;
    /// A Fail state's error and cause.
    fn failure(&self, vars: &Map<String, Value>) -> Result<Failure, Failure>;
    /// When a Wait state ends.
    fn wait_until(
        &self,
        now: DateTime<Utc>,
        vars: &Map<String, Value>,
    ) -> Result<DateTime<Utc>, Failure>;
    /// A Task's (timeout, heartbeat) in seconds.
    fn task_limits(&self, vars: &Map<String, Value>)
        -> Result<(Option<u64>, Option<u64>), Failure>;
    /// A Map's iteration inputs: its items (`read`: those its ItemReader read), each through
    /// the ItemSelector.
    fn map_inputs(
        &self,
        vars: &Map<String, Value>,
        read: Option<Vec<Value>>,
    ) -> Result<Vec<Value>, Failure>;
    /// A Map's concurrency limit (0 = none) and tolerated (failure count, percentage).
    fn map_limits(&self, vars: &Map<String, Value>) -> Result<MapLimits, Failure>;
}

/// A Map's concurrency limit and tolerated failures, as [`Dataflow::map_limits`] reads them.
pub(super) type MapLimits = (usize, (Option<i64>, Option<f64>));

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

/// Whether `v`'s compact JSON text is over the payload quota. Most payloads are far below it:
/// a bound on their size (exact but for floats), cheaper than serialising them, settles those.
pub(super) fn payload_too_big(v: &Value) -> bool {
    if size_bound(v, 0) <= MAX_PAYLOAD_BYTES {
        return false;
    }
    let mut c = SizeCounter(0);
    serde_json::to_writer(&mut c, v).is_err() && c.0 > MAX_PAYLOAD_BYTES
}

/// An upper bound of `v`'s compact JSON length, added to `acc` (exact but for floats, which
/// count as 24 characters); it stops growing once past the quota.
fn size_bound(v: &Value, acc: usize) -> usize {
    if acc > MAX_PAYLOAD_BYTES {
        return acc;
    }
    match v {
        Value::Null | Value::Bool(true) => acc + 4,
        Value::Bool(false) => acc + 5,
        Value::Number(n) => acc + number_len(n),
        Value::String(s) => acc + escaped_len(s),
        // Brackets, and a comma between members (a colon after each key).
        Value::Array(a) => a
            .iter()
            .fold(acc + 1 + a.len().max(1), |n, x| size_bound(x, n)),
        Value::Object(o) => o.iter().fold(acc + 1 + (2 * o.len()).max(1), |n, (k, x)| {
            size_bound(x, n + escaped_len(k))
        }),
    }
}

/// An integer's printed length; any other number's bound (f64 prints in at most 24).
fn number_len(n: &serde_json::Number) -> usize {
    let digits = |u: u64| u.checked_ilog10().unwrap_or(0) as usize + 1;
    match (n.as_u64(), n.as_i64()) {
        (Some(u), _) => digits(u),
        (None, Some(i)) => 1 + digits(i.unsigned_abs()),
        _ => 24,
    }
}

/// A string's length as serde_json writes it, quotes included: a quote, a backslash and the
/// control characters with a short escape take two bytes, the other control characters six.
fn escaped_len(s: &str) -> usize {
    s.bytes().fold(2 + s.len(), |n, b| match b {
        b'"' | b'\\' | b'\x08' | b'\x0c' | b'\n' | b'\r' | b'\t' => n + 1,
        0..=0x1f => n + 5,
        _ => n,
    })
}

/// Apply a JSONPath InputPath/OutputPath (`null` → `{}`); without one, the value itself.
pub(super) fn apply_io_path<'v>(
    path: Option<&IoPath>,
    v: &'v Value,
    context: &dyn ContextRoot,
    vars: &Map<String, Value>,
) -> Result<Cow<'v, Value>, Failure> {
    match path {
        None => Ok(Cow::Borrowed(v)),
        Some(p) => select_io_path(p, v, context, vars).map(Cow::Owned),
    }
}

/// [`apply_io_path`] for an owned value (OutputPath on a state's result): no copy without one.
pub(super) fn apply_io_path_owned(
    path: Option<&IoPath>,
    v: Value,
    context: &dyn ContextRoot,
    vars: &Map<String, Value>,
) -> Result<Value, Failure> {
    match path {
        None => Ok(v),
        Some(p) => select_io_path(p, &v, context, vars),
    }
}

/// OutputPath on the effective input of a state that passes it on (Choice, Succeed, Wait):
/// `None` when that is the state's input itself, which the caller then keeps without a copy.
// The Cow's variant is the point: borrowed means "the state's input, unchanged".
#[allow(clippy::ptr_arg)]
pub(super) fn pass_on(
    path: Option<&IoPath>,
    effective: &Cow<'_, Value>,
    context: &dyn ContextRoot,
    vars: &Map<String, Value>,
) -> Result<Option<Value>, Failure> {
    match (path, effective) {
        (None, Cow::Borrowed(_)) => Ok(None),
        (None, Cow::Owned(v)) => Ok(Some(v.clone())),
        (Some(p), e) => select_io_path(p, e, context, vars).map(Some),
    }
}

fn select_io_path(
    path: &IoPath,
    v: &Value,
    context: &dyn ContextRoot,
    vars: &Map<String, Value>,
) -> Result<Value, Failure> {
    match path {
        IoPath::Null => Ok(json!({})),
        IoPath::Path(p) => p.select(v, context, vars),
        IoPath::Other => Ok(v.clone()),
    }
}

/// Merge a result into the raw input per ResultPath (`null` discards the result).
pub(super) fn apply_result_path(
    rp: Option<&ResultPath>,
    raw_input: &Value,
    result: Value,
) -> Result<Value, Failure> {
    match rp {
        None | Some(ResultPath::Other) => Ok(result),
        Some(ResultPath::Null) => Ok(raw_input.clone()),
        Some(ResultPath::Fields { text, fields }) => {
            let fields = fields.as_ref().map_err(Clone::clone)?;
            if fields.is_empty() {
                return Ok(result);
            }
            let not_applicable =
                || Failure::runtime(causes::result_path_not_applicable(text, raw_input));
            if !raw_input.is_object() {
                return Err(not_applicable());
            }
            let mut out = raw_input.clone();
            set_at(&mut out, fields, result).map_err(|_| not_applicable())?;
            Ok(out)
        }
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

/// A Map's tolerated failure count may not be negative (either query language).
pub(super) fn check_tolerated_count(count: Option<i64>) -> Result<(), Failure> {
    match count {
        Some(c) if c < 0 => Err(Failure::runtime(causes::TOLERATED_COUNT_NEGATIVE.template)),
        _ => Ok(()),
    }
}

/// A Map's tolerated failure percentage lies in 0..=100 (either query language).
pub(super) fn check_tolerated_percentage(pct: Option<f64>) -> Result<(), Failure> {
    match pct {
        Some(p) if !(0.0..=100.0).contains(&p) => Err(Failure::runtime(
            causes::TOLERATED_PERCENTAGE_RANGE.template,
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_quota_is_exact_past_the_size_bound() {
        let text = |n: usize, c: char| Value::String(std::iter::repeat_n(c, n).collect());
        // Under the bound: settled without serialising.
        assert!(!payload_too_big(&json!({"a": text(1000, 'x')})));
        // Over the bound but under the quota once serialised (ASCII needs no escapes).
        assert!(!payload_too_big(&text(MAX_PAYLOAD_BYTES - 2, 'x')));
        assert!(payload_too_big(&text(MAX_PAYLOAD_BYTES - 1, 'x')));
        // Control characters escape to six bytes each.
        assert!(payload_too_big(&text(MAX_PAYLOAD_BYTES / 6 + 1, '\u{1}')));
        assert!(!payload_too_big(&text(MAX_PAYLOAD_BYTES / 6 - 1, '\u{1}')));
    }

    #[test]
    fn size_bound_is_the_printed_length_but_for_floats() {
        let exact = [
            json!(null),
            json!([true, false, 0, 9, 10, -1, -10, u64::MAX, i64::MIN]),
            json!({"a\"b": "q\"\\/\u{8}\u{c}\n\r\t\u{0}\u{1f}\u{7f}é€😀", "": [{}, []]}),
            json!({"index": 12, "orderId": "order-0001", "nested": {"k": [1, "x", null]}}),
        ];
        for v in exact {
            assert_eq!(size_bound(&v, 0), v.to_string().len(), "{v}");
        }
        for f in [0.1, -1.5e300, 2.0f64.powi(60), 1e-7] {
            let v = json!([f]);
            assert!(size_bound(&v, 0) >= v.to_string().len(), "{v}");
        }
    }
}
