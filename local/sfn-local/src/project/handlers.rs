//! The six functions' handlers, called in-process by binary name over a set of ports: the same
//! async functions the Lambda binaries run.

use std::sync::Arc;

use serde_json::Value;
use unpaid_order::{
    AttemptLog, CheckStatusTable, EmailLog, ExecutionInputs, FunctionError, Mailer, MemoryStore,
    Notifier, OrderIndex, OrderTable,
};

/// Every port a handler may use.
#[derive(Clone)]
pub struct Ports {
    /// The orders table (load-order reads it, save-order writes the unpaid payment header).
    pub orders: Arc<dyn OrderTable>,
    /// The check-status table (the payment checks of each order; load-order reads the oldest).
    pub check_status: Arc<dyn CheckStatusTable>,
    /// The attempts log (log-attempt).
    pub attempts: Arc<dyn AttemptLog>,
    /// The email log: what was sent, so an email is never sent twice.
    pub email_log: Arc<dyn EmailLog>,
    /// The SNS topic of failures (notify-failure).
    pub notifier: Arc<dyn Notifier>,
    /// The SES mailer (notify-failure).
    pub mailer: Arc<dyn Mailer>,
    /// The order index (record-event).
    pub order_index: Arc<dyn OrderIndex>,
    /// DescribeExecution's input (record-event, for an event that left the input out).
    pub executions: Arc<dyn ExecutionInputs>,
    /// notify-failure's policy for an email whose outcome stays unknown (its environment).
    pub policy: notify_failure::EvidencePolicy,
}

impl Ports {
    /// Every port over one in-memory store.
    pub fn from_memory(m: &MemoryStore) -> Ports {
        Ports {
            orders: Arc::new(m.clone()),
            check_status: Arc::new(m.clone()),
            attempts: Arc::new(m.clone()),
            email_log: Arc::new(m.clone()),
            notifier: Arc::new(m.clone()),
            mailer: Arc::new(m.clone()),
            order_index: Arc::new(m.clone()),
            executions: Arc::new(m.clone()),
            policy: notify_failure::EvidencePolicy::default(),
        }
    }

    /// Every port over the real AWS adapters; `executions` answers DescribeExecution.
    pub fn from_aws(
        p: &unpaid_order::aws::AwsPorts,
        executions: Arc<dyn ExecutionInputs>,
    ) -> Ports {
        Ports {
            orders: Arc::new(p.orders.clone()),
            check_status: Arc::new(p.check_status.clone()),
            attempts: Arc::new(p.attempts.clone()),
            email_log: Arc::new(p.email_log.clone()),
            notifier: Arc::new(p.notifier.clone()),
            mailer: Arc::new(p.mailer.clone()),
            order_index: Arc::new(p.order_index.clone()),
            executions,
            policy: notify_failure::EvidencePolicy::default(),
        }
    }

    /// These ports with notify-failure's policy from its environment.
    pub fn with_policy(mut self, policy: notify_failure::EvidencePolicy) -> Ports {
        self.policy = policy;
        self
    }
}

/// Why an in-process handler call failed.
#[derive(Debug)]
pub enum HandlerError {
    /// The handler returned its typed error (errorType as DESIGN.md section 5).
    Function(FunctionError),
    /// No handler of that binary name.
    Unknown(String),
}

/// The binaries this runner has handlers for.
pub const BINARIES: [&str; 6] = [
    "load-order",
    "build-failed-header",
    "save-order",
    "log-attempt",
    "notify-failure",
    "record-event",
];

/// Runs the handler of `binary` on `payload`.
pub async fn call_handler(
    binary: &str,
    payload: Value,
    ports: &Ports,
) -> Result<Value, HandlerError> {
    fn out<T: serde::Serialize>(r: Result<T, FunctionError>) -> Result<Value, HandlerError> {
        let v = r.map_err(HandlerError::Function)?;
        // The handlers' outputs are plain serde structs: this cannot fail, but say so if it does.
        serde_json::to_value(v).map_err(|e| {
            HandlerError::Function(FunctionError::transient(format!(
                "output not serialisable: {e}"
            )))
        })
    }
    // The port faults of this invocation, if the fault switch set any (sfn-local --fail PORT=...).
    let faulted = crate::project::port_faults::CURRENT
        .try_with(|f| (!f.is_empty()).then(|| crate::project::port_faults::wrap(ports, f.clone())))
        .ok()
        .flatten();
    let ports = faulted.as_ref().unwrap_or(ports);
    match binary {
        "load-order" => {
            out(
                load_order::handle(ports.orders.as_ref(), ports.check_status.as_ref(), payload)
                    .await,
            )
        }
        "build-failed-header" => out(build_failed_header::handle(payload).await),
        "save-order" => out(save_order::handle(ports.orders.as_ref(), payload).await),
        "log-attempt" => {
            out(log_attempt::handle(ports.orders.as_ref(), ports.attempts.as_ref(), payload).await)
        }
        "notify-failure" => {
            let p = notify_failure::Ports {
                orders: ports.orders.as_ref(),
                email_log: ports.email_log.as_ref(),
                notifier: ports.notifier.as_ref(),
                mailer: ports.mailer.as_ref(),
                policy: ports.policy,
            };
            out(notify_failure::handle(p, payload).await)
        }
        "record-event" => {
            // An SQS batch in, a partial batch response out, as the Lambda's event source
            // mapping exchanges them.
            let batch = unpaid_order::parse_input(payload).map_err(HandlerError::Function)?;
            let p = record_event::Ports {
                email_log: ports.email_log.as_ref(),
                index: ports.order_index.as_ref(),
                executions: ports.executions.as_ref(),
            };
            out(Ok(record_event::handle(p, batch).await))
        }
        other => Err(HandlerError::Unknown(other.to_string())),
    }
}
