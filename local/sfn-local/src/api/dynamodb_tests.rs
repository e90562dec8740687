//! The offline DynamoDB API over index items written by the real recorder (record-event, in
//! process over the same state directory): Query and its paging, the failed-executions index,
//! GetItem, DescribeTable, and DynamoDB's refusals.

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};
use unpaid_order::evidence::publish::{execution_status_change, ExecutionState, Origin};

use super::super::{Api, ApiOptions};
use crate::functions::{EmbeddedFunctions, Functions};
use crate::runner::{Runner, RunnerOptions};
use crate::store::Store;

const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:process-unpaid-order-dev";
const INDEX: &str = "payment3-unpaid-order-index-dev";

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Status-change events of `n` executions of order `1` (the odd ones FAILED), recorded by
/// record-event on the embedded tables of `dir`.
async fn record_executions(dir: &std::path::Path, n: usize) {
    let functions = EmbeddedFunctions::new(
        Store::open(dir).unwrap(),
        root().join("events/tables"),
        String::new(),
        String::new(),
    );
    let start = Utc.with_ymd_and_hms(2026, 11, 25, 6, 0, 0).unwrap();
    let mut records = Vec::new();
    for i in 0..n {
        let name = format!("attempt-{i:02}");
        let arn = format!(
            "arn:aws:states:us-east-1:123456789012:execution:process-unpaid-order-dev:{name}"
        );
        let failed = i % 2 == 1;
        let state = ExecutionState {
            execution_arn: &arn,
            state_machine_arn: MACHINE,
            name: &name,
            status: if failed { "FAILED" } else { "SUCCEEDED" },
            start_date: start + chrono::Duration::minutes(i as i64),
            stop_date: Some(start + chrono::Duration::minutes(i as i64 + 1)),
            input: r#"{"orderId": "1"}"#,
            output: None,
            error: failed.then_some("TransientError"),
            cause: None,
            redrive_count: 0,
            redrive_date: None,
        };
        let event = execution_status_change(&state, &format!("ev-{i}"), start, &Origin::default());
        records.push(json!({"messageId": format!("m{i}"), "body": event.to_string()}));
    }
    let answer = functions
        .invoke("record-event", json!({ "Records": records }))
        .await
        .unwrap();
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
}

async fn api(dir: &std::path::Path) -> Api {
    let runner = Runner::open(RunnerOptions::new(root(), dir)).await.unwrap();
    Api::new(runner, ApiOptions::default())
}

async fn call(api: &Api, op: &str, body: Value) -> Result<Value, (String, String)> {
    api.dynamodb(op, &body)
        .await
        .map_err(|e| (e.kind.to_string(), e.message))
}

