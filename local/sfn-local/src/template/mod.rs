//! Reads what the offline runner needs from the SAM template: the state machines (definition file and
//! `DefinitionSubstitutions`), which function each substitution names, the functions' environment,
//! and the Pipe's filter and batch size. CloudFormation intrinsics are resolved for the local account.
//!
//! `load` parses the file and finds the resources, `yaml` turns CloudFormation's YAML tags into
//! JSON, `resolver` evaluates intrinsics, `functions` reads functions and definition substitutions,
//! `pipe` the Pipe's settings.

mod evidence;
mod functions;
mod load;
mod pipe;
mod resolver;
mod yaml;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::error::RunnerError;
use crate::input_template::InputTemplate;

/// The account and region every local ARN uses (AWS's documentation account).
pub const REGION: &str = "us-east-1";
/// The account of every local ARN.
pub const ACCOUNT: &str = "123456789012";

/// One `AWS::Serverless::Function`: the binary (and so the in-process handler) it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionResource {
    /// The function's logical id in the template.
    pub logical_id: String,
    /// `Metadata.BuildProperties.Binary` (cargo-lambda), e.g. `load-order`.
    pub binary: String,
    /// The function's name locally (`FunctionName` if set, else the binary name).
    pub name: String,
    /// The function's ARN locally.
    pub arn: String,
    /// `Timeout` (or `Globals.Function.Timeout`; Lambda's default 3 s): the deadline each
    /// in-process invocation gets.
    pub timeout: std::time::Duration,
}

/// Lambda's default function timeout, in seconds.
pub(super) const LAMBDA_DEFAULT_TIMEOUT_SECS: u64 = 3;

/// What a `${...}` in a definition stands for.
#[derive(Debug, Clone, PartialEq)]
pub enum Substitution {
    /// A function of this template: dispatched in-process to its handler.
    Function {
        /// The function's logical id.
        logical_id: String,
        /// The binary it runs (`load-order`, ...).
        binary: String,
        /// The function's ARN.
        arn: String,
    },
    /// A state machine of this template: run locally.
    StateMachine {
        /// The state machine's logical id.
        logical_id: String,
        /// The state machine's name.
        name: String,
        /// The state machine's ARN.
        arn: String,
    },
    /// Anything else, resolved to its text.
    Literal(String),
}

impl Substitution {
    /// The text written into the definition.
    pub fn text(&self) -> &str {
        match self {
            Substitution::Function { arn, .. } | Substitution::StateMachine { arn, .. } => arn,
            Substitution::Literal(s) => s,
        }
    }
}

/// One `AWS::Serverless::StateMachine`.
#[derive(Debug, Clone, PartialEq)]
pub struct StateMachineResource {
    /// The state machine's logical id in the template.
    pub logical_id: String,
    /// `Properties.Name` resolved (e.g. `process-unpaid-order-dev`).
    pub name: String,
    /// The state machine's ARN locally.
    pub arn: String,
    /// `DefinitionUri`, relative to the template's folder.
    pub definition_path: PathBuf,
    /// Each `DefinitionSubstitutions` entry, by the name in `${...}`.
    pub substitutions: BTreeMap<String, Substitution>,
}

impl StateMachineResource {
    /// The definition's file stem, e.g. `process-unpaid-order` (also accepted as a name locally).
    pub fn short_name(&self) -> String {
        self.definition_path
            .file_name()
            .and_then(|f| f.to_str())
            .map(|f| {
                f.trim_end_matches(".json")
                    .trim_end_matches(".asl")
                    .to_string()
            })
            .unwrap_or_else(|| self.name.clone())
    }
}

/// The `AWS::Pipes::Pipe` whose target is one of the state machines.
#[derive(Debug, Clone, PartialEq)]
pub struct PipeResource {
    /// The Pipe's logical id in the template.
    pub logical_id: String,
    /// `SourceParameters.FilterCriteria.Filters[].Pattern`, parsed.
    pub filters: Vec<Value>,
    /// `SourceParameters.DynamoDBStreamParameters.BatchSize` (AWS default 1... for DynamoDB 100).
    pub batch_size: usize,
    /// The state machine the Pipe starts.
    pub target: String,
    /// `Source`, resolved (the stream's ARN).
    pub source_arn: String,
    /// `Name`, resolved (the `<aws.pipes.pipe-name>` variable; the logical id when absent).
    pub name: String,
    /// `TargetParameters.InputTemplate`, parsed (None: the records go to the target whole).
    pub input_template: Option<InputTemplate>,
    /// `DynamoDBStreamParameters.MaximumBatchingWindowInSeconds` (AWS default 0).
    pub batching_window_seconds: u64,
    /// `DynamoDBStreamParameters.StartingPosition` (`LATEST` or `TRIM_HORIZON`).
    pub starting_position: String,
    /// `DynamoDBStreamParameters.MaximumRetryAttempts` (AWS default -1: retry until the records expire).
    pub maximum_retry_attempts: i64,
    /// `DynamoDBStreamParameters.MaximumRecordAgeInSeconds` (AWS default -1: no limit).
    pub maximum_record_age_seconds: i64,
    /// `DynamoDBStreamParameters.DeadLetterConfig.Arn`, resolved.
    pub dead_letter_arn: Option<String>,
}

