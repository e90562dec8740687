//! Unit tests of intrinsic parsing and evaluation.

use super::math::JavaRandom;
use super::*;
use serde_json::json;

fn eval_on(expr: &str, input: &Value) -> Result<Value, IntrinsicError> {
    let f = parse(expr)?;
    f.evaluate(&|p: &crate::path::Path| resolve_simple(p.text(), input))
}

/// A tiny resolver for `$`, `$.a.b` and `$.a[0]` paths, enough for unit tests.
fn resolve_simple(p: &str, input: &Value) -> Result<Value, String> {
    let rest = p.strip_prefix('$').ok_or_else(|| format!("bad path {p}"))?;
    let mut cur = input;
    for seg in rest.split('.').filter(|s| !s.is_empty()) {
        let (name, idx) = match seg.split_once('[') {
            Some((n, i)) => (
                n,
                Some(
                    i.trim_end_matches(']')
                        .parse::<usize>()
                        .map_err(|e| e.to_string())?,
                ),
            ),
            None => (seg, None),
        };
        if !name.is_empty() {
            cur = cur
                .get(name)
                .ok_or_else(|| format!("Invalid path '{p}' : No results for path: {p}"))?;
        }
        if let Some(i) = idx {
            cur = cur
                .get(i)
                .ok_or_else(|| format!("Invalid path '{p}' : No results for path: {p}"))?;
        }
    }
    Ok(cur.clone())
}

fn eval(expr: &str) -> Result<Value, IntrinsicError> {
    eval_on(expr, &Value::Null)
}

#[test]
fn format_escapes_and_rendering() {
    assert_eq!(
        eval(r"States.Format('a \{} b {} \' \\ c', 1)").unwrap(),
        json!(r"a {} b 1 ' \ c")
    );
    assert_eq!(
        eval_on("States.Format('{}|{}|{}|{}', $.o, $.n, $.f, $.a)", &json!({"o": {"A": 1, "B": [], "C": "x"}, "n": null, "f": 1.5, "a": [1, "b", {"c": true}]}))
            .unwrap(),
        json!("{A=1, B=[], C=x}|null|1.5|[1, b, {c=true}]")
    );
    assert_eq!(
        eval("States.Format('{}', 1.0E20)").unwrap(),
        json!("1.0E20")
    );
    assert_eq!(
        eval("States.Format('{}', 0.0001)").unwrap(),
        json!("1.0E-4")
    );
    assert_eq!(eval("States.Format('{}', 2.0)").unwrap(), json!("2.0"));
    assert_eq!(eval("States.Format('{}', 1.0E7)").unwrap(), json!("1.0E7"));
    assert_eq!(
        eval("States.Format('{}', 123456.789)").unwrap(),
        json!("123456.789")
    );
}

#[test]
fn format_template_from_path_and_count_mismatch() {
    assert_eq!(
        eval_on("States.Format($.t, 'x')", &json!({"t": "It's {}!"})).unwrap(),
        json!("It's x!")
    );
    let e = eval("States.Format('{} {}', 1)").unwrap_err();
    assert_eq!(e.error(), "States.IntrinsicFailure");
    assert!(e.cause().contains("2 placeholder(s)"), "{}", e.cause());
}

#[test]
fn parse_rejects_bad_calls() {
    for bad in [
        "States.Nope(1)",
        "States.UUID(1)",
        "States.MathAdd(1)",
        "States.Format(1)",
        "States.JsonToString('x')",
        "States.JsonMerge($.a, $.b, 'no')",
        "States.Format('x'",
        "States.Format('x') trailing",
        "States.Array('unterminated)",
        "Format('x')",
        "States.Array($.a[)",
        "States.Array($..)",
    ] {
        assert!(parse(bad).is_err(), "{bad} should be refused");
    }
    let eleven = "States.Array(".repeat(11) + &")".repeat(11);
    assert!(parse(&eleven).is_err());
    let ten = "States.Array(".repeat(10) + &")".repeat(10);
    assert!(parse(&ten).is_ok());
}

#[test]
fn literals_and_nested_calls() {
    assert_eq!(
        eval("States.Array(1, -2.5, true, false, null, 'x', States.Array())").unwrap(),
        json!([1, -2.5, true, false, null, "x", []])
    );
    assert_eq!(
        eval_on("States.ArrayGetItem(States.StringSplit($.n, '-'), States.MathAdd(States.ArrayLength(States.StringSplit($.n, '-')), -1))", &json!({"n": "a-b-c"}))
            .unwrap(),
        json!("c")
    );
    assert_eq!(
        eval_on("States.Array($.a['x,y'])", &json!({}))
            .unwrap_err()
            .error(),
        "States.Runtime"
    );
}

#[test]
fn path_failure_is_runtime_with_resolver_cause() {
    let e = eval_on("States.Format('{}', $.missing)", &json!({})).unwrap_err();
    assert_eq!(e.error(), "States.Runtime");
    assert!(
        e.cause().starts_with("Invalid path '$.missing'"),
        "{}",
        e.cause()
    );
}

