//! Checks `asl::jsonata` against what AWS recorded: the conformance corpus's single-state JSONata
//! cases are replayed expression by expression, then AWS's added functions and cause texts.
//!
//! The corpus lives beside the repository (`../shared/asl-conformance/cases.jsonl`, as CI
//! checks it out); `ASL_CASES` overrides the location.

use std::path::PathBuf;

use asl::jsonata::{evaluate, evaluate_field, template, JsonataErrorKind};
use serde_json::{json, Map, Value};

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

fn states(input: &Value) -> Map<String, Value> {
    let context = json!({
        "Execution": {"Id": "arn:aws:states:us-east-1:111111111111:execution:sm:run", "Input": input,
                      "Name": "run", "StartTime": "2024-11-04T11:40:47.000Z"},
        "StateMachine": {"Id": "arn:aws:states:us-east-1:111111111111:stateMachine:sm", "Name": "sm"},
        "State": {"Name": "State0", "EnteredTime": "2024-11-04T11:40:47.000Z"}
    });
    let mut b = Map::new();
    b.insert("states".into(), json!({"input": input, "context": context}));
    b
}

/// What AWS's outcome says one expression of a single-state case evaluates to.
enum Expect {
    Value(Value),
    Undefined,
    Function,
}

/// The (expression, expectation) pairs a one-state JSONata case pins down: a Pass's `Output`, a
/// Fail's `Cause`, a Map's `Items` (its pass-through processor returns the items; a wrong type is
/// reported with the value).
fn derive(case: &Value) -> Vec<(String, Expect)> {
    let def = &case["definition"];
    let Some(states) = def["States"].as_object().filter(|s| s.len() == 1) else {
        return vec![];
    };
    let state = states.values().next().expect("one state");
    let jsonata = state["QueryLanguage"]
        .as_str()
        .or(def["QueryLanguage"].as_str())
        == Some("JSONata");
    let expected = &case["expected"];
    let ok = expected["status"] == "SUCCEEDED";
    let cause = expected["cause"].as_str().unwrap_or("");
    let expr = |field: &str| state[field].as_str().and_then(template).map(str::to_string);
    let mut out = vec![];
    if !jsonata || case["exact"] != true {
        return out;
    }
    match state["Type"].as_str() {
        Some("Pass") => {
            if let Some(e) = expr("Output") {
                if ok {
                    out.push((e, Expect::Value(expected["output"].clone())));
                } else if cause.ends_with("returned nothing (undefined).") {
                    out.push((e, Expect::Undefined));
                }
            }
        }
        Some("Fail") => {
            if let (Some(e), false) = (expr("Cause"), ok) {
                out.push((e, Expect::Value(Value::String(cause.to_string()))));
            }
        }
        Some("Map") if state.get("ItemSelector").is_none() => {
            if let Some(e) = expr("Items") {
                if ok {
                    out.push((e, Expect::Value(expected["output"].clone())));
                } else if let Some((_, v)) = cause.split_once(" for value: ") {
                    out.push((
                        e,
                        Expect::Value(serde_json::from_str(v).expect("AWS prints JSON")),
                    ));
                } else if cause.ends_with("returned an unsupported result type.") {
                    out.push((e, Expect::Function));
                }
            } else if let (Some(items), true) = (state["Items"].as_array(), ok) {
                for (i, item) in items.iter().enumerate() {
                    if let Some(e) = item.as_str().and_then(template) {
                        out.push((e.to_string(), Expect::Value(expected["output"][i].clone())));
                    }
                }
            }
        }
        _ => {}
    }
    out
}

#[test]
fn jsonata_corpus_single_state_expressions_agree_with_aws() {
    let mut checked = 0;
    let mut failures = vec![];
    for case in load_cases() {
        if case["mode"] != "execution" {
            continue;
        }
        let bindings = states(&case["input"]);
        for (expr, expect) in derive(&case) {
            checked += 1;
            let got = evaluate(&expr, &bindings);
            let agree = match (&expect, &got) {
                (Expect::Value(v), Ok(Some(g))) => g == v,
                (Expect::Undefined, Ok(None)) => true,
                (Expect::Function, Err(e)) => *e.kind() == JsonataErrorKind::UnsupportedResult,
                _ => false,
            };
            if !agree {
                failures.push(format!("{}: {expr} -> {got:?}", case["id"]));
            }
        }
    }
    // 51 expressions at the time of writing; a much smaller number means the derivation broke.
    assert!(checked >= 45, "only {checked} corpus expressions derived");
    assert!(
        failures.is_empty(),
        "disagreements:\n{}",
        failures.join("\n")
    );
}

