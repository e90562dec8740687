//! One handler per Step Functions operation, each on its parsed and checked request: resources
//! looked up (InvalidArn, *DoesNotExist), then the runner asked.

use chrono::Utc;
use serde_json::{json, Value};

use crate::template::ACCOUNT;

use super::request::{
    CreateStateMachine, DescribeStateMachine, ExecutionRequest, GetExecutionHistory,
    ListExecutions, ListStateMachines, StartExecution, StopExecution,
};
use super::shapes::{epoch, epoch_dates, page_of};
use super::{Api, ApiError};

impl Api {
    pub(super) fn list_state_machines(&self, r: ListStateMachines) -> Result<Value, ApiError> {
        let start = r.page.start()?;
        let items = self
            .runner
            .template()
            .state_machines
            .iter()
            .map(|m| {
                json!({"stateMachineArn": m.arn, "name": m.name, "type": "STANDARD",
                       "creationDate": epoch(&self.runner.opened_at())})
            })
            .collect();
        Ok(page_of("stateMachines", items, start, r.page.size()))
    }

    pub(super) fn describe_state_machine(
        &self,
        r: DescribeStateMachine,
    ) -> Result<Value, ApiError> {
        let name = self.state_machine(r.state_machine_arn.as_str())?;
        let template = self.runner.template();
        let m = template
            .state_machine(&name)
            .ok_or_else(|| ApiError::new("StateMachineDoesNotExist", name.clone()))?;
        let definition = template.definition(m)?;
        Ok(json!({
            "stateMachineArn": m.arn,
            "name": m.name,
            "status": "ACTIVE",
            "definition": definition,
            "roleArn": format!("arn:aws:iam::{ACCOUNT}:role/sfn-local"),
            "type": "STANDARD",
            "creationDate": epoch(&self.runner.opened_at()),
            "loggingConfiguration": {"level": "OFF", "includeExecutionData": false},
            "tracingConfiguration": {"enabled": false},
        }))
    }

    pub(super) fn describe_state_machine_for_execution(
        &self,
        r: ExecutionRequest,
    ) -> Result<Value, ApiError> {
        let arn = self.execution(r.execution_arn.as_str())?;
        let record = self.runner.describe_execution(&arn)?;
        let template = self.runner.template();
        let m = template
            .state_machine(&record.state_machine_name)
            .ok_or_else(|| {
                ApiError::new(
                    "StateMachineDoesNotExist",
                    record.state_machine_name.clone(),
                )
            })?;
        Ok(json!({
            "stateMachineArn": m.arn,
            "name": m.name,
            "definition": template.definition(m)?,
            "roleArn": format!("arn:aws:iam::{ACCOUNT}:role/sfn-local"),
            "updateDate": epoch(&self.runner.opened_at()),
            "loggingConfiguration": {"level": "OFF", "includeExecutionData": false},
            "tracingConfiguration": {"enabled": false},
        }))
    }

    pub(super) fn create_state_machine(&self, r: CreateStateMachine) -> Result<Value, ApiError> {
        let (name, definition) = (r.name.as_str(), r.definition.as_str());
        if let Some(t) = r.machine_type.as_deref().filter(|t| *t != "STANDARD") {
            return Err(ApiError::validation(format!(
                "sfn-local runs STANDARD state machines only, not {t}"
            )));
        }
        // AWS refuses an invalid definition before it looks at the name.
        super::validate::check_definition(definition)?;
        let template = self.runner.template();
        let m = template
            .state_machines
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| {
                ApiError::validation(format!(
                    "sfn-local serves the template's state machines ({}); it cannot create {name}",
                    template
                        .state_machines
                        .iter()
                        .map(|m| m.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        let same = match (
            serde_json::from_str::<Value>(definition),
            serde_json::from_str::<Value>(&template.definition(m)?),
        ) {
            (Ok(a), Ok(b)) => a == b,
            (Err(e), _) => {
                return Err(ApiError::new(
                    "InvalidDefinition",
                    format!("Invalid State Machine Definition: '{e}'"),
                ))
            }
            (Ok(_), Err(_)) => false,
        };
        if !same {
            return Err(ApiError::new(
                "StateMachineAlreadyExists",
                format!("State Machine Already Exists: '{}'", m.arn),
            ));
        }
        // AWS: creating the same machine again returns it.
        Ok(json!({"stateMachineArn": m.arn, "creationDate": epoch(&self.runner.opened_at())}))
    }

    pub(super) async fn start_execution(&self, r: StartExecution) -> Result<Value, ApiError> {
        let machine = self.state_machine(r.state_machine_arn.as_str())?;
        let input: Value =
            serde_json::from_str(r.input.as_deref().unwrap_or("{}")).map_err(|e| {
                ApiError::new(
                    "InvalidExecutionInput",
                    format!("Invalid State Machine Execution Input: '{e}'"),
                )
            })?;
        let started = self
            .runner
            .start_execution_detached(&machine, input, r.name.as_deref())
            .await?;
        Ok(json!({"executionArn": started.execution_arn, "startDate": epoch(&started.start_date)}))
    }

    pub(super) fn describe_execution(&self, r: ExecutionRequest) -> Result<Value, ApiError> {
        let arn = self.execution(r.execution_arn.as_str())?;
        Ok(self.describe(&self.runner.describe_execution(&arn)?))
    }

    pub(super) fn list_executions(&self, r: ListExecutions) -> Result<Value, ApiError> {
        let machine = self.state_machine(r.state_machine_arn.as_str())?;
        let after = r.page.position()?;
        let (page, next) = self.runner.list_executions_page(
            &machine,
            r.status_filter.as_deref(),
            r.redriven(),
            after.as_ref(),
            r.page.size(),
        )?;
        let items: Vec<Value> = page
            .iter()
            .map(|e| {
                let mut v = e.list_item();
                epoch_dates(&mut v);
                v
            })
            .collect();
        let mut out = json!({ "executions": items });
        if let Some(p) = next {
            out["nextToken"] = json!(super::request::Page::token_at(&p));
        }
        Ok(out)
    }

    pub(super) fn get_execution_history(&self, r: GetExecutionHistory) -> Result<Value, ApiError> {
        let arn = self.execution(r.execution_arn.as_str())?;
        let start = r.page.start()?;
        let events = self
            .runner
            .get_execution_history(&arn, r.reverse_order.unwrap_or(false))?
            .into_iter()
            .map(|mut e| {
                epoch_dates(&mut e);
                e
            })
            .collect();
        Ok(page_of("events", events, start, r.page.size()))
    }

    pub(super) async fn redrive_execution(&self, r: ExecutionRequest) -> Result<Value, ApiError> {
        let arn = self.execution(r.execution_arn.as_str())?;
        let redriven = self.runner.redrive_execution_detached(&arn).await?;
        let date = redriven.redrive_date.unwrap_or(redriven.start_date);
        Ok(json!({ "redriveDate": epoch(&date) }))
    }

    pub(super) async fn stop_execution(&self, r: StopExecution) -> Result<Value, ApiError> {
        let arn = self.execution(r.execution_arn.as_str())?;
        let stopped = self.runner.stop_execution(&arn, r.error, r.cause).await?;
        let date = stopped.stop_date.unwrap_or_else(Utc::now);
        Ok(json!({ "stopDate": epoch(&date) }))
    }
}
