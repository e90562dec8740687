//! Functions (binary, name, ARN, `Timeout`) and the state machines' `DefinitionSubstitutions` (a
//! function, a state machine of the template, or a literal).

use serde_json::Value;

use super::resolver::Resolver;
use super::yaml::scalar_text;
use super::{FunctionResource, Substitution, ACCOUNT, LAMBDA_DEFAULT_TIMEOUT_SECS, REGION};

/// A function `Timeout` in whole seconds (1 to 900, as Lambda takes it).
pub(super) fn timeout_of(text: &str) -> Result<std::time::Duration, String> {
    match text.trim().parse::<u64>() {
        Ok(secs @ 1..=900) => Ok(std::time::Duration::from_secs(secs)),
        _ => Err(format!(
            "function Timeout {text:?}: expected whole seconds from 1 to 900"
        )),
    }
}

impl Resolver<'_> {
    pub(super) fn function(&self, id: &str) -> Result<FunctionResource, String> {
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

    pub(super) fn state_machine_name_arn(&self, id: &str) -> Result<(String, String), String> {
        let name = self.property(id, "Name")?.unwrap_or_else(|| id.to_string());
        let arn = format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}");
        Ok((name, arn))
    }

    pub(super) fn substitution(&self, v: &Value) -> Result<Substitution, String> {
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
}