fn names(page: &Value) -> Vec<String> {
    page["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"]["S"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn queries_page_through_the_index_as_dynamodb_does() {
    let dir = tempfile::tempdir().unwrap();
    record_executions(dir.path(), 5).await;
    let api = api(dir.path()).await;
    let query = |start: Option<Value>, forward: bool| {
        let mut body = json!({
            "TableName": INDEX,
            "KeyConditionExpression": "#o = :o",
            "ExpressionAttributeNames": {"#o": "orderId"},
            "ExpressionAttributeValues": {":o": {"S": "1"}},
            "Limit": 2,
            "ScanIndexForward": forward,
        });
        if let Some(s) = start {
            body["ExclusiveStartKey"] = s;
        }
        body
    };
    let mut seen = Vec::new();
    let mut start = None;
    loop {
        let page = call(&api, "Query", query(start.clone(), true))
            .await
            .unwrap();
        seen.extend(names(&page));
        match page.get("LastEvaluatedKey") {
            Some(k) => start = Some(k.clone()),
            None => break,
        }
        assert!(seen.len() <= 6, "paging must end: {seen:?}");
    }
    let all: Vec<String> = (0..5).map(|i| format!("attempt-{i:02}")).collect();
    assert_eq!(seen, all, "every item once, by the sort key");
    let backwards = call(&api, "Query", query(None, false)).await.unwrap();
    assert_eq!(names(&backwards), ["attempt-04", "attempt-03"]);
    // Another order: nothing.
    let mut other = query(None, true);
    other["ExpressionAttributeValues"][":o"] = json!({"S": "2"});
    let empty = call(&api, "Query", other).await.unwrap();
    assert_eq!(
        (empty["Count"].clone(), empty.get("LastEvaluatedKey")),
        (json!(0), None)
    );
}

#[tokio::test]
async fn the_failed_executions_index_holds_only_what_failed() {
    let dir = tempfile::tempdir().unwrap();
    record_executions(dir.path(), 5).await;
    let api = api(dir.path()).await;
    let page = call(
        &api,
        "Query",
        json!({
            "TableName": INDEX,
            "IndexName": "failed-executions",
            "KeyConditionExpression": "failedMachine = :m AND startDate BETWEEN :a AND :b",
            "ExpressionAttributeValues": {
                ":m": {"S": "process-unpaid-order-dev"},
                ":a": {"S": "2026-11-25T06:02:00.000Z"},
                ":b": {"S": "2026-11-25T07:00:00.000Z"},
            },
        }),
    )
    .await
    .unwrap();
    assert_eq!(names(&page), ["attempt-03"], "FAILED and in the time range");
    assert_eq!(page["Items"][0]["error"]["S"], "TransientError");
    let consistent = call(
        &api,
        "Query",
        json!({
            "TableName": INDEX, "IndexName": "failed-executions", "ConsistentRead": true,
            "KeyConditionExpression": "failedMachine = :m",
            "ExpressionAttributeValues": {":m": {"S": "process-unpaid-order-dev"}},
        }),
    )
    .await
    .unwrap_err();
    assert!(
        consistent.1.contains("Consistent reads are not supported"),
        "{consistent:?}"
    );
}

#[tokio::test]
async fn get_item_describe_table_and_the_refusals() {
    let dir = tempfile::tempdir().unwrap();
    record_executions(dir.path(), 1).await;
    let api = api(dir.path()).await;
    let key = json!({"orderId": {"S": "1"}, "executionArn": {"S": "arn:aws:states:us-east-1:123456789012:execution:process-unpaid-order-dev:attempt-00"}});
    let got = call(&api, "GetItem", json!({"TableName": INDEX, "Key": key}))
        .await
        .unwrap();
    assert_eq!(got["Item"]["status"]["S"], "SUCCEEDED");
    let mut absent = key.clone();
    absent["orderId"] = json!({"S": "2"});
    assert_eq!(
        call(&api, "GetItem", json!({"TableName": INDEX, "Key": absent}))
            .await
            .unwrap(),
        json!({})
    );
    // A table by its ARN, with its schema and its index.
    let described = call(
        &api,
        "DescribeTable",
        json!({"TableName": format!("arn:aws:dynamodb:us-east-1:123456789012:table/{INDEX}")}),
    )
    .await
    .unwrap();
    assert_eq!(described["Table"]["ItemCount"], 1);
    assert_eq!(
        described["Table"]["KeySchema"][1]["AttributeName"],
        "executionArn"
    );
    assert_eq!(
        described["Table"]["GlobalSecondaryIndexes"][0]["IndexName"],
        "failed-executions"
    );
    let tables = call(&api, "ListTables", json!({})).await.unwrap();
    assert!(
        tables["TableNames"]
            .as_array()
            .unwrap()
            .contains(&json!("payment3-email-log-dev")),
        "{tables}"
    );

    let refused = |op: &'static str, body: Value| {
        let api = &api;
        async move { call(api, op, body).await.unwrap_err() }
    };
    let (kind, message) = refused("Query", json!({"TableName": "nope", "KeyConditionExpression": "orderId = :o", "ExpressionAttributeValues": {":o": {"S": "1"}}})).await;
    assert_eq!(
        kind,
        "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
    );
    assert!(message.contains("nope"), "{message}");
    let (kind, message) = refused(
        "GetItem",
        json!({"TableName": INDEX, "Key": {"orderId": {"S": "1"}}}),
    )
    .await;
    assert_eq!(kind, "com.amazonaws.dynamodb.v20120810#ValidationException");
    assert!(message.contains("does not match the schema"), "{message}");
    let (_, message) = refused("Query", json!({"TableName": INDEX, "KeyConditionExpression": "orderId = :o", "FilterExpression": "x = :o", "ExpressionAttributeValues": {":o": {"S": "1"}}})).await;
    assert!(message.contains("FilterExpression"), "{message}");
    let (_, message) = refused("Query", json!({"TableName": INDEX, "IndexName": "by-status", "KeyConditionExpression": "orderId = :o", "ExpressionAttributeValues": {":o": {"S": "1"}}})).await;
    assert!(
        message.contains("does not have the specified index"),
        "{message}"
    );
    let (kind, message) = refused("PutItem", json!({"TableName": INDEX, "Item": {}})).await;
    assert_eq!(kind, "com.amazon.coral.service#UnknownOperationException");
    assert!(message.contains("read-only"), "{message}");
    let (_, message) = refused("Query", json!({"KeyConditionExpression": "orderId = :o"})).await;
    assert!(message.contains("'tableName'"), "{message}");
}
