//! What happened to each state of an execution, read off its history: succeeded, failed, caught,
//! retried N times, running, not reached; with each state's last input/output and error/cause.

use std::collections::{BTreeMap, HashMap};

use crate::sfn::Event;

/// A state's mark on the graph (its latest outcome).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mark {
    /// Its last entry exited.
    Succeeded,
    /// It failed and the failure was not caught.
    Failed,
    /// It failed and a Catch took the execution elsewhere.
    Caught,
    /// Entered, not exited yet.
    Running,
    /// Never entered.
    NotReached,
}

impl Mark {
    /// The mark's CSS class and label.
    pub fn as_str(self) -> &'static str {
        match self {
            Mark::Succeeded => "succeeded",
            Mark::Failed => "failed",
            Mark::Caught => "caught",
            Mark::Running => "running",
            Mark::NotReached => "not-reached",
        }
    }
}

/// Everything the history says about one state (summed over Map iterations and redrives).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct StateRun {
    /// Times the state was entered.
    pub entered: u32,
    /// Times it exited.
    pub succeeded: u32,
    /// Times it failed into a Catch.
    pub caught: u32,
    /// Times it failed uncaught.
    pub failed: u32,
    /// Task attempts after the first of an entry (the state's Retry).
    pub retries: u32,
    /// Its latest outcome.
    pub last: Option<Mark>,
    /// Its last input.
    pub input: Option<String>,
    /// Its last output.
    pub output: Option<String>,
    /// Its last error (the errorType).
    pub error: Option<String>,
    /// Its last error's cause.
    pub cause: Option<String>,
    /// Entries not exited yet.
    #[serde(skip)]
    pub open: u32,
    /// Failures of a task not yet followed by a retry, an exit (caught) or the execution's end.
    #[serde(skip)]
    pub pending_failures: u32,
}

impl StateRun {
    /// The state's mark on the graph; `NotReached` when it never ran.
    pub fn mark(&self) -> Mark {
        self.last.unwrap_or(Mark::NotReached)
    }

    /// E.g. "failed · retried 3", "succeeded ×4, caught ×1".
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if self.entered == 0 {
            return "not reached".into();
        }
        let counts = [
            ("succeeded", self.succeeded),
            ("caught", self.caught),
            ("failed", self.failed),
            ("running", self.open),
        ];
        let many = self.entered > 1;
        for (word, n) in counts {
            if n > 0 {
                parts.push(if many {
                    format!("{word} ×{n}")
                } else {
                    word.to_string()
                });
            }
        }
        let mut text = parts.join(", ");
        if self.retries > 0 {
            text.push_str(&format!(
                " · retried {} time{}",
                self.retries,
                if self.retries == 1 { "" } else { "s" }
            ));
        }
        text
    }
}

const SCHEDULED: [&str; 2] = ["TaskScheduled", "LambdaFunctionScheduled"];
const FAILURES: [&str; 8] = [
    "TaskFailed",
    "TaskTimedOut",
    "TaskStartFailed",
    "TaskSubmitFailed",
    "LambdaFunctionFailed",
    "LambdaFunctionTimedOut",
    "LambdaFunctionStartFailed",
    "LambdaFunctionScheduleFailed",
];
const EXECUTION_ENDS: [&str; 3] = ["ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"];

