//! The API's request parsing (types, constraints, precedence), response helpers and host rule.

use serde_json::{json, Value};

use super::http::check_host;
use super::request::{
    parse, CreateStateMachine, GetExecutionHistory, ListExecutions, ListStateMachines,
    StartExecution, DEFAULT_PAGE,
};
use super::shapes::{epoch_dates, paginate};
use super::{Api, ApiError, ApiOptions};

const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:process-unpaid-order-dev";

fn refused<T: serde::de::DeserializeOwned + super::request::Check + std::fmt::Debug>(
    body: Value,
) -> ApiError {
    parse::<T>(&body).expect_err("refused")
}

#[test]
fn a_member_of_the_wrong_type_is_a_serialization_exception_in_aws_words() {
    for (member, value, message) in [
        (
            "stateMachineArn",
            json!(5),
            "NUMBER_VALUE can not be converted to a String",
        ),
        (
            "input",
            json!(true),
            "TRUE_VALUE can not be converted to a String",
        ),
        (
            "name",
            json!(false),
            "FALSE_VALUE can not be converted to a String",
        ),
        (
            "input",
            json!({"orderId": "1"}),
            "Start of structure or map found where not expected.",
        ),
        (
            "name",
            json!(["a"]),
            "Start of list found where not expected",
        ),
        // Ignored by sfn-local, still typed as on AWS.
        (
            "traceHeader",
            json!(1.5),
            "NUMBER_VALUE can not be converted to a String",
        ),
    ] {
        let mut body = json!({ "stateMachineArn": MACHINE });
        body[member] = value;
        let err = refused::<StartExecution>(body);
        assert_eq!(
            (err.kind, err.message.as_str()),
            ("SerializationException", message),
            "{member}"
        );
    }
    let err = refused::<ListStateMachines>(json!({"maxResults": "10"}));
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            "SerializationException",
            "STRING_VALUE can not be converted to an Integer"
        )
    );
    let err = refused::<GetExecutionHistory>(json!({"executionArn": "x", "reverseOrder": "yes"}));
    assert_eq!(
        err.message, "STRING_VALUE can not be converted to a Boolean",
        "{err:?}"
    );
}

#[test]
fn a_missing_or_null_required_member_is_a_validation_exception() {
    let not_null = "1 validation error detected: Value null at 'stateMachineArn' failed to satisfy constraint: Member must not be null";
    for body in [json!({}), json!({"stateMachineArn": null, "input": "{}"})] {
        let err = refused::<StartExecution>(body);
        assert_eq!(
            (err.kind, err.message.as_str()),
            ("ValidationException", not_null)
        );
    }
    // Every constraint failure at once, as AWS lists them.
    let err = refused::<CreateStateMachine>(json!({"definition": "{}", "type": "BATCH"}));
    assert_eq!(err.kind, "ValidationException");
    assert_eq!(
        err.message,
        "3 validation errors detected: \
         Value null at 'name' failed to satisfy constraint: Member must not be null; \
         Value null at 'roleArn' failed to satisfy constraint: Member must not be null; \
         Value 'BATCH' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"
    );
    // A wrong type wins over a missing member: the body is read before it is checked.
    let err = refused::<StartExecution>(json!({"input": 1}));
    assert_eq!(err.kind, "SerializationException");
}

#[test]
fn unknown_members_are_ignored_and_null_is_absent() {
    let r: StartExecution = parse(&json!({
        "stateMachineArn": MACHINE,
        "input": "{}",
        "name": null,
        "someFutureMember": {"nested": [1, 2]},
        "traceHeader": "Root=1-abc",
    }))
    .expect("accepted");
    assert_eq!(r.state_machine_arn.as_str(), MACHINE);
    assert_eq!(r.name, None);
    assert_eq!(r.input.as_deref(), Some("{}"));
    // Structure members sfn-local ignores are not read at all.
    let r: CreateStateMachine = parse(&json!({
        "name": "m", "definition": "{}", "roleArn": "arn:aws:iam::1:role/r",
        "tags": [{"key": "k", "value": "v"}], "loggingConfiguration": {"level": "OFF"},
    }))
    .expect("accepted");
    assert_eq!(r.name.as_str(), "m");
}

