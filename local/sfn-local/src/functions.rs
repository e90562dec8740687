//! Where a Lambda task goes: the in-process handlers over the embedded store (default), over the
//! real AWS adapters (`--aws-endpoint`), or a Lambda Invoke API (`--lambda-endpoint`); and the fault
//! switch (`--fail NAME=ErrorType:N|always[:crash-after]`) in front of any of them.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{json, Value};
use unpaid_order::memory::MemoryState;
use unpaid_order::MemoryStore;

use crate::error::RunnerError;
use crate::handlers::{call_handler, Ports};
use crate::store::Store;

/// Why an invocation did not return a payload.
#[derive(Debug, Clone, PartialEq)]
pub enum InvokeError {
    /// The function ran and returned an error (`X-Amz-Function-Error`): its errorType and message.
    Function {
        error_type: String,
        error_message: String,
    },
    /// Lambda itself failed (`Lambda.ServiceException`, `Lambda.ResourceNotFoundException`, ...).
    Service { error: String, cause: String },
}

impl InvokeError {
    /// The function's error payload as Lambda returns it for a Rust function (the runtime's
    /// Diagnostic), which Step Functions puts in the task's `Cause`.
    pub fn cause(&self) -> String {
        match self {
            InvokeError::Function {
                error_type,
                error_message,
            } => json!({"errorType": error_type, "errorMessage": error_message}).to_string(),
            InvokeError::Service { cause, .. } => cause.clone(),
        }
    }

    pub fn error(&self) -> &str {
        match self {
            InvokeError::Function { error_type, .. } => error_type,
            InvokeError::Service { error, .. } => error,
        }
    }
}

/// Runs a function by its binary name (`load-order`, ...) with a JSON payload.
#[async_trait]
pub trait Functions: Send + Sync {
    async fn invoke(&self, binary: &str, payload: Value) -> Result<Value, InvokeError>;
}

fn function_error(e: unpaid_order::FunctionError) -> InvokeError {
    InvokeError::Function {
        error_type: e.error_type().to_string(),
        error_message: e.to_string(),
    }
}

/// The handlers over the embedded store. The tables live in memory for the runner's lifetime;
/// each invocation is one transaction on the state directory (lock, catch up with what other
/// processes wrote, run the handler, append its changes to `tables.journal`). `tables.json` is the
/// snapshot the journal applies to; it is rewritten (compaction) when the journal grows long.
pub struct EmbeddedFunctions {
    store: Store,
    /// `events/tables/`: what the tables hold before first use.
    fixtures: PathBuf,
    topic_arn: String,
    sender: String,
    /// The tables as of the files' `seen` state. Only used with the store's lock held.
    cache: Mutex<Option<Cached>>,
    /// Group commit: what of the journal is written and what is durable.
    durable: Mutex<Durability>,
    /// Serialises the syncs: a waiter that gets it finds its line synced by an earlier sync, or
    /// syncs every line written so far with one fdatasync.
    syncing: tokio::sync::Mutex<()>,
}

/// Journal writes and syncs, counted (a count, not an offset: compaction empties the file).
#[derive(Default)]
struct Durability {
    /// Journal lines written (by this runner, or read from other processes' appends) so far.
    written: u64,
    /// Of those, how many are known durable.
    synced: u64,
    /// The journal as last written or read: syncing it makes every line up to `written` durable.
    file: Option<Arc<File>>,
    /// fdatasync calls made (for the tests: fewer than lines when invocations overlap).
    syncs: u64,
}

/// The tables and outbox file in the state directory.
pub const TABLES_FILE: &str = "tables.json";
/// Each handler's changes since the snapshot, one JSON line per invocation.
pub const JOURNAL_FILE: &str = "tables.journal";
/// A copy of the outbox alone, for people to read (written with the snapshot).
pub const OUTBOX_FILE: &str = "outbox.json";
/// The journal is folded into the snapshot after this many bytes.
const COMPACT_AFTER_BYTES: u64 = 16 * 1024 * 1024;

/// What identifies a version of `tables.json`: another process's compaction changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
}

fn file_id(path: &std::path::Path) -> Option<FileId> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Some(FileId {
        len: m.len(),
        modified: m.modified().ok(),
        inode,
    })
}

struct Cached {
    state: MemoryState,
    /// Where each order's items are in `state` (built on first use, dropped when `state` is
    /// replaced wholesale): without it every invocation scans the whole tables.
    index: Option<OrderIndex>,
    snapshot: Option<FileId>,
    /// Bytes of the journal already applied.
    journal_len: u64,
}

/// For each table (orders, checkStatus, processUnpaidOrder, emailLog): orderId -> the positions of
/// that order's items, ascending.
#[derive(Default)]
struct OrderIndex([HashMap<String, Vec<usize>>; 4]);

