//! The fault switch (`--fail NAME=ErrorType:N|always[:crash-after]`, `Hang`) in front of any back
//! end, and each function's `Timeout` as its invocations' deadline.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::Value;

use crate::error::RunnerError;

use super::{Functions, InvokeError};

/// When an injected fault fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultTimes {
    /// The first N invocations.
    Times(u64),
    /// Every invocation.
    Always,
}

/// `--fail NAME=ErrorType:N|always[:crash-after]`: the function fails with `error_type`, before its
/// handler runs, or after it (its side effects done: a crash after the write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The function's name or binary name (`load-order`, ...).
    pub function: String,
    /// The errorType it fails with (e.g. `TransientError`, `States.Timeout`; `Hang`: never returns).
    pub error_type: String,
    /// How many invocations fail.
    pub times: FaultTimes,
    /// Fail after the handler ran (its writes done), not before.
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
    ports: Arc<crate::project::port_faults::PortFaults>,
}

impl Faulty {
    /// Puts `faults` in front of `inner`.
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
        let call = crate::project::port_faults::CURRENT
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
            .partition(crate::project::port_faults::is_port_fault);
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
    use serde_json::json;

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
