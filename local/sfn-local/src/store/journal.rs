//! The embedded tables' journal: one JSON line per invocation (the order's items after it, what it
//! sent), applied to the `tables.json` snapshot, caught up across processes and compacted.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::sync::Mutex;

use unpaid_order::memory::MemoryState;

use crate::error::RunnerError;
use crate::store::Store;

use super::group_commit::Durability;
use super::order_index::Cached;

/// The tables and outbox file in the state directory.
pub const TABLES_FILE: &str = "tables.json";
/// Each handler's changes since the snapshot, one JSON line per invocation.
pub const JOURNAL_FILE: &str = "tables.journal";
/// A copy of the outbox alone, for people to read (written with the snapshot).
pub const OUTBOX_FILE: &str = "outbox.json";
/// The journal is folded into the snapshot after this many bytes.
pub(crate) const COMPACT_AFTER_BYTES: u64 = 16 * 1024 * 1024;

/// What identifies a version of `tables.json`: another process's compaction changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileId {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
}

pub(crate) fn file_id(path: &std::path::Path) -> Option<FileId> {
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

pub(crate) use crate::project::JournalEntry;

pub(crate) fn of_order(item: &unpaid_order::Item, order_id: &str) -> bool {
    crate::project::order_key(item) == Some(order_id)
}

/// Replaces the items of `order_id` in `table` with `items`, where the first of them was.
pub(crate) fn replace_order(
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
    pub(crate) fn slice(state: &MemoryState, order_id: &str) -> MemoryState {
        crate::project::from_tables(crate::project::tables(state).map(|t| {
            t.iter()
                .filter(|i| of_order(i, order_id))
                .cloned()
                .collect()
        }))
    }

    pub(crate) fn apply(self, state: &mut MemoryState) {
        let (id, items, sns, emails) = self.into_parts();
        for (table, items) in crate::project::tables_mut(state).into_iter().zip(items) {
            replace_order(table, &id, items);
        }
        state.outbox.sns.extend(sns);
        state.outbox.emails.extend(emails);
    }
}

/// The embedded tables in the state directory: `tables.json` (the snapshot) plus `tables.journal`
/// (each invocation's changes since), cached in memory and kept up to date with other processes.
pub struct TablesJournal {
    pub(crate) store: Store,
    /// `events/tables/`: what the tables hold before first use.
    fixtures: PathBuf,
    /// The tables as of the files' `seen` state. Only used with the store's lock held.
    pub(crate) cache: Mutex<Option<Cached>>,
    /// Group commit: what of the journal is written and what is durable.
    pub(super) durable: Mutex<Durability>,
    /// Serialises the syncs: a waiter that gets it finds its line synced by an earlier sync, or
    /// syncs every line written so far with one fdatasync.
    pub(crate) syncing: tokio::sync::Mutex<()>,
}

impl TablesJournal {
    /// The tables in `store`, first filled from the `fixtures` folder (`events/tables/`).
    pub fn new(store: Store, fixtures: PathBuf) -> Self {
        TablesJournal {
            store,
            fixtures,
            cache: Mutex::new(None),
            durable: Mutex::new(Durability::default()),
            syncing: tokio::sync::Mutex::new(()),
        }
    }

    pub(crate) fn journal_path(&self) -> PathBuf {
        self.store.root().join(JOURNAL_FILE)
    }

    /// Brings the cache up to date with the files (other processes may have written). Lock held.
    pub(crate) fn catch_up(&self, cache: &mut Option<Cached>) -> Result<(), RunnerError> {
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

    /// Appends an invocation's entries, not yet synced: the caller waits for `sync_journal(returned count)`
    /// before the handler's answer is used (a handler's write is durable before its answer).
    /// One line per order (several for one record-event invocation), written at once: a crash
    /// may keep the first lines only; each is a whole order's items, and the invocation was not
    /// answered, so it runs again (its writes are idempotent).
    pub(crate) fn append_all(
        &self,
        c: &mut Cached,
        entries: &[JournalEntry],
    ) -> Result<u64, RunnerError> {
        use std::io::Write;
        let journal = self.journal_path();
        let mut line = Vec::new();
        for entry in entries {
            serde_json::to_writer(&mut line, entry).map_err(|e| RunnerError::store(&journal, e))?;
            line.push(b'\n');
        }
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
    pub(crate) fn compact(&self, c: &mut Cached) -> Result<u64, RunnerError> {
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

    /// The items of `order_id` in every table as they are now (the outbox left empty): one
    /// order's items by the order index, without copying the tables.
    pub async fn order_slice(&self, order_id: &str) -> Result<MemoryState, RunnerError> {
        let _lock = self.store.lock().await?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        self.catch_up(&mut cache)?;
        Ok(cache
            .as_mut()
            .map(|c| c.slice(order_id))
            .unwrap_or_default())
    }

    /// Appends `items` to the table at `position` (`project::tables`) and folds everything into
    /// the snapshot: `sfn-local seed-executions`' bulk load, one write however many items.
    pub async fn bulk_insert(
        &self,
        position: usize,
        items: Vec<unpaid_order::Item>,
    ) -> Result<(), RunnerError> {
        let _lock = self.store.lock().await?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        self.catch_up(&mut cache)?;
        if let Some(c) = cache.as_mut() {
            if let Some(table) = crate::project::tables_mut(&mut c.state)
                .into_iter()
                .nth(position)
            {
                table.extend(items);
            }
            // Positions moved under the order index: it is rebuilt on next use.
            c.index = None;
            self.compact(c)?;
        }
        Ok(())
    }

    /// The tables and outbox as they are now.
    pub async fn snapshot(&self) -> Result<MemoryState, RunnerError> {
        let _lock = self.store.lock().await?;
        self.load_state()
    }
}
