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
mod summaries;

pub use crate::shapes::cli_date;
pub use execution::ExecutionRecord;
pub use locks::{OwnerLease, StoreLock};
pub use summaries::{ExecutionSummary, Position};

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
    /// The executions' summaries (ListExecutions without reading every execution's file).
    summaries: Arc<summaries::Summaries>,
}

/// A file's new content, durable in a temp file beside it, not yet renamed over it.
pub struct Prepared {
    path: PathBuf,
    /// Empty once committed.
    tmp: PathBuf,
    /// The execution it writes, for the summary log.
    execution: Option<Box<ExecutionRecord>>,
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
        Ok(Prepared {
            path,
            tmp,
            execution: None,
        })
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
            summaries: Arc::new(summaries::Summaries::default()),
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

    /// Renames a prepared file over `rel` (the second half of `write`). An execution's summary is
    /// logged before the rename when it makes it RUNNING, after when it ends it (`summaries`).
    pub fn commit(&self, mut prepared: Prepared) -> Result<(), RunnerError> {
        let execution = prepared.execution.take();
        let running = execution.as_ref().is_some_and(|r| r.is_running());
        if let (true, Some(r)) = (running, &execution) {
            self.summaries.record(&self.root, r)?;
        }
        let tmp = std::mem::take(&mut prepared.tmp);
        std::fs::rename(&tmp, &prepared.path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            RunnerError::store(&prepared.path, e)
        })?;
        match execution {
            Some(r) if !running => self.summaries.record(&self.root, &r),
            _ => Ok(()),
        }
    }

    /// Writes `record` to a temporary file, to be [`Store::commit`]ted over the execution's file.
    pub async fn prepare_execution(
        &self,
        record: &ExecutionRecord,
    ) -> Result<Prepared, RunnerError> {
        let mut prepared = self
            .prepare(
                &Self::execution_rel(&record.state_machine_name, &record.name),
                record,
                false,
            )
            .await?;
        prepared.execution = Some(Box::new(record.clone()));
        Ok(prepared)
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
        let (path, bytes) = self.serialise(
            &Self::execution_rel(&record.state_machine_name, &record.name),
            record,
            false,
        )?;
        let mut prepared = Prepared::write(path, bytes)?;
        prepared.execution = Some(Box::new(record.clone()));
        self.commit(prepared)
    }

    /// Every execution of `state_machine`, newest first (as ListExecutions).
    pub fn list_executions(
        &self,
        state_machine: &str,
    ) -> Result<Vec<ExecutionSummary>, RunnerError> {
        Ok(self
            .list_executions_page(state_machine, None, usize::MAX, |_| true)?
            .0)
    }

    /// One page of ListExecutions: up to `size` executions of `state_machine` that `keep`,
    /// newest first, from just after `after`; and where the next page starts, if anything
    /// follows. Costs the page, not the machine's history: the summaries are kept sorted.
    pub fn list_executions_page(
        &self,
        state_machine: &str,
        after: Option<&Position>,
        size: usize,
        keep: impl Fn(&ExecutionSummary) -> bool,
    ) -> Result<(Vec<ExecutionSummary>, Option<Position>), RunnerError> {
        use std::ops::Bound::{Excluded, Unbounded};
        self.summaries
            .with(&self.root, state_machine, |by_name, order| {
                let from = after.map_or(Unbounded, |p| Excluded(p.clone()));
                let mut page = Vec::new();
                let mut positions = order.range((from, Unbounded));
                let mut last = None;
                for position in positions.by_ref() {
                    let Some(summary) = by_name.get(&position.1 .0) else {
                        continue;
                    };
                    let summary = self.settled(summary)?;
                    if keep(&summary) {
                        last = Some(position.clone());
                        page.push(summary);
                        if page.len() == size {
                            break;
                        }
                    }
                }
                let next = match positions.next() {
                    Some(_) => last,
                    None => None,
                };
                Ok((page, next))
            })?
    }

    /// A summary as its execution's file has it now, when the summary says RUNNING (the log may
    /// be ahead of a file a crash kept from being renamed in; see `summaries`).
    fn settled(&self, summary: &ExecutionSummary) -> Result<ExecutionSummary, RunnerError> {
        if summary.status != "RUNNING" {
            return Ok(summary.clone());
        }
        Ok(self
            .get_execution(&summary.state_machine_name, &summary.name)?
            .map_or_else(|| summary.clone(), |r| ExecutionSummary::from(&r)))
    }

    /// Writes many finished executions at once (`sfn-local seed-executions`): their files
    /// unsynced, then one append of their summaries. For test data, not for runs.
    pub fn put_executions_unsynced(&self, records: &[ExecutionRecord]) -> Result<(), RunnerError> {
        let mut by_machine: std::collections::BTreeMap<&str, Vec<ExecutionSummary>> =
            Default::default();
        for r in records {
            let (path, bytes) = self.serialise(
                &Self::execution_rel(&r.state_machine_name, &r.name),
                r,
                false,
            )?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| RunnerError::store(dir, e))?;
            }
            std::fs::write(&path, bytes).map_err(|e| RunnerError::store(&path, e))?;
            by_machine
                .entry(&r.state_machine_name)
                .or_default()
                .push(ExecutionSummary::from(r));
        }
        for (machine, summaries) in by_machine {
            self.summaries.record_all(&self.root, machine, &summaries)?;
        }
        Ok(())
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
    async fn pages_of_the_summaries_agree_with_the_files_at_every_size_and_filter() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let t0 = Utc::now();
        for n in 0..240 {
            let mut r = record(
                &format!("e{n:03}"),
                ["FAILED", "SUCCEEDED", "ABORTED"][n % 3],
            );
            // Some share a start: the name breaks the tie, as in the full listing.
            r.start_date = t0 + chrono::Duration::seconds((n / 2) as i64);
            store.put_execution(&r).unwrap();
        }
        // Another process's store sees these writes too (it reads the log, not this cache).
        let other = Store::open(dir.path()).unwrap();
        let mut late = record("late", "RUNNING");
        late.start_date = t0 + chrono::Duration::days(1);
        other.put_execution(&late).unwrap();
        let mut expected: Vec<ExecutionRecord> =
            std::fs::read_dir(dir.path().join("executions/sm"))
                .unwrap()
                .map(|e| {
                    serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap()
                })
                .collect();
        expected.sort_by(|a, b| {
            b.start_date
                .cmp(&a.start_date)
                .then_with(|| b.name.cmp(&a.name))
        });
        for status in [None, Some("FAILED"), Some("RUNNING")] {
            for size in [1, 7, 100, 1000] {
                let mut got = Vec::new();
                let mut after = None;
                loop {
                    let (page, next) = store
                        .list_executions_page("sm", after.as_ref(), size, |s| {
                            status.is_none_or(|want| s.status == want)
                        })
                        .unwrap();
                    assert!(page.len() <= size);
                    got.extend(page.into_iter().map(|s| (s.name, s.status)));
                    match next {
                        Some(p) => after = Some(p),
                        None => break,
                    }
                }
                let want: Vec<_> = expected
                    .iter()
                    .filter(|r| status.is_none_or(|s| r.status == s))
                    .map(|r| (r.name.clone(), r.status.clone()))
                    .collect();
                assert_eq!(got, want, "status {status:?} size {size}");
            }
        }
    }

    #[tokio::test]
    async fn a_summary_left_running_by_a_crash_shows_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.put_execution(&record("a", "RUNNING")).unwrap();
        // The end renamed in, then the crash before its summary was appended.
        store
            .write("executions/sm/a.json", &record("a", "FAILED"))
            .unwrap();
        let listed = store.list_executions("sm").unwrap();
        assert_eq!(listed[0].status, "FAILED");
        let (failed, _) = store
            .list_executions_page("sm", None, 10, |s| s.status == "FAILED")
            .unwrap();
        assert_eq!(failed.len(), 1);
    }

    #[tokio::test]
    async fn a_state_directory_from_before_the_summaries_is_listed_from_its_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("executions/sm")).unwrap();
        for (name, status) in [("a", "FAILED"), ("b", "SUCCEEDED")] {
            std::fs::write(
                dir.path().join(format!("executions/sm/{name}.json")),
                serde_json::to_vec(&record(name, status)).unwrap(),
            )
            .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let mut names: Vec<_> = store
            .list_executions("sm")
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        names.sort();
        assert_eq!(names, ["a", "b"]);
        assert!(dir.path().join("summaries/sm.jsonl").exists());
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