fn index_table(table: &[unpaid_order::Item]) -> HashMap<String, Vec<usize>> {
    let mut out: HashMap<String, Vec<usize>> = HashMap::new();
    for (at, item) in table.iter().enumerate() {
        if let Some(id) = item.get("orderId").and_then(unpaid_order::Attr::key_text) {
            out.entry(id.to_string()).or_default().push(at);
        }
    }
    out
}

fn tables_mut(state: &mut MemoryState) -> [&mut Vec<unpaid_order::Item>; 4] {
    [
        &mut state.orders,
        &mut state.check_status,
        &mut state.process_unpaid_order,
        &mut state.email_log,
    ]
}

impl Cached {
    fn new(state: MemoryState, snapshot: Option<FileId>) -> Cached {
        Cached {
            state,
            index: None,
            snapshot,
            journal_len: 0,
        }
    }

    fn index(&mut self) -> &mut OrderIndex {
        let state = &self.state;
        self.index.get_or_insert_with(|| {
            OrderIndex([
                index_table(&state.orders),
                index_table(&state.check_status),
                index_table(&state.process_unpaid_order),
                index_table(&state.email_log),
            ])
        })
    }

    /// The items of `order_id` (the outbox left empty), as `JournalEntry::slice` would give.
    fn slice(&mut self, order_id: &str) -> MemoryState {
        let index = self.index();
        let positions: [Vec<usize>; 4] =
            std::array::from_fn(|t| index.0[t].get(order_id).cloned().unwrap_or_default());
        let pick = |t: &Vec<unpaid_order::Item>, at: &[usize]| -> Vec<unpaid_order::Item> {
            at.iter().filter_map(|i| t.get(*i)).cloned().collect()
        };
        MemoryState {
            orders: pick(&self.state.orders, &positions[0]),
            check_status: pick(&self.state.check_status, &positions[1]),
            process_unpaid_order: pick(&self.state.process_unpaid_order, &positions[2]),
            email_log: pick(&self.state.email_log, &positions[3]),
            outbox: Default::default(),
        }
    }

    /// `entry.apply(&mut self.state)`, keeping the index: the same result as the general
    /// replacement, in place when the order's items keep their count and are contiguous, or are
    /// new (appended); otherwise the general replacement and that table's index rebuilt.
    fn apply(&mut self, entry: JournalEntry) {
        if self.index.is_none() {
            entry.apply(&mut self.state);
            return;
        }
        let JournalEntry {
            order_id,
            orders,
            check_status,
            process_unpaid_order,
            email_log,
            sns,
            emails,
        } = entry;
        let news = [orders, check_status, process_unpaid_order, email_log];
        let mut index = self.index.take().unwrap_or_default();
        for ((table, new), map) in tables_mut(&mut self.state)
            .into_iter()
            .zip(news)
            .zip(index.0.iter_mut())
        {
            // The new items belong to `order_id` when they carry it; if one does not, the index
            // could not say where it is: rebuild.
            let all_of_order = new.iter().all(|i| of_order(i, &order_id));
            let old = map.get(&order_id).cloned().unwrap_or_default();
            let contiguous = old.windows(2).all(|w| w[1] == w[0] + 1);
            if all_of_order && old.is_empty() {
                if new.is_empty() {
                    continue;
                }
                let start = table.len();
                table.extend(new);
                map.insert(order_id.clone(), (start..table.len()).collect());
            } else if all_of_order && contiguous && old.len() == new.len() {
                for (at, item) in old.iter().zip(new) {
                    table[*at] = item;
                }
            } else {
                replace_order(table, &order_id, new);
                *map = index_table(table);
            }
        }
        self.index = Some(index);
        self.state.outbox.sns.extend(sns);
        self.state.outbox.emails.extend(emails);
    }
}

/// One journal line: every item of one order after a handler ran (they replace that order's
/// items), and what it added to the outbox.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct JournalEntry {
    order_id: String,
    orders: Vec<unpaid_order::Item>,
    check_status: Vec<unpaid_order::Item>,
    process_unpaid_order: Vec<unpaid_order::Item>,
    email_log: Vec<unpaid_order::Item>,
    #[serde(default)]
    sns: Vec<unpaid_order::memory::PublishedMessage>,
    #[serde(default)]
    emails: Vec<unpaid_order::memory::SentEmail>,
}

fn of_order(item: &unpaid_order::Item, order_id: &str) -> bool {
    item.get("orderId").and_then(unpaid_order::Attr::key_text) == Some(order_id)
}

/// Replaces the items of `order_id` in `table` with `items`, where the first of them was.
fn replace_order(
    table: &mut Vec<unpaid_order::Item>,
    order_id: &str,
    items: Vec<unpaid_order::Item>,
) {
    let at = table.iter().position(|i| of_order(i, order_id));
    table.retain(|i| !of_order(i, order_id));
    let at = at.unwrap_or(table.len()).min(table.len());
    table.splice(at..at, items);
}

