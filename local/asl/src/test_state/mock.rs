//! TestState's mocks: which Task resources TestState runs only with a mock, and a mocked result
//! checked against its integration's response shape (`fieldValidationMode`).
//!
//! The shapes are the response models of the integrations sfn-local runs (Lambda's Invoke, Step
//! Functions' StartExecution); a mocked result for any other integration is not checked, as
//! AWS does not check an integration without an API model (`apigateway:invoke`).

use serde_json::Value;

/// `fieldValidationMode`: how a mocked result is checked against the integration's response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidationMode {
    /// Required fields present and every known field of its type (the default).
    #[default]
    Strict,
    /// Known fields that are present are of their type.
    Present,
    /// Not checked.
    None,
}

impl FieldValidationMode {
    /// `STRICT`, `PRESENT` or `NONE`.
    pub fn parse(s: &str) -> Option<FieldValidationMode> {
        match s {
            "STRICT" => Some(FieldValidationMode::Strict),
            "PRESENT" => Some(FieldValidationMode::Present),
            "NONE" => Some(FieldValidationMode::None),
            _ => None,
        }
    }
}

/// The resources TestState runs only with a mock (AWS's TestState reference): activities and
/// the `.sync` and `.waitForTaskToken` patterns.
pub fn needs_a_mock(resource: &str) -> bool {
    resource.contains(":activity:")
        || resource.ends_with(".waitForTaskToken")
        || resource.contains(".sync")
}

/// A field's type in a response model.
#[derive(Clone, Copy)]
enum Kind {
    String,
    Integer,
    Timestamp,
    /// A blob Step Functions shows parsed (Lambda's Payload): any JSON.
    Document,
}

/// A response model: (field, kind, required), in the model's order.
type Shape = &'static [(&'static str, Kind, bool)];

/// (resource, its response model): the models checked.
const SHAPES: [(&str, Shape); 2] = [
    (
        "arn:aws:states:::lambda:invoke",
        &[
            ("StatusCode", Kind::Integer, false),
            ("FunctionError", Kind::String, false),
            ("LogResult", Kind::String, false),
            ("Payload", Kind::Document, false),
            ("ExecutedVersion", Kind::String, false),
        ],
    ),
    (
        "arn:aws:states:::states:startExecution",
        &[
            ("ExecutionArn", Kind::String, true),
            ("StartDate", Kind::Timestamp, true),
        ],
    ),
];

/// Checks a mocked result against the integration's response model. Wording: AWS's as
/// LocalStack's AWS-validated TestState tests record it.
pub fn check_result(
    resource: &str,
    result: &Value,
    mode: FieldValidationMode,
) -> Result<(), String> {
    if mode == FieldValidationMode::None {
        return Ok(());
    }
    // A .sync/.waitForTaskToken result is not the plain call's response.
    let Some((_, fields)) = SHAPES.iter().find(|(prefix, _)| resource == *prefix) else {
        return Ok(());
    };
    let Value::Object(o) = result else {
        return Err("Mock result schema validation error: the result must be a JSON object".into());
    };
    for (name, kind, required) in fields.iter() {
        let Some(v) = o.get(*name) else {
            if *required && mode == FieldValidationMode::Strict {
                return Err(format!(
                    "Mock result schema validation error: Required field '{name}' is missing"
                ));
            }
            continue;
        };
        let wrong = match kind {
            Kind::String | Kind::Timestamp => (!v.is_string()).then_some("a string"),
            // A timestamp may also be given as epoch seconds.
            Kind::Integer => (!(v.is_i64() || v.is_u64())).then_some("a number"),
            Kind::Document => None,
        };
        if let Some(expected) = wrong {
            if !(matches!(kind, Kind::Timestamp) && v.is_number()) {
                return Err(format!(
                    "Mock result schema validation error: Field '{name}' must be {expected}"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn modes_decide_what_is_checked() {
        let invoke = "arn:aws:states:::lambda:invoke";
        let bad = json!({"StatusCode": "200"});
        assert_eq!(
            check_result(invoke, &bad, FieldValidationMode::Strict),
            Err("Mock result schema validation error: Field 'StatusCode' must be a number".into())
        );
        assert!(check_result(invoke, &bad, FieldValidationMode::Present).is_err());
        assert!(check_result(invoke, &bad, FieldValidationMode::None).is_ok());
        // Unknown fields are allowed (forward compatibility), as is an unmodelled integration.
        assert!(check_result(invoke, &json!({"random": 1}), FieldValidationMode::Strict).is_ok());
        assert!(check_result(
            "arn:aws:states:::events:putEvents",
            &json!({"random": "json"}),
            FieldValidationMode::Strict
        )
        .is_ok());
        let start = "arn:aws:states:::states:startExecution";
        let partial = json!({"ExecutionArn": "arn"});
        assert!(check_result(start, &partial, FieldValidationMode::Strict).is_err());
        assert!(check_result(start, &partial, FieldValidationMode::Present).is_ok());
    }

    #[test]
    fn sync_and_callback_patterns_and_activities_need_a_mock() {
        assert!(needs_a_mock(
            "arn:aws:states:::states:startExecution.sync:2"
        ));
        assert!(needs_a_mock(
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
        ));
        assert!(needs_a_mock("arn:aws:states:us-east-1:1:activity:a"));
        assert!(!needs_a_mock("arn:aws:states:::lambda:invoke"));
    }
}
