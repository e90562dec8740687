//! Choice rules: comparison operators (and their `...Path` forms), And/Or/Not, type tests,
//! StringMatches wildcards, timestamp comparisons; JSONata `Condition`.

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};

use crate::causes;
use crate::error::{DefinitionError, Failure};
use crate::path::{Path, PathError};
use crate::template::Env;

const OPS: &[&str] = &[
    "StringEquals",
    "StringLessThan",
    "StringGreaterThan",
    "StringLessThanEquals",
    "StringGreaterThanEquals",
    "StringMatches",
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThan",
    "NumericLessThanEquals",
    "NumericGreaterThanEquals",
    "BooleanEquals",
    "TimestampEquals",
    "TimestampLessThan",
    "TimestampGreaterThan",
    "TimestampLessThanEquals",
    "TimestampGreaterThanEquals",
    "IsNull",
    "IsPresent",
    "IsNumeric",
    "IsString",
    "IsBoolean",
    "IsTimestamp",
];

fn err(loc: &str, msg: impl Into<String>) -> DefinitionError {
    DefinitionError {
        code: "SCHEMA_VALIDATION_FAILED".into(),
        message: msg.into(),
        location: loc.into(),
    }
}

fn operator(o: &Map<String, Value>) -> Option<(&str, bool, &Value)> {
    for (k, v) in o {
        if let Some(base) = k.strip_suffix("Path") {
            if OPS.contains(&base) {
                return Some((base, true, v));
            }
        }
        if OPS.contains(&k.as_str()) {
            return Some((k.as_str(), false, v));
        }
    }
    None
}

/// Validate one rule (top-level rules carry `Next`).
pub fn validate(rule: &Value, loc: &str, jsonata: bool, top: bool) -> Result<(), DefinitionError> {
    let o = rule
        .as_object()
        .ok_or_else(|| err(loc, "A choice rule must be an object"))?;
    for k in o.keys() {
        let known = matches!(
            k.as_str(),
            "Variable" | "Comment" | "And" | "Or" | "Not" | "Condition"
        ) || (top && matches!(k.as_str(), "Next" | "Assign" | "Output"))
            || OPS.contains(&k.as_str())
            || k.strip_suffix("Path")
                .is_some_and(|b| OPS.contains(&b) && !b.starts_with("Is"));
        if !known {
            return Err(err(
                loc,
                format!("The field '{k}' is not supported by Step Functions"),
            ));
        }
    }
    if jsonata {
        if !o.get("Condition").is_some_and(Value::is_string)
            && !o.get("Condition").is_some_and(Value::is_boolean)
        {
            return Err(err(loc, "The field 'Condition' is required"));
        }
        return Ok(());
    }
    if let Some(list) = o.get("And").or_else(|| o.get("Or")) {
        let a = list
            .as_array()
            .ok_or_else(|| err(loc, "And/Or must be arrays"))?;
        return a.iter().try_for_each(|r| validate(r, loc, jsonata, false));
    }
    if let Some(n) = o.get("Not") {
        return validate(n, loc, jsonata, false);
    }
    let var = o
        .get("Variable")
        .and_then(Value::as_str)
        .ok_or_else(|| err(loc, "The field 'Variable' is required"))?;
    Path::parse(var).map_err(|_| err(loc, format!("Invalid path '{var}'")))?;
    let (op, is_path, v) =
        operator(o).ok_or_else(|| err(loc, "A choice rule needs a comparison operator"))?;
    if is_path {
        let p = v
            .as_str()
            .ok_or_else(|| err(loc, format!("{op}Path must be a path")))?;
        Path::parse(p).map_err(|_| err(loc, format!("Invalid path '{p}'")))?;
    } else {
        let ok = match op {
            o if o.starts_with("String") || o.starts_with("Timestamp") => v.is_string(),
            o if o.starts_with("Numeric") => v.is_number(),
            _ => v.is_boolean(),
        };
        if !ok {
            return Err(err(
                loc,
                format!("The value of the field '{op}' has an invalid type"),
            ));
        }
    }
    Ok(())
}

/// Parse a timestamp the way Step Functions accepts one (RFC 3339 with `T` and an offset).
pub fn parse_timestamp(s: &str) -> Option<DateTime<FixedOffset>> {
    let b = s.as_bytes();
    if b.len() < 20 || b[10] != b'T' {
        return None;
    }
    DateTime::parse_from_rfc3339(s).ok()
}