/// The SQS queue a function of the template reads through an `SQS` event source (the evidence
/// queue record-event drains), as far as the offline queue models it.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceQueueResource {
    /// The queue's logical id.
    pub logical_id: String,
    /// `QueueName`, resolved.
    pub name: String,
    /// The queue's ARN locally (the SQS event's `eventSourceARN`).
    pub arn: String,
    /// The binary of the function the event source mapping invokes (`record-event`).
    pub function_binary: String,
    /// `VisibilityTimeout` (SQS's default 30 s): how long a received message stays hidden before
    /// it is delivered again.
    pub visibility_timeout: std::time::Duration,
    /// `RedrivePolicy.maxReceiveCount`: receives before a message goes to the dead-letter queue
    /// (`None`: no redrive policy, delivered again for ever).
    pub max_receive_count: Option<u32>,
    /// The event source's `BatchSize` (Lambda's default 10).
    pub batch_size: usize,
    /// The event source's `MaximumBatchingWindowInSeconds` (default 0): how long the mapping
    /// gathers messages before it invokes with fewer than a full batch.
    pub batching_window: std::time::Duration,
    /// The `EventPattern` of each EventBridge rule that delivers to the queue, resolved: what
    /// of AWS's events reaches it.
    pub rules: Vec<serde_json::Value>,
}

/// What the runner uses from `template.yaml`.
#[derive(Debug, Clone)]
pub struct Template {
    /// The `template.yaml` file.
    pub path: PathBuf,
    /// The parameter values: defaults, local defaults for required ones, `--parameter` overrides.
    pub parameters: BTreeMap<String, String>,
    /// Every `AWS::Serverless::Function`.
    pub functions: Vec<FunctionResource>,
    /// Every `AWS::Serverless::StateMachine`.
    pub state_machines: Vec<StateMachineResource>,
    /// The Pipe, if the template has one.
    pub pipe: Option<PipeResource>,
    /// `Globals.Function.Environment.Variables`, resolved (what every function sees).
    pub function_environment: BTreeMap<String, String>,
    /// The evidence queue (a function's SQS event source), if the template has one.
    pub evidence_queue: Option<EvidenceQueueResource>,
}

impl Template {
    /// Finds a state machine by name, short name (definition file stem), logical id or ARN.
    pub fn state_machine(&self, name_or_arn: &str) -> Option<&StateMachineResource> {
        self.state_machines.iter().find(|m| {
            m.arn == name_or_arn
                || m.name == name_or_arn
                || m.logical_id == name_or_arn
                || m.short_name() == name_or_arn
        })
    }

    /// Finds a function by ARN (optionally qualified), name, binary or logical id.
    pub fn function(&self, name_or_arn: &str) -> Option<&FunctionResource> {
        let unqualified = match name_or_arn.strip_prefix("arn:") {
            // arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
            Some(_) => name_or_arn.split(':').nth(6).unwrap_or(name_or_arn),
            None => name_or_arn.split(':').next().unwrap_or(name_or_arn),
        };
        self.functions.iter().find(|f| {
            f.arn == name_or_arn
                || f.name == unqualified
                || f.binary == unqualified
                || f.logical_id == unqualified
        })
    }

    /// The definition text of `machine` with its `${...}` substitutions applied, as SAM does.
    pub fn definition(&self, machine: &StateMachineResource) -> Result<String, RunnerError> {
        let text =
            std::fs::read_to_string(&machine.definition_path).map_err(|e| RunnerError::File {
                path: machine.definition_path.clone(),
                message: e.to_string(),
            })?;
        substitute(&text, &machine.substitutions).map_err(|message| RunnerError::Template {
            path: machine.definition_path.clone(),
            message,
        })
    }
}

/// Replaces every `${Name}` with its substitution; an undefined one is an error (SAM leaves it and
/// the definition then fails on AWS).
pub fn substitute(text: &str, subs: &BTreeMap<String, Substitution>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "unterminated ${".to_string())?;
        let key = &after[..end];
        let sub = subs.get(key).ok_or_else(|| {
            format!("${{{key}}} is not in the state machine's DefinitionSubstitutions")
        })?;
        out.push_str(sub.text());
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests;
