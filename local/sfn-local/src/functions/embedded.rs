//! The handlers in-process over the embedded tables: one transaction per invocation on the state
//! directory, on the order's items alone when the payload names a plain order id, on the items of
//! the orders its events name for record-event, and SES's events published for what it sent.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use unpaid_order::memory::{MemoryState, SentEmail};
use unpaid_order::{ExecutionInputs, Item, MemoryStore};

use crate::error::RunnerError;
use crate::evidence::Evidence;
use crate::project::handlers::{call_handler, HandlerError, Ports};
use crate::store::Store;

use super::{function_error, Functions, InvokeError};
use crate::store::journal::{of_order, JournalEntry, TablesJournal};
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
    /// notify-failure's policy for an email whose outcome stays unknown (its environment).
    policy: notify_failure::EvidencePolicy,
    /// DescribeExecution's input for record-event (the runner's own executions).
    executions: Arc<dyn ExecutionInputs>,
    /// Where SES's events of the emails sent go (the evidence queue).
    evidence: Option<Arc<Evidence>>,
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

/// Which items an invocation runs on.
enum Scope {
    /// One order's items (the payload's `orderId`).
    Order(String),
    /// The items of these orders (record-event: the orders its events name).
    Orders(BTreeSet<String>),
    /// The whole tables.
    All,
}

/// One invocation's transaction: the handler's result, the journal count to wait for, and the
/// emails it sent.
type Transaction = (Result<Value, HandlerError>, u64, Vec<SentEmail>);

impl EmbeddedFunctions {
    /// The handlers over the embedded tables in `store`, first filled from `fixtures`;
    /// notify-failure publishes to `topic_arn` and sends from `sender`.
    pub fn new(store: Store, fixtures: PathBuf, topic_arn: String, sender: String) -> Self {
        EmbeddedFunctions {
            tables: TablesJournal::new(store, fixtures),
            topic_arn,
            sender,
            policy: notify_failure::EvidencePolicy::default(),
            executions: Arc::new(MemoryStore::default()),
            evidence: None,
        }
    }

