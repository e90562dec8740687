//! Retry and Catch: retriers and catchers, parsed and validated.

use serde_json::Value;

use super::compiled::{self, ResultPath};
use super::{schema, DefinitionError, QueryLanguage};
use crate::template::{JsonataTemplate, Payload, Template};

/// One retrier of a `Retry` list.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrier {
    /// The error names this retrier handles.
    pub error_equals: Vec<String>,
    /// Delay before the first retry (default 1 s).
    pub interval_seconds: f64,
    /// Retries at most this many times (default 3).
    pub max_attempts: u64,
    /// Multiplier of the delay per retry (default 2).
    pub backoff_rate: f64,
    /// Cap on the delay.
    pub max_delay_seconds: Option<f64>,
    /// `JitterStrategy: FULL`.
    pub jitter_full: bool,
}

/// One catcher of a `Catch` list.
#[derive(Debug, Clone)]
pub struct Catcher {
    /// The error names this catcher handles.
    pub error_equals: Vec<String>,
    /// The state to go to.
    pub next: String,
    /// JSONPath: where the error output goes in the input.
    pub result_path: Option<ResultPath>,
    /// JSONata: the state output instead of the error output.
    pub output: Option<JsonataTemplate>,
    /// Variables to assign, in the state's query language.
    pub assign: Option<Payload>,
}

fn string_list(v: Option<&Value>, loc: &str) -> Result<Vec<String>, DefinitionError> {
    v.and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .map(|x| x.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| schema(loc, "The field 'ErrorEquals' must be a list of strings"))
}

pub(super) fn parse_retrier(v: &Value, loc: &str) -> Result<Retrier, DefinitionError> {
    let o = v
        .as_object()
        .ok_or_else(|| schema(loc, "A retrier must be an object"))?;
    for k in o.keys() {
        if ![
            "ErrorEquals",
            "IntervalSeconds",
            "MaxAttempts",
            "BackoffRate",
            "MaxDelaySeconds",
            "JitterStrategy",
            "Comment",
        ]
        .contains(&k.as_str())
        {
            return Err(schema(
                loc,
                format!("The field '{k}' is not supported by Step Functions"),
            ));
        }
    }
    let num = |k: &str, d: f64| o.get(k).and_then(Value::as_f64).unwrap_or(d);
    Ok(Retrier {
        error_equals: string_list(o.get("ErrorEquals"), loc)?,
        interval_seconds: num("IntervalSeconds", 1.0),
        max_attempts: o.get("MaxAttempts").and_then(Value::as_u64).unwrap_or(3),
        backoff_rate: num("BackoffRate", 2.0),
        max_delay_seconds: o.get("MaxDelaySeconds").and_then(Value::as_f64),
        jitter_full: o.get("JitterStrategy").and_then(Value::as_str) == Some("FULL"),
    })
}

pub(super) fn parse_catcher(
    v: &Value,
    loc: &str,
    ql: QueryLanguage,
) -> Result<Catcher, DefinitionError> {
    let o = v
        .as_object()
        .ok_or_else(|| schema(loc, "A catcher must be an object"))?;
    for k in o.keys() {
        if ![
            "ErrorEquals",
            "Next",
            "ResultPath",
            "Output",
            "Assign",
            "Comment",
        ]
        .contains(&k.as_str())
        {
            return Err(schema(
                loc,
                format!("The field '{k}' is not supported by Step Functions"),
            ));
        }
    }
    Ok(Catcher {
        error_equals: string_list(o.get("ErrorEquals"), loc)?,
        next: o
            .get("Next")
            .and_then(Value::as_str)
            .ok_or_else(|| schema(loc, "The field 'Next' is required"))?
            .to_string(),
        result_path: compiled::result_path(o.get("ResultPath")),
        output: o
            .get("Output")
            .map(|t| JsonataTemplate::compile(t, "Output")),
        assign: o.get("Assign").map(|a| match ql {
            QueryLanguage::JsonPath => Payload::JsonPath(Template::compile(a)),
            QueryLanguage::Jsonata => Payload::Jsonata(JsonataTemplate::compile(a, "Assign")),
        }),
    })
}
