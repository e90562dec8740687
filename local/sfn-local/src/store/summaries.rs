//! The executions' summaries: one JSON line per write of an execution, appended to
//! `summaries/<machine>.jsonl`, read incrementally into a per-machine list kept sorted newest
//! first. ListExecutions pages through 100,000 executions without opening their files.
//!
//! The log is "at least as RUNNING as the files": a write that makes an execution RUNNING appends
//! before its file is renamed in, one that ends it appends after. A crash between the two leaves
//! a summary saying RUNNING over a file that does not, so RUNNING summaries are checked against
//! their files (they are few); every other summary is the file's status or an older one about to
//! be appended.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ExecutionRecord;
use crate::error::RunnerError;

/// What ListExecutions shows of an execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionSummary {
    /// The execution's ARN.
    pub execution_arn: String,
    /// The state machine's ARN.
    pub state_machine_arn: String,
    /// The state machine's name.
    pub state_machine_name: String,
    /// The execution's name.
    pub name: String,
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED.
    pub status: String,
    /// When it started.
    pub start_date: DateTime<Utc>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_date: Option<DateTime<Utc>>,
    /// How many times it was redriven.
    #[serde(default)]
    pub redrive_count: u32,
    /// When it was last redriven.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redrive_date: Option<DateTime<Utc>>,
}

impl From<&ExecutionRecord> for ExecutionSummary {
    fn from(r: &ExecutionRecord) -> Self {
        ExecutionSummary {
            execution_arn: r.execution_arn.clone(),
            state_machine_arn: r.state_machine_arn.clone(),
            state_machine_name: r.state_machine_name.clone(),
            name: r.name.clone(),
            status: r.status.clone(),
            start_date: r.start_date,
            stop_date: r.stop_date,
            redrive_count: r.redrive_count,
            redrive_date: r.redrive_date,
        }
    }
}

/// Where an execution sorts in ListExecutions: newest start first, then name descending.
pub type Position = (Reverse<DateTime<Utc>>, Reverse<String>);

impl ExecutionSummary {
    /// Its place in the newest-first order.
    pub fn position(&self) -> Position {
        (Reverse(self.start_date), Reverse(self.name.clone()))
    }
}

/// The summaries of one machine as of `read_to` bytes of its log.
#[derive(Default)]
struct Machine {
    read_to: u64,
    by_name: HashMap<String, ExecutionSummary>,
    order: BTreeSet<Position>,
}

impl Machine {
    fn apply(&mut self, s: ExecutionSummary) {
        if let Some(old) = self.by_name.get(&s.name) {
            self.order.remove(&old.position());
        }
        self.order.insert(s.position());
        self.by_name.insert(s.name.clone(), s);
    }
}

/// The summary logs of a state directory, cached in memory and caught up with other processes'
/// appends on each read.
#[derive(Default)]
pub(crate) struct Summaries {
    machines: Mutex<HashMap<String, Machine>>,
}

pub(crate) const SUMMARIES_DIR: &str = "summaries";

fn log_path(root: &Path, machine: &str) -> PathBuf {
    root.join(SUMMARIES_DIR).join(format!("{machine}.jsonl"))
}

/// Appends `lines` (each a whole summary) in one write: concurrent appenders never interleave.
fn append(root: &Path, machine: &str, lines: &[ExecutionSummary]) -> Result<(), RunnerError> {
    let path = log_path(root, machine);
    let mut bytes = Vec::new();
    for s in lines {
        serde_json::to_writer(&mut bytes, s).map_err(|e| RunnerError::store(&path, e))?;
        bytes.push(b'\n');
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| RunnerError::store(dir, e))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(&bytes))
        .map_err(|e| RunnerError::store(&path, e))
}

impl Summaries {
    /// Records that `record` is being (or was) written.
    pub(crate) fn record(&self, root: &Path, record: &ExecutionRecord) -> Result<(), RunnerError> {
        append(
            root,
            &record.state_machine_name,
            &[ExecutionSummary::from(record)],
        )
    }

    /// Records many at once (seeding).
    pub(crate) fn record_all(
        &self,
        root: &Path,
        machine: &str,
        summaries: &[ExecutionSummary],
    ) -> Result<(), RunnerError> {
        append(root, machine, summaries)
    }

    /// Runs `f` on `machine`'s summaries, caught up with its log. A state directory written
    /// before summaries existed gets its log built once from the execution files.
    pub(crate) fn with<T>(
        &self,
        root: &Path,
        machine: &str,
        f: impl FnOnce(&HashMap<String, ExecutionSummary>, &BTreeSet<Position>) -> T,
    ) -> Result<T, RunnerError> {
        let path = log_path(root, machine);
        if !path.exists() {
            build_from_files(root, machine)?;
        }
        let mut machines = self.machines.lock().unwrap_or_else(|p| p.into_inner());
        let m = machines.entry(machine.to_string()).or_default();
        catch_up(&path, m)?;
        Ok(f(&m.by_name, &m.order))
    }
}

fn catch_up(path: &Path, m: &mut Machine) -> Result<(), RunnerError> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(RunnerError::store(path, e)),
    };
    let len = file
        .metadata()
        .map_err(|e| RunnerError::store(path, e))?
        .len();
    if len < m.read_to {
        // Replaced (rebuilt): read it again from the start.
        *m = Machine::default();
    }
    if len == m.read_to {
        return Ok(());
    }
    file.seek(SeekFrom::Start(m.read_to))
        .map_err(|e| RunnerError::store(path, e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| RunnerError::store(path, e))?;
    // A line another process is still writing (or a crash cut) is read next time, or never.
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
    for line in bytes[..complete]
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
    {
        match serde_json::from_slice::<ExecutionSummary>(line) {
            Ok(s) => m.apply(s),
            // A line cut by a crash, followed by later appends: the execution's file is the truth
            // and its next write appends a whole line.
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "unreadable summary line skipped")
            }
        }
    }
    m.read_to += complete as u64;
    Ok(())
}

/// Writes `machine`'s summary log from its execution files (a state directory from before the
/// logs): temp file, then rename, so a reader sees none or all of it.
fn build_from_files(root: &Path, machine: &str) -> Result<(), RunnerError> {
    let dir = root.join("executions").join(machine);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(RunnerError::store(&dir, e)),
    };
    let mut lines = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| RunnerError::store(&dir, e))?;
        let file = entry.file_name();
        let Some(name) = file.to_str().and_then(|f| f.strip_suffix(".json")) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let bytes = std::fs::read(&path).map_err(|e| RunnerError::store(&path, e))?;
        let record: ExecutionRecord = serde_json::from_slice(&bytes).map_err(|e| {
            RunnerError::store(
                &path,
                format!("unreadable ({e}); delete it to start afresh"),
            )
        })?;
        serde_json::to_writer(&mut lines, &ExecutionSummary::from(&record))
            .map_err(|e| RunnerError::store(&path, e))?;
        lines.push(b'\n');
    }
    let path = log_path(root, machine);
    let tmp = path.with_extension(format!("jsonl.{}.tmp", std::process::id()));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| RunnerError::store(parent, e))?;
    }
    std::fs::write(&tmp, &lines)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            RunnerError::store(&path, e)
        })
}
