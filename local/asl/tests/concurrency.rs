//! Map MaxConcurrency / Parallel scheduling and Retry's FULL jitter, on a virtual clock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use asl::{
    Clock, Engine, ExecutionContext, ExecutionStatus, HistoryEvent, StateMachine, TaskDispatcher,
    TaskFailure, TaskRequest, VecHistory, VirtualClock,
};
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

/// A task that stays in flight for a few scheduler turns and records how many calls overlap.
/// Item `n` waits `100 - n` turns, so later items finish first: order must come from the engine.
#[derive(Default)]
struct InFlight {
    now: AtomicUsize,
    max: AtomicUsize,
    calls: AtomicUsize,
}

#[async_trait]
impl TaskDispatcher for InFlight {
    async fn invoke(&self, req: TaskRequest) -> Result<Value, TaskFailure> {
        let cur = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(cur, Ordering::SeqCst);
        self.calls.fetch_add(1, Ordering::SeqCst);
        let n = req.parameters.as_u64().unwrap_or(0);
        for _ in 0..100u64.saturating_sub(n) {
            tokio::task::yield_now().await;
        }
        self.now.fetch_sub(1, Ordering::SeqCst);
        Ok(json!(n * 10))
    }
}

fn map_machine(max_concurrency: u64) -> StateMachine {
    StateMachine::from_value(json!({
        "StartAt": "Each",
        "States": {"Each": {
            "Type": "Map",
            "MaxConcurrency": max_concurrency,
            "ItemProcessor": {"StartAt": "Work", "States": {
                "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:w", "End": true}
            }},
            "End": true
        }}
    }))
    .unwrap()
}

async fn run_map(max_concurrency: u64, items: u64) -> (Arc<InFlight>, Value, Vec<HistoryEvent>) {
    let tasks = Arc::new(InFlight::default());
    let engine =
        Engine::new(tasks.clone(), Arc::new(VirtualClock::new(start()))).with_concurrency(true);
    let history = VecHistory::new();
    let input: Vec<u64> = (0..items).collect();
    let ex = engine
        .run(
            &map_machine(max_concurrency),
            json!(input),
            ExecutionContext::new("e", "m", start()),
            &history,
        )
        .await;
    assert_eq!(ex.status, ExecutionStatus::Succeeded, "{:?}", ex.cause);
    (tasks, ex.output.unwrap(), history.events())
}

#[tokio::test]
async fn map_runs_at_most_max_concurrency_iterations_at_once_in_item_order() {
    let (tasks, output, _) = run_map(2, 6).await;
    assert_eq!(tasks.max.load(Ordering::SeqCst), 2);
    assert_eq!(tasks.calls.load(Ordering::SeqCst), 6);
    assert_eq!(output, json!([0, 10, 20, 30, 40, 50]));

    let (tasks, output, _) = run_map(1, 4).await;
    assert_eq!(tasks.max.load(Ordering::SeqCst), 1);
    assert_eq!(output, json!([0, 10, 20, 30]));
}

#[tokio::test]
async fn map_without_max_concurrency_runs_all_iterations_at_once_up_to_the_inline_cap() {
    let (tasks, output, _) = run_map(0, 5).await;
    assert_eq!(tasks.max.load(Ordering::SeqCst), 5);
    assert_eq!(output, json!([0, 10, 20, 30, 40]));

    let (tasks, _, _) = run_map(0, 45).await;
    assert_eq!(
        tasks.max.load(Ordering::SeqCst),
        asl::engine::INLINE_MAP_MAX_CONCURRENCY
    );
}

