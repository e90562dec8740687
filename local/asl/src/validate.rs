//! AWS's ValidateStateMachineDefinition over the engine's validator: any definition text in, the
//! `{result, diagnostics, truncated}` answer out (what `asl-run --validate` and the API return).

use serde::Serialize;
use serde_json::Value;

use crate::definition::json_syntax_error;
use crate::StateMachine;

/// One diagnostic, as AWS lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    /// `ERROR` (the validator reports no warnings).
    pub severity: String,
    /// AWS's code (`SCHEMA_VALIDATION_FAILED`, `INVALID_JSON_DESCRIPTION`, ...).
    pub code: String,
    /// What is wrong.
    pub message: String,
    /// Where (`/States/S/Next`), when AWS says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// The answer: `OK` with no diagnostics, or `FAIL` with them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Validation {
    /// `OK` or `FAIL`.
    pub result: String,
    /// What failed (the first error, as AWS reports it).
    pub diagnostics: Vec<Diagnostic>,
    /// Whether diagnostics were left out (`maxResults`).
    pub truncated: bool,
}

/// AWS's message when a definition is not a JSON object (recorded: the validate cases).
const NOT_AN_OBJECT: &str = "Definition must be a valid JSON object";

/// Validates definition text as ValidateStateMachineDefinition does.
pub fn validate(text: &str) -> Validation {
    let error = |code: &str, location: Option<String>, message: String| Diagnostic {
        severity: "ERROR".into(),
        code: code.into(),
        message,
        location,
    };
    let diagnostic = if text.trim().is_empty() {
        Some(error(
            "SCHEMA_VALIDATION_FAILED",
            None,
            NOT_AN_OBJECT.into(),
        ))
    } else {
        match serde_json::from_str::<Value>(text) {
            Err(_) => {
                let (message, location) = json_syntax_error(text);
                Some(error("INVALID_JSON_DESCRIPTION", Some(location), message))
            }
            Ok(v) if !v.is_object() => Some(error(
                "SCHEMA_VALIDATION_FAILED",
                None,
                NOT_AN_OBJECT.into(),
            )),
            Ok(v) => StateMachine::from_value(v).err().map(|e| {
                let location = if e.location.is_empty() {
                    "/".to_string()
                } else {
                    e.location
                };
                error(&e.code, Some(location), e.message)
            }),
        }
    };
    Validation {
        result: if diagnostic.is_some() { "FAIL" } else { "OK" }.into(),
        diagnostics: diagnostic.into_iter().collect(),
        truncated: false,
    }
}

/// CreateStateMachine's and UpdateStateMachine's refusal of an invalid definition: AWS's
/// `InvalidDefinition` message, `Invalid State Machine Definition: 'CODE: message at /location'`.
pub fn invalid_definition_message(v: &Validation) -> Option<String> {
    let d = v.diagnostics.first()?;
    Some(format!(
        "Invalid State Machine Definition: '{}: {} at {}'",
        d.code,
        d.message,
        d.location.as_deref().unwrap_or("/")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_definition_is_ok_and_an_invalid_one_names_its_fault() {
        let ok = validate(r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}"#);
        assert_eq!(ok.result, "OK");
        assert!(ok.diagnostics.is_empty());
        assert_eq!(invalid_definition_message(&ok), None);
        let bad = validate(r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}"#);
        assert_eq!(bad.result, "FAIL");
        assert_eq!(bad.diagnostics[0].code, "MISSING_TRANSITION_TARGET");
        let message = invalid_definition_message(&bad).unwrap_or_default();
        assert!(
            message.starts_with("Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: "),
            "{message}"
        );
        assert!(message.ends_with(" at /States/A'"), "{message}");
        assert_eq!(validate("[]").diagnostics[0].message, NOT_AN_OBJECT);
        assert_eq!(
            validate("{").diagnostics[0].code,
            "INVALID_JSON_DESCRIPTION"
        );
    }
}
