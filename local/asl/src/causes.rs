//! Every run-time error cause the engine writes, in one place and shared by JSONPath and JSONata
//! states, worded as the AWS-recorded conformance corpus shows them. (JSONata's own evaluation
//! causes are [`crate::jsonata::JsonataError`]'s; intrinsic causes are the intrinsics'.)

use serde_json::Value;

use crate::error::Failure;
use crate::value::{json_type_name, to_json};

/// The prefix AWS puts before a state's run-time cause.
pub fn in_state(state: &str, entered_event: u64, cause: &str) -> String {
    format!("An error occurred while executing the state '{state}' (entered at the event id #{entered_event}). {cause}")
}

/// A `.$` path (or ErrorPath/CausePath) that selects nothing.
pub fn path_not_in_input(path: &str, field: &str, input: &Value) -> String {
    format!(
        "The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{}'",
        to_json(input)
    )
}

/// An InputPath/OutputPath/ItemsPath/`*SecondsPath` or Choice `Variable` that selects nothing.
pub fn no_results(path: &str, normalized: &str) -> String {
    format!("Invalid path '{path}' : No results for path: {normalized}")
}

/// A path that does not parse.
pub fn invalid_path(path: &str) -> String {
    format!("Invalid path '{path}'")
}

/// A ResultPath that is not a reference path.
pub fn invalid_result_path(path: &str) -> String {
    format!("Invalid ResultPath '{path}'")
}

/// A ResultPath that cannot be applied to the state's input.
pub fn result_path_not_applicable(path: &str, input: &Value) -> String {
    format!(
        "Unable to apply ResultPath '{path}' to input '{}'",
        to_json(input)
    )
}

/// A state's output, or the execution's (`ExecutionSucceeded`), over the payload quota.
pub fn data_limit_exceeded(task: &str) -> Failure {
    Failure::raw(
        Some("States.DataLimitExceeded".into()),
        Some(format!("The state/task '{task}' returned a result with a size exceeding the maximum number of bytes service limit.")),
    )
}

/// A Choice state without a matching rule or a Default.
pub fn no_choice_matched() -> Failure {
    Failure::raw(
        Some("States.NoChoiceMatched".into()),
        Some("No Matches!".into()),
    )
}

/// The error of a Task that ran longer than its TimeoutSeconds (a dispatcher that enforces the
/// timeout itself reports it with this error), or of an execution past its TimeoutSeconds.
pub const TIMEOUT: &str = "States.Timeout";

/// A Task that ran longer than its TimeoutSeconds, or an execution past its TimeoutSeconds.
pub fn timeout(cause: Option<String>) -> Failure {
    Failure::raw(Some(TIMEOUT.into()), cause)
}

/// A Map whose items are not an array: JSONPath (`ItemsPath` or the input).
pub fn map_input_not_array(items: &Value) -> String {
    format!(
        "Map state input must be an array but was: {}",
        json_type_name(items)
    )
}

/// A Map whose JSONata `Items` is not an array.
pub fn jsonata_result_type(expr: &str, field: &str, expected: &str, v: &Value) -> String {
    format!(
        "The JSONata expression '{expr}' specified for the field '{field}' returned an unexpected result type. Expected '{expected}', but was '{}' for value: {}",
        json_type_name(v),
        to_json(v)
    )
}

/// A `*Path` field whose value is not of the type it needs (`integer`, `float`).
pub fn path_value_not(field: &str, shown: &str, kind: &str, path: &str) -> String {
    format!("The {field} field refers to value \"{shown}\" which is not a valid {kind}: {path}")
}

/// A negative ToleratedFailureCount (either query language).
pub const TOLERATED_COUNT_NEGATIVE: &str = "ToleratedFailureCount cannot be negative.";
/// A ToleratedFailurePercentage outside 0..=100 (either query language).
pub const TOLERATED_PERCENTAGE_RANGE: &str =
    "ToleratedFailurePercentage must be between 0 and 100.";

/// More Map iterations failed than tolerated.
pub fn tolerated_failures_exceeded() -> Failure {
    Failure::raw(
        Some("States.ExceedToleratedFailureThreshold".into()),
        Some("The specified tolerated failure threshold was exceeded".into()),
    )
}

/// A Wait `Timestamp` (literal or JSONata) that is not an ISO-8601 timestamp.
pub fn timestamp_field_invalid(shown: &str) -> String {
    format!("The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {shown}")
}

/// A Wait `TimestampPath` value that is not an ISO-8601 timestamp.
pub fn timestamp_path_invalid(path: &str, shown: &str) -> String {
    format!("The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {path} == {shown}")
}

/// A Wait JSONata `Seconds` that is not a non-negative integer.
pub fn seconds_field_invalid(shown: &str) -> String {
    format!("The Seconds field cannot be parsed as a non-negative integer: {shown}")
}

/// A Wait `SecondsPath` value that is negative.
pub fn seconds_path_negative(path: &str, shown: &str) -> String {
    format!("The SecondsPath parameter references a negative value: {path} == {shown}")
}

/// A Wait `SecondsPath` value that is not an integer.
pub fn seconds_path_not_long(path: &str, shown: &str) -> String {
    format!("The SecondsPath parameter cannot be parsed as a long value: {path} == {shown}")
}

/// A JSONata `Condition` that is not a boolean.
pub fn condition_not_boolean(expr: &str, v: &Value) -> String {
    jsonata_result_type(expr, "Condition", "boolean", v)
}