impl JournalEntry {
    /// The items of `order_id` in `state` (the outbox left empty), by scanning: what the index
    /// must agree with.
    #[cfg(test)]
    fn slice(state: &MemoryState, order_id: &str) -> MemoryState {
        let pick = |t: &Vec<unpaid_order::Item>| {
            t.iter()
                .filter(|i| of_order(i, order_id))
                .cloned()
                .collect()
        };
        MemoryState {
            orders: pick(&state.orders),
            check_status: pick(&state.check_status),
            process_unpaid_order: pick(&state.process_unpaid_order),
            email_log: pick(&state.email_log),
            outbox: Default::default(),
        }
    }

    fn apply(self, state: &mut MemoryState) {
        let id = self.order_id;
        replace_order(&mut state.orders, &id, self.orders);
        replace_order(&mut state.check_status, &id, self.check_status);
        replace_order(
            &mut state.process_unpaid_order,
            &id,
            self.process_unpaid_order,
        );
        replace_order(&mut state.email_log, &id, self.email_log);
        state.outbox.sns.extend(self.sns);
        state.outbox.emails.extend(self.emails);
    }
}

/// The order an invocation is about, when it can run on that order's items alone: a plain key
/// (anything else, e.g. one a handler would trim or refuse, runs on the whole tables).
fn plain_order_id(payload: &Value) -> Option<String> {
    let id = match payload.get("orderId")? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    .then_some(id)
}

impl EmbeddedFunctions {
    pub fn new(store: Store, fixtures: PathBuf, topic_arn: String, sender: String) -> Self {
        EmbeddedFunctions {
            store,
            fixtures,
            topic_arn,
            sender,
            cache: Mutex::new(None),
            durable: Mutex::new(Durability::default()),
            syncing: tokio::sync::Mutex::new(()),
        }
    }

    fn durability(&self) -> std::sync::MutexGuard<'_, Durability> {
        self.durable.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes journal lines written (or read) through `file`, not yet synced; returns the count to
    /// wait for with `sync_journal`.
    fn note_written(&self, file: File) -> u64 {
        let mut d = self.durability();
        d.written += 1;
        d.file = Some(Arc::new(file));
        d.written
    }

    /// Notes that everything written so far is durable (a compaction fsynced the snapshot).
    fn note_all_synced(&self) -> u64 {
        let mut d = self.durability();
        d.synced = d.written;
        d.file = None;
        d.written
    }

    /// Waits until journal line `upto` (a `note_written` count) is durable: one fdatasync covers
    /// every line written before it, so invocations in flight together (a Map's iterations) share
    /// it instead of each paying its own.
    async fn sync_journal(&self, upto: u64) -> Result<(), RunnerError> {
        if self.durability().synced >= upto {
            return Ok(());
        }
        let _syncing = self.syncing.lock().await;
        let (target, file) = {
            let d = self.durability();
            if d.synced >= upto {
                return Ok(());
            }
            (d.written, d.file.clone())
        };
        if let Some(file) = file {
            let journal = self.journal_path();
            tokio::task::spawn_blocking(move || file.sync_data())
                .await
                .map_err(|e| RunnerError::store(&journal, e))?
                .map_err(|e| RunnerError::store(&journal, e))?;
        }
        let mut d = self.durability();
        d.synced = d.synced.max(target);
        d.syncs += 1;
        Ok(())
    }

    fn journal_path(&self) -> PathBuf {
        self.store.root().join(JOURNAL_FILE)
    }

