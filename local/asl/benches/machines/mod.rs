//! The benchmark workloads, shared by the criterion bench (`engine`) and the side-by-side runner
//! (`run-definition`), so both measure exactly the same definitions and inputs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use asl::engine::{ExecutionContext, TaskDispatcher, TaskFailure, TaskRequest};
use asl::{Engine, Execution, HistorySink, NoHistory, StateMachine, VecHistory, VirtualClock};
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Map, Value};

/// One workload: a definition, its input, and whether it needs the flaky task dispatcher.
pub struct Workload {
    pub name: &'static str,
    pub definition: Value,
    pub input: Value,
}

/// A chain of `n` Pass states, each with a Parameters template and a ResultPath merge.
pub fn pass_chain(n: usize) -> Workload {
    let mut states = Map::new();
    for i in 0..n {
        let mut s = json!({
            "Type": "Pass",
            "Parameters": {"orderId.$": "$.orderId", "step": i, "total.$": "$.total"},
            "ResultPath": "$.last",
        });
        if i + 1 < n {
            s["Next"] = json!(format!("Step{:03}", i + 1));
        } else {
            s["End"] = json!(true);
        }
        states.insert(format!("Step{i:03}"), s);
    }
    Workload {
        name: "pass_chain",
        definition: json!({"StartAt": "Step000", "States": states}),
        input: json!({"orderId": "order-0001", "total": 42.5, "currency": "EUR"}),
    }
}

/// A loop of `rounds` Choice + Pass: the Choice checks eight rules (presence, types, strings,
/// numbers, And/Or/Not) before the loop condition matches, as the batch machine's classifier does.
pub fn choice_loop(rounds: u64) -> Workload {
    let definition = json!({
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Result": 0, "ResultPath": "$.count", "Next": "Classify"},
            "Classify": {
                "Type": "Choice",
                "Choices": [
                    {"Not": {"Variable": "$.record.eventName", "IsPresent": true}, "Next": "Malformed"},
                    {"Not": {"Variable": "$.record.eventName", "IsString": true}, "Next": "Malformed"},
                    {"Not": {"Variable": "$.record.eventName", "StringEquals": "INSERT"}, "Next": "Malformed"},
                    {"Variable": "$.record.eventID", "StringEquals": "", "Next": "Malformed"},
                    {"And": [
                        {"Variable": "$.record.dynamodb.Keys.orderId.S", "IsPresent": true},
                        {"Variable": "$.record.dynamodb.Keys.orderId.S", "StringMatches": "paid-*"}
                    ], "Next": "Malformed"},
                    {"Or": [
                        {"Variable": "$.amount", "NumericLessThan": 0},
                        {"Variable": "$.amount", "NumericGreaterThan": 1000000}
                    ], "Next": "Malformed"},
                    {"Variable": "$.count", "NumericGreaterThanEquals": rounds, "Next": "Done"},
                    {"Variable": "$.count", "NumericLessThan": rounds, "Next": "Increment"}
                ],
                "Default": "Malformed"
            },
            "Increment": {
                "Type": "Pass",
                "Parameters": {"v.$": "States.MathAdd($.count, 1)"},
                "ResultPath": "$.next",
                "Next": "Store"
            },
            "Store": {"Type": "Pass", "InputPath": "$.next.v", "ResultPath": "$.count", "Next": "Classify"},
            "Malformed": {"Type": "Fail", "Error": "Malformed"},
            "Done": {"Type": "Succeed"}
        }
    });
    Workload {
        name: "choice_loop",
        definition,
        input: json!({
            "amount": 120.5,
            "record": {
                "eventName": "INSERT",
                "eventID": "e-1",
                "dynamodb": {"Keys": {"orderId": {"S": "order-0001"}}}
            }
        }),
    }
}

/// An inline Map over `n` stream-record-like items: ItemSelector, a Choice and a Pass per item.
pub fn map_items(n: usize) -> Workload {
    let items: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "eventID": format!("e-{i}"),
                "eventName": if i % 10 == 0 { "MODIFY" } else { "INSERT" },
                "dynamodb": {"Keys": {"orderId": {"S": format!("order-{i:04}")}}}
            })
        })
        .collect();
    Workload {
        name: "map",
        definition: json!({
            "StartAt": "EachRecord",
            "States": {
                "EachRecord": {
                    "Type": "Map",
                    "ItemsPath": "$.records",
                    "ItemSelector": {"index.$": "$$.Map.Item.Index", "record.$": "$$.Map.Item.Value"},
                    "MaxConcurrency": 10,
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "INLINE"},
                        "StartAt": "Classify",
                        "States": {
                            "Classify": {
                                "Type": "Choice",
                                "Choices": [
                                    {"Variable": "$.record.eventName", "StringEquals": "INSERT", "Next": "Keep"}
                                ],
                                "Default": "Skip"
                            },
                            "Keep": {
                                "Type": "Pass",
                                "Parameters": {
                                    "index.$": "$.index",
                                    "orderId.$": "$.record.dynamodb.Keys.orderId.S",
                                    "outcome": "processed"
                                },
                                "End": true
                            },
                            "Skip": {
                                "Type": "Pass",
                                "Parameters": {"index.$": "$.index", "outcome": "skipped"},
                                "End": true
                            }
                        }
                    },
                    "End": true
                }
            }
        }),
        input: json!({"records": items}),
    }
}

