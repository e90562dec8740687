//! ValidateStateMachineDefinition and UpdateStateMachine, and the definition check
//! CreateStateMachine shares: all from the engine's validator (`asl::validate`).

use serde::Deserialize;
use serde_json::{json, Value};

use super::members::{self, Required, Violations};
use super::request::Check;
use super::shapes::epoch;
use super::{Api, ApiError};

const MAX_DEFINITION_CHARS: usize = 1_048_576;
const STATE_MACHINE_TYPES: [&str; 2] = ["STANDARD", "EXPRESS"];
const SEVERITIES: [&str; 2] = ["ERROR", "WARNING"];

/// ValidateStateMachineDefinition.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ValidateStateMachineDefinition {
    #[serde(default)]
    definition: Required,
    #[serde(default, rename = "type", deserialize_with = "members::string")]
    machine_type: Option<String>,
    #[serde(default, deserialize_with = "members::string")]
    severity: Option<String>,
    #[serde(default, deserialize_with = "members::integer")]
    max_results: Option<i64>,
}

impl Check for ValidateStateMachineDefinition {
    fn check(&self, v: &mut Violations) {
        v.required("definition", &self.definition);
        v.max_chars(
            "definition",
            Some(self.definition.as_str()),
            MAX_DEFINITION_CHARS,
        );
        v.one_of("type", self.machine_type.as_deref(), &STATE_MACHINE_TYPES);
        v.one_of("severity", self.severity.as_deref(), &SEVERITIES);
        v.range("maxResults", self.max_results, 0, 100);
    }
}

/// UpdateStateMachine (sfn-local serves the template's definitions: it checks an update and
/// accepts one that leaves the definition as it is).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UpdateStateMachine {
    #[serde(default)]
    state_machine_arn: Required,
    #[serde(default, deserialize_with = "members::string")]
    definition: Option<String>,
    #[serde(default, deserialize_with = "members::string")]
    role_arn: Option<String>,
    /// Accepted and ignored.
    #[serde(default, rename = "publish", deserialize_with = "members::boolean")]
    _publish: Option<bool>,
    /// Accepted and ignored.
    #[serde(
        default,
        rename = "versionDescription",
        deserialize_with = "members::string"
    )]
    _version_description: Option<String>,
}

impl Check for UpdateStateMachine {
    fn check(&self, v: &mut Violations) {
        v.required("stateMachineArn", &self.state_machine_arn);
        v.max_chars(
            "definition",
            self.definition.as_deref(),
            MAX_DEFINITION_CHARS,
        );
        v.max_chars("roleArn", self.role_arn.as_deref(), 256);
    }
}

/// A definition CreateStateMachine or UpdateStateMachine would store: refused with AWS's
/// InvalidDefinition (`Invalid State Machine Definition: 'CODE: message at /location'`).
pub(super) fn check_definition(text: &str) -> Result<(), ApiError> {
    match asl::validate::invalid_definition_message(&asl::validate::validate(text)) {
        Some(m) => Err(ApiError::new("InvalidDefinition", m)),
        None => Ok(()),
    }
}

impl Api {
    pub(super) fn validate_state_machine_definition(
        &self,
        r: ValidateStateMachineDefinition,
    ) -> Result<Value, ApiError> {
        let mut answer = asl::validate::validate(r.definition.as_str());
        let max = match r.max_results {
            None | Some(0) => 100,
            Some(n) => n as usize,
        };
        if answer.diagnostics.len() > max {
            answer.diagnostics.truncate(max);
            answer.truncated = true;
        }
        serde_json::to_value(answer).map_err(|e| ApiError::validation(e.to_string()))
    }

    pub(super) fn update_state_machine(&self, r: UpdateStateMachine) -> Result<Value, ApiError> {
        let name = self.state_machine(r.state_machine_arn.as_str())?;
        if r.definition.is_none() && r.role_arn.is_none() {
            return Err(ApiError::new(
                "MissingRequiredParameter",
                "Either the definition, the roleArn, the loggingConfiguration, the tracingConfiguration or the encryptionConfiguration must be specified",
            ));
        }
        let template = self.runner.template();
        let machine = template
            .state_machine(&name)
            .ok_or_else(|| ApiError::new("StateMachineDoesNotExist", name.clone()))?;
        if let Some(text) = &r.definition {
            check_definition(text)?;
            let current: Value = serde_json::from_str(&template.definition(machine)?)
                .map_err(|e| ApiError::validation(e.to_string()))?;
            if serde_json::from_str::<Value>(text).ok().as_ref() != Some(&current) {
                return Err(ApiError::validation(format!(
                    "sfn-local runs the template's definition of {name} ({}): edit that file and restart serve to change it",
                    machine.definition_path.display()
                )));
            }
        }
        Ok(json!({"updateDate": epoch(&self.runner.opened_at())}))
    }
}
