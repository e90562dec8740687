//! CloudFormation intrinsics (`Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::If`, conditions, pseudo
//! parameters) resolved against the local account and region.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::yaml::scalar_text;
use super::{ACCOUNT, REGION};

/// Resolves CloudFormation intrinsics against the local account.
pub(super) struct Resolver<'a> {
    pub(super) parameters: &'a BTreeMap<String, String>,
    pub(super) conditions: &'a Map<String, Value>,
    pub(super) resources: &'a Map<String, Value>,
}

impl Resolver<'_> {
    pub(super) fn resource(&self, id: &str) -> Result<&Value, String> {
        self.resources
            .get(id)
            .ok_or_else(|| format!("no resource {id}"))
    }

    pub(super) fn resource_type(&self, id: &str) -> Result<&str, String> {
        self.resource(id)?
            .get("Type")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("resource {id} has no Type"))
    }

    pub(super) fn property(&self, id: &str, name: &str) -> Result<Option<String>, String> {
        match self
            .resource(id)?
            .get("Properties")
            .and_then(|p| p.get(name))
        {
            Some(v) => Ok(Some(scalar_text(&self.eval(v)?))),
            None => Ok(None),
        }
    }

    pub(super) fn pseudo(&self, name: &str) -> Option<String> {
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

    pub(super) fn reference(&self, name: &str) -> Result<String, String> {
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
            // SES's Ref of a configuration set is its name.
            "AWS::SES::ConfigurationSet" => named("Name")?,
            "AWS::SNS::Topic" => format!("arn:aws:sns:{REGION}:{ACCOUNT}:{}", named("TopicName")?),
            "AWS::SQS::Queue" => format!(
                "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{}",
                named("QueueName")?
            ),
            _ => name.to_string(),
        })
    }

    pub(super) fn get_att(&self, id: &str, attr: &str) -> Result<String, String> {
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

    pub(super) fn condition(&self, name: &str) -> Result<bool, String> {
        let c = self
            .conditions
            .get(name)
            .ok_or_else(|| format!("no condition {name}"))?;
        self.eval(c)?
            .as_bool()
            .ok_or_else(|| format!("condition {name} is not a boolean"))
    }

    /// Evaluates a value with intrinsics to plain JSON.
    pub(super) fn eval(&self, v: &Value) -> Result<Value, String> {
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

    pub(super) fn sub(&self, arg: &Value) -> Result<String, String> {
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
