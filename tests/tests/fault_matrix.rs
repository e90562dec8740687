//! The fault matrix: each of the five steps under each kind of outage the fault switch can play
//! (TransientError twice, TransientError for good, Lambda.ServiceException, the function's own
//! timeout, a crash after the side effect). Each execution either succeeds or fails at that step,
//! redrivable; once the fault clears a redrive completes it, and the tables and outbox end exactly
//! as in the fault-free run (attempt timestamps aside).
//!
//! Timeouts: a Lambda function that runs out of time reaches a `lambda:invoke` task as
//! `Sandbox.Timedout` (Lambda's errorType); `States.Timeout` is only the task's own
//! `TimeoutSeconds` (30 s, never reached first: the functions stop at 10 s). The definition retries
//! both twice (every step is idempotent); both are played here.

use serde_json::Value;
use unpaid_order::memory::MemoryState;
use workflow_tests::*;

/// (binary, state) of the five steps, in order.
const STEPS: [(&str, &str); 5] = [
    ("load-order", "LoadOrder"),
    ("build-failed-header", "BuildFailedHeader"),
    ("save-order", "SaveOrder"),
    ("log-attempt", "LogAttempt"),
    ("notify-failure", "NotifyFailure"),
];

/// Both stored forms of the order document (map and JSON string).
const ORDERS: [&str; 2] = [UNPAID_ORDER, JSON_STRING_ORDER];

/// How a cell's first run must end.
#[derive(Clone, Copy)]
enum Expect {
    /// Retried through: SUCCEEDED with this many failed task attempts.
    Succeeds { failures: usize },
    /// FAILED at the faulted step with this error after this many failed attempts; redrivable.
    Fails {
        error: &'static str,
        failures: usize,
    },
}

fn name(order: &str) -> String {
    format!("{order}-fault")
}

/// Tables and outbox with what legitimately differs between runs taken out: the claim and send
/// times (wall clock), claim tokens and message ids, and each execution's start time (the header timestamp and the attempt
/// record's key: the virtual clock moved on during the first order's retries), SES's events
/// (timed on that clock) and the order index's redrive counts.
fn normalised(state: &MemoryState, starts: &[String]) -> Value {
    let mut state = state.clone();
    // Claim tokens and message ids are unique per invocation and per message, as on AWS.
    for item in &mut state.email_log {
        item.remove("claimedAt");
        item.remove("sentAt");
        item.remove("claimToken");
        item.remove("messageId");
    }
    // SES's events arrive on the virtual clock, which retries move on (a Delivery may be due by
    // the end of one run and not another's); they are checked in tests/tests/evidence.rs.
    for item in &mut state.email_log {
        item.remove(unpaid_order::evidence::items::SES_EVENTS);
        item.remove(unpaid_order::evidence::items::SES_EVENT_IDS);
    }
    // The index holds each execution's latest state: the same status, but a redriven one has
    // its redrive count (and so rank), another stop date and event.
    for item in &mut state.order_index {
        item.retain(|k, _| ["orderId", "executionArn", "status", "name"].contains(&k.as_str()));
    }
    for m in &mut state.outbox.sns {
        m.message_id.clear();
    }
    for m in &mut state.outbox.emails {
        m.message_id.clear();
        // The claim the email was sent under (its SES tags): one token per invocation.
        m.tags
            .retain(|(name, _)| name != unpaid_order::evidence::CLAIM_TOKEN_TAG);
    }
    let mut text = serde_json::to_string_pretty(&state).expect("state serialises");
    for start in starts {
        text = text.replace(start.as_str(), "<execution start>");
    }
    serde_json::from_str(&text).expect("still JSON")
}

