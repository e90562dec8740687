//! A JSONPath state's expression fields, compiled once when the definition loads: paths parsed,
//! `.$` templates and intrinsics compiled, Choice rules turned into a tree. A run reads these
//! instead of the state's JSON. A field that does not compile keeps the failure AWS reports at
//! run time (AWS accepts some such definitions and fails the state when it runs).

use serde_json::{Map, Value};

use crate::causes;
use crate::choice::Rule;
use crate::error::Failure;
use crate::path::{ContextRoot, Path, PathError};
use crate::template::{Expression, JsonataTemplate, Template};

use super::StateType;

/// A field holding one path (`InputPath`, `ItemsPath`, `TimeoutSecondsPath`, ...).
#[derive(Debug, Clone)]
pub struct PathField {
    text: String,
    parsed: Result<Path, Failure>,
}

impl PathField {
    /// Compile a path field's text.
    pub fn compile(text: &str) -> PathField {
        PathField {
            text: text.to_string(),
            parsed: Path::parse(text).map_err(|e| Failure::runtime(e.to_string())),
        }
    }

    /// The path as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Select from the input, Context object or variables; nothing found is AWS's
    /// "Invalid path ... : No results for path" failure.
    pub fn select(
        &self,
        input: &Value,
        context: &dyn ContextRoot,
        vars: &Map<String, Value>,
    ) -> Result<Value, Failure> {
        let path = self.parsed.as_ref().map_err(Clone::clone)?;
        path.evaluate(input, context, vars).map_err(|e| match e {
            PathError::NotFound { .. } | PathError::UnknownVariable(_) => {
                Failure::runtime(causes::no_results(&self.text, &path.normalized()))
            }
            other => Failure::runtime(other.to_string()),
        })
    }
}

/// InputPath / OutputPath.
#[derive(Debug, Clone)]
pub enum IoPath {
    /// `null`: the state sees (or passes on) `{}`.
    Null,
    /// A path.
    Path(PathField),
    /// Any other JSON: ignored.
    Other,
}

/// ResultPath.
#[derive(Debug, Clone)]
pub enum ResultPath {
    /// `null`: the result is discarded, the input passes on.
    Null,
    /// A reference path, as the fields it sets (empty: `$`, the result replaces the input).
    Fields {
        /// The path as written.
        text: String,
        /// The fields, or the failure of a path that is not a reference path.
        fields: Result<Vec<String>, Failure>,
    },
    /// Any other JSON: the result replaces the input.
    Other,
}

/// One rule of a JSONPath Choice state, with what follows when it matches.
#[derive(Debug, Clone)]
pub struct ChoiceBranch {
    /// The condition.
    pub rule: Rule,
    /// The rule's Assign.
    pub assign: Option<Template>,
    /// The rule's Next.
    pub next: Option<String>,
}

/// The compiled JSONPath fields of a state (all empty for a JSONata state).
#[derive(Debug, Clone, Default)]
pub struct JsonPathFields {
    /// InputPath.
    pub input_path: Option<IoPath>,
    /// OutputPath.
    pub output_path: Option<IoPath>,
    /// ResultPath.
    pub result_path: Option<ResultPath>,
    /// Parameters (not a Map's: see `item_selector`).
    pub parameters: Option<Template>,
    /// ResultSelector.
    pub result_selector: Option<Template>,
    /// A Map's ItemSelector (or its older name, Parameters).
    pub item_selector: Option<Template>,
    /// The state's Assign.
    pub assign: Option<Template>,
    /// A Map's ItemsPath.
    pub items_path: Option<PathField>,
    /// A Wait's SecondsPath.
    pub seconds_path: Option<Expression>,
    /// A Wait's TimestampPath.
    pub timestamp_path: Option<Expression>,
    /// A Fail state's ErrorPath.
    pub error_path: Option<Expression>,
    /// A Fail state's CausePath.
    pub cause_path: Option<Expression>,
    /// A Map's MaxConcurrencyPath.
    pub max_concurrency_path: Option<Expression>,
    /// A Map's ToleratedFailureCountPath.
    pub tolerated_failure_count_path: Option<Expression>,
    /// A Map's ToleratedFailurePercentagePath.
    pub tolerated_failure_percentage_path: Option<Expression>,
    /// A Task's TimeoutSecondsPath.
    pub timeout_seconds_path: Option<PathField>,
    /// A Task's HeartbeatSecondsPath.
    pub heartbeat_seconds_path: Option<PathField>,
    /// A Choice state's rules, in order.
    pub choices: Vec<ChoiceBranch>,
}

