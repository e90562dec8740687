//! The embedded store: a state directory of JSON files. Every write goes to a temporary file that is
//! then renamed over the old one (a crash leaves the old or the new file, never half of one), and
//! every read-modify-write holds the directory's lock file, so several CLI invocations can share it.

pub(crate) mod group_commit;
pub mod journal;
pub(crate) mod order_index;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use asl::Checkpoint;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::RunnerError;

/// An execution as the store keeps it: what DescribeExecution and GetExecutionHistory report, plus
/// the engine's checkpoint for a redrive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionRecord {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub state_machine_name: String,
    pub name: String,
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED.
    pub status: String,
    pub input: Value,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start_date: DateTime<Utc>,
    pub stop_date: Option<DateTime<Utc>>,
    pub redrive_count: u32,
    pub redrive_date: Option<DateTime<Utc>>,
    /// GetExecutionHistory's events, oldest first, as AWS shapes them.
    pub history: Vec<Value>,
    pub checkpoint: Option<Checkpoint>,
    /// The execution that started this one (`states:startExecution.sync:2`).
    pub parent_execution_arn: Option<String>,
    /// The runner that runs it while RUNNING (its lease in `owners/`): a RUNNING execution whose
    /// owner is gone was cut off by a crash, and the next runner to open the directory ends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// AWS CLI's date format (`2026-11-25T06:10:00.123000+00:00`).
pub fn cli_date(d: &DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::Micros, false)
}

impl ExecutionRecord {
    pub fn is_running(&self) -> bool {
        self.status == "RUNNING"
    }

    /// Whether RedriveExecution accepts it: ended unsuccessfully, with a checkpoint.
    pub fn redrivable(&self) -> bool {
        matches!(self.status.as_str(), "FAILED" | "TIMED_OUT" | "ABORTED")
            && self.checkpoint.is_some()
    }

    /// `aws stepfunctions describe-execution` output.
    pub fn describe(&self) -> Value {
        let mut m = fields(json!({
            "executionArn": self.execution_arn,
            "stateMachineArn": self.state_machine_arn,
            "name": self.name,
            "status": self.status,
            "startDate": cli_date(&self.start_date),
        }));
        if let Some(d) = &self.stop_date {
            m.insert("stopDate".into(), json!(cli_date(d)));
        }
        m.insert("input".into(), json!(self.input.to_string()));
        m.insert("inputDetails".into(), json!({"included": true}));
        if let Some(o) = &self.output {
            m.insert("output".into(), json!(o.to_string()));
            m.insert("outputDetails".into(), json!({"included": true}));
        }
        if let Some(e) = &self.error {
            m.insert("error".into(), json!(e));
        }
        if let Some(c) = &self.cause {
            m.insert("cause".into(), json!(c));
        }
        m.insert("redriveCount".into(), json!(self.redrive_count));
        if let Some(d) = &self.redrive_date {
            m.insert("redriveDate".into(), json!(cli_date(d)));
        }
        if self.redrivable() {
            m.insert("redriveStatus".into(), json!("REDRIVABLE"));
        } else {
            m.insert("redriveStatus".into(), json!("NOT_REDRIVABLE"));
            let reason = if self.is_running() {
                "Execution is RUNNING and cannot be redriven"
            } else {
                "Execution is SUCCEEDED and cannot be redriven"
            };
            m.insert("redriveStatusReason".into(), json!(reason));
        }
        Value::Object(m)
    }

    /// One item of `aws stepfunctions list-executions`.
    pub fn list_item(&self) -> Value {
        let mut m = fields(json!({
            "executionArn": self.execution_arn,
            "stateMachineArn": self.state_machine_arn,
            "name": self.name,
            "status": self.status,
            "startDate": cli_date(&self.start_date),
        }));
        if let Some(d) = &self.stop_date {
            m.insert("stopDate".into(), json!(cli_date(d)));
        }
        m.insert("redriveCount".into(), json!(self.redrive_count));
        if let Some(d) = &self.redrive_date {
            m.insert("redriveDate".into(), json!(cli_date(d)));
        }
        Value::Object(m)
    }

