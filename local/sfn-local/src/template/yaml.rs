//! YAML to JSON, with CloudFormation's short tags (`!Ref`, `!GetAtt`, `!Sub`...) in their long form.

use serde_json::{Map, Value};

/// Converts YAML to JSON, turning CloudFormation short tags into their long form
/// (`!GetAtt A.B` → `{"Fn::GetAtt": ["A", "B"]}`, `!Ref X` → `{"Ref": "X"}`).
pub(super) fn yaml_to_json(v: &serde_yaml_ng::Value) -> Result<Value, String> {
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

pub(super) fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
