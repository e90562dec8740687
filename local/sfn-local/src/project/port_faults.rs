//! AWS failure modes played at a port, under any back end (embedded store or AWS adapters):
//! `--fail PORT=CLASS:N|always`, e.g. `--fail ses=lost-reply:1`, so what the money matrix proves
//! against moto (docs/failure-modes.md) can be rehearsed offline.
//!
//! Ports and the call each fault hits: `orders` (the payment-header write), `check-status` (the
//! read), `attempts` (the attempt record), `email-log` (the claim), `sns` (Publish), `ses`
//! (SendEmail). Classes:
//! - `lost-reply`, `5xx-after-apply`: the call is applied, then the caller sees a timeout / a 500;
//! - `refused`, `throttled`: nothing is applied, a 503 / a throttling error;
//! - `crash-after-claim` (email-log): the claim is written, then the invocation dies.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use unpaid_order::evidence::{SesEvent, SesOutcome};
use unpaid_order::model::{AttemptRecord, LogOutcome, SaveOutcome};
use unpaid_order::notice::{FailureNotification, OutgoingEmail};
use unpaid_order::ports::{Claim, ClaimOutcome, SendError};
use unpaid_order::{
    AttemptLog, CheckStatus, CheckStatusTable, EmailLog, FunctionError, Mailer, Notifier, OrderId,
    OrderTable, PaymentHeader, StoredOrder,
};

use crate::functions::{Fault, FaultTimes};
use crate::project::handlers::Ports;

/// The ports a fault can name.
pub const PORTS: [&str; 6] = [
    "orders",
    "check-status",
    "attempts",
    "email-log",
    "sns",
    "ses",
];

/// The fault classes.
pub const CLASSES: [&str; 5] = [
    "lost-reply",
    "5xx-after-apply",
    "refused",
    "throttled",
    "crash-after-claim",
];

/// Whether `fault` names a port fault (rather than a function's errorType).
pub fn is_port_fault(fault: &Fault) -> bool {
    PORTS.contains(&fault.function.as_str()) && CLASSES.contains(&fault.error_type.as_str())
}

/// The port faults in force, with their counters.
#[derive(Default)]
pub struct PortFaults {
    faults: Mutex<BTreeMap<String, (Fault, Arc<AtomicU64>)>>,
}

impl PortFaults {
    /// Replaces the faults (their counters start again).
    pub fn set(&self, faults: Vec<Fault>) {
        *self.faults.lock().unwrap_or_else(|p| p.into_inner()) = faults
            .into_iter()
            .map(|f| (f.function.clone(), (f, Arc::new(AtomicU64::new(0)))))
            .collect();
    }