    /// What `states:startExecution.sync:2` returns (DescribeExecution in PascalCase, with Input and
    /// Output as JSON rather than strings; dates as epoch milliseconds, as the integration gives them).
    pub fn sync2_result(&self) -> Value {
        let mut m = fields(json!({
            "ExecutionArn": self.execution_arn,
            "Input": self.input,
            "InputDetails": {"Included": true},
            "Name": self.name,
            "RedriveCount": self.redrive_count,
            "RedriveStatus": if self.redrivable() { "REDRIVABLE" } else { "NOT_REDRIVABLE" },
            "StartDate": self.start_date.timestamp_millis(),
            "StateMachineArn": self.state_machine_arn,
            "Status": self.status,
        }));
        if let Some(d) = &self.stop_date {
            m.insert("StopDate".into(), json!(d.timestamp_millis()));
        }
        if let Some(o) = &self.output {
            m.insert("Output".into(), o.clone());
            m.insert("OutputDetails".into(), json!({"Included": true}));
        }
        if let Some(e) = &self.error {
            m.insert("Error".into(), json!(e));
        }
        if let Some(c) = &self.cause {
            m.insert("Cause".into(), json!(c));
        }
        Value::Object(m)
    }
}

/// The members of a `json!` object literal (the literal is always an object).
fn fields(v: Value) -> serde_json::Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// The state directory.
#[derive(Clone)]
pub struct Store {
    root: PathBuf,
    /// Serialises this process's own users before the file lock (a second flock from the same
    /// process on another descriptor would block it forever).
    local: Arc<tokio::sync::Mutex<()>>,
}

/// A file's new content, durable in a temp file beside it, not yet renamed over it.
pub struct Prepared {
    path: PathBuf,
    /// Empty once committed.
    tmp: PathBuf,
}

