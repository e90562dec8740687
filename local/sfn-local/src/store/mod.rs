//! The embedded store: a state directory of JSON files. Every write goes to a temporary file that is
//! then renamed over the old one (a crash leaves the old or the new file, never half of one), and
//! every read-modify-write holds the directory's lock file, so several CLI invocations can share it.
//!
//! This module is the directory and its atomic files; `execution` the execution records, `locks`
//! the directory lock and the runners' leases, `journal` (with `group_commit` and `order_index`)
//! the embedded tables.

mod execution;
pub(crate) mod group_commit;
pub mod journal;
mod locks;
pub(crate) mod order_index;

pub use crate::shapes::cli_date;
pub use execution::ExecutionRecord;
pub use locks::{OwnerLease, StoreLock};

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::RunnerError;

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

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

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

    /// The state directory.
    pub fn root(&self) -> &Path {
        &self.root
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

    /// Writes `record` to a temporary file, to be [`Store::commit`]ted over the execution's file.
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

    /// The execution `name` of `state_machine`, if the store has it.
    pub fn get_execution(
        &self,
        state_machine: &str,
        name: &str,
    ) -> Result<Option<ExecutionRecord>, RunnerError> {
        self.read(&Self::execution_rel(state_machine, name))
    }

    /// Writes `record` over its execution's file (atomically, by rename).
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
    use asl::Checkpoint;
    use chrono::Utc;
    use serde_json::json;

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