#[test]
fn array_functions() {
    assert_eq!(
        eval("States.ArrayPartition(States.Array(1,2,3,4,5), 2)").unwrap(),
        json!([[1, 2], [3, 4], [5]])
    );
    assert_eq!(
        eval("States.ArrayPartition(States.Array(), 2)").unwrap(),
        json!([])
    );
    assert!(eval("States.ArrayPartition(States.Array(1), 0)").is_err());
    assert_eq!(
        eval("States.ArrayRange(1, 9, 2)").unwrap(),
        json!([1, 3, 5, 7, 9])
    );
    assert_eq!(
        eval("States.ArrayRange(5, 1, -2)").unwrap(),
        json!([5, 3, 1])
    );
    assert_eq!(eval("States.ArrayRange(5, 1, 2)").unwrap(), json!([]));
    assert_eq!(
        eval("States.ArrayLength(States.ArrayRange(1, 1000, 1))").unwrap(),
        json!(1000)
    );
    assert!(eval("States.ArrayRange(1, 1001, 1)").is_err());
    assert!(eval("States.ArrayRange(1, 3, 0)").is_err());
    assert!(eval("States.ArrayRange(1.5, 3, 1)").is_err());
    assert_eq!(
        eval("States.ArrayGetItem(States.Array(1,2), 1)").unwrap(),
        json!(2)
    );
    assert!(eval("States.ArrayGetItem(States.Array(1,2), 2)").is_err());
    assert!(eval("States.ArrayGetItem(States.Array(1,2), -1)").is_err());
    assert_eq!(
        eval("States.ArrayUnique(States.Array(1, 2, 2, 'a', 1, 'a'))").unwrap(),
        json!([1, 2, "a"])
    );
    assert_eq!(
        eval("States.ArrayContains(States.Array(1, 'a'), 'a')").unwrap(),
        json!(true)
    );
    assert!(eval("States.ArrayLength('x')").is_err());
}

#[test]
fn encoding_and_hashing() {
    assert_eq!(
        eval("States.Base64Encode('Data to encode')").unwrap(),
        json!("RGF0YSB0byBlbmNvZGU=")
    );
    assert_eq!(
        eval("States.Base64Decode('RGF0YSB0byBlbmNvZGU')").unwrap(),
        json!("Data to encode")
    );
    assert!(eval("States.Base64Decode('!!')").is_err());
    assert_eq!(
        eval("States.Hash('input data', 'MD5')").unwrap(),
        json!("812f45842bc6d66ee14572ce20db8e86")
    );
    assert!(eval("States.Hash('x', 'SHA-3')").is_err());
    let long = json!({"s": "a".repeat(10_001)});
    assert!(eval_on("States.Hash($.s, 'MD5')", &long).is_err());
    assert!(eval_on("States.Base64Encode($.s)", &long).is_err());
}

#[test]
fn json_functions() {
    assert_eq!(
        eval_on("States.StringToJson($.s)", &json!({"s": "-0"}))
            .unwrap()
            .to_string(),
        "0"
    );
    assert_eq!(
        eval_on("States.StringToJson($.s)", &json!({"s": " "})).unwrap(),
        Value::Null
    );
    assert!(eval_on("States.StringToJson($.s)", &json!({"s": "{"})).is_err());
    assert_eq!(
        eval_on("States.JsonToString($.o)", &json!({"o": {"a": [1, "x"]}})).unwrap(),
        json!("{\"a\":[1,\"x\"]}")
    );
    assert_eq!(
        eval_on(
            "States.JsonMerge($.a, $.b, false)",
            &json!({"a": {"x": {"y": 1}, "k": 1}, "b": {"x": {"z": 2}}})
        )
        .unwrap(),
        json!({"x": {"z": 2}, "k": 1})
    );
    assert!(eval_on("States.JsonMerge($.a, $.a, true)", &json!({"a": {}})).is_err());
    assert!(eval_on(
        "States.JsonMerge($.a, $.b, false)",
        &json!({"a": {}, "b": 1})
    )
    .is_err());
}

#[test]
fn math_functions() {
    assert_eq!(eval("States.MathAdd(1, -2)").unwrap(), json!(-1));
    assert_eq!(eval("States.MathAdd(1.5, 2.4)").unwrap(), json!(4));
    assert_eq!(eval("States.MathAdd(-2.5, 0)").unwrap(), json!(-2));
    assert_eq!(eval("States.MathAdd(2.5, 0)").unwrap(), json!(3));
    assert!(eval("States.MathAdd($, 1)").is_err());
    for _ in 0..50 {
        let n = eval("States.MathRandom(12.5, 44.51)")
            .unwrap()
            .as_i64()
            .unwrap();
        assert!((13..45).contains(&n), "{n}");
    }
    let a = eval("States.MathRandom(0, 999, 3)").unwrap();
    assert_eq!(a, eval("States.MathRandom(0, 999, 3)").unwrap());
    assert!(eval("States.MathRandom(5, 5)").is_err());
}

#[test]
fn java_random_matches_the_jvm() {
    // Well-known JVM values: new Random(42).nextInt() and new Random(0).nextInt().
    assert_eq!(JavaRandom::new(42).next(32), -1_170_105_035);
    assert_eq!(JavaRandom::new(0).next(32), -1_155_484_576);
    // new Random(3).nextInt(999), new Random(42).nextInt(100), new Random(0).nextInt(16).
    assert_eq!(JavaRandom::new(3).next_int(999), 239);
    assert_eq!(JavaRandom::new(42).next_int(100), 30);
    assert_eq!(JavaRandom::new(0).next_int(16), 11);
    let mut r = JavaRandom::new(7);
    assert!((0..1000).all(|_| (0..999).contains(&r.next_int(999))));
    assert!((0..1000).all(|_| (0..64).contains(&r.next_int(64))));
}

#[test]
fn string_split_and_uuid() {
    assert_eq!(
        eval("States.StringSplit('This.is+a,test=string', '.+,=')").unwrap(),
        json!(["This", "is", "a", "test", "string"])
    );
    assert_eq!(eval("States.StringSplit(',,,,', ',')").unwrap(), json!([]));
    let u = eval("States.UUID()").unwrap();
    let u = u.as_str().unwrap();
    assert!(
        uuid::Uuid::parse_str(u).is_ok_and(|x| x.get_version_num() == 4),
        "{u}"
    );
    assert!(is_intrinsic(" States.UUID()"));
    assert!(!is_intrinsic("$.States"));
}