fn vars(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn eval(expr: &str, b: &Map<String, Value>) -> Value {
    evaluate(expr, b)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
        .unwrap_or_else(|| panic!("{expr}: undefined"))
}

#[test]
fn template_needs_the_delimiters_at_both_ends() {
    assert_eq!(template("{% $states.input %}"), Some("$states.input"));
    assert_eq!(template("{%1%}"), Some("1"));
    assert_eq!(template(" {% states.input %} "), None);
    assert_eq!(template("$states.input"), None);
}

#[test]
fn variables_and_states_bind_as_dollar_names() {
    let mut b = states(&json!({"input_values": [1, 2, 3], "cost": 9}));
    b.insert("var_constant_1".into(), json!(1));
    b.insert("varname".into(), json!({"varfield": "x"}));
    assert_eq!(
        eval("$sum($states.input.input_values) + $var_constant_1", &b),
        json!(7)
    );
    assert_eq!(eval("$varname.varfield", &b), json!("x"));
    assert_eq!(eval("$states.input.cost < 10", &b), json!(true));
    assert_eq!(eval("$states.context.StateMachine.Name", &b), json!("sm"));
    // No input document: a bare path has nothing to navigate.
    assert_eq!(evaluate("states.input", &b).unwrap(), None);
}

#[test]
fn map_task_output_expressions_of_the_corpus() {
    let mut b = states(&json!({"Values": ["first", "second", "third"]}));
    b["states"]["result"] = json!([1, 0, 1]);
    assert_eq!(
        eval(
            "$map($states.result, function($v) { $v = 1 ? 'pass' : 'failed' })",
            &b
        ),
        json!(["pass", "failed", "pass"])
    );
    assert_eq!(eval("$count($states.result[$ = 1])", &b), json!(2));
    assert_eq!(eval("$count($states.result[$ = 0])", &b), json!(1));
}

#[test]
fn numbers_come_back_as_aws_prints_them() {
    let b = Map::new();
    assert_eq!(eval("10 / 2", &b).to_string(), "5");
    assert_eq!(eval("10 / 4", &b).to_string(), "2.5");
    assert_eq!(eval("$parse('-0')", &b).to_string(), "0");
    assert_eq!(eval("[1.0, 2.50]", &b).to_string(), "[1,2.5]");
}

#[test]
fn partition_chunks_with_a_shorter_last_chunk() {
    let b = Map::new();
    assert_eq!(
        eval("$partition([1,2,3,4,5], 2)", &b),
        json!([[1, 2], [3, 4], [5]])
    );
    assert_eq!(eval("$partition([0], 4)", &b), json!([[0]]));
    assert!(evaluate("$partition([1,2], 0)", &b).is_err());
}

#[test]
fn range_is_inclusive_and_a_single_item_collapses() {
    let b = Map::new();
    assert_eq!(eval("$range(0, 10, 3)", &b), json!([0, 3, 6, 9]));
    assert_eq!(eval("$range(1, 9, 2)", &b), json!([1, 3, 5, 7, 9]));
    assert_eq!(eval("$range(9, 1, -4)", &b), json!([9, 5, 1]));
    assert_eq!(eval("$range(1, 9, 9)", &b), json!(1));
    assert_eq!(evaluate("$range(3, 1, 1)", &b).unwrap(), None);
    let e = evaluate_field("$range('0', 4, 1)", &b, "Output").unwrap_err();
    assert_eq!(e.error(), "States.QueryEvaluationError");
    assert_eq!(
        e.cause(),
        "The JSONata expression '$range('0', 4, 1)' specified for the field 'Output' threw an error \
         during evaluation. T0410: Argument 1 of function \"range\" does not match function signature"
    );
}

#[test]
fn hash_uuid_parse_random() {
    let b = vars(&[("s", json!("input data"))]);
    assert_eq!(
        eval("$hash('abc', 'SHA-256')", &b),
        json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    // Non-strings are hashed as their JSON text.
    assert_eq!(
        eval("$hash(1, 'MD5')", &b),
        json!("c4ca4238a0b923820dcc509a6f75849b")
    );
    assert_eq!(
        eval("$hash($s, 'MD5')", &b),
        eval("$hash('input data', 'MD5')", &b)
    );
    assert_eq!(
        eval("$hash('abc', 'MD5')", &b),
        json!("900150983cd24fb0d6963f7d28e17f72")
    );
    assert_eq!(
        eval("$hash('abc', 'SHA-1')", &b),
        json!("a9993e364706816aba3e25717850c26c9cd0d89d")
    );
    assert!(evaluate("$hash('abc', 'SHA-3')", &b).is_err());
    let id = eval("$uuid()", &b);
    let id = id.as_str().expect("a string");
    assert_eq!(
        uuid::Uuid::parse_str(id).expect("a UUID").get_version_num(),
        4
    );
    assert_eq!(
        eval("$parse('{\"a\": [1, true]}')", &b),
        json!({"a": [1, true]})
    );
    assert!(evaluate("$parse('{oops')", &b).is_err());
    let r = eval("$random()", &b).as_f64().expect("a number");
    assert!((0.0..1.0).contains(&r));
    assert_eq!(eval("$random(42)", &b), eval("$random(42)", &b));
    assert_eq!(eval("$random(42)", &b), json!(0.7275636800328681));
}

#[test]
fn eval_is_not_offered() {
    assert!(evaluate("$eval('1 + 1')", &Map::new()).is_err());
}

#[test]
fn aws_cause_texts() {
    let b = Map::new();
    let e = evaluate_field("$doesNotExist", &b, "Output/result").unwrap_err();
    assert_eq!(e.error(), "States.QueryEvaluationError");
    assert_eq!(
        e.cause(),
        "The JSONata expression '$doesNotExist' specified for the field 'Output/result' returned nothing (undefined)."
    );
    let e = evaluate_field("$fn := function($x){$x}", &b, "Items").unwrap_err();
    assert_eq!(
        e.cause(),
        "The JSONata expression '$fn := function($x){$x}' specified for the field 'Items' returned an unsupported result type."
    );
    assert_eq!(e.to_string(), e.cause());
    let e = evaluate_field("1 +", &b, "Output").unwrap_err();
    assert!(matches!(e.kind(), JsonataErrorKind::Evaluation(_)), "{e:?}");
    assert_eq!(evaluate_field("null", &b, "Output").unwrap(), Value::Null);
}
