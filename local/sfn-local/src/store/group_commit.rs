//! Group commit of the tables' journal: an answer waits until its line is durable, and one
//! fdatasync serves every line written before it (a Map's iterations share one).

use std::fs::File;
use std::sync::Arc;

use crate::error::RunnerError;

use super::journal::TablesJournal;

/// Journal writes and syncs, counted (a count, not an offset: compaction empties the file).
#[derive(Default)]
pub(crate) struct Durability {
    /// Journal lines written (by this runner, or read from other processes' appends) so far.
    pub(crate) written: u64,
    /// Of those, how many are known durable.
    pub(crate) synced: u64,
    /// The journal as last written or read: syncing it makes every line up to `written` durable.
    pub(crate) file: Option<Arc<File>>,
    /// fdatasync calls made (for the tests: fewer than lines when invocations overlap).
    pub(crate) syncs: u64,
}

impl TablesJournal {
    pub(crate) fn durability(&self) -> std::sync::MutexGuard<'_, Durability> {
        self.durable.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes journal lines written (or read) through `file`, not yet synced; returns the count to
    /// wait for with `sync_journal`.
    pub(crate) fn note_written(&self, file: File) -> u64 {
        let mut d = self.durability();
        d.written += 1;
        d.file = Some(Arc::new(file));
        d.written
    }

    /// Notes that everything written so far is durable (a compaction fsynced the snapshot).
    pub(crate) fn note_all_synced(&self) -> u64 {
        let mut d = self.durability();
        d.synced = d.written;
        d.file = None;
        d.written
    }

    /// Waits until journal line `upto` (a `note_written` count) is durable: one fdatasync covers
    /// every line written before it, so invocations in flight together (a Map's iterations) share
    /// it instead of each paying its own.
    pub(crate) async fn sync_journal(&self, upto: u64) -> Result<(), RunnerError> {
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
}
