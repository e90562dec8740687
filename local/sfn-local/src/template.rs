//! Reads what the offline runner needs from the SAM template: the state machines (definition file and
//! `DefinitionSubstitutions`), which function each substitution names, the functions' environment,
//! and the Pipe's filter and batch size. CloudFormation intrinsics are resolved for the local account.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::RunnerError;
use crate::input_template::InputTemplate;

/// The account and region every local ARN uses (AWS's documentation account).
pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

/// Values for the template's required parameters that have no default, so that a fresh checkout
/// runs without any flag. They only name things; nothing is sent anywhere.
const LOCAL_PARAMETER_DEFAULTS: &[(&str, &str)] = &[
    ("SenderEmail", "payments@example.com"),
    (
        "FailedOrderStreamArn",
        "arn:aws:dynamodb:us-east-1:123456789012:table/payment3-failed-order-dev/stream/2026-11-01T00:00:00.000",
    ),
];

/// One `AWS::Serverless::Function`: the binary (and so the in-process handler) it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionResource {
    pub logical_id: String,
    /// `Metadata.BuildProperties.Binary` (cargo-lambda), e.g. `load-order`.
    pub binary: String,
    /// The function's name locally (`FunctionName` if set, else the binary name).
    pub name: String,
    pub arn: String,
    /// `Timeout` (or `Globals.Function.Timeout`; Lambda's default 3 s): the deadline each
    /// in-process invocation gets.
    pub timeout: std::time::Duration,
}

/// Lambda's default function timeout, in seconds.
const LAMBDA_DEFAULT_TIMEOUT_SECS: u64 = 3;