/// `*` matches any run of characters; `\*` and `\\` are literal.
pub fn string_matches(s: &str, pattern: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Tok {
        Star,
        Ch(char),
    }
    let mut toks = Vec::new();
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.next() {
                Some(n) => toks.push(Tok::Ch(n)),
                None => toks.push(Tok::Ch('\\')),
            },
            '*' => toks.push(Tok::Star),
            c => toks.push(Tok::Ch(c)),
        }
    }
    let s: Vec<char> = s.chars().collect();
    // Classic wildcard DP over (pattern, string) positions.
    let (n, m) = (toks.len(), s.len());
    let mut dp = vec![vec![false; m + 1]; n + 1];
    dp[0][0] = true;
    for i in 1..=n {
        if toks[i - 1] == Tok::Star {
            dp[i][0] = dp[i - 1][0];
        }
        for j in 1..=m {
            dp[i][j] = match toks[i - 1] {
                Tok::Star => dp[i - 1][j] || dp[i][j - 1],
                Tok::Ch(c) => dp[i - 1][j - 1] && c == s[j - 1],
            };
        }
    }
    dp[n][m]
}

fn num_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                return Some(x.cmp(&y));
            }
            x.as_f64()?.partial_cmp(&y.as_f64()?)
        }
        _ => None,
    }
}

fn compare(op: &str, var: &Value, other: &Value) -> bool {
    let ord_ok = |o: Option<Ordering>, suffix: &str| -> bool {
        let Some(o) = o else { return false };
        match suffix {
            "Equals" => o.is_eq(),
            "LessThan" => o.is_lt(),
            "GreaterThan" => o.is_gt(),
            "LessThanEquals" => o.is_le(),
            "GreaterThanEquals" => o.is_ge(),
            _ => false,
        }
    };
    if let Some(suffix) = op.strip_prefix("String") {
        if suffix == "Matches" {
            return matches!((var, other), (Value::String(s), Value::String(p)) if string_matches(s, p));
        }
        return match (var, other) {
            (Value::String(a), Value::String(b)) => ord_ok(Some(a.cmp(b)), suffix),
            _ => false,
        };
    }
    if let Some(suffix) = op.strip_prefix("Numeric") {
        return ord_ok(num_cmp(var, other), suffix);
    }
    if let Some(suffix) = op.strip_prefix("Timestamp") {
        let (Some(a), Some(b)) = (
            var.as_str().and_then(parse_timestamp),
            other.as_str().and_then(parse_timestamp),
        ) else {
            return false;
        };
        return ord_ok(Some(a.cmp(&b)), suffix);
    }
    if op == "BooleanEquals" {
        return matches!((var, other), (Value::Bool(a), Value::Bool(b)) if a == b);
    }
    false
}

/// A path a rule reads (`Variable`, `...Path` operands), compiled at load.
#[derive(Debug, Clone)]
struct RulePath {
    text: String,
    parsed: Option<Path>,
}

impl RulePath {
    fn compile(text: &str) -> RulePath {
        RulePath {
            text: text.to_string(),
            parsed: Path::parse(text).ok(),
        }
    }

    /// The value, or `None` when the path selects nothing.
    fn resolve(&self, env: &Env) -> Result<Option<Value>, Failure> {
        let path = self
            .parsed
            .as_ref()
            .ok_or_else(|| Failure::runtime(causes::invalid_path(&self.text)))?;
        match path.evaluate(env.input, env.context, env.vars) {
            Ok(v) => Ok(Some(v)),
            Err(PathError::NotFound { .. }) | Err(PathError::UnknownVariable(_)) => Ok(None),
            Err(e) => Err(Failure::runtime(e.to_string())),
        }
    }

    fn not_found(&self) -> Failure {
        Failure::runtime(match &self.parsed {
            Some(path) => causes::no_results(&self.text, &path.normalized()),
            None => causes::invalid_path(&self.text),
        })
    }
}

/// A JSONPath Choice rule compiled at load.
#[derive(Debug, Clone)]
pub enum Rule {
    /// Every rule matches.
    And(Vec<Rule>),
    /// Some rule matches.
    Or(Vec<Rule>),
    /// The rule does not match.
    Not(Box<Rule>),
    /// `Variable` compared by an operator.
    Test(Box<Test>),
    /// A rule without an operator: never matches.
    Never,
}

/// One comparison or type test.
#[derive(Debug, Clone)]
pub struct Test {
    variable: RulePath,
    op: &'static str,
    /// The operand as written (a literal, or the text of a `...Path` operand).
    arg: Value,
    /// The `...Path` operand.
    arg_path: Option<RulePath>,
}

