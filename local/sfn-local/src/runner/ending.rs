//! Ending an execution no engine will finish: StopExecution (ABORTED), and on opening the recovery
//! of every RUNNING execution whose runner died (FAILED, States.Runtime); both redrivable.

use asl::{Checkpoint, HistoryEvent};
use serde_json::{json, Value};

use crate::error::RunnerError;
use crate::store::ExecutionRecord;

use super::Core;

/// Why an execution ended without the engine: a stop request, or the runner that ran it died.
const STOPPED_CAUSE: &str = "sfn-local stopped during the execution (its process ended before the \
execution did); redrive it to run it again from the state that was running";
impl Core {
    /// Ends a RUNNING execution that no engine will finish (stopped, or its runner died): ABORTED
    /// with the caller's error/cause, or FAILED with States.Runtime; either way redrivable (from the
    /// last failure's checkpoint, or from the start). `events` are the run's history so far.
    pub(super) fn end_record(
        &self,
        record: &mut ExecutionRecord,
        stopped: Option<(Option<String>, Option<String>)>,
        events: Vec<Value>,
    ) {
        record.history.extend(events);
        let id = record
            .history
            .last()
            .and_then(|e| e.get("id"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let now = self.clock.now();
        let (status, event, error, cause) = match stopped {
            Some((error, cause)) => ("ABORTED", "ExecutionAborted", error, cause),
            None => (
                "FAILED",
                "ExecutionFailed",
                Some("States.Runtime".to_string()),
                Some(STOPPED_CAUSE.to_string()),
            ),
        };
        let mut details = serde_json::Map::new();
        if let Some(e) = &error {
            details.insert("error".into(), json!(e));
        }
        if let Some(c) = &cause {
            details.insert("cause".into(), json!(c));
        }
        let event = HistoryEvent {
            timestamp: now,
            r#type: event.into(),
            id: id + 1,
            previous_event_id: id,
            details: if details.is_empty() {
                Value::Null
            } else {
                Value::Object(details)
            },
        };
        if let Ok(v) = serde_json::to_value(&event) {
            record.history.push(v);
        }
        record.status = status.into();
        record.error = error;
        record.cause = cause;
        record.stop_date = Some(now);
        record.owner = None;
        if record.checkpoint.is_none() {
            record.checkpoint = Some(Checkpoint {
                input: record.input.clone(),
                ..Default::default()
            });
        }
    }

    /// Ends an execution whose owner died (seen while waiting for it).
    pub(super) async fn end_orphan(
        &self,
        record: ExecutionRecord,
        _error: Option<String>,
        _cause: Option<String>,
    ) -> Result<ExecutionRecord, RunnerError> {
        let _lock = self.store.lock().await?;
        let mut now = self
            .store
            .get_execution(&record.state_machine_name, &record.name)?
            .ok_or_else(|| RunnerError::ExecutionDoesNotExist(record.execution_arn.clone()))?;
        if now.is_running() && now.owner == record.owner {
            self.end_record(&mut now, None, Vec::new());
            self.store.put_execution(&now)?;
            self.status_changed(&now);
        }
        Ok(now)
    }

    /// On opening: every RUNNING execution whose runner is gone (killed, crashed) is ended as
    /// FAILED (States.Runtime) and so becomes redrivable; nothing else is touched.
    pub(super) async fn recover(&self) -> Result<(), RunnerError> {
        let _lock = self.store.lock().await?;
        for machine in self.store.machines()? {
            let running = self
                .store
                .list_executions_page(&machine, None, usize::MAX, |s| s.status == "RUNNING")?;
            for summary in running.0 {
                let Some(mut record) = self.store.get_execution(&machine, &summary.name)? else {
                    continue;
                };
                if !record.is_running() {
                    continue;
                }
                let alive = match record.owner.as_deref() {
                    Some(o) => o == self.lease.id() || self.store.owner_alive(o),
                    // Written before leases existed: nobody can be running it now.
                    None => false,
                };
                if !alive {
                    tracing::warn!(executionArn = %record.execution_arn, "execution cut off by a stopped sfn-local: marked FAILED, redrivable");
                    self.end_record(&mut record, None, Vec::new());
                    self.store.put_execution(&record)?;
                    self.status_changed(&record);
                }
            }
        }
        Ok(())
    }

    /// StopExecution.
    pub(super) async fn stop(
        &self,
        execution_arn: &str,
        error: Option<String>,
        cause: Option<String>,
    ) -> Result<ExecutionRecord, RunnerError> {
        let _lock = self.store.lock().await?;
        let mut record = self.execution(execution_arn)?;
        if !record.is_running() {
            return Ok(record);
        }
        // With the store locked the run cannot store its outcome: abort it, keep its events.
        let events = match self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&record.execution_arn)
        {
            Some(r) => {
                if let Some(a) = &r.abort {
                    a.abort();
                }
                let events = std::mem::take(
                    &mut *r.recorder.events.lock().unwrap_or_else(|p| p.into_inner()),
                );
                events
            }
            None => Vec::new(),
        };
        self.end_record(&mut record, Some((error, cause)), events);
        self.store.put_execution(&record)?;
        self.status_changed(&record);
        Ok(record)
    }
}