impl Prepared {
    fn write(path: PathBuf, bytes: Vec<u8>) -> Result<Prepared, RunnerError> {
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        std::fs::create_dir_all(&dir).map_err(|e| RunnerError::store(&dir, e))?;
        let tmp = dir.join(format!(
            ".{}.{}.{}.tmp",
            path.file_name().and_then(|f| f.to_str()).unwrap_or("file"),
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            RunnerError::store(&path, e)
        })?;
        Ok(Prepared { path, tmp })
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Holds the state directory's lock until dropped.
pub struct StoreLock {
    _file: File,
    _local: tokio::sync::OwnedMutexGuard<()>,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A runner's lease on the state directory: `owners/<id>.lock`, locked while the runner lives. The
/// kernel drops the lock when the process dies, so a lease nobody holds means a dead owner.
pub struct OwnerLease {
    id: String,
    path: PathBuf,
    _file: File,
}

impl OwnerLease {
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for OwnerLease {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Store {
    /// Opens (creating) the state directory.
    pub fn open(root: &Path) -> Result<Store, RunnerError> {
        std::fs::create_dir_all(root.join("executions"))
            .map_err(|e| RunnerError::store(root, e))?;
        Ok(Store {
            root: root.to_path_buf(),
            local: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Takes the directory's exclusive lock (waits for other processes holding it).
    pub async fn lock(&self) -> Result<StoreLock, RunnerError> {
        let local = self.local.clone().lock_owned().await;
        let path = self.root.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| RunnerError::store(&path, e))?;
        // Uncontended (no other process holds it), as nearly always: no blocking thread needed.
        if fs4::FileExt::try_lock(&file).is_ok() {
            return Ok(StoreLock {
                _file: file,
                _local: local,
            });
        }
        let file = tokio::task::spawn_blocking(move || -> Result<File, RunnerError> {
            fs4::FileExt::lock(&file).map_err(|e| RunnerError::store(&path, e))?;
            Ok(file)
        })
        .await
        .map_err(|e| RunnerError::store(&self.root, e))??;
        Ok(StoreLock {
            _file: file,
            _local: local,
        })
    }

    /// Reads `rel` (None if absent).
    pub fn read<T: DeserializeOwned>(&self, rel: &str) -> Result<Option<T>, RunnerError> {
        let path = self.root.join(rel);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                RunnerError::store(
                    &path,
                    format!("unreadable ({e}); delete it to start afresh"),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(RunnerError::store(&path, e)),
        }
    }

    /// Writes `rel` atomically (temp file, fsync, rename).
    pub fn write<T: Serialize>(&self, rel: &str, value: &T) -> Result<(), RunnerError> {
        let (path, bytes) = self.serialise(rel, value, true)?;
        let prepared = Prepared::write(path, bytes)?;
        self.commit(prepared)
    }

    /// `write` without indentation, for files only programs read (execution records: the
    /// CLI/API describe them); several times cheaper to produce for a record with its history.
    fn write_compact<T: Serialize>(&self, rel: &str, value: &T) -> Result<(), RunnerError> {
        let (path, bytes) = self.serialise(rel, value, false)?;
        let prepared = Prepared::write(path, bytes)?;
        self.commit(prepared)
    }

    fn serialise<T: Serialize>(
        &self,
        rel: &str,
        value: &T,
        pretty: bool,
    ) -> Result<(PathBuf, Vec<u8>), RunnerError> {
        let path = self.root.join(rel);
        let bytes = if pretty {
            serde_json::to_vec_pretty(value)
        } else {
            serde_json::to_vec(value)
        }
        .map_err(|e| RunnerError::store(&path, e))?;
        Ok((path, bytes))
    }

    /// The first half of `write`, without the lock: the temp file written and fsynced on a
    /// blocking thread, so that the writes of executions in flight together (a Map's children)
    /// sync concurrently and the file system commits them together. `commit` (lock held) then
    /// puts it in place; dropped uncommitted, it is removed.
    pub async fn prepare<T: Serialize>(
        &self,
        rel: &str,
        value: &T,
        pretty: bool,
    ) -> Result<Prepared, RunnerError> {
        let (path, bytes) = self.serialise(rel, value, pretty)?;
        let at = path.clone();
        tokio::task::spawn_blocking(move || Prepared::write(path, bytes))
            .await
            .map_err(|e| RunnerError::store(&at, e))?
    }

    /// Renames a prepared file over `rel` (the second half of `write`).
    pub fn commit(&self, mut prepared: Prepared) -> Result<(), RunnerError> {
        let tmp = std::mem::take(&mut prepared.tmp);
        std::fs::rename(&tmp, &prepared.path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            RunnerError::store(&prepared.path, e)
        })
    }

    pub async fn prepare_execution(
        &self,
        record: &ExecutionRecord,
    ) -> Result<Prepared, RunnerError> {
        self.prepare(
            &Self::execution_rel(&record.state_machine_name, &record.name),
            record,
            false,
        )
        .await
    }

    /// Takes a new owner lease for a runner.
    pub fn take_lease(&self) -> Result<OwnerLease, RunnerError> {
        let dir = self.root.join("owners");
        std::fs::create_dir_all(&dir).map_err(|e| RunnerError::store(&dir, e))?;
        let id = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        let path = dir.join(format!("{id}.lock"));
        let file = File::create(&path).map_err(|e| RunnerError::store(&path, e))?;
        fs4::FileExt::try_lock(&file)
            .map_err(|e| RunnerError::store(&path, format!("cannot lock: {e:?}")))?;
        Ok(OwnerLease {
            id,
            path,
            _file: file,
        })
    }

    /// Whether the runner holding lease `id` is still alive (its lock file is locked).
    pub fn owner_alive(&self, id: &str) -> bool {
        if id.contains(['/', '\\']) || id.starts_with('.') {
            return false;
        }
        let path = self.root.join("owners").join(format!("{id}.lock"));
        let file = match OpenOptions::new().write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return false,
            // Cannot tell: assume alive rather than fail someone else's execution.
            Err(_) => return true,
        };
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => {
                let _ = std::fs::remove_file(&path);
                false
            }
            Err(_) => true,
        }
    }

    /// The machines that have executions in the store.
    pub fn machines(&self) -> Result<Vec<String>, RunnerError> {
        let dir = self.root.join("executions");
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| RunnerError::store(&dir, e))? {
            let entry = entry.map_err(|e| RunnerError::store(&dir, e))?;
            if entry.path().is_dir() {
                if let Some(n) = entry.file_name().to_str() {
                    out.push(n.to_string());
                }
            }
        }
        Ok(out)
    }

    fn execution_rel(state_machine: &str, name: &str) -> String {
        format!("executions/{state_machine}/{name}.json")
    }

    pub fn get_execution(
        &self,
        state_machine: &str,
        name: &str,
    ) -> Result<Option<ExecutionRecord>, RunnerError> {
        self.read(&Self::execution_rel(state_machine, name))
    }

    pub fn put_execution(&self, record: &ExecutionRecord) -> Result<(), RunnerError> {
        self.write_compact(
            &Self::execution_rel(&record.state_machine_name, &record.name),
            record,
        )
    }

    /// Every execution of `state_machine`, newest first (as ListExecutions).
    pub fn list_executions(
        &self,
        state_machine: &str,
    ) -> Result<Vec<ExecutionRecord>, RunnerError> {
        let dir = self.root.join("executions").join(state_machine);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(RunnerError::store(&dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| RunnerError::store(&dir, e))?;
            let file = entry.file_name();
            let Some(name) = file.to_str().and_then(|f| f.strip_suffix(".json")) else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            if let Some(r) = self.get_execution(state_machine, name)? {
                out.push(r);
            }
        }
        out.sort_by(|a, b| {
            b.start_date
                .cmp(&a.start_date)
                .then_with(|| b.name.cmp(&a.name))
        });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, status: &str) -> ExecutionRecord {
        ExecutionRecord {
            execution_arn: format!("arn:x:{name}"),
            state_machine_arn: "arn:sm".into(),
            state_machine_name: "sm".into(),
            name: name.into(),
            status: status.into(),
            input: json!({"orderId": "1"}),
            output: None,
            error: Some("E".into()),
            cause: None,
            start_date: Utc::now(),
            stop_date: None,
            redrive_count: 0,
            redrive_date: None,
            history: vec![],
            checkpoint: Some(Checkpoint::default()),
            parent_execution_arn: None,
            owner: None,
        }
    }

    #[tokio::test]
    async fn writes_atomically_and_lists_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let _lock = store.lock().await.unwrap();
        let mut a = record("a", "FAILED");
        store.put_execution(&a).unwrap();
        let mut b = record("b", "SUCCEEDED");
        b.start_date = a.start_date + chrono::Duration::seconds(1);
        store.put_execution(&b).unwrap();
        a.status = "SUCCEEDED".into();
        store.put_execution(&a).unwrap();
        let names: Vec<_> = store
            .list_executions("sm")
            .unwrap()
            .into_iter()
            .map(|r| (r.name, r.status))
            .collect();
        assert_eq!(
            names,
            vec![
                ("b".into(), "SUCCEEDED".into()),
                ("a".into(), "SUCCEEDED".into())
            ]
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("executions/sm"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[tokio::test]
    async fn a_prepared_write_appears_only_when_committed_and_leaves_nothing_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = record("a", "RUNNING");
        store.put_execution(&a).unwrap();
        let mut done = a.clone();
        done.status = "SUCCEEDED".into();
        let prepared = store.prepare_execution(&done).await.unwrap();
        assert_eq!(
            store.get_execution("sm", "a").unwrap().unwrap().status,
            "RUNNING"
        );
        store.commit(prepared).unwrap();
        assert_eq!(
            store.get_execution("sm", "a").unwrap().unwrap().status,
            "SUCCEEDED"
        );
        drop(store.prepare_execution(&a).await.unwrap());
        assert_eq!(
            store.get_execution("sm", "a").unwrap().unwrap().status,
            "SUCCEEDED"
        );
        let files: Vec<_> = std::fs::read_dir(dir.path().join("executions/sm"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(files, vec![std::ffi::OsString::from("a.json")]);
    }

    #[test]
    fn describes_like_the_aws_cli() {
        let r = record("a", "FAILED");
        let d = r.describe();
        assert_eq!(d["input"], json!("{\"orderId\":\"1\"}"));
        assert_eq!(d["redriveStatus"], "REDRIVABLE");
        assert_eq!(d["error"], "E");
        let s = record("b", "SUCCEEDED").sync2_result();
        assert_eq!(s["Input"], json!({"orderId": "1"}));
        assert_eq!(s["RedriveStatus"], "NOT_REDRIVABLE");
    }

    #[test]
    fn reports_a_corrupt_file_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        std::fs::create_dir_all(dir.path().join("executions/sm")).unwrap();
        std::fs::write(dir.path().join("executions/sm/x.json"), "{not json").unwrap();
        let err = store.get_execution("sm", "x").unwrap_err().to_string();
        assert!(err.contains("executions/sm/x.json"), "{err}");
    }
}
