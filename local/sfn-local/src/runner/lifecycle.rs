//! An execution's life in this runner: created (or found running), run inline or in a task of its
//! own, waited for, finished and stored; redriven from its checkpoint.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use asl::{Checkpoint, Engine, ExecutionContext, TaskDispatcher};
use serde_json::Value;

use crate::error::RunnerError;
use crate::store::ExecutionRecord;
use crate::template::{ACCOUNT, REGION};

use super::names::{parse_execution_arn, validate_execution_name, MAX_INPUT_BYTES};
use super::{Core, Machine, Recorder, Running};

/// What `create` found.
pub(super) enum Created {
    New(ExecutionRecord),
    /// The same execution (name and input), already running.
    Existing(ExecutionRecord),
}

impl Core {
    pub(super) fn self_arc(&self) -> Option<Arc<Core>> {
        self.me.upgrade()
    }

    pub(super) fn machine(&self, name_or_arn: &str) -> Result<&Machine, RunnerError> {
        let m = self
            .template
            .state_machine(name_or_arn)
            .ok_or_else(|| RunnerError::StateMachineDoesNotExist(name_or_arn.to_string()))?;
        self.machines
            .iter()
            .find(|x| x.name == m.name)
            .ok_or_else(|| RunnerError::StateMachineDoesNotExist(name_or_arn.to_string()))
    }

    /// Map iterations run concurrently up to MaxConcurrency and FULL jitter draws a random delay,
    /// as on AWS. The jitter seed comes from the execution ARN and its redrive count: every
    /// execution gets its own delays, and a test sees the same ones on every run.
    pub(super) fn engine(self: &Arc<Self>, record: &ExecutionRecord) -> Engine {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        record.execution_arn.hash(&mut h);
        record.redrive_count.hash(&mut h);
        Engine::new(self.clone() as Arc<dyn TaskDispatcher>, self.clock.clone())
            .with_concurrency(true)
            .with_jitter_seed(h.finish())
    }

    pub(super) fn recorder(&self, record: &ExecutionRecord, offset: u64) -> Recorder {
        Recorder {
            events: Mutex::new(Vec::new()),
            offset,
            label: self
                .progress
                .then(|| format!("{}:{}", record.state_machine_name, record.name)),
        }
    }

    pub(super) fn context(&self, record: &ExecutionRecord) -> ExecutionContext {
        ExecutionContext {
            execution_arn: record.execution_arn.clone(),
            execution_name: record.name.clone(),
            start_time: record.start_date,
            state_machine_arn: record.state_machine_arn.clone(),
            state_machine_name: record.state_machine_name.clone(),
            role_arn: format!("arn:aws:iam::{ACCOUNT}:role/sfn-local"),
            redrive_count: record.redrive_count,
        }
    }

    /// Creates the execution, or finds the same one running (same name and input).
    pub(super) async fn create(
        &self,
        state_machine: &str,
        input: Value,
        name: Option<&str>,
        parent: Option<String>,
    ) -> Result<Created, RunnerError> {
        let machine = self.machine(state_machine)?;
        let name = match name {
            Some(n) => n.to_string(),
            None => uuid::Uuid::new_v4().to_string(),
        };
        validate_execution_name(&name)?;
        let size = input.to_string().len();
        if size > MAX_INPUT_BYTES {
            return Err(RunnerError::InvalidExecutionInput(format!(
                "the input is {size} bytes, over the {MAX_INPUT_BYTES}-byte limit"
            )));
        }
        let record = ExecutionRecord {
            execution_arn: format!(
                "arn:aws:states:{REGION}:{ACCOUNT}:execution:{}:{name}",
                machine.name
            ),
            state_machine_arn: machine.arn.clone(),
            state_machine_name: machine.name.clone(),
            name: name.clone(),
            status: "RUNNING".into(),
            input,
            output: None,
            error: None,
            cause: None,
            start_date: self.clock.now(),
            stop_date: None,
            redrive_count: 0,
            redrive_date: None,
            history: Vec::new(),
            checkpoint: None,
            parent_execution_arn: parent,
            owner: Some(self.lease.id().to_string()),
        };
        // Written and fsynced before the lock (concurrently with other executions' writes); put in
        // place under it, so the execution exists durably before its first step, as before.
        let prepared = self.store.prepare_execution(&record).await?;
        let _lock = self.store.lock().await?;
        if let Some(existing) = self.store.get_execution(&machine.name, &name)? {
            // AWS: the same name and input while it runs is the same execution (idempotent).
            if existing.is_running() && existing.input == record.input {
                return Ok(Created::Existing(existing));
            }
            return Err(RunnerError::ExecutionAlreadyExists(existing.execution_arn));
        }
        self.store.commit(prepared)?;
        self.status_changed(&record);
        if self.progress {
            eprintln!(
                "sfn-local: {}:{} started",
                record.state_machine_name, record.name
            );
        }
        Ok(Created::New(record))
    }

