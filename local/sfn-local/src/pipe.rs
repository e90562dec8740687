//! The EventBridge Pipe's part offline: its FilterCriteria (EventBridge event patterns) and its
//! InputTemplate applied to DynamoDB stream records, one record at a time as AWS applies them.

use serde_json::{Map, Value};

use crate::input_template::{InputTemplateError, PipeContext};
use crate::template::{PipeResource, ACCOUNT, REGION};

/// Whether the Pipe passes `record`: it matches one of the FilterCriteria patterns (or there are
/// none). A record the filter drops never reaches the target, and on AWS its position is committed.
pub fn passes(pipe: &PipeResource, record: &Value) -> Result<bool, String> {
    if pipe.filters.is_empty() {
        return Ok(true);
    }
    for f in &pipe.filters {
        if matches(f, record)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The reserved variables' values for `pipe` (ingestion time: now).
pub fn context(pipe: &PipeResource) -> PipeContext {
    PipeContext {
        pipe_arn: format!("arn:aws:pipes:{REGION}:{ACCOUNT}:pipe/{}", pipe.name),
        pipe_name: pipe.name.clone(),
        source_arn: pipe.source_arn.clone(),
        target_arn: format!(
            "arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{}",
            pipe.target
        ),
        ingestion_time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    }
}

/// The record as the target receives it: through the InputTemplate when there is one.
pub fn transform(
    pipe: &PipeResource,
    record: &Value,
    cx: &PipeContext,
) -> Result<Value, InputTemplateError> {
    match &pipe.input_template {
        Some(t) => t.apply(record, cx),
        None => Ok(record.clone()),
    }
}

/// Whether `event` matches the EventBridge `pattern`. Supports what filter criteria use for stream
/// records: exact values, `prefix`, `suffix`, `equals-ignore-case`, `anything-but`, `exists`,
/// `numeric`; anything else is an error naming it.
pub fn matches(pattern: &Value, event: &Value) -> Result<bool, String> {
    let Value::Object(fields) = pattern else {
        return Err(format!("a pattern must be an object, got {pattern}"));
    };
    for (key, want) in fields {
        let got = event.get(key);
        let ok = match want {
            Value::Object(_) => match got {
                Some(v @ Value::Object(_)) => matches(want, v)?,
                _ => false,
            },
            Value::Array(alternatives) => {
                let mut any = false;
                for alt in alternatives {
                    if matches_value(alt, got)? {
                        any = true;
                        break;
                    }
                }
                any
            }
            other => {
                return Err(format!(
                    "{key}: pattern values must be arrays or objects, got {other}"
                ))
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// One alternative of a pattern's list against the field (absent, a value, or an array of values).
fn matches_value(alt: &Value, got: Option<&Value>) -> Result<bool, String> {
    if let Value::Object(op) = alt {
        return matches_operator(op, got);
    }
    Ok(match got {
        Some(Value::Array(items)) => items.iter().any(|i| i == alt),
        Some(v) => v == alt,
        None => false,
    })
}

fn matches_operator(op: &Map<String, Value>, got: Option<&Value>) -> Result<bool, String> {
    let (name, arg) = match op.iter().next() {
        Some(x) if op.len() == 1 => x,
        _ => {
            return Err(format!(
                "an operator object must have one key, got {}",
                Value::Object(op.clone())
            ))
        }
    };
    let values: Vec<&Value> = match got {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
        None => vec![],
    };
    let text = |v: &&Value| v.as_str().map(str::to_string);
    Ok(match name.as_str() {
        "exists" => {
            let want = arg.as_bool().ok_or("exists takes true or false")?;
            got.is_some() == want
        }
        "prefix" => {
            let p = arg.as_str().ok_or("prefix takes a string")?;
            values.iter().filter_map(text).any(|s| s.starts_with(p))
        }
        "suffix" => {
            let p = arg.as_str().ok_or("suffix takes a string")?;
            values.iter().filter_map(text).any(|s| s.ends_with(p))
        }
        "equals-ignore-case" => {
            let p = arg
                .as_str()
                .ok_or("equals-ignore-case takes a string")?
                .to_lowercase();
            values
                .iter()
                .filter_map(text)
                .any(|s| s.to_lowercase() == p)
        }
        "anything-but" => {
            let excluded: Vec<Value> = match arg {
                Value::Array(a) => a.clone(),
                Value::Object(_) => {
                    return Err(
                        "anything-but with an operator is not supported by sfn-local".into(),
                    )
                }
                v => vec![v.clone()],
            };
            !values.is_empty() && values.iter().any(|v| !excluded.contains(v))
        }
        "numeric" => {
            let conds = arg.as_array().ok_or("numeric takes a list")?;
            values.iter().filter_map(|v| v.as_f64()).any(|n| {
                conds.chunks(2).all(|c| {
                    match (
                        c.first().and_then(Value::as_str),
                        c.get(1).and_then(Value::as_f64),
                    ) {
                        (Some("="), Some(x)) => n == x,
                        (Some("<"), Some(x)) => n < x,
                        (Some("<="), Some(x)) => n <= x,
                        (Some(">"), Some(x)) => n > x,
                        (Some(">="), Some(x)) => n >= x,
                        _ => false,
                    }
                })
            })
        }
        other => {
            return Err(format!(
                "event pattern operator {other} is not supported by sfn-local"
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The repository's template.yaml, as deployed.
    fn real_pipe() -> PipeResource {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
        crate::template::Template::load(&path, &Default::default())
            .unwrap()
            .pipe
            .unwrap()
    }

    fn record(event_name: &str, keys: Value) -> Value {
        json!({
            "eventID": "c4ca4238a0b923820dcc509a6f75849b",
            "eventName": event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "ApproximateCreationDateTime": 1764050401,
                "Keys": keys,
                "NewImage": {"orderId": {"S": "4925"}, "email": {"S": "jane@example.com"},
                             "name": {"S": "Jane Doe"}, "note": {"S": "x".repeat(300_000)}},
                "SequenceNumber": "100000000000000000001",
                "SizeBytes": 300_280,
                "StreamViewType": "NEW_AND_OLD_IMAGES"
            },
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x"
        })
    }

    #[test]
    fn the_real_pipe_trims_each_record_to_its_id_name_and_key() {
        let pipe = real_pipe();
        let full = record("INSERT", json!({"orderId": {"S": "4925 /#%: \"x\""}}));
        assert!(passes(&pipe, &full).unwrap());
        let trimmed = transform(&pipe, &full, &context(&pipe)).unwrap();
        assert_eq!(
            trimmed,
            json!({"eventID": "c4ca4238a0b923820dcc509a6f75849b", "eventName": "INSERT",
                   "dynamodb": {"Keys": {"orderId": {"S": "4925 /#%: \"x\""}}}})
        );
        // No customer data, and a 300 KB record is a few hundred bytes.
        let text = trimmed.to_string();
        assert!(!text.contains("jane") && !text.contains("Jane"), "{text}");
        assert!(text.len() < 200, "{}", text.len());
        // The trimmed record is a subset of the full one: the same paths give the same values.
        for path in ["/eventID", "/eventName", "/dynamodb/Keys/orderId/S"] {
            assert_eq!(trimmed.pointer(path), full.pointer(path), "{path}");
        }
    }

    #[test]
    fn the_real_pipe_drops_modify_remove_and_keyless_records() {
        let pipe = real_pipe();
        let key = json!({"orderId": {"S": "4925"}});
        assert!(passes(&pipe, &record("INSERT", key.clone())).unwrap());
        assert!(!passes(&pipe, &record("MODIFY", key.clone())).unwrap());
        assert!(!passes(&pipe, &record("REMOVE", key)).unwrap());
        assert!(!passes(&pipe, &record("INSERT", json!({}))).unwrap());
        assert!(!passes(&pipe, &record("INSERT", json!({"orderId": {"N": "4925"}}))).unwrap());
        let mut no_keys = record("INSERT", json!({}));
        no_keys["dynamodb"].as_object_mut().unwrap().remove("Keys");
        assert!(!passes(&pipe, &no_keys).unwrap());
    }

    #[test]
    fn matches_values_nested_fields_and_operators() {
        let p = json!({"eventName": ["INSERT"]});
        assert!(matches(&p, &json!({"eventName": "INSERT"})).unwrap());
        assert!(!matches(&p, &json!({"eventName": "MODIFY"})).unwrap());
        assert!(!matches(&p, &json!({"other": 1})).unwrap());
        let p = json!({"dynamodb": {"Keys": {"orderId": {"S": [{"prefix": "49"}]}}}});
        assert!(matches(
            &p,
            &json!({"dynamodb": {"Keys": {"orderId": {"S": "4925"}}}})
        )
        .unwrap());
        assert!(!matches(
            &p,
            &json!({"dynamodb": {"Keys": {"orderId": {"N": "4925"}}}})
        )
        .unwrap());
        let p = json!({"a": [{"exists": false}], "b": [{"anything-but": ["x"]}], "n": [{"numeric": [">", 1, "<=", 3]}]});
        assert!(matches(&p, &json!({"b": "y", "n": 3})).unwrap());
        assert!(!matches(&p, &json!({"b": "x", "n": 3})).unwrap());
        assert!(!matches(&p, &json!({"b": "y", "n": 4})).unwrap());
        assert!(!matches(&p, &json!({"a": 1, "b": "y", "n": 2})).unwrap());
    }

    #[test]
    fn refuses_unknown_operators() {
        let err = matches(&json!({"a": [{"wildcard": "x*"}]}), &json!({"a": "x"})).unwrap_err();
        assert!(err.contains("wildcard"), "{err}");
    }
}