    /// Brings the cache up to date with the files (other processes may have written). Lock held.
    fn catch_up(&self, cache: &mut Option<Cached>) -> Result<(), RunnerError> {
        let tables = self.store.root().join(TABLES_FILE);
        let snapshot = file_id(&tables);
        let reusable = matches!(cache, Some(c) if c.snapshot.is_some() && c.snapshot == snapshot);
        if !reusable {
            let state = match self.store.read::<MemoryState>(TABLES_FILE)? {
                Some(s) => s,
                None => {
                    let state = MemoryState::load_fixtures(&self.fixtures).map_err(|e| {
                        RunnerError::File {
                            path: self.fixtures.clone(),
                            message: format!("cannot seed the tables: {e}"),
                        }
                    })?;
                    self.store.write(TABLES_FILE, &state)?;
                    // A journal without its snapshot belongs to no state: start afresh.
                    let _ = std::fs::remove_file(self.journal_path());
                    state
                }
            };
            *cache = Some(Cached::new(state, file_id(&tables)));
        }
        let Some(c) = cache.as_mut() else {
            return Ok(());
        };
        let journal = self.journal_path();
        let len = std::fs::metadata(&journal).map(|m| m.len()).unwrap_or(0);
        if len < c.journal_len {
            // Compacted by another process without a new snapshot id (cannot happen with rename,
            // but do not guess): reload everything.
            *cache = None;
            return self.catch_up(cache);
        }
        if len > c.journal_len {
            use std::io::{Read, Seek, SeekFrom};
            let mut f = File::open(&journal).map_err(|e| RunnerError::store(&journal, e))?;
            let reader = f.try_clone().map_err(|e| RunnerError::store(&journal, e))?;
            f.seek(SeekFrom::Start(c.journal_len))
                .map_err(|e| RunnerError::store(&journal, e))?;
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes)
                .map_err(|e| RunnerError::store(&journal, e))?;
            // A line cut short by a crash is no change at all: drop it.
            let complete = bytes
                .iter()
                .rposition(|b| *b == b'\n')
                .map(|p| p + 1)
                .unwrap_or(0);
            for line in bytes[..complete]
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
            {
                let entry: JournalEntry = serde_json::from_slice(line).map_err(|e| {
                    RunnerError::store(&journal, format!("unreadable line ({e}); delete {JOURNAL_FILE} and {TABLES_FILE} to start afresh"))
                })?;
                c.apply(entry);
            }
            c.journal_len += complete as u64;
            if complete > 0 {
                // Another process's lines, perhaps not yet synced: an answer built on them waits
                // for them to be durable as for its own.
                self.note_written(reader);
            }
            if complete < bytes.len() {
                let f = OpenOptions::new()
                    .write(true)
                    .open(&journal)
                    .map_err(|e| RunnerError::store(&journal, e))?;
                f.set_len(c.journal_len)
                    .map_err(|e| RunnerError::store(&journal, e))?;
            }
        }
        Ok(())
    }

    /// Appends one entry, not yet synced: the caller waits for `sync_journal(returned count)`
    /// before the handler's answer is used (a handler's write is durable before its answer).
    fn append(&self, c: &mut Cached, entry: &JournalEntry) -> Result<u64, RunnerError> {
        use std::io::Write;
        let journal = self.journal_path();
        let mut line = serde_json::to_vec(entry).map_err(|e| RunnerError::store(&journal, e))?;
        line.push(b'\n');
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&journal)
            .map_err(|e| RunnerError::store(&journal, e))?;
        f.write_all(&line)
            .map_err(|e| RunnerError::store(&journal, e))?;
        c.journal_len += line.len() as u64;
        let upto = self.note_written(f);
        if c.journal_len > COMPACT_AFTER_BYTES {
            return self.compact(c);
        }
        Ok(upto)
    }

    /// Writes the snapshot (and the outbox copy) and empties the journal; everything written so
    /// far is then durable (returns the `note_written` count, for `sync_journal`).
    fn compact(&self, c: &mut Cached) -> Result<u64, RunnerError> {
        self.store.write(TABLES_FILE, &c.state)?;
        self.store.write(OUTBOX_FILE, &c.state.outbox)?;
        let journal = self.journal_path();
        match std::fs::remove_file(&journal) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(RunnerError::store(&journal, e)),
        }
        c.snapshot = file_id(&self.store.root().join(TABLES_FILE));
        c.journal_len = 0;
        Ok(self.note_all_synced())
    }

    /// Folds the journal into `tables.json` and writes `outbox.json` (e.g. at the end of a run).
    pub async fn flush(&self) -> Result<(), RunnerError> {
        let _lock = self.store.lock().await?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        self.catch_up(&mut cache)?;
        if let Some(c) = cache.as_mut() {
            if c.journal_len > 0 || !self.store.root().join(OUTBOX_FILE).exists() {
                self.compact(c)?;
            }
        }
        Ok(())
    }

    /// The current tables, seeding them from the fixtures on first use. Call with the lock held.
    pub fn load_state(&self) -> Result<MemoryState, RunnerError> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        self.catch_up(&mut cache)?;
        Ok(cache.as_ref().map(|c| c.state.clone()).unwrap_or_default())
    }

    /// The tables and outbox as they are now.
    pub async fn snapshot(&self) -> Result<MemoryState, RunnerError> {
        let _lock = self.store.lock().await?;
        self.load_state()
    }

    async fn run(
        &self,
        binary: &str,
        payload: Value,
    ) -> Result<Result<Value, crate::handlers::HandlerError>, RunnerError> {
        if binary == "build-failed-header" {
            // Touches no table: no transaction.
            let memory = MemoryStore::default();
            return Ok(call_handler(binary, payload, &Ports::from_memory(&memory)).await);
        }
        let lock = self.store.lock().await?;
        let (result, upto) = self.transact(binary, payload).await?;
        // Synced after the lock is let go, so that the next invocations write their lines
        // meanwhile and one fdatasync serves several (group commit). The answer waits for it.
        drop(lock);
        self.sync_journal(upto).await?;
        Ok(result)
    }

    /// One invocation's transaction on the tables (store lock held): the handler's result and the
    /// journal count that must be durable before it is used (its own line, or the lines it read).
    async fn transact(
        &self,
        binary: &str,
        payload: Value,
    ) -> Result<(Result<Value, crate::handlers::HandlerError>, u64), RunnerError> {
        // Taken out of the cache while the handler runs (the store lock keeps others out); put
        // back, updated, below. A cancelled invocation leaves the cache empty: the next reloads.
        let mut cached = {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            self.catch_up(&mut cache)?;
            match cache.take() {
                Some(c) => c,
                None => return Err(RunnerError::Backend("embedded tables not loaded".into())),
            }
        };
        let put_back = |c: Cached| {
            *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = Some(c);
        };
        match plain_order_id(&payload) {
            Some(id) => {
                // The handler sees that order's items only: cost independent of the tables' size.
                let before = cached.slice(&id);
                let memory = MemoryStore::new(before.clone())
                    .with_identity(self.topic_arn.clone(), self.sender.clone());
                let result = call_handler(binary, payload, &Ports::from_memory(&memory)).await;
                let after = memory.snapshot();
                // A handler that failed half-way may have written (as on DynamoDB): keep it.
                if after != before {
                    let entry = JournalEntry {
                        order_id: id,
                        orders: after.orders,
                        check_status: after.check_status,
                        process_unpaid_order: after.process_unpaid_order,
                        email_log: after.email_log,
                        sns: after.outbox.sns,
                        emails: after.outbox.emails,
                    };
                    // On an error the cache stays empty: the next invocation reloads the files.
                    let upto = self.append(&mut cached, &entry)?;
                    cached.apply(entry);
                    put_back(cached);
                    return Ok((result, upto));
                }
                put_back(cached);
                // It read what the cache held: that must be durable too.
                Ok((result, self.durability().written))
            }
            None => {
                let before = cached.state.clone();
                let memory = MemoryStore::new(cached.state)
                    .with_identity(self.topic_arn.clone(), self.sender.clone());
                let result = call_handler(binary, payload, &Ports::from_memory(&memory)).await;
                cached.state = memory.snapshot();
                cached.index = None;
                let upto = if cached.state != before {
                    self.compact(&mut cached)?
                } else {
                    self.durability().written
                };
                put_back(cached);
                Ok((result, upto))
            }
        }
    }
}