/// `tasks` Task states, each failing `failures` times with TransientError before it succeeds,
/// with the project's Retry policy (back-off 2.0, FULL jitter) on the virtual clock.
pub fn retry_chain(tasks: usize, failures: u64) -> Workload {
    let mut states = Map::new();
    for i in 0..tasks {
        let mut s = json!({
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": format!("flaky-{failures}"), "Payload": {"orderId.$": "$.orderId"}},
            "ResultSelector": {"ok.$": "$.Payload.ok"},
            "ResultPath": format!("$.step{i}"),
            "TimeoutSeconds": 30,
            "Retry": [{
                "ErrorEquals": ["Lambda.ServiceException", "TransientError"],
                "IntervalSeconds": 1, "BackoffRate": 2.0, "MaxAttempts": 5,
                "MaxDelaySeconds": 20, "JitterStrategy": "FULL"
            }],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
        });
        if i + 1 < tasks {
            s["Next"] = json!(format!("Task{}", i + 1));
        } else {
            s["End"] = json!(true);
        }
        states.insert(format!("Task{i}"), s);
    }
    states.insert(
        "Failed".into(),
        json!({"Type": "Fail", "Error": "Unexpected"}),
    );
    Workload {
        name: "retry",
        definition: json!({"StartAt": "Task0", "States": states}),
        input: json!({"orderId": "order-0001"}),
    }
}

/// Fails each task's first `n` attempts with TransientError (n from the function name
/// `flaky-<n>`), counting attempts per state in the Context object's RetryCount.
pub struct FlakyDispatcher {
    pub calls: AtomicU64,
}

#[async_trait]
impl TaskDispatcher for FlakyDispatcher {
    async fn invoke(&self, req: TaskRequest) -> Result<Value, TaskFailure> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let failures: u64 = req.parameters["FunctionName"]
            .as_str()
            .and_then(|f| f.strip_prefix("flaky-"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let retry = req
            .context
            .pointer("/State/RetryCount")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if retry < failures {
            return Err(TaskFailure {
                error: "TransientError".into(),
                cause: Some("{\"errorMessage\":\"throttled\"}".into()),
            });
        }
        Ok(json!({"StatusCode": 200, "Payload": {"ok": true}}))
    }
}

pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// An engine with the flaky dispatcher and a fresh virtual clock.
pub fn engine() -> Engine {
    Engine::new(
        Arc::new(FlakyDispatcher {
            calls: AtomicU64::new(0),
        }),
        Arc::new(VirtualClock::new(start_time())),
    )
}

pub fn machine(w: &Workload) -> StateMachine {
    match StateMachine::from_value(w.definition.clone()) {
        Ok(sm) => sm,
        Err(e) => panic!("bench definition {} is invalid: {e}", w.name),
    }
}

/// One execution, history discarded (what the timed loop runs).
pub async fn run_once(engine: &Engine, sm: &StateMachine, input: &Value) -> Execution {
    run_with(engine, sm, input, &NoHistory).await
}

pub async fn run_with(
    engine: &Engine,
    sm: &StateMachine,
    input: &Value,
    sink: &dyn HistorySink,
) -> Execution {
    let ctx = ExecutionContext::new("bench", "bench", start_time());
    engine.run(sm, input.clone(), ctx, sink).await
}

/// State transitions as AWS bills them: every state entered, plus every retry attempt.
pub async fn transitions(engine: &Engine, sm: &StateMachine, input: &Value) -> (u64, Execution) {
    let history = VecHistory::new();
    let execution = run_with(engine, sm, input, &history).await;
    let events = history.events();
    let entered = events
        .iter()
        .filter(|e| e.r#type.ends_with("StateEntered"))
        .count() as u64;
    let scheduled = events
        .iter()
        .filter(|e| e.r#type == "TaskScheduled")
        .count() as u64;
    let task_entered = events
        .iter()
        .filter(|e| e.r#type == "TaskStateEntered")
        .count() as u64;
    (entered + scheduled.saturating_sub(task_entered), execution)
}
