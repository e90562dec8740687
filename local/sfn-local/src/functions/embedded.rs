//! The handlers in-process over the embedded tables: one transaction per invocation on the state
//! directory, on the order's items alone when the payload names a plain order id.

use std::path::PathBuf;

use async_trait::async_trait;
use serde_json::Value;
use unpaid_order::memory::MemoryState;
use unpaid_order::MemoryStore;

use crate::error::RunnerError;
use crate::project::handlers::{call_handler, Ports};
use crate::store::Store;

use super::{function_error, Functions, InvokeError};
use crate::store::journal::{JournalEntry, TablesJournal};
use crate::store::order_index::Cached;

/// The handlers over the embedded store. The tables live in memory for the runner's lifetime;
/// each invocation is one transaction on the state directory (lock, catch up with what other
/// processes wrote, run the handler, append its changes to `tables.journal`). `tables.json` is the
/// snapshot the journal applies to; it is rewritten (compaction) when the journal grows long.
pub struct EmbeddedFunctions {
    /// The tables, their journal and its group commit.
    tables: TablesJournal,
    topic_arn: String,
    sender: String,
}

/// The order an invocation is about, when it can run on that order's items alone: a plain key
/// (anything else, e.g. one a handler would trim or refuse, runs on the whole tables).
fn plain_order_id(payload: &Value) -> Option<String> {
    let id = match payload.get(crate::project::ORDER_KEY)? {
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
    /// The handlers over the embedded tables in `store`, first filled from `fixtures`;
    /// notify-failure publishes to `topic_arn` and sends from `sender`.
    pub fn new(store: Store, fixtures: PathBuf, topic_arn: String, sender: String) -> Self {
        EmbeddedFunctions {
            tables: TablesJournal::new(store, fixtures),
            topic_arn,
            sender,
        }
    }

    /// Folds the journal into `tables.json` and writes `outbox.json` (e.g. at the end of a run).
    pub async fn flush(&self) -> Result<(), RunnerError> {
        self.tables.flush().await
    }

    /// The current tables, seeding them from the fixtures on first use. Call with the lock held.
    pub fn load_state(&self) -> Result<MemoryState, RunnerError> {
        self.tables.load_state()
    }

    /// The tables and outbox as they are now.
    pub async fn snapshot(&self) -> Result<MemoryState, RunnerError> {
        self.tables.snapshot().await
    }

    async fn run(
        &self,
        binary: &str,
        payload: Value,
    ) -> Result<Result<Value, crate::project::handlers::HandlerError>, RunnerError> {
        if crate::project::TABLELESS_FUNCTIONS.contains(&binary) {
            // Touches no table: no transaction.
            let memory = MemoryStore::default();
            return Ok(call_handler(binary, payload, &Ports::from_memory(&memory)).await);
        }
        let lock = self.tables.store.lock().await?;
        let (result, upto) = self.transact(binary, payload).await?;
        // Synced after the lock is let go, so that the next invocations write their lines
        // meanwhile and one fdatasync serves several (group commit). The answer waits for it.
        drop(lock);
        self.tables.sync_journal(upto).await?;
        Ok(result)
    }

    /// One invocation's transaction on the tables (store lock held): the handler's result and the
    /// journal count that must be durable before it is used (its own line, or the lines it read).
    async fn transact(
        &self,
        binary: &str,
        payload: Value,
    ) -> Result<(Result<Value, crate::project::handlers::HandlerError>, u64), RunnerError> {
        // Taken out of the cache while the handler runs (the store lock keeps others out); put
        // back, updated, below. A cancelled invocation leaves the cache empty: the next reloads.
        let mut cached = {
            let mut cache = self.tables.cache.lock().unwrap_or_else(|p| p.into_inner());
            self.tables.catch_up(&mut cache)?;
            match cache.take() {
                Some(c) => c,
                None => return Err(RunnerError::Backend("embedded tables not loaded".into())),
            }
        };
        let put_back = |c: Cached| {
            *self.tables.cache.lock().unwrap_or_else(|p| p.into_inner()) = Some(c);
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
                    let entry = JournalEntry::of_order(id, after);
                    // On an error the cache stays empty: the next invocation reloads the files.
                    let upto = self.tables.append(&mut cached, &entry)?;
                    cached.apply(entry);
                    put_back(cached);
                    return Ok((result, upto));
                }
                put_back(cached);
                // It read what the cache held: that must be durable too.
                Ok((result, self.tables.durability().written))
            }
            None => {
                let before = cached.state.clone();
                let memory = MemoryStore::new(cached.state)
                    .with_identity(self.topic_arn.clone(), self.sender.clone());
                let result = call_handler(binary, payload, &Ports::from_memory(&memory)).await;
                cached.state = memory.snapshot();
                cached.index = None;
                let upto = if cached.state != before {
                    self.tables.compact(&mut cached)?
                } else {
                    self.tables.durability().written
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
            crate::project::handlers::HandlerError::Function(e) => function_error(e),
            crate::project::handlers::HandlerError::Unknown(name) => InvokeError::Service {
                error: "Lambda.ResourceNotFoundException".into(),
                cause: format!("Function not found: {name} (no in-process handler)"),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    use crate::store::journal::{JOURNAL_FILE, OUTBOX_FILE};

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
        let syncing = a.tables.syncing.lock().await;
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
        while a.tables.durability().written < ids.len() as u64 {
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
        assert_eq!(a.tables.durability().synced, 0);
        drop(syncing);
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap()["outcome"], "saved");
        }
        let counts = {
            let d = a.tables.durability();
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
        assert_eq!(a.tables.durability().syncs, 1);
    }
}