#[async_trait]
impl Functions for EmbeddedFunctions {
    async fn invoke(&self, binary: &str, payload: Value) -> Result<Value, InvokeError> {
        let result = self
            .run(binary, payload)
            .await
            .map_err(|e| InvokeError::Service {
                error: "Lambda.ServiceException".into(),
                cause: e.to_string(),
            })?;
        result.map_err(|e| match e {
            crate::handlers::HandlerError::Function(e) => function_error(e),
            crate::handlers::HandlerError::Unknown(name) => InvokeError::Service {
                error: "Lambda.ResourceNotFoundException".into(),
                cause: format!("Function not found: {name} (no in-process handler)"),
            },
        })
    }
}

/// The handlers over the real AWS adapters (moto or AWS), each binary with its own clients.
pub struct AwsFunctions {
    ports: BTreeMap<String, Ports>,
}

impl AwsFunctions {
    pub fn new(ports: BTreeMap<String, Ports>) -> Self {
        AwsFunctions { ports }
    }
}

#[async_trait]
impl Functions for AwsFunctions {
    async fn invoke(&self, binary: &str, payload: Value) -> Result<Value, InvokeError> {
        let Some(ports) = self.ports.get(binary) else {
            return Err(InvokeError::Service {
                error: "Lambda.ResourceNotFoundException".into(),
                cause: format!("Function not found: {binary}"),
            });
        };
        call_handler(binary, payload, ports)
            .await
            .map_err(|e| match e {
                crate::handlers::HandlerError::Function(e) => function_error(e),
                crate::handlers::HandlerError::Unknown(name) => InvokeError::Service {
                    error: "Lambda.ResourceNotFoundException".into(),
                    cause: format!("Function not found: {name}"),
                },
            })
    }
}

/// Any Lambda Invoke API (`cargo lambda watch`, AWS): the function's name is its binary name
/// unless `names` maps it.
pub struct RemoteFunctions {
    client: aws_sdk_lambda::Client,
    names: BTreeMap<String, String>,
}

impl RemoteFunctions {
    pub fn new(client: aws_sdk_lambda::Client, names: BTreeMap<String, String>) -> Self {
        RemoteFunctions { client, names }
    }
}