    /// notify-failure's evidence policy (the functions' environment), record-event's
    /// DescribeExecution, and the evidence queue SES's events of the emails sent go to.
    pub fn with_evidence(
        mut self,
        policy: notify_failure::EvidencePolicy,
        executions: Arc<dyn ExecutionInputs>,
        evidence: Arc<Evidence>,
    ) -> Self {
        self.policy = policy;
        self.executions = executions;
        self.evidence = Some(evidence);
        self
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

    /// One order's items in every table (the outbox left empty).
    pub async fn order_slice(&self, order_id: &str) -> Result<MemoryState, RunnerError> {
        self.tables.order_slice(order_id).await
    }

    /// Appends `items` to the table at `position` (`project::tables`) in one write.
    pub async fn bulk_insert(
        &self,
        position: usize,
        items: Vec<unpaid_order::Item>,
    ) -> Result<(), RunnerError> {
        self.tables.bulk_insert(position, items).await
    }

    fn ports(&self, memory: &MemoryStore) -> Ports {
        let mut ports = Ports::from_memory(memory).with_policy(self.policy);
        ports.executions = self.executions.clone();
        ports
    }

    fn memory(&self, state: MemoryState) -> MemoryStore {
        MemoryStore::new(state).with_identity(self.topic_arn.clone(), self.sender.clone())
    }

    async fn run(
        &self,
        binary: &str,
        payload: Value,
    ) -> Result<Result<Value, HandlerError>, RunnerError> {
        if crate::project::TABLELESS_FUNCTIONS.contains(&binary) {
            // Touches no table: no transaction.
            let memory = MemoryStore::default();
            return Ok(call_handler(binary, payload, &self.ports(&memory)).await);
        }
        let lock = self.tables.store.lock().await?;
        let (result, upto, sent) = self.transact(binary, payload).await?;
        // Synced after the lock is let go, so that the next invocations write their lines
        // meanwhile and one fdatasync serves several (group commit). The answer waits for it.
        drop(lock);
        self.tables.sync_journal(upto).await?;
        // SES accepted what was sent (and durably recorded): its events follow, as SES's do.
        if let Some(evidence) = &self.evidence {
            evidence.publish_emails(&sent);
        }
        Ok(result)
    }

    /// The items an invocation of `binary` runs on.
    async fn scope(&self, binary: &str, payload: &Value) -> Scope {
        if let Some(id) = plain_order_id(payload) {
            return Scope::Order(id);
        }
        if binary != crate::project::RECORDER_BINARY {
            return Scope::All;
        }
        // record-event's batch names no orderId: its events do.
        let mut orders = BTreeSet::new();
        let records = payload.get("Records").and_then(Value::as_array);
        for record in records.into_iter().flatten() {
            let body = record
                .get("body")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match record_event::orders_named(self.executions.as_ref(), body).await {
                Ok(named) => orders.extend(named),
                // Cannot tell which orders (DescribeExecution failed): the whole tables.
                Err(_) => return Scope::All,
            }
        }
        if orders.iter().any(String::is_empty) {
            return Scope::All;
        }
        Scope::Orders(orders)
    }

    /// One invocation's transaction on the tables (store lock held): the handler's result, the
    /// journal count that must be durable before it is used (its own lines, or the lines it
    /// read), and the emails it sent.
    async fn transact(&self, binary: &str, payload: Value) -> Result<Transaction, RunnerError> {
        let scope = self.scope(binary, &payload).await;
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
        let ids: Vec<String> = match scope {
            Scope::Order(id) => vec![id],
            Scope::Orders(ids) => ids.into_iter().collect(),
            Scope::All => return self.transact_all(cached, binary, payload).await,
        };
        // The handler sees those orders' items only: cost independent of the tables' size.
        let slices: Vec<MemoryState> = ids.iter().map(|id| cached.slice(id)).collect();
        let before = union(&slices);
        let memory = self.memory(before.clone());
        let result = call_handler(binary, payload.clone(), &self.ports(&memory)).await;
        let after = memory.snapshot();
        if after == before {
            self.put_back(cached);
            // It read what the cache held: that must be durable too.
            return Ok((result, self.tables.durability().written, Vec::new()));
        }
        let Some(entries) = split_by_order(&ids, &slices, after) else {
            // It wrote an item of another order (cannot happen with the project's handlers):
            // nothing of it is kept; it runs again on the whole tables.
            tracing::warn!(
                binary,
                "an invocation wrote outside the orders it named: run again on the whole tables"
            );
            return self.transact_all(cached, binary, payload).await;
        };
        let sent: Vec<SentEmail> = entries.iter().flat_map(|e| e.emails.clone()).collect();
        // A handler that failed half-way may have written (as on DynamoDB): keep it. On an
        // error the cache stays empty: the next invocation reloads the files.
        let upto = self.tables.append_all(&mut cached, &entries)?;
        for entry in entries {
            cached.apply(entry);
        }
        self.put_back(cached);
        Ok((result, upto, sent))
    }

    /// The transaction on the whole tables (rewrites `tables.json` if anything changed).
    async fn transact_all(
        &self,
        mut cached: Cached,
        binary: &str,
        payload: Value,
    ) -> Result<Transaction, RunnerError> {
        let before = cached.state.clone();
        let memory = self.memory(cached.state);
        let result = call_handler(binary, payload, &self.ports(&memory)).await;
        cached.state = memory.snapshot();
        cached.index = None;
        let sent = cached
            .state
            .outbox
            .emails
            .get(before.outbox.emails.len()..)
            .unwrap_or_default()
            .to_vec();
        let upto = if cached.state != before {
            self.tables.compact(&mut cached)?
        } else {
            self.tables.durability().written
        };
        self.put_back(cached);
        Ok((result, upto, sent))
    }

    fn put_back(&self, c: Cached) {
        *self.tables.cache.lock().unwrap_or_else(|p| p.into_inner()) = Some(c);
    }
}

/// The items of several orders' slices together (their outboxes are empty).
fn union(slices: &[MemoryState]) -> MemoryState {
    let mut out = MemoryState::default();
    for slice in slices {
        for (table, items) in crate::project::tables_mut(&mut out)
            .into_iter()
            .zip(crate::project::tables(slice))
        {
            table.extend(items.iter().cloned());
        }
    }
    out
}

/// One journal entry per order whose items changed (the outbox with the first), or `None` if
/// `after` holds an item of none of `ids`.
fn split_by_order(
    ids: &[String],
    before: &[MemoryState],
    after: MemoryState,
) -> Option<Vec<JournalEntry>> {
    let belongs =
        |item: &Item| crate::project::order_key(item).is_some_and(|k| ids.iter().any(|id| id == k));
    if !crate::project::tables(&after)
        .iter()
        .all(|t| t.iter().all(belongs))
    {
        return None;
    }
    let mut outbox = Some(after.outbox.clone());
    let mut entries = Vec::new();
    for (id, was) in ids.iter().zip(before) {
        let mut now = crate::project::from_tables(
            crate::project::tables(&after)
                .map(|t| t.iter().filter(|i| of_order(i, id)).cloned().collect()),
        );
        let carries_outbox = outbox
            .as_ref()
            .is_some_and(|o| !o.sns.is_empty() || !o.emails.is_empty());
        if &now == was && !carries_outbox {
            continue;
        }
        if let Some(o) = outbox.take() {
            now.outbox = o;
        }
        entries.push(JournalEntry::of_order(id.clone(), now));
    }
    Some(entries)
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

    use crate::store::journal::{JOURNAL_FILE, OUTBOX_FILE, TABLES_FILE};

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

    /// An SQS batch of one status change of a batch execution naming `orders`.
    fn status_change_batch(orders: &[&str]) -> Value {
        let records: Vec<Value> = orders
            .iter()
            .map(|o| json!({"eventID": format!("ev-{o}"), "dynamodb": {"Keys": {"orderId": {"S": o}}}}))
            .collect();
        let record = crate::store::ExecutionRecord {
            execution_arn:
                "arn:aws:states:us-east-1:123456789012:execution:process-unpaid-orders-dev:b-1"
                    .into(),
            state_machine_arn:
                "arn:aws:states:us-east-1:123456789012:stateMachine:process-unpaid-orders-dev"
                    .into(),
            state_machine_name: "process-unpaid-orders-dev".into(),
            name: "b-1".into(),
            status: "RUNNING".into(),
            input: Value::Array(records),
            output: None,
            error: None,
            cause: None,
            start_date: chrono::Utc::now(),
            stop_date: None,
            redrive_count: 0,
            redrive_date: None,
            history: vec![],
            checkpoint: None,
            parent_execution_arn: None,
            owner: None,
        };
        let event = crate::evidence::status_change(&record, chrono::Utc::now());
        json!({"Records": [{"messageId": "m-1", "receiptHandle": "r", "body": event.to_string(),
            "attributes": {"ApproximateReceiveCount": "1"}, "eventSource": "aws:sqs"}]})
    }

    #[tokio::test]
    async fn record_event_runs_on_the_orders_its_events_name_one_journal_line_each() {
        let dir = tempfile::tempdir().unwrap();
        let a = embedded(dir.path());
        a.flush().await.unwrap();
        let snapshot = crate::store::journal::file_id(&dir.path().join(TABLES_FILE));
        let answer = a
            .invoke(
                "record-event",
                status_change_batch(&["492500005643", "492500005644"]),
            )
            .await
            .unwrap();
        assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
        // Not the whole tables: tables.json untouched, one line per order in the journal.
        assert_eq!(
            crate::store::journal::file_id(&dir.path().join(TABLES_FILE)),
            snapshot
        );
        let journal = std::fs::read_to_string(dir.path().join(JOURNAL_FILE)).unwrap();
        let lines: Vec<Value> = journal
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let orders: Vec<&str> = lines
            .iter()
            .map(|l| l["orderId"].as_str().unwrap())
            .collect();
        assert_eq!(orders, ["492500005643", "492500005644"]);
        // Another runner on the directory reads them (the journal's catch-up).
        let index = embedded(dir.path()).snapshot().await.unwrap().order_index;
        assert_eq!(index.len(), 2);
        // The same event again writes nothing (the index already holds that state).
        a.invoke(
            "record-event",
            status_change_batch(&["492500005643", "492500005644"]),
        )
        .await
        .unwrap();
        let journal = std::fs::read_to_string(dir.path().join(JOURNAL_FILE)).unwrap();
        assert_eq!(journal.lines().count(), 2);
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