/// What a `${...}` in a definition stands for.
#[derive(Debug, Clone, PartialEq)]
pub enum Substitution {
    /// A function of this template: dispatched in-process to its handler.
    Function {
        logical_id: String,
        binary: String,
        arn: String,
    },
    /// A state machine of this template: run locally.
    StateMachine {
        logical_id: String,
        name: String,
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
    pub logical_id: String,
    /// `Properties.Name` resolved (e.g. `process-unpaid-order-dev`).
    pub name: String,
    pub arn: String,
    /// `DefinitionUri`, relative to the template's folder.
    pub definition_path: PathBuf,
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

/// What the runner uses from `template.yaml`.
#[derive(Debug, Clone)]
pub struct Template {
    pub path: PathBuf,
    pub parameters: BTreeMap<String, String>,
    pub functions: Vec<FunctionResource>,
    pub state_machines: Vec<StateMachineResource>,
    pub pipe: Option<PipeResource>,
    /// `Globals.Function.Environment.Variables`, resolved (what every function sees).
    pub function_environment: BTreeMap<String, String>,
}

impl Template {
    /// Reads and resolves `path` with the parameters' defaults, the local defaults for required
    /// ones, and `overrides`.
    pub fn load(
        path: &Path,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Template, RunnerError> {
        let text = std::fs::read_to_string(path).map_err(|e| RunnerError::File {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Template::parse(&text, path, overrides)
    }

    pub fn parse(
        text: &str,
        path: &Path,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Template, RunnerError> {
        let bad = |message: String| RunnerError::Template {
            path: path.to_path_buf(),
            message,
        };
        let yaml: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(text).map_err(|e| bad(e.to_string()))?;
        let doc = yaml_to_json(&yaml).map_err(&bad)?;
        let resources = doc
            .get("Resources")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("no Resources section".into()))?
            .clone();

        let mut parameters = BTreeMap::new();
        if let Some(params) = doc.get("Parameters").and_then(Value::as_object) {
            for (name, p) in params {
                let value = overrides
                    .get(name)
                    .cloned()
                    .or_else(|| p.get("Default").map(scalar_text))
                    .or_else(|| {
                        LOCAL_PARAMETER_DEFAULTS
                            .iter()
                            .find(|(n, _)| n == name)
                            .map(|(_, v)| v.to_string())
                    })
                    .ok_or_else(|| {
                        bad(format!(
                            "parameter {name} has no Default: pass --parameter {name}=VALUE"
                        ))
                    })?;
                parameters.insert(name.clone(), value);
            }
        }
        for name in overrides.keys() {
            if !parameters.contains_key(name) {
                return Err(bad(format!(
                    "--parameter {name}: the template has no such parameter"
                )));
            }
        }
        let conditions = doc
            .get("Conditions")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let cx = Resolver {
            parameters: &parameters,
            conditions: &conditions,
            resources: &resources,
        };

        let mut functions = Vec::new();
        for (id, r) in &resources {
            if r.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
                continue;
            }
            let mut f = cx.function(id).map_err(&bad)?;
            if cx.property(id, "Timeout").map_err(&bad)?.is_none() {
                if let Some(t) = doc.pointer("/Globals/Function/Timeout") {
                    f.timeout = timeout_of(&scalar_text(t)).map_err(&bad)?;
                }
            }
            functions.push(f);
        }

        let mut state_machines = Vec::new();
        for (id, r) in &resources {
            if r.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::StateMachine") {
                continue;
            }
            let props = r.get("Properties").cloned().unwrap_or(Value::Null);
            let uri = props
                .get("DefinitionUri")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    bad(format!(
                        "{id}: only a local DefinitionUri file is supported"
                    ))
                })?;
            let (name, arn) = cx.state_machine_name_arn(id).map_err(&bad)?;
            let mut substitutions = BTreeMap::new();
            if let Some(subs) = props
                .get("DefinitionSubstitutions")
                .and_then(Value::as_object)
            {
                for (key, v) in subs {
                    let sub = cx
                        .substitution(v)
                        .map_err(|m| bad(format!("{id}.DefinitionSubstitutions.{key}: {m}")))?;
                    substitutions.insert(key.clone(), sub);
                }
            }
            let base = path.parent().unwrap_or(Path::new("."));
            state_machines.push(StateMachineResource {
                logical_id: id.clone(),
                name,
                arn,
                definition_path: base.join(uri),
                substitutions,
            });
        }

        let mut pipe = None;
        for (id, r) in &resources {
            if r.get("Type").and_then(Value::as_str) != Some("AWS::Pipes::Pipe") {
                continue;
            }
            pipe = Some(cx.pipe(id, r).map_err(&bad)?);
        }

        let mut function_environment = BTreeMap::new();
        if let Some(vars) = doc
            .pointer("/Globals/Function/Environment/Variables")
            .and_then(Value::as_object)
        {
            for (k, v) in vars {
                let value = cx
                    .eval(v)
                    .map_err(|m| bad(format!("Globals environment {k}: {m}")))?;
                function_environment.insert(k.clone(), scalar_text(&value));
            }
        }

        Ok(Template {
            path: path.to_path_buf(),
            parameters,
            functions,
            state_machines,
            pipe,
            function_environment,
        })
    }

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

/// Converts YAML to JSON, turning CloudFormation short tags into their long form
/// (`!GetAtt A.B` → `{"Fn::GetAtt": ["A", "B"]}`, `!Ref X` → `{"Ref": "X"}`).
fn yaml_to_json(v: &serde_yaml_ng::Value) -> Result<Value, String> {
    use serde_yaml_ng::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(*b),
        Y::Number(n) => serde_json::to_value(n).map_err(|e| e.to_string())?,
        Y::String(s) => Value::String(s.clone()),
        Y::Sequence(items) => {
            Value::Array(items.iter().map(yaml_to_json).collect::<Result<_, _>>()?)
        }
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s.clone(),
                    other => serde_yaml_ng::to_string(other)
                        .map_err(|e| e.to_string())?
                        .trim()
                        .to_string(),
                };
                out.insert(key, yaml_to_json(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = yaml_to_json(&t.value)?;
            match name {
                "Ref" => serde_json::json!({ "Ref": inner }),
                "Condition" => serde_json::json!({ "Condition": inner }),
                "GetAtt" => {
                    let parts = match inner {
                        Value::String(s) => match s.split_once('.') {
                            Some((a, b)) => serde_json::json!([a, b]),
                            None => {
                                return Err(format!("!GetAtt {s}: expected Resource.Attribute"))
                            }
                        },
                        other => other,
                    };
                    serde_json::json!({ "Fn::GetAtt": parts })
                }
                other => serde_json::json!({ format!("Fn::{other}"): inner }),
            }
        }
    })
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A function `Timeout` in whole seconds (1 to 900, as Lambda takes it).
fn timeout_of(text: &str) -> Result<std::time::Duration, String> {
    match text.trim().parse::<u64>() {
        Ok(secs @ 1..=900) => Ok(std::time::Duration::from_secs(secs)),
        _ => Err(format!(
            "function Timeout {text:?}: expected whole seconds from 1 to 900"
        )),
    }
}

/// Resolves CloudFormation intrinsics against the local account.
struct Resolver<'a> {
    parameters: &'a BTreeMap<String, String>,
    conditions: &'a Map<String, Value>,
    resources: &'a Map<String, Value>,
}