#[test]
fn constraints_on_pages_filters_and_input() {
    let page = |body: Value| parse::<ListStateMachines>(&body).map(|r| r.page.size());
    assert_eq!(page(json!({})).expect("default"), DEFAULT_PAGE);
    assert_eq!(page(json!({"maxResults": 0})).expect("0"), DEFAULT_PAGE);
    assert_eq!(page(json!({"maxResults": 7})).expect("7"), 7);
    // AWS truncates a decimal Integer.
    assert_eq!(page(json!({"maxResults": 2.9})).expect("2.9"), 2);
    assert_eq!(
        page(json!({"maxResults": 1001})).expect_err("1001").message,
        "1 validation error detected: Value '1001' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"
    );
    assert_eq!(
        page(json!({"maxResults": -1})).expect_err("-1").message,
        "1 validation error detected: Value '-1' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 0"
    );
    let r: ListStateMachines = parse(&json!({"nextToken": "bogus"})).expect("a token is a string");
    assert_eq!(r.page.start().expect_err("not ours").kind, "InvalidToken");
    let r: ListStateMachines = parse(&json!({"nextToken": "sfn-local:40"})).expect("ours");
    assert_eq!(r.page.start().expect("offset"), 40);

    let list = |filter: Value| {
        let mut body = json!({ "stateMachineArn": MACHINE });
        body["redriveFilter"] = filter;
        parse::<ListExecutions>(&body)
    };
    assert_eq!(list(Value::Null).expect("none").redriven(), None);
    assert_eq!(list(json!("REDRIVEN")).expect("r").redriven(), Some(true));
    assert_eq!(
        list(json!("NOT_REDRIVEN")).expect("n").redriven(),
        Some(false)
    );
    assert_eq!(
        list(json!("redriven")).expect_err("case").message,
        "1 validation error detected: Value 'redriven' at 'redriveFilter' failed to satisfy constraint: Member must satisfy enum value set: [REDRIVEN, NOT_REDRIVEN]"
    );
    let err =
        refused::<ListExecutions>(json!({"stateMachineArn": MACHINE, "statusFilter": "BOGUS"}));
    assert_eq!(err.kind, "ValidationException");
    assert!(err.message.contains("'statusFilter'"), "{err:?}");

    let long = "x".repeat(super::MAX_INPUT_CHARS + 1);
    let err = refused::<StartExecution>(json!({"stateMachineArn": MACHINE, "input": long}));
    assert_eq!(
        err.message,
        "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to 262144"
    );
    let exact = "x".repeat(super::MAX_INPUT_CHARS);
    assert!(parse::<StartExecution>(&json!({"stateMachineArn": MACHINE, "input": exact})).is_ok());
}

/// The API over the project's template, with a fresh state directory.
async fn api(dir: &std::path::Path) -> Api {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let runner = crate::runner::Runner::open(crate::runner::RunnerOptions::new(root, dir))
        .await
        .expect("open the runner");
    Api::new(runner, ApiOptions::default())
}

