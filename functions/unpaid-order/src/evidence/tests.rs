use serde_json::json;

use super::*;

fn ses_event(event_type: &str, own: serde_json::Value, tags: serde_json::Value) -> String {
    let member = SesEventKind::parse(event_type)
        .map(SesEventKind::detail_member)
        .unwrap_or("open");
    let mut detail = json!({
        "eventType": event_type,
        "mail": {
            "timestamp": "2026-11-25T06:10:01.000Z",
            "source": "payments@example.com",
            "messageId": "0100019ab-1",
            "destination": ["jane.doe@example.com"],
            "tags": tags,
        },
    });
    detail[member] = own;
    json!({
        "version": "0", "id": "ev-1", "detail-type": "Email Sent", "source": "aws.ses",
        "account": "123456789012", "time": "2026-11-25T06:10:02Z", "region": "us-east-1",
        "resources": [], "detail": detail,
    })
    .to_string()
}

fn our_tags() -> serde_json::Value {
    json!({
        "ses:configuration-set": ["payment3-unpaid-order-dev"],
        "emailLogKey": ["1_23a_23email"],
        "claimToken": ["tok-1"],
    })
}

#[test]
fn an_ses_event_names_its_claim_and_keeps_no_address() {
    let body = ses_event(
        "Bounce",
        json!({"bounceType": "Permanent", "bounceSubType": "General", "timestamp": "2026-11-25T06:10:05.000Z",
               "bouncedRecipients": [{"emailAddress": "jane.doe@example.com", "diagnosticCode": "550 jane.doe@example.com unknown"}]}),
        our_tags(),
    );
    let AwsEvent::Ses(e) = AwsEvent::parse(&body).unwrap() else {
        panic!("an SES event")
    };
    assert_eq!(e.kind, SesEventKind::Bounce);
    assert_eq!(e.claim.email_id, "1#a#email");
    assert_eq!(e.claim.token, "tok-1");
    assert_eq!(e.message_id, "0100019ab-1");
    assert_eq!(e.at, "2026-11-25T06:10:05.000Z");
    assert_eq!(e.summary, "bounceType=Permanent bounceSubType=General");
    assert!(!format!("{e:?}").contains("jane"), "{e:?}");
}

