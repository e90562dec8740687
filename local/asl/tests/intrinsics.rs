//! Replays the intrinsic-function expressions of the AWS-recorded conformance corpus directly
//! against `asl::intrinsics`, so a regression names the expression rather than a whole run.
//!
//! The corpus lives beside the repository (`../shared/asl-conformance/cases.jsonl`, as CI
//! checks it out); `ASL_CASES` overrides the location.

use std::path::PathBuf;

use asl::intrinsics;
use serde_json::{Map, Value};

fn cases_path() -> PathBuf {
    match std::env::var_os("ASL_CASES") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/asl-conformance/cases.jsonl"),
    }
}

fn load_cases() -> Vec<Value> {
    let path = cases_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the conformance corpus must be readable at {}: {e}",
            path.display()
        )
    });
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a case is JSON"))
        .collect()
}

/// Evaluate one `.$` value: an intrinsic, or a plain path on the input.
fn eval_expr(expr: &str, input: &Value) -> Result<Value, String> {
    let resolve = |p: &asl::path::Path| p.evaluate(input, &Value::Null, &Map::new());
    if intrinsics::is_intrinsic(expr) {
        let f = intrinsics::parse(expr).map_err(|e| format!("parse: {e}"))?;
        f.evaluate(&resolve)
            .map_err(|e| format!("{}: {}", e.error(), e.cause()))
    } else {
        asl::path::evaluate_path(expr, input, &Value::Null, &Map::new()).map_err(|e| e.to_string())
    }
}

/// A Parameters-style template.
fn eval_template(t: &Value, input: &Value) -> Result<Value, String> {
    match t {
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, v) in o {
                match (k.strip_suffix(".$"), v.as_str()) {
                    (Some(name), Some(expr)) => {
                        out.insert(name.to_string(), eval_expr(expr, input)?)
                    }
                    _ => out.insert(k.clone(), eval_template(v, input)?),
                };
            }
            Ok(Value::Object(out))
        }
        Value::Array(a) => a
            .iter()
            .map(|x| eval_template(x, input))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

/// Structural equality where the recorder's placeholders (`<uuid:1>`, `RandomNumberGenerated`)
/// stand for any value.
fn matches(expected: &Value, actual: &Value, placeholders: &[String]) -> bool {
    match (expected, actual) {
        (Value::String(e), _)
            if placeholders.contains(e) || (e.starts_with('<') && e.ends_with('>')) =>
        {
            true
        }
        (Value::Object(e), Value::Object(a)) => {
            e.len() == a.len()
                && e.iter()
                    .all(|(k, v)| a.get(k).is_some_and(|x| matches(v, x, placeholders)))
        }
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(x, y)| matches(x, y, placeholders))
        }
        _ => expected == actual,
    }
}

/// The only state of a one-state machine, if that is the case's shape.
fn single_state(case: &Value) -> Option<&Map<String, Value>> {
    let states = case["definition"]["States"].as_object()?;
    if states.len() != 1 {
        return None;
    }
    states.values().next()?.as_object()
}

fn uses_intrinsic(v: &Value) -> bool {
    match v {
        Value::String(s) => intrinsics::is_intrinsic(s),
        Value::Object(o) => o.values().any(uses_intrinsic),
        Value::Array(a) => a.iter().any(uses_intrinsic),
        _ => false,
    }
}

#[test]
fn corpus_intrinsics_agree_with_aws() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in load_cases() {
        if case["mode"] != "execution"
            || serde_json::to_string(&case["definition"])
                .unwrap_or_default()
                .contains("$$")
        {
            continue;
        }
        let Some(state) = single_state(&case) else {
            continue;
        };
        let id = case["id"].as_str().unwrap_or("?");
        let input = &case["input"];
        let expected = &case["expected"];
        let placeholders: Vec<String> = case["placeholders"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let plain_pass = state.get("Type") == Some(&Value::from("Pass"))
            && state
                .keys()
                .all(|k| matches!(k.as_str(), "Type" | "Parameters" | "End" | "Comment"));
        if plain_pass && state.get("Parameters").is_some_and(uses_intrinsic) {
            checked += 1;
            match eval_template(&state["Parameters"], input) {
                Ok(out)
                    if expected["status"] == "SUCCEEDED"
                        && matches(&expected["output"], &out, &placeholders) => {}
                other => failures.push(format!("{id}: expected {expected}, got {other:?}")),
            }
        } else if state.get("Type") == Some(&Value::from("Fail"))
            && uses_intrinsic(&Value::Object(state.clone()))
        {
            checked += 1;
            let field = |name: &str| {
                state
                    .get(name)
                    .and_then(Value::as_str)
                    .map(|e| eval_expr(e, input))
            };
            let (error, cause) = (field("ErrorPath"), field("CausePath"));
            let ok = expected["status"] == "FAILED"
                && error.as_ref().is_some_and(|r| {
                    r.as_ref().ok() == expected["error"].as_str().map(Value::from).as_ref()
                })
                && cause.as_ref().is_some_and(|r| {
                    r.as_ref().ok() == expected["cause"].as_str().map(Value::from).as_ref()
                });
            if !ok {
                failures.push(format!(
                    "{id}: expected {expected}, got error {error:?} cause {cause:?}"
                ));
            }
        }
    }
    eprintln!("{checked} single-state intrinsic cases replayed");
    // The corpus has 77 such single-state cases; fewer means the corpus or the filter broke.
    assert!(
        checked >= 70,
        "only {checked} intrinsic cases found in {}",
        cases_path().display()
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} cases disagree with AWS:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every `.$` intrinsic of every definition AWS accepted must parse (the engine validates
/// definitions with `parse`, so a refusal here would reject a valid state machine).
#[test]
fn corpus_intrinsics_accepted_by_aws_parse() {
    fn collect<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(o) => {
                for (k, x) in o {
                    match x.as_str() {
                        Some(s)
                            if (k.ends_with(".$") || k.ends_with("Path"))
                                && intrinsics::is_intrinsic(s) =>
                        {
                            out.push(s)
                        }
                        _ => collect(x, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
            _ => {}
        }
    }
    let cases = load_cases();
    let mut exprs = Vec::new();
    for case in cases
        .iter()
        .filter(|c| c["expected"]["status"] != "INVALID_DEFINITION")
    {
        collect(&case["definition"], &mut exprs);
    }
    let refused: Vec<String> = exprs
        .iter()
        .filter_map(|e| intrinsics::parse(e).err().map(|err| format!("{e}: {err}")))
        .collect();
    assert!(
        exprs.len() >= 100,
        "only {} intrinsic expressions found",
        exprs.len()
    );
    assert!(refused.is_empty(), "refused:\n{}", refused.join("\n"));
}
