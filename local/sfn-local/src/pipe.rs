//! The EventBridge Pipe's part offline: its FilterCriteria (EventBridge event patterns) and BatchSize
//! applied to a file of DynamoDB stream records.

use serde_json::{Map, Value};

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
