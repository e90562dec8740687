//! build-failed-header: the header it builds, in-process and on the wire through the real binary.

use serde_json::json;
use test_support::{invoke_binary, Invocation};

fn event() -> serde_json::Value {
    serde_json::from_str(include_str!(
        "../../../events/functions/build-failed-header.json"
    ))
    .unwrap()
}

#[tokio::test]
async fn builds_the_documented_header_from_the_event_file() {
    let out = build_failed_header::handle(event()).await.unwrap();
    assert_eq!(
        serde_json::to_value(out).unwrap(),
        json!({"paymentHeader": {"paymentId": "ch_3QfA1b2C3d4E5f6G", "paymentMethod": "card",
            "isPaid": false, "totalPaid": 0, "status": "failed", "timestamp": "2026-11-25T06:10:00Z"}})
    );
    // Same input, same header: a redrive rebuilds it identically.
    assert_eq!(
        build_failed_header::handle(event()).await.unwrap(),
        build_failed_header::handle(event()).await.unwrap()
    );
}

#[tokio::test]
async fn malformed_inputs_are_invalid_input() {
    let mut no_timestamp = event();
    no_timestamp.as_object_mut().unwrap().remove("timestamp");
    let mut bad_timestamp = event();
    bad_timestamp["timestamp"] = json!("25/11/2026");
    let mut no_charge = event();
    no_charge["checkStatus"]["chargeId"] = json!("");
    let mut no_check = event();
    no_check.as_object_mut().unwrap().remove("checkStatus");
    for bad in [no_timestamp, bad_timestamp, no_charge, no_check, json!("x")] {
        let err = build_failed_header::handle(bad.clone()).await.unwrap_err();
        assert_eq!(err.error_type(), "InvalidInput", "{bad}");
    }
}

#[tokio::test]
async fn binary_answers_and_reports_invalid_input_on_the_wire() {
    let bin = env!("CARGO_BIN_EXE_build-failed-header");
    let run = invoke_binary(bin, &[], &event()).await;
    let Invocation::Response(body) = run.invocation else {
        panic!("{:?} {}", run.invocation, run.stderr)
    };
    assert_eq!(body["paymentHeader"]["paymentId"], "ch_3QfA1b2C3d4E5f6G");
    let mut bad = event();
    bad["timestamp"] = json!("soon");
    let run = invoke_binary(bin, &[], &bad).await;
    let Invocation::Error(body) = run.invocation else {
        panic!("{:?}", run.invocation)
    };
    assert_eq!(body["errorType"], "InvalidInput");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("timestamp \"soon\" is not an RFC 3339 date-time"),
        "{body}"
    );
}