    /// Creates the execution (or finds the same one running), runs it and stores the outcome.
    pub(super) async fn start(
        self: &Arc<Self>,
        state_machine: &str,
        input: Value,
        name: Option<&str>,
        parent: Option<String>,
    ) -> Result<ExecutionRecord, RunnerError> {
        let ended = match self
            .create(state_machine, input, name, parent.clone())
            .await?
        {
            Created::Existing(r) => self.wait_for(&r).await,
            // Inline, in the caller's task: a nested execution runs within its parent's step.
            Created::New(r) => self.run_inline(r, None).await,
        };
        if parent.is_none() {
            // The caller's execution has ended: its end state is in the index (and every other
            // event that is due recorded) before the caller looks. A nested one's events go
            // with its parent's next Task, batched as the event source mapping batches them.
            self.pump_evidence(false).await;
        }
        ended
    }

    /// Notes a run of this runner (for StopExecution and live history); returns its id.
    pub(super) fn register(&self, arn: &str, recorder: Arc<Recorder>) -> u64 {
        let id = self.run_ids.fetch_add(1, Ordering::Relaxed);
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                arn.to_string(),
                Running {
                    id,
                    abort: None,
                    recorder,
                },
            );
        id
    }

    pub(super) fn unregister(&self, arn: &str, id: u64) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.get(arn).is_some_and(|r| r.id == id) {
            running.remove(arn);
        }
    }

    /// Runs `record` (from its start, or redriven from a checkpoint) in the caller's task.
    pub(super) async fn run_inline(
        self: &Arc<Self>,
        record: ExecutionRecord,
        redrive: Option<(Checkpoint, u64)>,
    ) -> Result<ExecutionRecord, RunnerError> {
        let offset = redrive.as_ref().map(|(_, o)| *o).unwrap_or(0);
        let recorder = Arc::new(self.recorder(&record, offset));
        let arn = record.execution_arn.clone();
        let id = self.register(&arn, recorder.clone());
        let result = self.execute(record, redrive, &recorder).await;
        self.unregister(&arn, id);
        result
    }

    /// Runs `record` in a task of its own, so that the API returns at once and StopExecution can
    /// end it.
    pub(super) fn spawn_run(
        self: &Arc<Self>,
        record: ExecutionRecord,
        redrive: Option<(Checkpoint, u64)>,
    ) {
        let offset = redrive.as_ref().map(|(_, o)| *o).unwrap_or(0);
        let recorder = Arc::new(self.recorder(&record, offset));
        let arn = record.execution_arn.clone();
        let id = self.register(&arn, recorder.clone());
        let core = self.clone();
        let task_arn = arn.clone();
        let handle = tokio::spawn(async move {
            let result = core.execute(record, redrive, &recorder).await;
            core.pump_evidence(false).await;
            core.unregister(&task_arn, id);
            if let Err(e) = &result {
                tracing::error!(executionArn = %task_arn, error = %e, "execution could not be stored");
            }
        });
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = running.get_mut(&arn).filter(|r| r.id == id) {
            r.abort = Some(handle.abort_handle());
        }
    }

    /// The engine run of a created (or redriven) execution, and its outcome stored.
    pub(super) async fn execute(
        self: &Arc<Self>,
        record: ExecutionRecord,
        redrive: Option<(Checkpoint, u64)>,
        sink: &Recorder,
    ) -> Result<ExecutionRecord, RunnerError> {
        let machine = self.machine(&record.state_machine_name)?;
        let execution = match &redrive {
            None => {
                self.engine(&record)
                    .run(
                        &machine.definition,
                        record.input.clone(),
                        self.context(&record),
                        sink,
                    )
                    .await
            }
            Some((checkpoint, _)) => {
                self.engine(&record)
                    .redrive(&machine.definition, checkpoint, self.context(&record), sink)
                    .await
            }
        };
        self.finish(record, execution, sink).await
    }

    /// Polls the store until another invocation's run of the execution ends, for at most a Standard
    /// workflow's time here (the machines' TimeoutSeconds is 900 s) plus a margin: a run whose process
    /// died stays RUNNING in the store, and this must not wait for it forever.
    pub(super) async fn wait_for(
        &self,
        record: &ExecutionRecord,
    ) -> Result<ExecutionRecord, RunnerError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(960);
        loop {
            let now = self
                .store
                .get_execution(&record.state_machine_name, &record.name)?
                .ok_or_else(|| RunnerError::ExecutionDoesNotExist(record.execution_arn.clone()))?;
            if !now.is_running() {
                return Ok(now);
            }
            if now
                .owner
                .as_deref()
                .is_some_and(|o| o != self.lease.id() && !self.store.owner_alive(o))
            {
                return self.end_orphan(now, None, None).await;
            }
            if std::time::Instant::now() >= deadline {
                return Err(RunnerError::Backend(format!(
                    "execution {} is still RUNNING in {}: the process running it may have died",
                    record.execution_arn,
                    self.store.root().display()
                )));
            }
            // Another process runs it on its own clock: poll in real time.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    pub(super) async fn finish(
        &self,
        mut record: ExecutionRecord,
        execution: asl::Execution,
        sink: &Recorder,
    ) -> Result<ExecutionRecord, RunnerError> {
        let status = serde_json::to_value(execution.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "FAILED".into());
        record.status = status;
        record.output = execution.output;
        record.error = execution.error;
        record.cause = execution.cause;
        record.stop_date = Some(self.clock.now());
        record.checkpoint = Some(execution.checkpoint);
        record.owner = None;
        record.history.extend(std::mem::take(
            &mut *sink.events.lock().unwrap_or_else(|p| p.into_inner()),
        ));
        if self.progress {
            eprintln!(
                "sfn-local: {}:{} {}{}",
                record.state_machine_name,
                record.name,
                record.status,
                record
                    .error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            );
        }
        // As in `create`: synced outside the lock, renamed in place under it.
        let prepared = self.store.prepare_execution(&record).await?;
        let _lock = self.store.lock().await?;
        if let Some(stored) = self
            .store
            .get_execution(&record.state_machine_name, &record.name)?
            .filter(|s| s.status == "ABORTED" && s.redrive_count == record.redrive_count)
        {
            // StopExecution ended it while the engine ran inline: that is its end.
            return Ok(stored);
        }
        self.store.commit(prepared)?;
        self.status_changed(&record);
        Ok(record)
    }

    /// The stored record of `execution_arn`, or AWS's ExecutionDoesNotExist.
    pub(super) fn execution(&self, execution_arn: &str) -> Result<ExecutionRecord, RunnerError> {
        let (sm, name) = parse_execution_arn(execution_arn)?;
        let machine = self.machine(&sm)?;
        self.store
            .get_execution(&machine.name, &name)?
            .ok_or_else(|| {
                RunnerError::ExecutionDoesNotExist(format!(
                    "Execution Does Not Exist: '{execution_arn}'"
                ))
            })
    }

    /// Marks a redrivable execution RUNNING again: (the record, its checkpoint, the last event id).
    pub(super) async fn prepare_redrive(
        &self,
        execution_arn: &str,
    ) -> Result<(ExecutionRecord, Checkpoint, u64), RunnerError> {
        let _lock = self.store.lock().await?;
        let mut record = self.execution(execution_arn)?;
        if !record.redrivable() {
            return Err(RunnerError::ExecutionNotRedrivable(format!(
                "Execution {} is {} and cannot be redriven",
                record.execution_arn, record.status
            )));
        }
        let checkpoint = record.checkpoint.clone().unwrap_or_default();
        let offset = record
            .history
            .last()
            .and_then(|e| e.get("id"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        record.status = "RUNNING".into();
        record.redrive_count += 1;
        record.redrive_date = Some(self.clock.now());
        record.stop_date = None;
        record.error = None;
        record.cause = None;
        record.owner = Some(self.lease.id().to_string());
        self.store.put_execution(&record)?;
        self.status_changed(&record);
        if self.progress {
            eprintln!(
                "sfn-local: {}:{} redriven",
                record.state_machine_name, record.name
            );
        }
        Ok((record, checkpoint, offset))
    }

    pub(super) async fn redrive(
        self: &Arc<Self>,
        execution_arn: &str,
    ) -> Result<ExecutionRecord, RunnerError> {
        let (record, checkpoint, offset) = self.prepare_redrive(execution_arn).await?;
        let ended = self.run_inline(record, Some((checkpoint, offset))).await;
        self.pump_evidence(false).await;
        ended
    }
}