impl Rule {
    /// Compile a (validated) rule.
    pub fn compile(rule: &Value) -> Rule {
        let Some(o) = rule.as_object() else {
            return Rule::Never;
        };
        if let Some(Value::Array(rs)) = o.get("And") {
            return Rule::And(rs.iter().map(Rule::compile).collect());
        }
        if let Some(Value::Array(rs)) = o.get("Or") {
            return Rule::Or(rs.iter().map(Rule::compile).collect());
        }
        if let Some(n) = o.get("Not") {
            return Rule::Not(Box::new(Rule::compile(n)));
        }
        let var_path = o.get("Variable").and_then(Value::as_str).unwrap_or("$");
        let Some((op, is_path, arg)) = operator(o) else {
            return Rule::Never;
        };
        let Some(op) = OPS.iter().copied().find(|x| *x == op) else {
            return Rule::Never;
        };
        Rule::Test(Box::new(Test {
            variable: RulePath::compile(var_path),
            op,
            arg: arg.clone(),
            arg_path: is_path.then(|| RulePath::compile(arg.as_str().unwrap_or("$"))),
        }))
    }

    /// Evaluate against the state's effective input.
    pub fn evaluate(&self, env: &Env) -> Result<bool, Failure> {
        match self {
            Rule::And(rs) => {
                for r in rs {
                    if !r.evaluate(env)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rs) => {
                for r in rs {
                    if r.evaluate(env)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(r) => Ok(!r.evaluate(env)?),
            Rule::Never => Ok(false),
            Rule::Test(t) => t.evaluate(env),
        }
    }
}

impl Test {
    fn evaluate(&self, env: &Env) -> Result<bool, Failure> {
        let (op, arg) = (self.op, &self.arg);
        let var = self.variable.resolve(env)?;
        if op == "IsPresent" {
            return Ok(var.is_some() == arg.as_bool().unwrap_or(true));
        }
        let Some(var) = var else {
            return Err(self.variable.not_found());
        };
        let expect = arg.as_bool().unwrap_or(true);
        let test = |b: bool| Ok(b == expect);
        match op {
            "IsNull" => return test(var.is_null()),
            "IsNumeric" => return test(var.is_number()),
            "IsString" => return test(var.is_string()),
            "IsBoolean" => return test(var.is_boolean()),
            "IsTimestamp" => return test(var.as_str().and_then(parse_timestamp).is_some()),
            _ => {}
        }
        match &self.arg_path {
            Some(p) => {
                let other = p.resolve(env)?.ok_or_else(|| p.not_found())?;
                Ok(compare(op, &var, &other))
            }
            None => Ok(compare(op, &var, arg)),
        }
    }
}

/// A JSONata `Condition` result must be a boolean.
pub fn condition_result(expr: &str, v: &Value) -> Result<bool, Failure> {
    v.as_bool().ok_or_else(|| {
        Failure::new(
            "States.QueryEvaluationError",
            causes::condition_not_boolean(expr, v),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(rule: Value, input: Value) -> Result<bool, Failure> {
        let ctx = json!({});
        let vars = Map::new();
        Rule::compile(&rule).evaluate(&Env {
            input: &input,
            context: &ctx,
            vars: &vars,
        })
    }

    #[test]
    fn wildcards() {
        assert!(string_matches("log-2024.txt", "log-*.txt"));
        assert!(!string_matches("log-2024.csv", "log-*.txt"));
        assert!(string_matches("a*b", "a\\*b"));
        assert!(!string_matches("axb", "a\\*b"));
        assert!(string_matches("", "*"));
    }

    #[test]
    fn comparisons() {
        assert!(run(
            json!({"Variable": "$.n", "NumericGreaterThan": 1}),
            json!({"n": 2})
        )
        .unwrap());
        assert!(!run(
            json!({"Variable": "$.n", "NumericGreaterThan": 1}),
            json!({"n": "2"})
        )
        .unwrap());
        assert!(run(
            json!({"Variable": "$.a", "StringEqualsPath": "$.b"}),
            json!({"a": "x", "b": "x"})
        )
        .unwrap());
        assert!(run(
            json!({"Variable": "$.t", "TimestampLessThan": "2020-01-01T00:00:00Z"}),
            json!({"t": "2019-12-31T23:00:00-00:30"})
        )
        .unwrap());
        assert!(run(
            json!({"Not": {"Variable": "$.x", "IsPresent": true}}),
            json!({})
        )
        .unwrap());
        assert!(run(json!({"And": [{"Variable": "$.x", "IsNull": true}, {"Variable": "$.x", "IsPresent": true}]}), json!({"x": null})).unwrap());
        let e = run(json!({"Variable": "$.x", "StringEquals": "a"}), json!({})).unwrap_err();
        assert_eq!(e.name(), "States.Runtime");
    }

    #[test]
    fn timestamps_need_t_and_offset() {
        assert!(parse_timestamp("2016-12-05T21:29:29Z").is_some());
        assert!(parse_timestamp("2016-12-05 21:29:29Z").is_none());
        assert!(parse_timestamp("2016-12-05T21:29:29").is_none());
    }
}
