//! EventBridge event patterns, as far as the template's rules into the evidence queue use them:
//! nested fields, lists of exact values, and the `prefix`, `anything-but` and `exists` filters.
//! sfn-local publishes a status change only when a rule would have delivered it, as AWS does.

use serde_json::Value;

/// Whether `event` matches `pattern` (EventBridge's semantics: every field of the pattern must
/// match; a list of values matches when one of them does; an array in the event matches when
/// one of its elements does).
pub fn matches(pattern: &Value, event: &Value) -> bool {
    let Some(fields) = pattern.as_object() else {
        return false;
    };
    fields.iter().all(|(name, want)| {
        let got = event.get(name);
        match want {
            Value::Object(_) => got.is_some_and(|g| matches(want, g)),
            Value::Array(values) => values.iter().any(|v| value_matches(v, got)),
            _ => false,
        }
    })
}

/// One value of a pattern's list against the event's field (absent: `None`).
fn value_matches(want: &Value, got: Option<&Value>) -> bool {
    if let Some(filter) = want.as_object() {
        if let Some(exists) = filter.get("exists").and_then(Value::as_bool) {
            return got.is_some_and(|g| !g.is_null()) == exists;
        }
        let Some(got) = got else { return false };
        if let Some(prefix) = filter.get("prefix").and_then(Value::as_str) {
            return any_scalar(got, |s| s.as_str().is_some_and(|s| s.starts_with(prefix)));
        }
        if let Some(but) = filter.get("anything-but") {
            let excluded: Vec<&Value> = match but {
                Value::Array(list) => list.iter().collect(),
                one => vec![one],
            };
            return any_scalar(got, |s| !excluded.contains(&s));
        }
        return false;
    }
    got.is_some_and(|g| any_scalar(g, |s| s == want))
}

fn any_scalar(got: &Value, test: impl Fn(&Value) -> bool) -> bool {
    match got {
        Value::Array(items) => items.iter().any(test),
        one => test(one),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_template_s_patterns_match_as_eventbridge_does() {
        let event = json!({
            "source": "aws.states",
            "detail-type": "Step Functions Execution Status Change",
            "detail": {"stateMachineArn": "arn:batch", "status": "RUNNING"},
        });
        let ends = json!({
            "source": ["aws.states"],
            "detail": {"stateMachineArn": ["arn:batch"], "status": ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]},
        });
        assert!(!matches(&ends, &event));
        let mut done = event.clone();
        done["detail"]["status"] = json!("FAILED");
        assert!(matches(&ends, &done));
        let other_machine = json!({"detail": {"stateMachineArn": ["arn:per-order"]}});
        assert!(!matches(&other_machine, &event));
        // An array in the event (SES's tags) matches when one element does.
        let ses = json!({"detail": {"mail": {"tags": {"ses:configuration-set": ["set-a", "x"]}}}});
        let tagged = json!({"detail": {"mail": {"tags": {"ses:configuration-set": ["set-a"]}}}});
        assert!(matches(&tagged, &ses));
        assert!(matches(
            &json!({"detail": {"status": [{"anything-but": "RUNNING"}]}}),
            &done
        ));
        assert!(!matches(
            &json!({"detail": {"status": [{"anything-but": ["RUNNING"]}]}}),
            &event
        ));
        assert!(matches(
            &json!({"detail": {"stateMachineArn": [{"prefix": "arn:"}]}}),
            &event
        ));
        assert!(matches(
            &json!({"detail": {"error": [{"exists": false}]}}),
            &event
        ));
        assert!(!matches(&json!({"detail": {"missing": ["x"]}}), &event));
    }
}
