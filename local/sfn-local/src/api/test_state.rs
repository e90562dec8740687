//! TestState: the request as AWS types and constrains it, run by the engine's TestState
//! (`asl::test_state`, what `asl-run --test-state` runs) on the runner, answered in AWS's shape.

use asl::test_state::{
    FieldValidationMode, InspectionLevel, Mock, TestStateError, TestStateRequest, TestStateResponse,
};
use asl::StateConfiguration;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::members::{self, Required, Violations};
use super::request::Check;
use super::{Api, ApiError, MAX_INPUT_CHARS};

/// AWS's largest definition (1 MiB of text).
const MAX_DEFINITION_CHARS: usize = 1_048_576;
const INSPECTION_LEVELS: [&str; 3] = ["INFO", "DEBUG", "TRACE"];
const FIELD_VALIDATION_MODES: [&str; 3] = ["STRICT", "PRESENT", "NONE"];
/// `inspectionData` members AWS sends as they are (numbers, a structure); the others are JSON text.
const PLAIN_INSPECTION_MEMBERS: [&str; 4] = [
    "errorDetails",
    "maxConcurrency",
    "toleratedFailureCount",
    "toleratedFailurePercentage",
];

/// TestState's `mock.errorOutput`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ErrorOutput {
    #[serde(default, deserialize_with = "members::string")]
    error: Option<String>,
    #[serde(default, deserialize_with = "members::string")]
    cause: Option<String>,
}

/// TestState's `mock`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MockMember {
    #[serde(default, deserialize_with = "members::string")]
    result: Option<String>,
    #[serde(default)]
    error_output: Option<ErrorOutput>,
    #[serde(default, deserialize_with = "members::string")]
    field_validation_mode: Option<String>,
}

/// TestState's `stateConfiguration`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StateConfigurationMember {
    #[serde(default, deserialize_with = "members::integer")]
    retrier_retry_count: Option<i64>,
    #[serde(default, deserialize_with = "members::string")]
    error_caused_by_state: Option<String>,
    #[serde(default, deserialize_with = "members::integer")]
    map_iteration_failure_count: Option<i64>,
    #[serde(default, deserialize_with = "members::string")]
    map_item_reader_data: Option<String>,
}

/// TestState.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TestState {
    /// A state's definition, or a whole machine's (with `stateName`).
    #[serde(default)]
    definition: Required,
    #[serde(default, deserialize_with = "members::string")]
    role_arn: Option<String>,
    #[serde(default, deserialize_with = "members::string")]
    input: Option<String>,
    #[serde(default, deserialize_with = "members::string")]
    inspection_level: Option<String>,
    #[serde(default, deserialize_with = "members::boolean")]
    reveal_secrets: Option<bool>,
    #[serde(default, deserialize_with = "members::string")]
    variables: Option<String>,
    #[serde(default, deserialize_with = "members::string")]
    state_name: Option<String>,
    #[serde(default)]
    mock: Option<MockMember>,
    #[serde(default, deserialize_with = "members::string")]
    context: Option<String>,
    #[serde(default)]
    state_configuration: Option<StateConfigurationMember>,
}

impl Check for TestState {
    fn check(&self, v: &mut Violations) {
        v.required("definition", &self.definition);
        v.max_chars(
            "definition",
            Some(self.definition.as_str()),
            MAX_DEFINITION_CHARS,
        );
        v.max_chars("roleArn", self.role_arn.as_deref(), 256);
        for (name, value) in [
            ("input", &self.input),
            ("variables", &self.variables),
            ("context", &self.context),
        ] {
            v.max_chars(name, value.as_deref(), MAX_INPUT_CHARS);
        }
        v.one_of(
            "inspectionLevel",
            self.inspection_level.as_deref(),
            &INSPECTION_LEVELS,
        );
        v.max_chars("stateName", self.state_name.as_deref(), 80);
        if let Some(m) = &self.mock {
            v.max_chars("mock.result", m.result.as_deref(), MAX_INPUT_CHARS);
            if let Some(e) = &m.error_output {
                v.max_chars("mock.errorOutput.error", e.error.as_deref(), 256);
                v.max_chars("mock.errorOutput.cause", e.cause.as_deref(), 32_768);
            }
            v.one_of(
                "mock.fieldValidationMode",
                m.field_validation_mode.as_deref(),
                &FIELD_VALIDATION_MODES,
            );
        }
        if let Some(c) = &self.state_configuration {
            v.range(
                "stateConfiguration.retrierRetryCount",
                c.retrier_retry_count,
                0,
                i64::MAX,
            );
            v.range(
                "stateConfiguration.mapIterationFailureCount",
                c.map_iteration_failure_count,
                0,
                i64::MAX,
            );
            v.max_chars(
                "stateConfiguration.errorCausedByState",
                c.error_caused_by_state.as_deref(),
                80,
            );
            v.max_chars(
                "stateConfiguration.mapItemReaderData",
                c.map_item_reader_data.as_deref(),
                MAX_INPUT_CHARS,
            );
        }
    }
}