#[async_trait]
impl Functions for RemoteFunctions {
    async fn invoke(&self, binary: &str, payload: Value) -> Result<Value, InvokeError> {
        let name = self.names.get(binary).map(String::as_str).unwrap_or(binary);
        let out = self
            .client
            .invoke()
            .function_name(name)
            .payload(aws_smithy_types::Blob::new(
                payload.to_string().into_bytes(),
            ))
            .send()
            .await
            .map_err(|e| {
                use aws_sdk_lambda::error::ProvideErrorMetadata;
                let code = e.code().unwrap_or("ServiceException").to_string();
                let error = if code.ends_with("Exception") {
                    format!("Lambda.{code}")
                } else {
                    "Lambda.SdkClientException".to_string()
                };
                InvokeError::Service {
                    error,
                    cause: aws_sdk_lambda::error::DisplayErrorContext(&e).to_string(),
                }
            })?;
        let body = out
            .payload()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default();
        let value: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).map_err(|e| InvokeError::Service {
                error: "Lambda.SdkClientException".into(),
                cause: format!("the function's response is not JSON: {e}"),
            })?
        };
        if out.function_error().is_some() {
            return Err(InvokeError::Function {
                error_type: value["errorType"]
                    .as_str()
                    .unwrap_or("Unhandled")
                    .to_string(),
                error_message: value["errorMessage"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            });
        }
        Ok(value)
    }
}

/// When an injected fault fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultTimes {
    /// The first N invocations.
    Times(u64),
    Always,
}

/// `--fail NAME=ErrorType:N|always[:crash-after]`: the function fails with `error_type`, before its
/// handler runs, or after it (its side effects done: a crash after the write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub function: String,
    pub error_type: String,
    pub times: FaultTimes,
    pub crash_after: bool,
}

impl std::str::FromStr for Fault {
    type Err = RunnerError;

    fn from_str(s: &str) -> Result<Fault, RunnerError> {
        let bad = |m: &str| {
            RunnerError::argument(
                format!("--fail {s}"),
                format!("{m}; expected NAME=ErrorType:N|always[:crash-after], e.g. notify-failure=TransientError:2"),
            )
        };
        let (function, spec) = s.split_once('=').ok_or_else(|| bad("no '='"))?;
        let mut parts = spec.split(':');
        let error_type = parts
            .next()
            .filter(|e| !e.is_empty())
            .ok_or_else(|| bad("no errorType"))?;
        let times = match parts.next() {
            Some("always") => FaultTimes::Always,
            Some(n) => FaultTimes::Times(
                n.parse()
                    .map_err(|_| bad("the count is not a number or 'always'"))?,
            ),
            None => return Err(bad("no count")),
        };
        let crash_after = match parts.next() {
            None => false,
            Some("crash-after") => true,
            Some(_) => return Err(bad("the only option after the count is crash-after")),
        };
        if parts.next().is_some() {
            return Err(bad("too many ':'"));
        }
        if function.is_empty() {
            return Err(bad("no function name"));
        }
        Ok(Fault {
            function: function.to_string(),
            error_type: error_type.to_string(),
            times,
            crash_after,
        })
    }
}

/// The fault "errorType" that makes the invocation hang instead of failing.
pub const HANG: &str = "Hang";

/// The fault switch in front of a backend. Faults are keyed by binary name.
pub struct Faulty {
    inner: Arc<dyn Functions>,
    faults: Mutex<BTreeMap<String, (Fault, AtomicU64)>>,
    /// Each binary's `Timeout` from the template: the deadline its invocations run under.
    timeouts: BTreeMap<String, std::time::Duration>,
    /// `--fail PORT=CLASS:N` faults, played inside the handlers' ports.
    ports: Arc<crate::port_faults::PortFaults>,
}

impl Faulty {
    pub fn new(inner: Arc<dyn Functions>, faults: Vec<Fault>) -> Self {
        let faulty = Faulty {
            inner,
            faults: Mutex::new(BTreeMap::new()),
            timeouts: BTreeMap::new(),
            ports: Default::default(),
        };
        faulty.set(faults);
        faulty
    }

    /// Gives each binary's invocations its function `Timeout` as their deadline
    /// ([`unpaid_order::deadline`]), as Lambda does.
    pub fn with_timeouts(mut self, timeouts: BTreeMap<String, std::time::Duration>) -> Self {
        self.timeouts = timeouts;
        self
    }

    async fn invoke_inner(&self, binary: &str, payload: Value) -> Result<Value, InvokeError> {
        let call = crate::port_faults::CURRENT
            .scope(self.ports.clone(), self.inner.invoke(binary, payload));
        match self.timeouts.get(binary) {
            Some(t) => {
                let deadline = unpaid_order::deadline::Deadline::after(*t);
                unpaid_order::deadline::scope(deadline, call).await
            }
            None => call.await,
        }
    }

    /// Replaces the faults (e.g. "the outage is over"), resetting their counters.
    pub fn set(&self, faults: Vec<Fault>) {
        let (ports, functions): (Vec<Fault>, Vec<Fault>) = faults
            .into_iter()
            .partition(crate::port_faults::is_port_fault);
        self.ports.set(ports);
        *self.faults.lock().unwrap_or_else(|p| p.into_inner()) = functions
            .into_iter()
            .map(|f| (f.function.clone(), (f, AtomicU64::new(0))))
            .collect();
    }