/// AWS checks the request's shape before it looks up a resource, so a request that is both
/// malformed and names an unknown machine or execution reports the malformed member. (Before
/// typed requests the unknown resource won; the service-side checks keep their old order.)
#[tokio::test]
async fn a_malformed_request_is_reported_before_an_unknown_resource() {
    let dir = tempfile::tempdir().expect("temp dir");
    let api = api(dir.path()).await;
    let nope = "arn:aws:states:us-east-1:123456789012:stateMachine:nope";
    let nope_execution = "arn:aws:states:us-east-1:123456789012:execution:nope:x";
    let kind = |r: Result<Value, ApiError>| r.expect_err("refused").kind;

    // The control: a well-formed request for an unknown machine is StateMachineDoesNotExist.
    let unknown = api
        .call("StartExecution", &json!({"stateMachineArn": nope}))
        .await;
    assert_eq!(kind(unknown), "StateMachineDoesNotExist");
    // Unknown machine + wrong type → SerializationException.
    let both = api
        .call(
            "StartExecution",
            &json!({"stateMachineArn": nope, "input": 5}),
        )
        .await;
    assert_eq!(kind(both), "SerializationException");
    // Unknown machine + a failed constraint → ValidationException.
    let both = api
        .call(
            "ListExecutions",
            &json!({"stateMachineArn": nope, "statusFilter": "BOGUS"}),
        )
        .await;
    assert_eq!(kind(both), "ValidationException");
    let both = api
        .call(
            "GetExecutionHistory",
            &json!({"executionArn": nope_execution, "maxResults": "1"}),
        )
        .await;
    assert_eq!(kind(both), "SerializationException");
    // A malformed ARN is the service's own check: after the shape too.
    let both = api
        .call(
            "DescribeExecution",
            &json!({"executionArn": "not-an-arn", "includedData": 1}),
        )
        .await;
    assert_eq!(kind(both), "SerializationException");
    // Service-side checks among themselves keep their order: the resource before the token.
    let both = api
        .call(
            "GetExecutionHistory",
            &json!({"executionArn": nope_execution, "nextToken": "bogus"}),
        )
        .await;
    assert_eq!(kind(both), "ExecutionDoesNotExist");
}

#[tokio::test]
async fn the_routed_operations_answer_through_their_typed_requests() {
    let dir = tempfile::tempdir().expect("temp dir");
    let api = api(dir.path()).await;
    let page = api
        .call(
            "ListStateMachines",
            &json!({"maxResults": 1, "extra": true}),
        )
        .await
        .expect("list");
    assert_eq!(page["stateMachines"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["nextToken"], "sfn-local:1");
    let described = api
        .call("DescribeStateMachine", &json!({"stateMachineArn": MACHINE}))
        .await
        .expect("describe");
    assert_eq!(described["stateMachineArn"], MACHINE);
    let err = api
        .call("StartSyncExecution", &json!({}))
        .await
        .expect_err("no state machine");
    assert_eq!(err.kind, "ValidationException");
    let err = api
        .call("ListExecutions", &json!([]))
        .await
        .expect_err("not an object");
    assert_eq!(err.kind, "SerializationException");
}

#[test]
fn pages_and_tokens() {
    let items: Vec<Value> = (0..5).map(|i| json!(i)).collect();
    let (p, next) = paginate(items.clone(), 0, 2);
    assert_eq!(p, vec![json!(0), json!(1)]);
    assert_eq!(next.as_deref(), Some("sfn-local:2"));
    let (p, next) = paginate(items, 4, 2);
    assert_eq!(p, vec![json!(4)]);
    assert_eq!(next, None);
}

#[test]
fn loopback_only_unless_allowed() {
    assert!(check_host("127.0.0.1", false).is_ok());
    assert!(check_host("::1", false).is_ok());
    assert!(check_host("localhost", false).is_ok());
    let err = check_host("0.0.0.0", false).unwrap_err().to_string();
    assert!(err.contains("--allow-remote"), "{err}");
    assert!(check_host("0.0.0.0", true).is_ok());
}

#[test]
fn dates_become_epoch_seconds() {
    let mut v = json!({"startDate": "2026-11-25T06:10:00.123000+00:00", "name": "x"});
    epoch_dates(&mut v);
    assert_eq!(v["startDate"], json!(1795587000.123));
    assert_eq!(v["name"], "x");
}

#[tokio::test]
async fn set_faults_takes_the_ses_events_classes_and_refuses_an_unknown_one() {
    let dir = tempfile::tempdir().unwrap();
    let api = api(dir.path()).await;
    let set = json!({"faults": ["ses-events=lost:1", "ses-events=out-of-order:always"]});
    assert_eq!(api.set_faults(&set).unwrap(), set);
    let err = api
        .set_faults(&json!({"faults": ["ses-events=sometimes:1"]}))
        .unwrap_err();
    assert!(err.message.contains("ses-events"), "{err:?}");
    assert_eq!(
        api.set_faults(&json!({"faults": []})).unwrap()["faults"],
        json!([])
    );
}
