//! The state directory's lock (one read-modify-write at a time, across processes) and the runners'
//! owner leases (a RUNNING execution whose owner's lease nobody holds was cut off by a crash).

use std::fs::{File, OpenOptions};
use std::path::PathBuf;

use crate::error::RunnerError;

use super::Store;

/// Holds the state directory's lock until dropped.
pub struct StoreLock {
    pub(super) _file: File,
    pub(super) _local: tokio::sync::OwnedMutexGuard<()>,
}

/// A runner's lease on the state directory: `owners/<id>.lock`, locked while the runner lives. The
/// kernel drops the lock when the process dies, so a lease nobody holds means a dead owner.
pub struct OwnerLease {
    id: String,
    path: PathBuf,
    _file: File,
}

impl OwnerLease {
    /// The runner's id (the lease's file stem, an execution's `owner`).
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
}