/// A JSON member's text parsed, or `error` (`what` in its message).
fn json_member(text: &str, what: &str, error: &'static str) -> Result<Value, ApiError> {
    serde_json::from_str(text).map_err(|e| ApiError::new(error, format!("{what}: '{e}'")))
}

impl TestState {
    /// The engine's request: JSON members parsed (a definition that is not JSON is
    /// InvalidDefinition, an input that is not JSON InvalidExecutionInput, as on AWS).
    fn into_request(self) -> Result<TestStateRequest, ApiError> {
        let definition = json_member(
            self.definition.as_str(),
            "Invalid State Machine Definition",
            "InvalidDefinition",
        )?;
        let input = match &self.input {
            Some(i) => json_member(
                i,
                "Invalid State Machine Execution Input",
                "InvalidExecutionInput",
            )?,
            None => Value::Object(Map::new()),
        };
        let variables = match &self.variables {
            None => Map::new(),
            Some(t) => match json_member(t, "Invalid variables", "ValidationException")? {
                Value::Object(m) => m,
                _ => return Err(ApiError::validation("variables must be a JSON object")),
            },
        };
        let context = self
            .context
            .as_deref()
            .map(|c| json_member(c, "Invalid context", "ValidationException"))
            .transpose()?;
        if let Some(arn) = self.role_arn.as_deref().filter(|a| !a.starts_with("arn:")) {
            return Err(ApiError::new("InvalidArn", format!("Invalid Arn: '{arn}'")));
        }
        let mock = self.mock.map(|m| Mock {
            result: m.result,
            error_output: m.error_output.map(|e| (e.error, e.cause)),
            field_validation_mode: m
                .field_validation_mode
                .as_deref()
                .and_then(FieldValidationMode::parse)
                .unwrap_or_default(),
        });
        let config = match self.state_configuration {
            None => StateConfiguration::default(),
            Some(c) => StateConfiguration {
                retrier_retry_count: c.retrier_retry_count.map(|n| n.max(0) as u64),
                error_caused_by_state: c.error_caused_by_state,
                map_iteration_failure_count: c.map_iteration_failure_count.map(|n| n.max(0) as u64),
                map_item_reader_data: c
                    .map_item_reader_data
                    .as_deref()
                    .map(|d| json_member(d, "Invalid mapItemReaderData", "ValidationException"))
                    .transpose()?,
            },
        };
        Ok(TestStateRequest {
            definition,
            state_name: self.state_name,
            input,
            variables,
            mock,
            context,
            inspection_level: self
                .inspection_level
                .as_deref()
                .and_then(InspectionLevel::parse)
                .unwrap_or_default(),
            config,
            role_arn: self.role_arn,
            reveal_secrets: self.reveal_secrets.unwrap_or(false),
        })
    }
}

/// AWS's response: `output` and the inspectionData members as JSON text.
fn response(r: TestStateResponse) -> Value {
    let mut out = Map::new();
    out.insert("status".into(), Value::String(r.status));
    if let Some(o) = r.output {
        out.insert("output".into(), Value::String(o.to_string()));
    }
    for (k, v) in [
        ("error", r.error),
        ("cause", r.cause),
        ("nextState", r.next_state),
    ] {
        if let Some(v) = v {
            out.insert(k.into(), Value::String(v));
        }
    }
    if let Some(d) = r.inspection_data {
        let data = d
            .into_iter()
            .map(|(k, v)| {
                let v = match PLAIN_INSPECTION_MEMBERS.contains(&k.as_str()) {
                    true => v,
                    false => Value::String(v.to_string()),
                };
                (k, v)
            })
            .collect();
        out.insert("inspectionData".into(), Value::Object(data));
    }
    Value::Object(out)
}

impl Api {
    pub(super) async fn test_state(&self, r: TestState) -> Result<Value, ApiError> {
        let req = r.into_request()?;
        let answer = self
            .runner
            .test_state(req, &self.options.account, &self.options.region)
            .await
            .map_err(|e| match e {
                TestStateError::InvalidDefinition(m) => ApiError::new("InvalidDefinition", m),
                TestStateError::Validation(m) => ApiError::validation(m),
            })?;
        Ok(response(answer))
    }
}