impl Resolver<'_> {
    fn resource(&self, id: &str) -> Result<&Value, String> {
        self.resources
            .get(id)
            .ok_or_else(|| format!("no resource {id}"))
    }

    fn resource_type(&self, id: &str) -> Result<&str, String> {
        self.resource(id)?
            .get("Type")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("resource {id} has no Type"))
    }

    fn property(&self, id: &str, name: &str) -> Result<Option<String>, String> {
        match self
            .resource(id)?
            .get("Properties")
            .and_then(|p| p.get(name))
        {
            Some(v) => Ok(Some(scalar_text(&self.eval(v)?))),
            None => Ok(None),
        }
    }

    fn function(&self, id: &str) -> Result<FunctionResource, String> {
        let r = self.resource(id)?;
        let binary = r
            .pointer("/Metadata/BuildProperties/Binary")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("function {id}: no Metadata.BuildProperties.Binary, so no local handler is known"))?
            .to_string();
        let name = self
            .property(id, "FunctionName")?
            .unwrap_or_else(|| binary.clone());
        let timeout = match self.property(id, "Timeout")? {
            Some(t) => timeout_of(&t)?,
            None => std::time::Duration::from_secs(LAMBDA_DEFAULT_TIMEOUT_SECS),
        };
        Ok(FunctionResource {
            logical_id: id.to_string(),
            arn: format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"),
            binary,
            name,
            timeout,
        })
    }

    fn state_machine_name_arn(&self, id: &str) -> Result<(String, String), String> {
        let name = self.property(id, "Name")?.unwrap_or_else(|| id.to_string());
        let arn = format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}");
        Ok((name, arn))
    }

    fn substitution(&self, v: &Value) -> Result<Substitution, String> {
        let target = match v {
            Value::Object(m) if m.len() == 1 => m
                .get("Fn::GetAtt")
                .and_then(|a| a.get(0))
                .or_else(|| m.get("Ref"))
                .and_then(Value::as_str),
            _ => None,
        };
        if let Some(id) = target.filter(|id| self.resources.contains_key(*id)) {
            match self.resource_type(id)? {
                "AWS::Serverless::Function" => {
                    let f = self.function(id)?;
                    return Ok(Substitution::Function {
                        logical_id: f.logical_id,
                        binary: f.binary,
                        arn: f.arn,
                    });
                }
                "AWS::Serverless::StateMachine" => {
                    let (name, arn) = self.state_machine_name_arn(id)?;
                    return Ok(Substitution::StateMachine {
                        logical_id: id.to_string(),
                        name,
                        arn,
                    });
                }
                _ => {}
            }
        }
        Ok(Substitution::Literal(scalar_text(&self.eval(v)?)))
    }

    fn pipe(&self, id: &str, r: &Value) -> Result<PipeResource, String> {
        let props = r.get("Properties").cloned().unwrap_or(Value::Null);
        let mut filters = Vec::new();
        if let Some(list) = props
            .pointer("/SourceParameters/FilterCriteria/Filters")
            .and_then(Value::as_array)
        {
            for f in list {
                let text = f
                    .get("Pattern")
                    .map(|p| self.eval(p))
                    .transpose()?
                    .map(|p| scalar_text(&p))
                    .ok_or_else(|| format!("pipe {id}: a filter without Pattern"))?;
                let pattern: Value = serde_json::from_str(&text)
                    .map_err(|e| format!("pipe {id}: filter pattern {text}: {e}"))?;
                filters.push(pattern);
            }
        }
        let stream = props.pointer("/SourceParameters/DynamoDBStreamParameters");
        // AWS's default for a DynamoDB stream source is 100 records.
        let batch_size = match stream.and_then(|s| s.get("BatchSize")) {
            Some(v) => self
                .eval(v)?
                .as_u64()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| format!("pipe {id}: BatchSize must be 1..10000"))?
                as usize,
            None => 100,
        };
        let target = match props.get("Target") {
            Some(Value::Object(m)) if m.contains_key("Ref") => {
                m["Ref"].as_str().unwrap_or_default().to_string()
            }
            Some(other) => scalar_text(&self.eval(other)?),
            None => return Err(format!("pipe {id}: no Target")),
        };
        let target = match self.resources.get(&target) {
            Some(_) => self.state_machine_name_arn(&target)?.0,
            None => target
                .rsplit(':')
                .next()
                .map(str::to_string)
                .unwrap_or(target),
        };
        let int = |name: &str,
                   default: i64,
                   range: std::ops::RangeInclusive<i64>|
         -> Result<i64, String> {
            match stream.and_then(|s| s.get(name)) {
                Some(v) => self
                    .eval(v)?
                    .as_i64()
                    .filter(|n| range.contains(n))
                    .ok_or_else(|| format!("pipe {id}: {name} must be in {range:?}")),
                None => Ok(default),
            }
        };
        let batching_window_seconds = int("MaximumBatchingWindowInSeconds", 0, 0..=300)? as u64;
        let maximum_retry_attempts = int("MaximumRetryAttempts", -1, -1..=10_000)?;
        let maximum_record_age_seconds = int("MaximumRecordAgeInSeconds", -1, -1..=604_800)?;
        let starting_position = match stream.and_then(|s| s.get("StartingPosition")) {
            Some(v) => scalar_text(&self.eval(v)?),
            None => {
                return Err(format!(
                    "pipe {id}: DynamoDBStreamParameters.StartingPosition is required"
                ))
            }
        };
        if !matches!(starting_position.as_str(), "LATEST" | "TRIM_HORIZON") {
            return Err(format!("pipe {id}: StartingPosition must be LATEST or TRIM_HORIZON, got {starting_position}"));
        }
        let dead_letter_arn = stream
            .and_then(|s| s.pointer("/DeadLetterConfig/Arn"))
            .map(|v| self.eval(v).map(|v| scalar_text(&v)))
            .transpose()?;
        let input_template = props
            .pointer("/TargetParameters/InputTemplate")
            .map(|v| self.eval(v).map(|v| scalar_text(&v)))
            .transpose()?
            .map(|t| InputTemplate::parse(&t).map_err(|e| format!("pipe {id}: {e}")))
            .transpose()?;
        let name = match props.get("Name") {
            Some(v) => scalar_text(&self.eval(v)?),
            None => id.to_string(),
        };
        let source_arn = match props.get("Source") {
            Some(v) => scalar_text(&self.eval(v)?),
            None => return Err(format!("pipe {id}: no Source")),
        };
        Ok(PipeResource {
            logical_id: id.to_string(),
            source_arn,
            filters,
            batch_size,
            target,
            name,
            input_template,
            batching_window_seconds,
            starting_position,
            maximum_retry_attempts,
            maximum_record_age_seconds,
            dead_letter_arn,
        })
    }

    fn pseudo(&self, name: &str) -> Option<String> {
        Some(
            match name {
                "AWS::Region" => REGION,
                "AWS::AccountId" => ACCOUNT,
                "AWS::Partition" => "aws",
                "AWS::URLSuffix" => "amazonaws.com",
                "AWS::StackName" => "sfn-local",
                "AWS::NoValue" => "",
                _ => return None,
            }
            .to_string(),
        )
    }

    fn reference(&self, name: &str) -> Result<String, String> {
        if let Some(v) = self.parameters.get(name) {
            return Ok(v.clone());
        }
        if let Some(v) = self.pseudo(name) {
            return Ok(v);
        }
        let ty = self.resource_type(name)?;
        let named = |prop: &str| -> Result<String, String> {
            Ok(self
                .property(name, prop)?
                .unwrap_or_else(|| name.to_string()))
        };
        Ok(match ty {
            "AWS::Serverless::Function" => self.function(name)?.name,
            "AWS::Serverless::StateMachine" => self.state_machine_name_arn(name)?.1,
            "AWS::DynamoDB::Table" => named("TableName")?,
            "AWS::SNS::Topic" => format!("arn:aws:sns:{REGION}:{ACCOUNT}:{}", named("TopicName")?),
            "AWS::SQS::Queue" => format!(
                "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{}",
                named("QueueName")?
            ),
            _ => name.to_string(),
        })
    }

    fn get_att(&self, id: &str, attr: &str) -> Result<String, String> {
        let ty = self.resource_type(id)?;
        let named = |prop: &str| -> Result<String, String> {
            Ok(self.property(id, prop)?.unwrap_or_else(|| id.to_string()))
        };
        Ok(match (ty, attr) {
            ("AWS::Serverless::Function", "Arn") => self.function(id)?.arn,
            ("AWS::Serverless::StateMachine", "Arn") => self.state_machine_name_arn(id)?.1,
            ("AWS::Serverless::StateMachine", "Name") => self.state_machine_name_arn(id)?.0,
            ("AWS::DynamoDB::Table", "Arn") => format!(
                "arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}",
                named("TableName")?
            ),
            ("AWS::SNS::Topic", "TopicArn") => self.reference(id)?,
            ("AWS::SQS::Queue", "Arn") => {
                format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{}", named("QueueName")?)
            }
            ("AWS::SQS::Queue", "QueueName") => named("QueueName")?,
            _ => format!("arn:aws:local:{REGION}:{ACCOUNT}:{id}/{attr}"),
        })
    }

    fn condition(&self, name: &str) -> Result<bool, String> {
        let c = self
            .conditions
            .get(name)
            .ok_or_else(|| format!("no condition {name}"))?;
        self.eval(c)?
            .as_bool()
            .ok_or_else(|| format!("condition {name} is not a boolean"))
    }

    /// Evaluates a value with intrinsics to plain JSON.
    fn eval(&self, v: &Value) -> Result<Value, String> {
        let Value::Object(m) = v else {
            return match v {
                Value::Array(items) => Ok(Value::Array(
                    items
                        .iter()
                        .map(|i| self.eval(i))
                        .collect::<Result<_, _>>()?,
                )),
                other => Ok(other.clone()),
            };
        };
        if m.len() == 1 {
            let (k, arg) = m
                .iter()
                .next()
                .map(|(k, a)| (k.as_str(), a))
                .unwrap_or(("", &Value::Null));
            let args = || -> Result<Vec<Value>, String> {
                match self.eval(arg)? {
                    Value::Array(a) => Ok(a),
                    other => Err(format!("{k}: expected a list, got {other}")),
                }
            };
            match k {
                "Ref" => return Ok(Value::String(self.reference(&scalar_text(arg))?)),
                "Condition" => return Ok(Value::Bool(self.condition(&scalar_text(arg))?)),
                "Fn::GetAtt" => {
                    let a = args()?;
                    let (id, attr) = match a.as_slice() {
                        [Value::String(id), Value::String(attr)] => (id.clone(), attr.clone()),
                        _ => return Err("Fn::GetAtt: expected [Resource, Attribute]".into()),
                    };
                    return Ok(Value::String(self.get_att(&id, &attr)?));
                }
                "Fn::Sub" => return self.sub(arg).map(Value::String),
                "Fn::If" => {
                    let a = match arg {
                        Value::Array(a) if a.len() == 3 => a,
                        _ => return Err("Fn::If: expected [Condition, then, else]".into()),
                    };
                    let branch = if self.condition(&scalar_text(&a[0]))? {
                        &a[1]
                    } else {
                        &a[2]
                    };
                    return self.eval(branch);
                }
                "Fn::Equals" => {
                    let a = args()?;
                    return match a.as_slice() {
                        [x, y] => Ok(Value::Bool(scalar_text(x) == scalar_text(y))),
                        _ => Err("Fn::Equals: expected two values".into()),
                    };
                }
                "Fn::Not" => {
                    let a = args()?;
                    return match a.as_slice() {
                        [Value::Bool(b)] => Ok(Value::Bool(!b)),
                        _ => Err("Fn::Not: expected one condition".into()),
                    };
                }
                "Fn::And" | "Fn::Or" => {
                    let a = args()?;
                    let bools = a
                        .iter()
                        .map(Value::as_bool)
                        .collect::<Option<Vec<_>>>()
                        .ok_or("expected conditions")?;
                    return Ok(Value::Bool(if k == "Fn::And" {
                        bools.iter().all(|b| *b)
                    } else {
                        bools.iter().any(|b| *b)
                    }));
                }
                "Fn::Join" => {
                    let a = args()?;
                    return match a.as_slice() {
                        [Value::String(sep), Value::Array(items)] => Ok(Value::String(
                            items.iter().map(scalar_text).collect::<Vec<_>>().join(sep),
                        )),
                        _ => Err("Fn::Join: expected [separator, list]".into()),
                    };
                }
                "Fn::Split" => {
                    let a = args()?;
                    return match a.as_slice() {
                        [Value::String(sep), Value::String(s)] => Ok(Value::Array(
                            s.split(sep.as_str())
                                .map(|p| Value::String(p.to_string()))
                                .collect(),
                        )),
                        _ => Err("Fn::Split: expected [separator, text]".into()),
                    };
                }
                "Fn::Select" => {
                    let a = args()?;
                    return match a.as_slice() {
                        [i, Value::Array(items)] => {
                            let i: usize = scalar_text(i)
                                .parse()
                                .map_err(|_| "Fn::Select: bad index")?;
                            items
                                .get(i)
                                .cloned()
                                .ok_or_else(|| "Fn::Select: index out of range".into())
                        }
                        _ => Err("Fn::Select: expected [index, list]".into()),
                    };
                }
                _ if k.starts_with("Fn::") => {
                    return Err(format!("{k} is not supported by sfn-local"))
                }
                _ => {}
            }
        }
        let mut out = Map::new();
        for (k, v) in m {
            out.insert(k.clone(), self.eval(v)?);
        }
        Ok(Value::Object(out))
    }

    fn sub(&self, arg: &Value) -> Result<String, String> {
        let (text, vars) = match arg {
            Value::String(s) => (s.clone(), Map::new()),
            Value::Array(a) if a.len() == 2 => (
                scalar_text(&a[0]),
                a[1].as_object()
                    .cloned()
                    .ok_or("Fn::Sub: the second item must be a map")?,
            ),
            _ => return Err("Fn::Sub: expected a string or [string, map]".into()),
        };
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            // `${!Literal}` is CloudFormation's escape for a literal `${Literal}`.
            if let Some(lit) = after.strip_prefix('!') {
                out.push_str("${");
                rest = lit;
                continue;
            }
            let end = after.find('}').ok_or("Fn::Sub: unterminated ${")?;
            let name = &after[..end];
            let value = if let Some(v) = vars.get(name) {
                scalar_text(&self.eval(v)?)
            } else if let Some((id, attr)) = name
                .split_once('.')
                .filter(|(id, _)| self.resources.contains_key(*id))
            {
                self.get_att(id, attr)?
            } else {
                self.reference(name)?
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Parameters:
  Branch: { Type: String, Default: dev }
  Other: { Type: String, Default: "" }
Conditions:
  NoOther: !Equals [!Ref Other, ""]
Globals:
  Function:
    Environment:
      Variables:
        TABLE: !If [NoOther, !Sub "t-${Branch}", !Ref Other]
        TOPIC: !Ref Topic
Resources:
  LoadFn:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: load-order } }
  Child:
    Type: AWS::Serverless::StateMachine
    Properties:
      Name: !Sub "child-${Branch}"
      DefinitionUri: sm/child.asl.json
      DefinitionSubstitutions:
        LoadArn: !GetAtt LoadFn.Arn
        Plain: hello
  Parent:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: sm/parent.asl.json
      DefinitionSubstitutions:
        ChildArn: !Ref Child
  Topic:
    Type: AWS::SNS::Topic
    Properties: { TopicName: !Sub "topic-${Branch}" }
  P:
    Type: AWS::Pipes::Pipe
    Properties:
      Target: !Ref Parent
      Source: arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x
      SourceParameters:
        FilterCriteria:
          Filters:
            - Pattern: '{"eventName": ["INSERT"]}'
        DynamoDBStreamParameters:
          BatchSize: 7
          StartingPosition: TRIM_HORIZON
          MaximumBatchingWindowInSeconds: 2
          DeadLetterConfig: { Arn: !Sub "arn:aws:sqs:${AWS::Region}:${AWS::AccountId}:dlq-${Branch}" }
      TargetParameters:
        InputTemplate: '{"id": "<$.eventID>"}'