    /// The fault to inject now for `binary`, if any (counts this invocation).
    fn fire(&self, binary: &str) -> Option<(Fault, u64)> {
        let faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        let (fault, count) = faults.get(binary)?;
        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
        match fault.times {
            FaultTimes::Always => Some((fault.clone(), n)),
            FaultTimes::Times(limit) if n <= limit => Some((fault.clone(), n)),
            FaultTimes::Times(_) => None,
        }
    }
}

#[async_trait]
impl Functions for Faulty {
    async fn invoke(&self, binary: &str, payload: Value) -> Result<Value, InvokeError> {
        let Some((fault, n)) = self.fire(binary) else {
            return self.invoke_inner(binary, payload).await;
        };
        if fault.error_type == HANG {
            // A function that never answers (until the task's TimeoutSeconds, or the runner's end):
            // to rehearse a runner stopped while an execution is RUNNING.
            return std::future::pending().await;
        }
        let injected = |when: &str| InvokeError::Function {
            error_type: fault.error_type.clone(),
            error_message: format!(
                "injected by sfn-local --fail {binary} ({when}, invocation {n})"
            ),
        };
        if fault.crash_after {
            // The handler's side effects happen; its answer is lost.
            let _ = self.invoke_inner(binary, payload).await;
            return Err(injected("after the handler ran"));
        }
        Err(injected("before the handler ran"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo(AtomicU64);

    #[async_trait]
    impl Functions for Echo {
        async fn invoke(&self, _binary: &str, payload: Value) -> Result<Value, InvokeError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(payload)
        }
    }

    #[test]
    fn parses_fault_specs_and_names_bad_ones() {
        let f: Fault = "notify-failure=TransientError:2".parse().unwrap();
        assert_eq!(f.times, FaultTimes::Times(2));
        assert!(!f.crash_after);
        let f: Fault = "save-order=TransientError:always:crash-after"
            .parse()
            .unwrap();
        assert_eq!(f.times, FaultTimes::Always);
        assert!(f.crash_after);
        for bad in ["x", "x=E", "x=E:z", "=E:1", "x=E:1:later"] {
            let err = bad.parse::<Fault>().unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[tokio::test]
    async fn fails_n_times_then_runs_the_handler() {
        let echo = Arc::new(Echo(AtomicU64::new(0)));
        let faulty = Faulty::new(echo.clone(), vec!["f=TransientError:2".parse().unwrap()]);
        for _ in 0..2 {
            let err = faulty.invoke("f", json!(1)).await.unwrap_err();
            assert_eq!(err.error(), "TransientError");
        }
        assert_eq!(echo.0.load(Ordering::SeqCst), 0);
        assert_eq!(faulty.invoke("f", json!(1)).await.unwrap(), json!(1));
        assert_eq!(faulty.invoke("other", json!(2)).await.unwrap(), json!(2));
        assert_eq!(echo.0.load(Ordering::SeqCst), 2);
    }

    fn embedded(dir: &std::path::Path) -> EmbeddedFunctions {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/tables");
        EmbeddedFunctions::new(
            Store::open(dir).unwrap(),
            fixtures,
            "arn:aws:sns:us-east-1:123456789012:t".into(),
            "payments@example.com".into(),
        )
    }

    #[tokio::test]
    async fn two_runners_on_one_directory_see_each_others_writes_through_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let a = embedded(dir.path());
        let b = embedded(dir.path());
        let order = json!({"orderId": "492500005643"});
        let loaded = a.invoke("load-order", order.clone()).await.unwrap();
        let header = b
            .invoke(
                "build-failed-header",
                json!({"orderId": "492500005643", "checkStatus": loaded["checkStatus"],
                       "timestamp": "2026-11-25T06:10:00Z"}),
            )
            .await
            .unwrap();
        let saved = a
            .invoke(
                "save-order",
                json!({"orderId": "492500005643", "paymentHeader": header["paymentHeader"]}),
            )
            .await
            .unwrap();
        assert_eq!(saved["outcome"], "saved", "{saved}");
        // b never ran save-order, yet sees the saved header (read from a's journal line).
        let tables = b.snapshot().await.unwrap();
        let journal = std::fs::read_to_string(dir.path().join(JOURNAL_FILE)).unwrap();
        assert_eq!(journal.lines().count(), 1, "{journal}");
        assert_eq!(tables, a.snapshot().await.unwrap());
        // A line cut short by a crash is dropped, not an error.
        std::fs::write(
            dir.path().join(JOURNAL_FILE),
            format!("{journal}{{\"orderId\":"),
        )
        .unwrap();
        let c = embedded(dir.path());
        assert_eq!(c.snapshot().await.unwrap(), tables);
        // Compaction folds the journal into tables.json.
        c.flush().await.unwrap();
        assert!(!dir.path().join(JOURNAL_FILE).exists());
        assert_eq!(embedded(dir.path()).snapshot().await.unwrap(), tables);
        assert!(dir.path().join(OUTBOX_FILE).exists());
    }

    #[tokio::test]
    async fn answers_wait_for_one_shared_fdatasync_of_every_line_before_them() {
        let dir = tempfile::tempdir().unwrap();
        let a = Arc::new(embedded(dir.path()));
        let ids = ["492500005643", "492500005644", "492500005647"];
        let mut headers = Vec::new();
        for id in ids {
            let loaded = a
                .invoke("load-order", json!({"orderId": id}))
                .await
                .unwrap();
            let header = a
                .invoke(
                    "build-failed-header",
                    json!({"orderId": id, "checkStatus": loaded["checkStatus"],
                           "timestamp": "2026-11-25T06:10:00Z"}),
                )
                .await
                .unwrap();
            headers.push(header["paymentHeader"].clone());
        }
        // Hold the sync back: every save-order writes its line, none may answer before a sync.
        let syncing = a.syncing.lock().await;
        let tasks: Vec<_> = ids
            .iter()
            .zip(&headers)
            .map(|(id, header)| {
                let a = a.clone();
                let payload = json!({"orderId": id, "paymentHeader": header});
                tokio::spawn(async move { a.invoke("save-order", payload).await })
            })
            .collect();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while a.durability().written < ids.len() as u64 {
            assert!(
                std::time::Instant::now() < deadline,
                "the lines were not written"
            );
            tokio::task::yield_now().await;
        }
        assert!(
            tasks.iter().all(|t| !t.is_finished()),
            "answered before a sync"
        );
        assert_eq!(a.durability().synced, 0);
        drop(syncing);
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap()["outcome"], "saved");
        }
        let counts = {
            let d = a.durability();
            (d.written, d.synced, d.syncs)
        };
        assert_eq!(counts, (3, 3, 1));
        // After a crash (no flush): a new runner reads every answered line from the journal.
        let journal = std::fs::read_to_string(dir.path().join(JOURNAL_FILE)).unwrap();
        assert_eq!(journal.lines().count(), ids.len(), "{journal}");
        let restarted = embedded(dir.path()).snapshot().await.unwrap();
        assert_eq!(restarted, a.snapshot().await.unwrap());
        // A read-only invocation also waits for what it read (here already durable): no sync.
        a.invoke("load-order", json!({"orderId": "492500005643"}))
            .await
            .unwrap();
        assert_eq!(a.durability().syncs, 1);
    }

    #[test]
    fn the_order_index_agrees_with_scanning_the_tables() {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/tables");
        let state = MemoryState::load_fixtures(&fixtures).unwrap();
        let mut plain = state.clone();
        let mut indexed = Cached::new(state, None);
        let ids: Vec<String> = plain
            .orders
            .iter()
            .filter_map(|i| i.get("orderId").and_then(unpaid_order::Attr::key_text))
            .map(str::to_string)
            .chain(["new-order".to_string()])
            .collect();
        assert!(ids.len() > 1);
        let item = |id: &str, n: usize| -> unpaid_order::Item {
            let mut i = unpaid_order::Item::new();
            i.insert("orderId".into(), unpaid_order::Attr::S(id.into()));
            i.insert("n".into(), unpaid_order::Attr::N(n.to_string()));
            i
        };
        // Same count (in place), new items (appended), more and fewer (general path), none.
        for (step, id) in ids.iter().cycle().take(ids.len() * 3).enumerate() {
            let before = indexed.slice(id);
            assert_eq!(before, JournalEntry::slice(&plain, id), "step {step}");
            let grow = |t: &Vec<unpaid_order::Item>| -> Vec<unpaid_order::Item> {
                let keep = t.len();
                let n = match step % 4 {
                    0 => keep,
                    1 => keep + 1,
                    2 => keep.saturating_sub(1),
                    _ => 2,
                };
                (0..n).map(|k| item(id, step * 10 + k)).collect()
            };
            let entry = || JournalEntry {
                order_id: id.clone(),
                orders: grow(&before.orders),
                check_status: grow(&before.check_status),
                process_unpaid_order: grow(&before.process_unpaid_order),
                email_log: grow(&before.email_log),
                sns: vec![],
                emails: vec![],
            };
            let (a, b) = (entry(), entry());
            a.apply(&mut plain);
            indexed.apply(b);
            assert_eq!(indexed.state, plain, "step {step}");
        }
    }

    #[tokio::test]
    async fn crash_after_runs_the_handler_and_fails() {
        let echo = Arc::new(Echo(AtomicU64::new(0)));
        let faulty = Faulty::new(
            echo.clone(),
            vec!["f=Boom:always:crash-after".parse().unwrap()],
        );
        let err = faulty.invoke("f", json!(1)).await.unwrap_err();
        assert_eq!(err.error(), "Boom");
        assert!(err.cause().contains("after the handler ran"));
        assert_eq!(echo.0.load(Ordering::SeqCst), 1);
        faulty.set(vec![]);
        assert!(faulty.invoke("f", json!(1)).await.is_ok());
    }
}