/// Per state name, what happened. A task event is attributed to a state through its
/// `previousEventId` chain back to the StateEntered event (as AWS links them, Map iterations
/// interleaved or not).
pub fn state_runs(events: &[Event]) -> BTreeMap<String, StateRun> {
    let mut runs: BTreeMap<String, StateRun> = BTreeMap::new();
    let mut owner: HashMap<i64, String> = HashMap::new();
    let mut last_entered: Option<String> = None;
    for e in events {
        let state = if e.kind.ends_with("StateEntered") {
            e.state.clone()
        } else {
            e.state
                .clone()
                .or_else(|| owner.get(&e.previous_id).cloned())
                .or_else(|| {
                    (SCHEDULED.contains(&e.kind.as_str()) || FAILURES.contains(&e.kind.as_str()))
                        .then(|| last_entered.clone())
                        .flatten()
                })
        };
        if let Some(s) = &state {
            owner.insert(e.id, s.clone());
        }
        let kind = e.kind.as_str();
        if kind.ends_with("StateEntered") {
            let Some(name) = state else { continue };
            let run = runs.entry(name.clone()).or_default();
            run.entered += 1;
            run.open += 1;
            run.last = Some(Mark::Running);
            run.input = e.input.clone();
            last_entered = Some(name);
        } else if kind.ends_with("StateExited") {
            let Some(run) = state.and_then(|n| runs.get_mut(&n)) else {
                continue;
            };
            run.open = run.open.saturating_sub(1);
            run.output = e.output.clone();
            if run.pending_failures > 0 {
                run.pending_failures -= 1;
                run.caught += 1;
                run.last = Some(Mark::Caught);
            } else {
                run.succeeded += 1;
                run.last = Some(Mark::Succeeded);
            }
        } else if SCHEDULED.contains(&kind) {
            let Some(run) = state.and_then(|n| runs.get_mut(&n)) else {
                continue;
            };
            // A schedule after a failure in the same state is its Retry.
            if run.pending_failures > 0 {
                run.pending_failures -= 1;
                run.retries += 1;
            }
        } else if FAILURES.contains(&kind) {
            let Some(run) = state.and_then(|n| runs.get_mut(&n)) else {
                continue;
            };
            run.pending_failures += 1;
            run.error = e.error.clone();
            run.cause = e.cause.clone();
        } else if EXECUTION_ENDS.contains(&kind) {
            // Every state still open ended with the execution: failed (a redrive re-enters it).
            for run in runs.values_mut() {
                if run.open > 0 {
                    run.failed += run.open;
                    run.open = 0;
                    run.pending_failures = 0;
                    run.last = Some(Mark::Failed);
                    if run.error.is_none() {
                        run.error = e.error.clone();
                        run.cause = e.cause.clone();
                    }
                }
            }
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn ev(id: i64, previous_id: i64, kind: &str, state: Option<&str>) -> Event {
        Event {
            id,
            previous_id,
            timestamp: Utc::now(),
            kind: kind.into(),
            state: state.map(str::to_string),
            input: None,
            output: None,
            error: kind
                .ends_with("Failed")
                .then(|| "TransientError".to_string()),
            cause: kind
                .ends_with("Failed")
                .then(|| "SES throttled".to_string()),
        }
    }

    fn history_failing_then_redriven() -> Vec<Event> {
        vec![
            ev(1, 0, "ExecutionStarted", None),
            ev(2, 1, "TaskStateEntered", Some("LoadOrder")),
            ev(3, 2, "TaskScheduled", None),
            ev(4, 3, "TaskSucceeded", None),
            ev(5, 4, "TaskStateExited", Some("LoadOrder")),
            ev(6, 5, "TaskStateEntered", Some("NotifyFailure")),
            ev(7, 6, "TaskScheduled", None),
            ev(8, 7, "TaskFailed", None),
            ev(9, 8, "TaskScheduled", None),
            ev(10, 9, "TaskFailed", None),
            ev(11, 10, "ExecutionFailed", None),
        ]
    }

    #[test]
    fn a_failed_step_with_its_retries_and_the_steps_not_reached() {
        let runs = state_runs(&history_failing_then_redriven());
        assert_eq!(runs["LoadOrder"].mark(), Mark::Succeeded);
        let notify = &runs["NotifyFailure"];
        assert_eq!(notify.mark(), Mark::Failed);
        assert_eq!(notify.retries, 1);
        assert_eq!(notify.error.as_deref(), Some("TransientError"));
        assert_eq!(notify.summary(), "failed · retried 1 time");
        assert!(!runs.contains_key("SaveOrder"));
    }

    #[test]
    fn a_redrive_that_succeeds_marks_the_step_succeeded() {
        let mut events = history_failing_then_redriven();
        events.extend([
            ev(12, 11, "ExecutionRedriven", None),
            ev(13, 12, "TaskStateEntered", Some("NotifyFailure")),
            ev(14, 13, "TaskScheduled", None),
            ev(15, 14, "TaskSucceeded", None),
            ev(16, 15, "TaskStateExited", Some("NotifyFailure")),
            ev(17, 16, "ExecutionSucceeded", None),
        ]);
        let notify = &state_runs(&events)["NotifyFailure"];
        assert_eq!(notify.mark(), Mark::Succeeded);
        assert_eq!((notify.failed, notify.succeeded, notify.entered), (1, 1, 2));
    }

    #[test]
    fn a_failure_the_state_exits_from_is_caught() {
        let events = vec![
            ev(1, 0, "ExecutionStarted", None),
            ev(2, 1, "TaskStateEntered", Some("LoadOrder")),
            ev(3, 2, "TaskScheduled", None),
            ev(4, 3, "TaskFailed", None),
            ev(5, 4, "TaskStateExited", Some("LoadOrder")),
            ev(6, 5, "FailStateEntered", Some("OrderNotFound")),
            ev(7, 6, "ExecutionFailed", None),
        ];
        let runs = state_runs(&events);
        assert_eq!(runs["LoadOrder"].mark(), Mark::Caught);
        assert_eq!(runs["LoadOrder"].retries, 0);
        assert_eq!(runs["OrderNotFound"].mark(), Mark::Failed);
    }

    #[test]
    fn a_running_state_is_running() {
        let events = vec![
            ev(1, 0, "ExecutionStarted", None),
            ev(2, 1, "TaskStateEntered", Some("LoadOrder")),
            ev(3, 2, "TaskScheduled", None),
        ];
        assert_eq!(state_runs(&events)["LoadOrder"].mark(), Mark::Running);
    }
}
