//! Every run-time error cause the engine writes, in one table shared by JSONPath and JSONata
//! states: AWS's wording with `{}` where it varies, and where that wording comes from.
//!
//! [`TABLE`] is the one place a cause's words live: the functions below only fill a template in.
//! `tests/causes.rs` checks every cause the table marks recorded against the causes AWS recorded
//! in the conformance corpus (and that every recorded cause of the kinds here has its template).
//! (JSONata's own evaluation causes are [`crate::jsonata::JsonataError`]'s; intrinsic causes are
//! the intrinsics'; a Lambda task's are lambda-local's.)

use serde_json::Value;

use crate::error::Failure;
use crate::value::{json_type_name, to_json};

/// Where a cause's wording comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// AWS recorded it: a corpus case id (a `*` pattern) where it shows.
    Recorded(&'static str),
    /// AWS has not recorded it where this project can read it: why it reads as it does.
    Unrecorded(&'static str),
}

/// One cause: AWS's wording with `{}` for each part that varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cause {
    /// What it is called here.
    pub name: &'static str,
    /// The wording, `{}` where a value goes (in order).
    pub template: &'static str,
    /// Where the wording comes from.
    pub source: Source,
}

impl Cause {
    /// The template with `args` in its `{}`s, in order.
    pub fn fill(&self, args: &[&str]) -> String {
        let mut out = String::with_capacity(self.template.len() + 64);
        let mut parts = self.template.split("{}");
        out.push_str(parts.next().unwrap_or_default());
        for (i, part) in parts.enumerate() {
            out.push_str(args.get(i).copied().unwrap_or_default());
            out.push_str(part);
        }
        out
    }
}