/// Runs both orders under `fault` (fresh counters for each), redriving after the fault clears
/// when the run failed; returns the normalised end state.
async fn run_cell(faults: &[&str], step: &str, expect: Expect) -> Value {
    let h = Harness::embedded(faults).await;
    let mut starts = Vec::new();
    for order in ORDERS {
        h.set_faults(faults);
        let cell = format!("{faults:?} at {step}, order {order}");
        let r = h.run_order(order, &name(order)).await;
        let history = h
            .runner
            .get_execution_history(&r.execution_arn, false)
            .unwrap();
        match expect {
            Expect::Succeeds { failures } => {
                assert_eq!(r.status, "SUCCEEDED", "{cell}: {:?} {:?}", r.error, r.cause);
                assert_eq!(task_failures(&history).len(), failures, "{cell}");
            }
            Expect::Fails { error, failures } => {
                assert_eq!(r.status, "FAILED", "{cell}");
                assert_eq!(r.error.as_deref(), Some(error), "{cell}: {:?}", r.cause);
                assert_eq!(task_failures(&history).len(), failures, "{cell}");
                assert_eq!(
                    tasks_entered(&history).last().map(String::as_str),
                    Some(step),
                    "{cell}: failed at the faulted step"
                );
                let described = h.runner.describe_execution(&r.execution_arn).unwrap();
                assert_eq!(
                    described.describe()["redriveStatus"],
                    "REDRIVABLE",
                    "{cell}"
                );

                h.set_faults(&[]);
                let again = h.runner.redrive_execution(&r.execution_arn).await.unwrap();
                assert_eq!(
                    again.status, "SUCCEEDED",
                    "{cell} redriven: {:?} {:?}",
                    again.error, again.cause
                );
                let history = h
                    .runner
                    .get_execution_history(&r.execution_arn, false)
                    .unwrap();
                let redriven = history
                    .iter()
                    .position(|e| e["type"] == "ExecutionRedriven")
                    .expect("an ExecutionRedriven event");
                assert_eq!(
                    tasks_entered(&history[redriven..])
                        .first()
                        .map(String::as_str),
                    Some(step),
                    "{cell}: the redrive starts at the failed step"
                );
            }
        }
        let done = h.runner.describe_execution(&r.execution_arn).unwrap();
        let start = done.output.as_ref().expect("output")["failedHeader"]["paymentHeader"]
            ["timestamp"]
            .as_str()
            .expect("the header's timestamp")
            .to_string();
        starts.push(start);
    }
    normalised(&h.tables().await, &starts)
}

/// The reference: both orders without any fault.
async fn fault_free() -> Value {
    let state = run_cell(&[], "LoadOrder", Expect::Succeeds { failures: 0 }).await;
    // The reference itself did the work: both orders saved, logged and notified.
    assert_eq!(state["processUnpaidOrder"].as_array().unwrap().len(), 2);
    assert_eq!(state["outbox"]["sns"].as_array().unwrap().len(), 2);
    assert_eq!(state["outbox"]["emails"].as_array().unwrap().len(), 2);
    state
}

/// One column of the matrix: the same fault at each of the five steps.
async fn column(error_spec: &str, expect: Expect) {
    let reference = fault_free().await;
    for (binary, state) in STEPS {
        let spec = format!("{binary}={error_spec}");
        let end = run_cell(&[spec.as_str()], state, expect).await;
        assert_eq!(
            end, reference,
            "{spec}: the end state differs from the fault-free run"
        );
    }
}

#[tokio::test]
async fn transient_error_twice_is_retried_through() {
    column("TransientError:2", Expect::Succeeds { failures: 2 }).await;
}

#[tokio::test]
async fn transient_error_for_good_fails_at_the_step_and_redrives() {
    let expect = Expect::Fails {
        error: "TransientError",
        failures: 6,
    };
    column("TransientError:always", expect).await;
}

#[tokio::test]
async fn lambda_service_exception_fails_at_the_step_and_redrives() {
    let expect = Expect::Fails {
        error: "Lambda.ServiceException",
        failures: 6,
    };
    column("Lambda.ServiceException:always", expect).await;
}

#[tokio::test]
async fn function_timeout_is_retried_twice_and_redrives() {
    // Sandbox.Timedout shares the States.Timeout retrier: three attempts, then the execution
    // fails at the step.
    let expect = Expect::Fails {
        error: "Sandbox.Timedout",
        failures: 3,
    };
    column("Sandbox.Timedout:always", expect).await;
}

#[tokio::test]
async fn task_timeout_is_retried_twice_and_redrives() {
    let expect = Expect::Fails {
        error: "States.Timeout",
        failures: 3,
    };
    column("States.Timeout:always", expect).await;
}

#[tokio::test]
async fn crash_after_the_side_effect_repeats_nothing() {
    // Every invocation does its work and loses its answer: the retries and the redrive meet
    // their own earlier writes and claims.
    let expect = Expect::Fails {
        error: "TransientError",
        failures: 6,
    };
    column("TransientError:always:crash-after", expect).await;
}
