//! Loading `template.yaml`: parameters (with the local defaults for required ones), conditions,
//! globals, then the functions, state machines and Pipe it declares.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::error::RunnerError;

use super::functions::timeout_of;
use super::resolver::Resolver;
use super::yaml::{scalar_text, yaml_to_json};
use super::{StateMachineResource, Template};

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

    /// As [`Template::load`], from `text` already read from `path`.
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
                        crate::project::LOCAL_PARAMETER_DEFAULTS
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
        let mut evidence_queue = None;
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
            if evidence_queue.is_none() {
                evidence_queue = cx.evidence_queue(&f, r).map_err(&bad)?;
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
            evidence_queue,
        })
    }
}