"#;

    fn parse(overrides: &[(&str, &str)]) -> Result<Template, RunnerError> {
        let o = overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Template::parse(TEMPLATE, Path::new("/p/template.yaml"), &o)
    }

    #[test]
    fn resolves_substitutions_to_functions_machines_and_literals() {
        let t = parse(&[]).unwrap();
        let child = t.state_machine("child-dev").unwrap();
        assert_eq!(child.definition_path, PathBuf::from("/p/sm/child.asl.json"));
        assert_eq!(child.short_name(), "child");
        assert_eq!(
            child.substitutions["LoadArn"],
            Substitution::Function {
                logical_id: "LoadFn".into(),
                binary: "load-order".into(),
                arn: format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:load-order"),
            }
        );
        assert_eq!(
            child.substitutions["Plain"],
            Substitution::Literal("hello".into())
        );
        let parent = t.state_machine("Parent").unwrap();
        match &parent.substitutions["ChildArn"] {
            Substitution::StateMachine { name, arn, .. } => {
                assert_eq!(name, "child-dev");
                assert_eq!(arn, &child.arn);
            }
            other => panic!("{other:?}"),
        }
        assert!(t
            .function("arn:aws:lambda:us-east-1:123456789012:function:load-order:$LATEST")
            .is_some());
        assert!(t.function("nope").is_none());
    }

    #[test]
    fn resolves_globals_and_pipe() {
        let t = parse(&[]).unwrap();
        assert_eq!(t.function_environment["TABLE"], "t-dev");
        assert_eq!(
            t.function_environment["TOPIC"],
            format!("arn:aws:sns:{REGION}:{ACCOUNT}:topic-dev")
        );
        let pipe = t.pipe.unwrap();
        assert_eq!(pipe.batch_size, 7);
        assert_eq!(pipe.target, "Parent");
        assert_eq!(pipe.starting_position, "TRIM_HORIZON");
        assert_eq!(pipe.batching_window_seconds, 2);
        assert_eq!(
            (pipe.maximum_retry_attempts, pipe.maximum_record_age_seconds),
            (-1, -1)
        );
        assert_eq!(
            pipe.dead_letter_arn.as_deref(),
            Some(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:dlq-dev").as_str())
        );
        let t = pipe.input_template.as_ref().unwrap();
        assert_eq!(
            t.apply(&serde_json::json!({"eventID": "e"}), &Default::default())
                .unwrap(),
            serde_json::json!({"id": "e"})
        );
        assert_eq!(
            pipe.filters,
            vec![serde_json::json!({"eventName": ["INSERT"]})]
        );

        let t = parse(&[("Other", "x"), ("Branch", "prod")]).unwrap();
        assert_eq!(t.function_environment["TABLE"], "x");
        assert!(t.state_machine("child-prod").is_some());
    }

    #[test]
    fn refuses_unknown_parameters_and_substitutions() {
        let err = parse(&[("Nope", "1")]).unwrap_err().to_string();
        assert!(err.contains("Nope"), "{err}");
        let subs = BTreeMap::from([("A".to_string(), Substitution::Literal("x".into()))]);
        assert_eq!(substitute("a ${A} b", &subs).unwrap(), "a x b");
        let err = substitute("${B}", &subs).unwrap_err();
        assert!(err.contains("${B}"), "{err}");
    }
}