    /// No port fault is set (the ports run unwrapped).
    pub fn is_empty(&self) -> bool {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// The class to play on this call of `port`, if it fires now (counts the call).
    fn fire(&self, port: &str) -> Option<(String, u64)> {
        let faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        let (fault, count) = faults.get(port)?;
        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
        let fires = match fault.times {
            FaultTimes::Always => true,
            FaultTimes::Times(limit) => n <= limit,
        };
        fires.then(|| (fault.error_type.clone(), n))
    }
}

tokio::task_local! {
    /// The port faults of the invocation running on this task (set by the fault switch).
    pub static CURRENT: Arc<PortFaults>;
}

/// What a fired fault does to one call.
enum Play {
    /// Apply the call, then answer this error.
    AfterApply(FunctionError),
    /// Do not apply it; answer this error.
    Instead(FunctionError),
}

fn play(faults: &PortFaults, port: &str) -> Option<Play> {
    let (class, n) = faults.fire(port)?;
    let why =
        |what: &str| format!("{what} (injected by sfn-local --fail {port}={class}, call {n})");
    Some(match class.as_str() {
        "lost-reply" => Play::AfterApply(FunctionError::transient(why("reply lost: timed out"))),
        "5xx-after-apply" => {
            Play::AfterApply(FunctionError::transient(why("500 InternalServerError")))
        }
        "crash-after-claim" => Play::AfterApply(FunctionError::transient(why(
            "the invocation died after the claim",
        ))),
        "throttled" => Play::Instead(FunctionError::transient(why("ThrottlingException"))),
        _ => Play::Instead(FunctionError::transient(why("503 ServiceUnavailable"))),
    })
}

/// Ports with `faults` played in front of them.
pub fn wrap(ports: &Ports, faults: Arc<PortFaults>) -> Ports {
    Ports {
        orders: Arc::new(Faulted {
            inner: ports.orders.clone(),
            faults: faults.clone(),
        }),
        check_status: Arc::new(Faulted {
            inner: ports.check_status.clone(),
            faults: faults.clone(),
        }),
        attempts: Arc::new(Faulted {
            inner: ports.attempts.clone(),
            faults: faults.clone(),
        }),
        email_log: Arc::new(Faulted {
            inner: ports.email_log.clone(),
            faults: faults.clone(),
        }),
        notifier: Arc::new(Faulted {
            inner: ports.notifier.clone(),
            faults: faults.clone(),
        }),
        mailer: Arc::new(Faulted {
            inner: ports.mailer.clone(),
            faults,
        }),
        order_index: ports.order_index.clone(),
        executions: ports.executions.clone(),
        policy: ports.policy,
    }
}

struct Faulted<T: ?Sized> {
    inner: Arc<T>,
    faults: Arc<PortFaults>,
}

/// A table call under a fault: applied or not, then the error.
async fn table_call<T, F>(faults: &PortFaults, port: &str, call: F) -> Result<T, FunctionError>
where
    F: std::future::Future<Output = Result<T, FunctionError>>,
{
    match play(faults, port) {
        None => call.await,
        Some(Play::Instead(e)) => Err(e),
        Some(Play::AfterApply(e)) => {
            call.await?;
            Err(e)
        }
    }
}

/// A send under a fault: an error after it was applied is "maybe sent", one instead of it is a
/// refusal (nothing went out).
async fn send_call<F>(faults: &PortFaults, port: &str, call: F) -> Result<String, SendError>
where
    F: std::future::Future<Output = Result<String, SendError>>,
{
    match play(faults, port) {
        None => call.await,
        Some(Play::Instead(e)) => Err(SendError::NotSent(e)),
        Some(Play::AfterApply(e)) => {
            call.await?;
            Err(SendError::Unknown(e))
        }
    }
}

#[async_trait]
impl OrderTable for Faulted<dyn OrderTable> {
    async fn get(&self, id: &OrderId) -> Result<Option<StoredOrder>, FunctionError> {
        self.inner.get(id).await
    }
    async fn save_payment_header(
        &self,
        id: &OrderId,
        h: &PaymentHeader,
    ) -> Result<SaveOutcome, FunctionError> {
        table_call(
            &self.faults,
            "orders",
            self.inner.save_payment_header(id, h),
        )
        .await
    }
}

#[async_trait]
impl CheckStatusTable for Faulted<dyn CheckStatusTable> {
    async fn oldest(&self, id: &OrderId) -> Result<Option<CheckStatus>, FunctionError> {
        table_call(&self.faults, "check-status", self.inner.oldest(id)).await
    }
}

#[async_trait]
impl AttemptLog for Faulted<dyn AttemptLog> {
    async fn record(&self, a: &AttemptRecord) -> Result<LogOutcome, FunctionError> {
        table_call(&self.faults, "attempts", self.inner.record(a)).await
    }
}

#[async_trait]
impl EmailLog for Faulted<dyn EmailLog> {
    async fn claim(&self, claim: &Claim) -> Result<ClaimOutcome, FunctionError> {
        table_call(&self.faults, "email-log", self.inner.claim(claim)).await
    }
    async fn begin_send(&self, claim: &Claim) -> Result<bool, FunctionError> {
        self.inner.begin_send(claim).await
    }
    async fn mark_sent(&self, claim: &Claim, id: &str, at: &str) -> Result<(), FunctionError> {
        self.inner.mark_sent(claim, id, at).await
    }
    async fn mark_failed(&self, claim: &Claim, reason: &str) -> Result<(), FunctionError> {
        self.inner.mark_failed(claim, reason).await
    }
    async fn supersede(&self, old: &str, claim: &Claim) -> Result<bool, FunctionError> {
        self.inner.supersede(old, claim).await
    }
    async fn record_ses_event(&self, event: &SesEvent) -> Result<SesOutcome, FunctionError> {
        self.inner.record_ses_event(event).await
    }
}

#[async_trait]
impl Notifier for Faulted<dyn Notifier> {
    fn topic(&self) -> &str {
        self.inner.topic()
    }
    async fn publish(&self, n: &FailureNotification) -> Result<String, SendError> {
        send_call(&self.faults, "sns", self.inner.publish(n)).await
    }
}

#[async_trait]
impl Mailer for Faulted<dyn Mailer> {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        send_call(&self.faults, "ses", self.inner.send(email)).await
    }
}
