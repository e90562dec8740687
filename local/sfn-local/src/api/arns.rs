//! ARNs between the API and the runner: the API shows (and accepts) its own account and region,
//! the runner names everything in the local one; unknown machines and executions refused as AWS does.

use serde_json::Value;

use crate::runner::parse_execution_arn;
use crate::template::{ACCOUNT, REGION};

use super::{Api, ApiError};

impl Api {
    /// The runner's ARN prefixes and the API's.
    pub(super) fn prefixes(&self) -> [(String, String); 3] {
        let (a, r) = (&self.options.account, &self.options.region);
        [
            (
                format!("arn:aws:states:{REGION}:{ACCOUNT}:"),
                format!("arn:aws:states:{r}:{a}:"),
            ),
            (
                format!("arn:aws:lambda:{REGION}:{ACCOUNT}:"),
                format!("arn:aws:lambda:{r}:{a}:"),
            ),
            (
                format!("arn:aws:iam::{ACCOUNT}:"),
                format!("arn:aws:iam::{a}:"),
            ),
        ]
    }

    /// An ARN of the API → the runner's; an ARN of another account or region → None.
    pub(super) fn to_runner_arn(&self, arn: &str) -> Option<String> {
        let [(runner, api), ..] = self.prefixes();
        arn.strip_prefix(&api).map(|rest| format!("{runner}{rest}"))
    }

    /// The response document with the API's account and region in every ARN.
    pub(super) fn to_api_text(&self, v: &Value) -> String {
        let mut text = v.to_string();
        if self.options.account != ACCOUNT || self.options.region != REGION {
            for (runner, api) in self.prefixes() {
                text = text.replace(&runner, &api);
            }
        }
        text
    }

    /// `stateMachineArn` → the template machine's name.
    pub(super) fn state_machine(&self, arn: &str) -> Result<String, ApiError> {
        let parts: Vec<&str> = arn.split(':').collect();
        if !matches!(parts.as_slice(), ["arn", "aws", "states", _, _, "stateMachine", n] if !n.is_empty())
        {
            return Err(ApiError::new("InvalidArn", format!("Invalid Arn: '{arn}'")));
        }
        let missing = || {
            ApiError::new(
                "StateMachineDoesNotExist",
                format!("State Machine Does Not Exist: '{arn}'"),
            )
        };
        let runner_arn = self.to_runner_arn(arn).ok_or_else(missing)?;
        self.runner
            .template()
            .state_machines
            .iter()
            .find(|m| m.arn == runner_arn)
            .map(|m| m.name.clone())
            .ok_or_else(missing)
    }

    /// `executionArn` → the runner's ARN of that execution.
    pub(super) fn execution(&self, arn: &str) -> Result<String, ApiError> {
        let parts: Vec<&str> = arn.split(':').collect();
        if !matches!(parts.as_slice(), ["arn", "aws", "states", _, _, "execution", m, n] if !m.is_empty() && !n.is_empty())
        {
            return Err(ApiError::new("InvalidArn", format!("Invalid Arn: '{arn}'")));
        }
        let missing = || {
            ApiError::new(
                "ExecutionDoesNotExist",
                format!("Execution Does Not Exist: '{arn}'"),
            )
        };
        let runner_arn = self.to_runner_arn(arn).ok_or_else(missing)?;
        let (machine, _) = parse_execution_arn(&runner_arn).map_err(|_| missing())?;
        if self.runner.template().state_machine(&machine).is_none() {
            return Err(missing());
        }
        Ok(runner_arn)
    }
}