fn io_path(v: Option<&Value>) -> Option<IoPath> {
    v.map(|v| match v {
        Value::Null => IoPath::Null,
        Value::String(p) => IoPath::Path(PathField::compile(p)),
        _ => IoPath::Other,
    })
}

/// Compile a ResultPath (a state's or a catcher's).
pub fn result_path(v: Option<&Value>) -> Option<ResultPath> {
    v.map(|v| match v {
        Value::Null => ResultPath::Null,
        Value::String(p) => ResultPath::Fields {
            text: p.clone(),
            fields: Path::parse(p)
                .map_err(|e| Failure::runtime(e.to_string()))
                .and_then(|path| {
                    path.reference_fields()
                        .ok_or_else(|| Failure::runtime(causes::invalid_result_path(p)))
                }),
        },
        _ => ResultPath::Other,
    })
}

impl JsonPathFields {
    /// Compile the fields of a (validated) JSONPath state.
    pub fn compile(ty: StateType, obj: &Map<String, Value>) -> JsonPathFields {
        let template = |k: &str| obj.get(k).map(Template::compile);
        let expr = |k: &str| obj.get(k).and_then(Value::as_str).map(Expression::compile);
        let path = |k: &str| obj.get(k).and_then(Value::as_str).map(PathField::compile);
        let choices = obj
            .get("Choices")
            .and_then(Value::as_array)
            .filter(|_| ty == StateType::Choice)
            .map(|rules| {
                rules
                    .iter()
                    .map(|r| ChoiceBranch {
                        rule: Rule::compile(r),
                        assign: r.get("Assign").map(Template::compile),
                        next: r.get("Next").and_then(Value::as_str).map(str::to_string),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let (parameters, item_selector) = if ty == StateType::Map {
            (
                None,
                obj.get("ItemSelector")
                    .or_else(|| obj.get("Parameters"))
                    .map(Template::compile),
            )
        } else {
            (template("Parameters"), None)
        };
        JsonPathFields {
            input_path: io_path(obj.get("InputPath")),
            output_path: io_path(obj.get("OutputPath")),
            result_path: result_path(obj.get("ResultPath")),
            parameters,
            result_selector: template("ResultSelector"),
            item_selector,
            assign: template("Assign"),
            items_path: path("ItemsPath"),
            seconds_path: expr("SecondsPath"),
            timestamp_path: expr("TimestampPath"),
            error_path: expr("ErrorPath"),
            cause_path: expr("CausePath"),
            max_concurrency_path: expr("MaxConcurrencyPath"),
            tolerated_failure_count_path: expr("ToleratedFailureCountPath"),
            tolerated_failure_percentage_path: expr("ToleratedFailurePercentagePath"),
            timeout_seconds_path: path("TimeoutSecondsPath"),
            heartbeat_seconds_path: path("HeartbeatSecondsPath"),
            choices,
        }
    }
}

/// One rule of a JSONata Choice state.
#[derive(Debug, Clone)]
pub struct JsonataChoice {
    /// The Condition (`false` when absent).
    pub condition: JsonataTemplate,
    /// The rule's Assign.
    pub assign: Option<JsonataTemplate>,
    /// The rule's Output.
    pub output: Option<JsonataTemplate>,
    /// The rule's Next.
    pub next: Option<String>,
}

/// The compiled JSONata fields of a state (all empty for a JSONPath state).
#[derive(Debug, Clone, Default)]
pub struct JsonataFields {
    /// Arguments (Task, Parallel).
    pub arguments: Option<JsonataTemplate>,
    /// Output.
    pub output: Option<JsonataTemplate>,
    /// Assign.
    pub assign: Option<JsonataTemplate>,
    /// A Map's Items.
    pub items: Option<JsonataTemplate>,
    /// A Map's ItemSelector.
    pub item_selector: Option<JsonataTemplate>,
    /// A Wait's Seconds.
    pub seconds: Option<JsonataTemplate>,
    /// A Wait's Timestamp.
    pub timestamp: Option<JsonataTemplate>,
    /// A Task's TimeoutSeconds.
    pub timeout_seconds: Option<JsonataTemplate>,
    /// A Task's HeartbeatSeconds.
    pub heartbeat_seconds: Option<JsonataTemplate>,
    /// A Fail state's Error.
    pub error: Option<JsonataTemplate>,
    /// A Fail state's Cause.
    pub cause: Option<JsonataTemplate>,
    /// A Map's MaxConcurrency.
    pub max_concurrency: Option<JsonataTemplate>,
    /// A Map's ToleratedFailureCount.
    pub tolerated_failure_count: Option<JsonataTemplate>,
    /// A Map's ToleratedFailurePercentage.
    pub tolerated_failure_percentage: Option<JsonataTemplate>,
    /// A Choice state's rules, in order.
    pub choices: Vec<JsonataChoice>,
}

impl JsonataFields {
    /// Compile the fields of a (validated) JSONata state.
    pub fn compile(ty: StateType, obj: &Map<String, Value>) -> JsonataFields {
        let field = |k: &str| obj.get(k).map(|t| JsonataTemplate::compile(t, k));
        let choices = obj
            .get("Choices")
            .and_then(Value::as_array)
            .filter(|_| ty == StateType::Choice)
            .map(|rules| {
                rules
                    .iter()
                    .map(|r| JsonataChoice {
                        condition: JsonataTemplate::compile(
                            r.get("Condition").unwrap_or(&Value::Bool(false)),
                            "Condition",
                        ),
                        assign: r
                            .get("Assign")
                            .map(|a| JsonataTemplate::compile(a, "Assign")),
                        output: r
                            .get("Output")
                            .map(|o| JsonataTemplate::compile(o, "Output")),
                        next: r.get("Next").and_then(Value::as_str).map(str::to_string),
                    })
                    .collect()
            })
            .unwrap_or_default();
        JsonataFields {
            arguments: field("Arguments"),
            output: field("Output"),
            assign: field("Assign"),
            items: field("Items"),
            item_selector: field("ItemSelector"),
            seconds: field("Seconds"),
            timestamp: field("Timestamp"),
            timeout_seconds: field("TimeoutSeconds"),
            heartbeat_seconds: field("HeartbeatSeconds"),
            error: field("Error"),
            cause: field("Cause"),
            max_concurrency: field("MaxConcurrency"),
            tolerated_failure_count: field("ToleratedFailureCount"),
            tolerated_failure_percentage: field("ToleratedFailurePercentage"),
            choices,
        }
    }
}

/// A state's literal (non-expression) fields, read once.
#[derive(Debug, Clone, Default)]
pub struct Literals {
    /// A Task's Resource.
    pub resource: Option<String>,
    /// A Choice state's Default.
    pub default: Option<String>,
    /// A JSONPath Pass state's Result.
    pub result: Option<Value>,
    /// A JSONPath Fail state's Error.
    pub error: Option<String>,
    /// A JSONPath Fail state's Cause.
    pub cause: Option<String>,
    /// A JSONPath Wait's Seconds.
    pub seconds: Option<i64>,
    /// A JSONPath Wait's Timestamp.
    pub timestamp: Option<String>,
    /// A JSONPath Map's MaxConcurrency, as written.
    pub max_concurrency: Option<Value>,
    /// A JSONPath Map's ToleratedFailureCount.
    pub tolerated_failure_count: Option<i64>,
    /// A JSONPath Map's ToleratedFailurePercentage.
    pub tolerated_failure_percentage: Option<f64>,
    /// A JSONPath Task's TimeoutSeconds, as written.
    pub timeout_seconds: Option<Value>,
    /// A JSONPath Task's HeartbeatSeconds, as written.
    pub heartbeat_seconds: Option<Value>,
}

impl Literals {
    /// Read the literal fields of a (validated) state.
    pub fn read(obj: &Map<String, Value>) -> Literals {
        let string = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
        Literals {
            resource: string("Resource"),
            default: string("Default"),
            result: obj.get("Result").cloned(),
            error: string("Error"),
            cause: string("Cause"),
            seconds: obj.get("Seconds").and_then(Value::as_i64),
            timestamp: string("Timestamp"),
            max_concurrency: obj.get("MaxConcurrency").cloned(),
            tolerated_failure_count: obj.get("ToleratedFailureCount").and_then(Value::as_i64),
            tolerated_failure_percentage: obj
                .get("ToleratedFailurePercentage")
                .and_then(Value::as_f64),
            timeout_seconds: obj.get("TimeoutSeconds").cloned(),
            heartbeat_seconds: obj.get("HeartbeatSeconds").cloned(),
        }
    }
}