macro_rules! causes {
    ($($(#[$doc:meta])* $id:ident = $template:literal, $source:expr;)*) => {
        $($(#[$doc])* pub const $id: Cause = Cause { name: stringify!($id), template: $template, source: $source };)*
        /// Every cause, in one table.
        pub const TABLE: &[Cause] = &[$($id),*];
    };
}

use Source::{Recorded, Unrecorded};

causes! {
    /// The prefix AWS puts before a state's run-time cause.
    IN_STATE = "An error occurred while executing the state '{}' (entered at the event id #{}). {}",
        Recorded("*test_undefined_reference*");
    /// A `.$` path (or ErrorPath/CausePath) that selects nothing.
    PATH_NOT_IN_INPUT = "The JSONPath '{}' specified for the field '{}' could not be found in the input '{}'",
        Recorded("*test_invalid_jsonpath[INVALID_JSONPATH_IN_ERRORPATH]*");
    /// An InputPath/OutputPath/ItemsPath/`*SecondsPath` or Choice `Variable` that selects nothing.
    NO_RESULTS = "Invalid path '{}' : No results for path: {}",
        Recorded("*test_invalid_jsonpath[ST.INVALID_JSONPATH_IN_INPUTPATH]*");
    /// A path that does not parse (AWS refuses most at load; these compile to a run-time failure).
    INVALID_PATH = "Invalid path '{}'",
        Unrecorded("the no-results wording without its detail: AWS checks a path's syntax at load");
    /// A ResultPath that is not a reference path.
    INVALID_RESULT_PATH = "Invalid ResultPath '{}'",
        Unrecorded("as AWS words an invalid path, naming the field");
    /// A ResultPath that cannot be applied to the state's input.
    RESULT_PATH_NOT_APPLICABLE = "Unable to apply ResultPath '{}' to input '{}'",
        Unrecorded("names the path and the input, as the recorded path causes do");
    /// A state's output, or the execution's (`ExecutionSucceeded`), over the payload quota.
    DATA_LIMIT_EXCEEDED = "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
        Recorded("*lambada_data_limit_exceeded*");
    /// A Choice state without a matching rule or a Default.
    NO_CHOICE_MATCHED = "No Matches!",
        Unrecorded("no case of the corpus fails a Choice; AWS's Choice example uses this cause");
    /// A Map whose items are not an array (JSONPath: `ItemsPath` or the input).
    MAP_INPUT_NOT_ARRAY = "Map state input must be an array but was: {}",
        Unrecorded("LocalStack's wording for it (AWS-validated suites do not record it)");
    /// A JSONata field whose value is not of the type it needs (`Items`, a `Condition`).
    JSONATA_RESULT_TYPE = "The JSONata expression '{}' specified for the field '{}' returned an unexpected result type. Expected '{}', but was '{}' for value: {}",
        Recorded("*test_map_state_items_eval_jsonata_fail*");
    /// A `*Path` field whose value is not of the type it needs (`integer`, `float`).
    PATH_VALUE_NOT = "The {} field refers to value \"{}\" which is not a valid {}: {}",
        Recorded("*test_max_concurrency_path*");
    /// A negative ToleratedFailureCount (either query language).
    TOLERATED_COUNT_NEGATIVE = "ToleratedFailureCount cannot be negative.",
        Recorded("*test_map_state_tolerated_failure_count_path*");
    /// A ToleratedFailurePercentage outside 0..=100 (either query language).
    TOLERATED_PERCENTAGE_RANGE = "ToleratedFailurePercentage must be between 0 and 100.",
        Unrecorded("the recorded count cause's form, with the range AWS documents");
    /// More Map iterations failed than tolerated.
    TOLERATED_FAILURES_EXCEEDED = "The specified tolerated failure threshold was exceeded",
        Recorded("*test_map_state_failure_count*");
    /// A Wait `Timestamp` (literal or JSONata) that is not an ISO-8601 timestamp.
    TIMESTAMP_FIELD_INVALID = "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {}",
        Recorded("*test_wait_timestamp_jsonata*");
    /// A Wait `TimestampPath` value that is not an ISO-8601 timestamp.
    TIMESTAMP_PATH_INVALID = "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {} == {}",
        Recorded("*test_wait_timestamp_path*");
    /// A Wait JSONata `Seconds` that is not a non-negative integer.
    SECONDS_FIELD_INVALID = "The Seconds field cannot be parsed as a non-negative integer: {}",
        Unrecorded("the recorded Timestamp field cause's form, for Seconds");
    /// A Wait `SecondsPath` value that is negative.
    SECONDS_PATH_NEGATIVE = "The SecondsPath parameter references a negative value: {} == {}",
        Recorded("*test_base_wait_seconds_path[-1]*");
    /// A Wait `SecondsPath` value that is not an integer.
    SECONDS_PATH_NOT_LONG = "The SecondsPath parameter cannot be parsed as a long value: {} == {}",
        Recorded("*test_base_wait_seconds_path[1.5]*");
    /// A transition to a state the machine does not have (validation makes it unreachable).
    MISSING_STATE = "Missing state '{}'",
        Unrecorded("a definition AWS accepts cannot reach it");
    /// A TestState mock whose result is not JSON (refused before the run; kept for the engine's
    /// own callers).
    MOCK_RESULT_NOT_JSON = "Mocked result must be valid JSON",
        Unrecorded("TestState's own refusal of such a mock (a ValidationException)");
}

/// The prefix AWS puts before a state's run-time cause.
pub fn in_state(state: &str, entered_event: u64, cause: &str) -> String {
    IN_STATE.fill(&[state, &entered_event.to_string(), cause])
}

/// A `.$` path (or ErrorPath/CausePath) that selects nothing.
pub fn path_not_in_input(path: &str, field: &str, input: &Value) -> String {
    PATH_NOT_IN_INPUT.fill(&[path, field, &to_json(input)])
}

/// An InputPath/OutputPath/ItemsPath/`*SecondsPath` or Choice `Variable` that selects nothing.
pub fn no_results(path: &str, normalized: &str) -> String {
    NO_RESULTS.fill(&[path, normalized])
}

/// A path that does not parse.
pub fn invalid_path(path: &str) -> String {
    INVALID_PATH.fill(&[path])
}

/// A ResultPath that is not a reference path.
pub fn invalid_result_path(path: &str) -> String {
    INVALID_RESULT_PATH.fill(&[path])
}

/// A ResultPath that cannot be applied to the state's input.
pub fn result_path_not_applicable(path: &str, input: &Value) -> String {
    RESULT_PATH_NOT_APPLICABLE.fill(&[path, &to_json(input)])
}

/// A state's output, or the execution's (`ExecutionSucceeded`), over the payload quota.
pub fn data_limit_exceeded(task: &str) -> Failure {
    Failure::raw(
        Some("States.DataLimitExceeded".into()),
        Some(DATA_LIMIT_EXCEEDED.fill(&[task])),
    )
}

/// A Choice state without a matching rule or a Default.
pub fn no_choice_matched() -> Failure {
    Failure::raw(
        Some("States.NoChoiceMatched".into()),
        Some(NO_CHOICE_MATCHED.template.into()),
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
    MAP_INPUT_NOT_ARRAY.fill(&[json_type_name(items)])
}

/// A Map whose JSONata `Items` is not an array.
pub fn jsonata_result_type(expr: &str, field: &str, expected: &str, v: &Value) -> String {
    JSONATA_RESULT_TYPE.fill(&[expr, field, expected, json_type_name(v), &to_json(v)])
}

/// A `*Path` field whose value is not of the type it needs (`integer`, `float`).
pub fn path_value_not(field: &str, shown: &str, kind: &str, path: &str) -> String {
    PATH_VALUE_NOT.fill(&[field, shown, kind, path])
}

/// More Map iterations failed than tolerated.
pub fn tolerated_failures_exceeded() -> Failure {
    Failure::raw(
        Some("States.ExceedToleratedFailureThreshold".into()),
        Some(TOLERATED_FAILURES_EXCEEDED.template.into()),
    )
}

/// A Wait `Timestamp` (literal or JSONata) that is not an ISO-8601 timestamp.
pub fn timestamp_field_invalid(shown: &str) -> String {
    TIMESTAMP_FIELD_INVALID.fill(&[shown])
}

/// A Wait `TimestampPath` value that is not an ISO-8601 timestamp.
pub fn timestamp_path_invalid(path: &str, shown: &str) -> String {
    TIMESTAMP_PATH_INVALID.fill(&[path, shown])
}

/// A Wait JSONata `Seconds` that is not a non-negative integer.
pub fn seconds_field_invalid(shown: &str) -> String {
    SECONDS_FIELD_INVALID.fill(&[shown])
}

/// A Wait `SecondsPath` value that is negative.
pub fn seconds_path_negative(path: &str, shown: &str) -> String {
    SECONDS_PATH_NEGATIVE.fill(&[path, shown])
}

/// A Wait `SecondsPath` value that is not an integer.
pub fn seconds_path_not_long(path: &str, shown: &str) -> String {
    SECONDS_PATH_NOT_LONG.fill(&[path, shown])
}

/// A JSONata `Condition` that is not a boolean.
pub fn condition_not_boolean(expr: &str, v: &Value) -> String {
    jsonata_result_type(expr, "Condition", "boolean", v)
}

/// A transition to a state the machine does not have.
pub fn missing_state(name: &str) -> String {
    MISSING_STATE.fill(&[name])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_is_filled_in_order_and_names_are_unique() {
        assert_eq!(
            in_state("S", 3, "boom"),
            "An error occurred while executing the state 'S' (entered at the event id #3). boom"
        );
        assert_eq!(NO_CHOICE_MATCHED.fill(&[]), "No Matches!");
        let mut names: Vec<_> = TABLE.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), TABLE.len());
    }
}