#[test]
fn events_without_our_tags_or_of_other_kinds_are_ignored_not_malformed() {
    let other_sender = ses_event("Send", json!({}), json!({"ses:configuration-set": ["x"]}));
    assert!(matches!(
        AwsEvent::parse(&other_sender).unwrap(),
        AwsEvent::Ignored { .. }
    ));
    let open = ses_event("Open", json!({}), our_tags());
    assert!(matches!(
        AwsEvent::parse(&open).unwrap(),
        AwsEvent::Ignored { .. }
    ));
    let ec2 = json!({"id": "x", "source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}});
    assert!(matches!(
        AwsEvent::parse(&ec2.to_string()).unwrap(),
        AwsEvent::Ignored { .. }
    ));
}

#[test]
fn malformed_bodies_say_what_is_wrong() {
    for (body, says) in [
        ("not json".to_string(), "not JSON"),
        (json!({"source": "aws.ses"}).to_string(), "`id`"),
        (
            json!({"id": "1", "source": "aws.ses", "detail-type": "Email Sent"}).to_string(),
            "`detail`",
        ),
        (
            json!({"id": "1", "source": "aws.ses", "detail-type": "Email Sent", "detail": {"eventType": "Send", "mail": {"timestamp": "t"}}}).to_string(),
            "messageId",
        ),
        (
            json!({"id": "1", "source": "aws.states", "detail-type": EXECUTION_STATUS_CHANGE, "detail": {"status": "DONE"}}).to_string(),
            "not an execution status",
        ),
    ] {
        let err = AwsEvent::parse(&body).unwrap_err();
        assert!(err.to_string().contains(says), "{err} (wanted {says})");
    }
}

fn status_change(status: &str, redrive_count: u64, input: serde_json::Value) -> String {
    json!({
        "version": "0", "id": format!("ev-{status}-{redrive_count}"),
        "detail-type": EXECUTION_STATUS_CHANGE, "source": "aws.states",
        "account": "123456789012", "time": "2026-11-25T06:10:02Z", "region": "us-east-1",
        "resources": ["arn:aws:states:us-east-1:123456789012:execution:process-unpaid-orders-dev:b1"],
        "detail": {
            "executionArn": "arn:aws:states:us-east-1:123456789012:execution:process-unpaid-orders-dev:b1",
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:process-unpaid-orders-dev",
            "name": "b1", "status": status,
            "startDate": 1_764_051_000_000_i64,
            "stopDate": if status == "RUNNING" { serde_json::Value::Null } else { json!(1_764_051_060_000_i64) },
            "input": input.to_string(), "inputDetails": {"included": true},
            "output": null, "outputDetails": null,
            "error": if status == "FAILED" { json!("RecordsNeedAnOperator") } else { serde_json::Value::Null },
            "cause": null, "redriveCount": redrive_count,
        },
    })
    .to_string()
}

#[test]
fn a_batch_execution_is_indexed_under_each_of_its_orders_with_their_records() {
    let batch = json!([
        {"eventID": "e1", "eventName": "INSERT", "dynamodb": {"Keys": {"orderId": {"S": "1"}}}},
        {"eventID": "e2", "eventName": "INSERT", "dynamodb": {"Keys": {"orderId": {"S": "2"}}}},
        {"eventID": "e3", "eventName": "INSERT", "dynamodb": {"Keys": {"orderId": {"S": "1"}}}},
        {"eventID": "e4", "eventName": "INSERT", "dynamodb": {"Keys": {}}},
    ]);
    let AwsEvent::Execution(e) = AwsEvent::parse(&status_change("FAILED", 0, batch)).unwrap()
    else {
        panic!("an execution event")
    };
    let entries = e.index_entries(e.input.as_deref().unwrap());
    let orders: Vec<_> = entries
        .iter()
        .map(|i| (i.order_id.as_str(), i.stream_event_ids.clone()))
        .collect();
    assert_eq!(
        orders,
        [
            ("1", vec!["e1".to_string(), "e3".to_string()]),
            ("2", vec!["e2".to_string()])
        ]
    );
    let one = &entries[0];
    assert_eq!(one.error.as_deref(), Some("RecordsNeedAnOperator"));
    assert_eq!(one.start_date, "2025-11-25T06:10:00.000Z");
    assert_eq!(one.stop_date.as_deref(), Some("2025-11-25T06:11:00.000Z"));
    assert_eq!(one.expires_at, 1_764_051_060 + 90 * 86_400);
}

#[test]
fn a_per_order_execution_names_its_batch_and_an_excluded_input_is_left_to_describe() {
    let input = json!({"orderId": "7", "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "arn:batch"});
    let AwsEvent::Execution(e) = AwsEvent::parse(&status_change("RUNNING", 0, input)).unwrap()
    else {
        panic!()
    };
    let entries = e.index_entries(e.input.as_deref().unwrap());
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].order_id, "7");
    assert_eq!(entries[0].started_by.as_deref(), Some("arn:batch"));
    assert_eq!(entries[0].stop_date, None);

    let mut big: serde_json::Value =
        serde_json::from_str(&status_change("SUCCEEDED", 0, json!({}))).unwrap();
    big["detail"]["input"] = serde_json::Value::Null;
    big["detail"]["inputDetails"]["included"] = json!(false);
    let AwsEvent::Execution(e) = AwsEvent::parse(&big.to_string()).unwrap() else {
        panic!()
    };
    assert_eq!(e.input, None);
}

#[test]
fn a_redrive_outranks_every_state_before_it() {
    let order = [
        rank(0, "RUNNING"),
        rank(0, "FAILED"),
        rank(1, "PENDING_REDRIVE"),
        rank(1, "RUNNING"),
        rank(1, "SUCCEEDED"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert_eq!(rank(0, "SUCCEEDED"), rank(0, "TIMED_OUT"));
}