#[tokio::test]
async fn concurrent_map_history_is_the_same_on_every_run() {
    let types = |events: Vec<HistoryEvent>| -> Vec<(String, Value)> {
        events.into_iter().map(|e| (e.r#type, e.details)).collect()
    };
    let (_, _, first) = run_map(3, 7).await;
    let (_, _, second) = run_map(3, 7).await;
    // Iterations overlap: the second starts before the first succeeds.
    let first = types(first);
    let pos = |ty: &str, index: u64| {
        first
            .iter()
            .position(|(t, d)| t == ty && d["index"] == json!(index))
            .unwrap()
    };
    assert!(pos("MapIterationStarted", 1) < pos("MapIterationSucceeded", 0));
    assert_eq!(first, types(second));
}

#[tokio::test]
async fn without_concurrency_iterations_run_one_after_another() {
    let tasks = Arc::new(InFlight::default());
    let engine = Engine::new(tasks.clone(), Arc::new(VirtualClock::new(start())));
    let ex = engine
        .run(
            &map_machine(5),
            json!([0, 1, 2, 3, 4]),
            ExecutionContext::new("e", "m", start()),
            &VecHistory::new(),
        )
        .await;
    assert_eq!(ex.output, Some(json!([0, 10, 20, 30, 40])));
    assert_eq!(tasks.max.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn parallel_branches_run_at_once_and_keep_branch_order() {
    let branch = |n: u64| {
        json!({"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:w",
            "Parameters": n, "End": true
        }}})
    };
    let sm = StateMachine::from_value(json!({
        "StartAt": "Both",
        "States": {"Both": {"Type": "Parallel", "Branches": [branch(1), branch(2), branch(3)], "End": true}}
    }))
    .unwrap();
    let tasks = Arc::new(InFlight::default());
    let engine =
        Engine::new(tasks.clone(), Arc::new(VirtualClock::new(start()))).with_concurrency(true);
    let ex = engine
        .run(
            &sm,
            json!({}),
            ExecutionContext::new("e", "m", start()),
            &VecHistory::new(),
        )
        .await;
    assert_eq!(ex.status, ExecutionStatus::Succeeded, "{:?}", ex.cause);
    assert_eq!(ex.output, Some(json!([10, 20, 30])));
    assert_eq!(tasks.max.load(Ordering::SeqCst), 3);
}

/// Always fails, noting the virtual time of each attempt.
struct Flaky {
    clock: Arc<VirtualClock>,
    attempts: Mutex<Vec<DateTime<Utc>>>,
}

#[async_trait]
impl TaskDispatcher for Flaky {
    async fn invoke(&self, _req: TaskRequest) -> Result<Value, TaskFailure> {
        self.attempts.lock().unwrap().push(self.clock.now());
        Err(TaskFailure {
            error: "Busy".into(),
            cause: None,
        })
    }
}

/// The delays (ms) between the attempts of a task retried 30 times with a 4 s interval.
async fn retry_delays(jitter: &str, seed: Option<u64>) -> Vec<i64> {
    let sm = StateMachine::from_value(json!({
        "StartAt": "T",
        "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f",
            "Retry": [{"ErrorEquals": ["Busy"], "IntervalSeconds": 4, "MaxAttempts": 30,
                       "BackoffRate": 1.0, "JitterStrategy": jitter}],
            "End": true
        }}
    }))
    .unwrap();
    let clock = Arc::new(VirtualClock::new(start()));
    let tasks = Arc::new(Flaky {
        clock: clock.clone(),
        attempts: Mutex::new(Vec::new()),
    });
    let mut engine = Engine::new(tasks.clone(), clock);
    if let Some(s) = seed {
        engine = engine.with_jitter_seed(s);
    }
    let ex = engine
        .run(
            &sm,
            json!({}),
            ExecutionContext::new("e", "m", start()),
            &VecHistory::new(),
        )
        .await;
    assert_eq!(ex.status, ExecutionStatus::Failed);
    let at = tasks.attempts.lock().unwrap().clone();
    assert_eq!(at.len(), 31);
    at.windows(2)
        .map(|w| (w[1] - w[0]).num_milliseconds())
        .collect()
}

#[tokio::test]
async fn full_jitter_waits_a_random_time_up_to_the_interval() {
    let delays = retry_delays("FULL", Some(1)).await;
    assert!(delays.iter().all(|d| (0..=4000).contains(d)), "{delays:?}");
    // Spread over the range, not a constant fraction of it.
    assert!(delays.iter().any(|d| *d < 1500), "{delays:?}");
    assert!(delays.iter().any(|d| *d > 2500), "{delays:?}");
    // Reproducible per seed, different across seeds.
    assert_eq!(delays, retry_delays("FULL", Some(1)).await);
    let other = retry_delays("FULL", Some(7)).await;
    assert!(other.iter().all(|d| (0..=4000).contains(d)), "{other:?}");
    assert_ne!(delays, other);
}

#[tokio::test]
async fn no_jitter_waits_the_whole_interval_and_unseeded_full_jitter_half_of_it() {
    assert_eq!(retry_delays("NONE", Some(1)).await, vec![4000; 30]);
    assert_eq!(retry_delays("FULL", None).await, vec![2000; 30]);
}

#[test]
fn task_resources_are_split_as_aws_history_shows_them() {
    use asl::engine::split_resource;
    assert_eq!(
        split_resource("arn:aws:states:::lambda:invoke"),
        ("lambda", "invoke")
    );
    assert_eq!(
        split_resource("arn:aws:states:::states:startExecution.sync:2"),
        ("states", "startExecution.sync:2")
    );
    let f = "arn:aws:lambda:us-east-1:111111111111:function:load-order";
    assert_eq!(split_resource(f), ("lambda", f));
    let a = "arn:aws:states:us-east-1:111111111111:activity:approve";
    assert_eq!(split_resource(a), ("activity", a));
}

#[tokio::test]
async fn task_history_carries_resource_type_and_timeout() {
    let sm = StateMachine::from_value(json!({
        "StartAt": "T",
        "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": 3, "TimeoutSeconds": 30, "End": true
        }}
    }))
    .unwrap();
    let engine = Engine::new(
        Arc::new(InFlight::default()),
        Arc::new(VirtualClock::new(start())),
    );
    let history = VecHistory::new();
    let ex = engine
        .run(
            &sm,
            json!({}),
            ExecutionContext::new("e", "m", start()),
            &history,
        )
        .await;
    assert_eq!(ex.status, ExecutionStatus::Succeeded, "{:?}", ex.cause);
    let events = history.events();
    let details = |ty: &str| {
        events
            .iter()
            .find(|e| e.r#type == ty)
            .map(|e| e.details.clone())
            .unwrap()
    };
    let scheduled = details("TaskScheduled");
    assert_eq!(scheduled["resourceType"], json!("lambda"));
    assert_eq!(scheduled["resource"], json!("invoke"));
    assert_eq!(scheduled["timeoutInSeconds"], json!(30));
    assert_eq!(scheduled["parameters"], json!("3"));
    let succeeded = details("TaskSucceeded");
    assert_eq!(succeeded["resourceType"], json!("lambda"));
    assert_eq!(succeeded["output"], json!("30"));
}
