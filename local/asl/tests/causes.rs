//! The causes table against what AWS recorded: every cause `asl::causes::TABLE` marks recorded
//! matches a cause of the corpus case it names, word for word but for its `{}` parts; a
//! recorded cause of a family the table has (the state prefix) is one of the table's templates.
//!
//! The corpus lives beside the repository (`../shared/asl-conformance/cases.jsonl`);
//! `ASL_CASES` overrides the location.

use std::path::PathBuf;

use asl::causes::{Cause, Source, IN_STATE, TABLE};
use serde_json::Value;

fn cases() -> Vec<Value> {
    let path = match std::env::var_os("ASL_CASES") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/asl-conformance/cases.jsonl"),
    };
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the corpus must be readable at {}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a case is JSON"))
        .collect()
}

/// Every `cause`/`Cause` string in a case's expected outcome and trace.
fn recorded_causes(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("cause" | "Cause", Value::String(s)) => out.push(s.clone()),
                    _ => recorded_causes(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| recorded_causes(x, out)),
        _ => {}
    }
}

/// Whether `text` is `template` with anything in its `{}`s.
fn fits(template: &str, text: &str) -> bool {
    let parts: Vec<&str> = template.split("{}").collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return text == template;
    }
    if !text.starts_with(first) || !text.ends_with(last) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

/// A `*` pattern on a case id.
fn glob(pattern: &str, id: &str) -> bool {
    fits(&pattern.replace('*', "{}"), id)
}

/// A cause without AWS's state prefix.
fn unprefixed(cause: &str) -> &str {
    let marker = "). ";
    match cause.starts_with("An error occurred while executing the state '") {
        true => cause
            .find(marker)
            .map_or(cause, |i| &cause[i + marker.len()..]),
        false => cause,
    }
}

#[test]
fn every_recorded_cause_of_the_table_reads_as_aws_recorded_it() {
    let cases = cases();
    let by_case: Vec<(String, Vec<String>)> = cases
        .iter()
        .map(|c| {
            let mut out = Vec::new();
            recorded_causes(&c["expected"], &mut out);
            recorded_causes(&c["expected_trace"], &mut out);
            (c["id"].as_str().unwrap_or_default().to_string(), out)
        })
        .collect();
    let recorded: Vec<&Cause> = TABLE
        .iter()
        .filter(|c| matches!(c.source, Source::Recorded(_)))
        .collect();
    assert!(recorded.len() >= 10, "most causes are recorded");
    for cause in recorded {
        let Source::Recorded(pattern) = cause.source else {
            continue;
        };
        let found = by_case.iter().any(|(id, causes)| {
            glob(pattern, id)
                && causes
                    .iter()
                    .any(|c| fits(cause.template, c) || fits(cause.template, unprefixed(c)))
        });
        assert!(
            found,
            "{}: no case {pattern} records a cause \"{}\"",
            cause.name, cause.template
        );
    }
}

#[test]
fn every_recorded_state_prefixed_cause_has_its_template_in_the_table() {
    // Causes AWS prefixes with the state are the engine's own (JSONata and intrinsic evaluation
    // causes aside, which their modules word): each must fit a template of the table.
    let mut unknown = Vec::new();
    for case in cases() {
        let mut causes = Vec::new();
        recorded_causes(&case["expected"], &mut causes);
        for c in causes.iter().filter(|c| fits(IN_STATE.template, c)) {
            let rest = unprefixed(c);
            let ours = TABLE.iter().any(|t| fits(t.template, rest));
            let elsewhere = rest.starts_with("The JSONata expression")
                || rest.starts_with("The function ")
                || rest.contains("States.");
            if !ours && !elsewhere {
                unknown.push(format!("{}: {rest}", case["id"]));
            }
        }
    }
    assert!(unknown.is_empty(), "causes with no template: {unknown:#?}");
}

#[test]
fn the_matcher_tells_a_template_from_other_text() {
    assert!(fits("a '{}' b '{}'", "a 'x' b 'y'"));
    assert!(!fits("a '{}' b", "a 'x' c"));
    assert!(fits("No Matches!", "No Matches!"));
    assert!(!fits("No Matches!", "No Matches"));
    assert!(glob("*wait*", "x/test_wait.py::t"));
}
