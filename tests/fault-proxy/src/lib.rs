//! Test support: a loopback HTTP proxy between the real AWS SDK clients and moto that injects the
//! failures AWS really produces (lost replies, 5xx after the write, throttling, resets, outages),
//! scripted per call, and records every call (function, action, resource) for the IAM check.
//!
//! One [`FaultProxy`] fronts one service (DynamoDB, SNS or SESv2) on its own port, so an outage
//! of one service (connections refused) can be staged while the others answer. Every answer
//! carries `Connection: close`: each call (and each SDK retry) opens its own connection, so a
//! connection-level fault hits exactly the call it is scripted for.
//!
//! moto publishes no SES events: [`FaultProxy::on_accepted_send`] hands each SendEmail moto
//! really accepted (2xx, whatever the proxy then does to the answer) to a callback as an
//! [`AcceptedEmail`], and [`ses_events_of`] gives the events SES would publish for it.

mod protocol;
mod ses_events;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use protocol::{Call, Service};
pub use ses_events::{accepted_email, ses_events_of, AcceptedEmail};

/// What [`FaultProxy::on_accepted_send`] calls with each email moto accepted.
pub type AcceptedSendHook = Arc<dyn Fn(AcceptedEmail) + Send + Sync>;

/// What happens to one scripted call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// Forwarded (applied), then the connection is cut before any byte of the answer.
    LostReply,
    /// Forwarded (applied), then a 500 InternalServerError instead of the answer.
    ServerErrorAfterApply,
    /// Not forwarded: 503 ServiceUnavailable.
    Unavailable,
    /// Not forwarded: the service's throttling error.
    Throttled,
    /// Not forwarded: 400 ValidationException (or the service's equivalent).
    Validation,
    /// Not forwarded: access denied (a role without the permission).
    AccessDenied,
    /// Forwarded (applied), answered only after `slow_for` (past the SDK attempt timeout).
    Slow,
    /// The connection is reset as it is accepted: nothing read, nothing applied.
    ResetOnAccept,
}

impl Fault {
    /// Every fault, for tests that try each one.
    pub const ALL: [Fault; 8] = [
        Fault::LostReply,
        Fault::ServerErrorAfterApply,
        Fault::Unavailable,
        Fault::Throttled,
        Fault::Validation,
        Fault::AccessDenied,
        Fault::Slow,
        Fault::ResetOnAccept,
    ];

    /// The name used in the matrix table and `sfn-local --fail`.
    pub fn name(self) -> &'static str {
        match self {
            Fault::LostReply => "lost-reply",
            Fault::ServerErrorAfterApply => "5xx-after-apply",
            Fault::Unavailable => "503-refused",
            Fault::Throttled => "throttled",
            Fault::Validation => "400-validation",
            Fault::AccessDenied => "access-denied",
            Fault::Slow => "slow",
            Fault::ResetOnAccept => "reset-before-request",
        }
    }

    /// Whether the request reaches moto (the write lands) under this fault.
    pub fn applies(self) -> bool {
        matches!(
            self,
            Fault::LostReply | Fault::ServerErrorAfterApply | Fault::Slow
        )
    }
}

/// A scripted fault: the `nth` request (1-based) this proxy receives for `operation` (or, with
/// `None`, its `nth` request of any operation) gets `fault`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The operation counted (`PutItem`, `Publish`, ...), or `None` for any.
    pub operation: Option<String>,
    /// Which matching request, 1-based.
    pub nth: u32,
    /// What that request gets.
    pub fault: Fault,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    /// Requests seen, per operation and in all.
    per_operation: BTreeMap<String, u32>,
    total: u32,
    /// Connections accepted (each carries one request).
    connections: u32,
    calls: Vec<Call>,
    /// Faults that fired: (call, fault).
    fired: Vec<(Call, Fault)>,
    /// Called with each SendEmail moto accepted (SESv2 only).
    on_accepted_send: Option<AcceptedSendHook>,
}

/// One service's proxy. Dropped: it stops listening.
pub struct FaultProxy {
    service: Service,
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    up: watch::Sender<bool>,
    log: Option<PathBuf>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`http://127.0.0.1:PORT`).
    /// `slow_for`: how long a [`Fault::Slow`] answer is held back. Calls are appended to
    /// `$AWS_CALL_LOG_DIR/<pid>-<service>-<port>.jsonl` when that variable is set.
    pub async fn start(
        service: Service,
        upstream: &str,
        slow_for: Duration,
    ) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let log = std::env::var_os("AWS_CALL_LOG_DIR").map(|dir| {
            let dir = PathBuf::from(dir);
            let _ = std::fs::create_dir_all(&dir);
            dir.join(format!(
                "{}-{}-{}.jsonl",
                std::process::id(),
                service.name(),
                addr.port()
            ))
        });
        let state = Arc::new(Mutex::new(State::default()));
        let (up, up_rx) = watch::channel(true);
        let shared = Shared {
            service,
            upstream: upstream.trim_end_matches('/').to_string(),
            state: state.clone(),
            slow_for,
            client: Client::builder(TokioExecutor::new()).build_http(),
            log: log.clone(),
        };
        tokio::spawn(serve(listener, addr, up_rx, Arc::new(shared)));
        Ok(FaultProxy {
            service,
            addr,
            state,
            up,
            log,
        })
    }

    /// `http://127.0.0.1:PORT`: the endpoint to give the SDK client.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The service this proxy stands in front of.
    pub fn service(&self) -> Service {
        self.service
    }

    /// The call log file, if `$AWS_CALL_LOG_DIR` is set.
    pub fn log_file(&self) -> Option<&PathBuf> {
        self.log.as_ref()
    }

    /// Adds a scripted fault.
    pub fn script(&self, rule: Rule) {
        self.lock().rules.push(rule);
    }

    /// Clears the script (the fault is gone) and the counters.
    pub fn clear(&self) {
        let mut s = self.lock();
        s.rules.clear();
        s.per_operation.clear();
        s.total = 0;
        s.connections = 0;
    }

    /// An outage (`false`: the port is closed and connections are refused) or its end.
    pub fn set_up(&self, up: bool) {
        let _ = self.up.send(up);
    }

    /// Every call received, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The faults that fired.
    pub fn fired(&self) -> Vec<(Call, Fault)> {
        self.lock().fired.clone()
    }

    /// Calls `hook` with every email moto accepts through this (SESv2) proxy: a SendEmail
    /// forwarded and answered 2xx, read from the request (destination, `EmailTags`,
    /// `ConfigurationSetName`) and moto's `MessageId`, accepted now. It is called even when a
    /// scripted fault then loses or replaces the answer (the email went out: SES publishes its
    /// events all the same), and never for a request that was not forwarded or that moto
    /// refused. The hook runs on the proxy's task: it must not block (send the events on).
    pub fn on_accepted_send(&self, hook: impl Fn(AcceptedEmail) + Send + Sync + 'static) {
        self.lock().on_accepted_send = Some(Arc::new(hook));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct Shared {
    service: Service,
    upstream: String,
    state: Arc<Mutex<State>>,
    slow_for: Duration,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    log: Option<PathBuf>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Accepts while up; closes the port while down (connections are then refused) and binds the
/// same port again when up.
async fn serve(
    mut listener: TcpListener,
    addr: SocketAddr,
    mut up: watch::Receiver<bool>,
    shared: Arc<Shared>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let reset = {
                    let mut s = shared.lock();
                    s.connections += 1;
                    let n = s.connections;
                    s.rules.iter().any(|r| r.operation.is_none() && r.nth == n && r.fault == Fault::ResetOnAccept)
                };
                if reset {
                    shared.lock().fired.push((Call::connection(shared.service), Fault::ResetOnAccept));
                    // SO_LINGER 0: the close sends a RST, not a FIN.
                    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                    drop(stream);
                    continue;
                }
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(shared.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            changed = up.changed() => {
                if changed.is_err() {
                    return; // the proxy was dropped
                }
                if !*up.borrow() {
                    drop(listener);
                    // Wait for the outage to end, then listen on the same port again.
                    loop {
                        if up.changed().await.is_err() {
                            return;
                        }
                        if *up.borrow() {
                            break;
                        }
                    }
                    listener = match bind_again(addr).await {
                        Ok(l) => l,
                        Err(_) => return,
                    };
                }
            }
        }
    }
}

async fn bind_again(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}

/// The error hyper is told to end the connection with (no answer is written).
#[derive(Debug)]
struct CutConnection;

impl std::fmt::Display for CutConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection cut by the fault proxy")
    }
}

impl std::error::Error for CutConnection {}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, CutConnection> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let call = protocol::identify(shared.service, &parts, &body);
    let fault = {
        let mut s = shared.lock();
        s.total += 1;
        let total = s.total;
        let nth = {
            let n = s.per_operation.entry(call.operation.clone()).or_insert(0);
            *n += 1;
            *n
        };
        s.calls.push(call.clone());
        let fault = s
            .rules
            .iter()
            .find(|r| match &r.operation {
                Some(op) => *op == call.operation && r.nth == nth,
                None => r.nth == total && r.fault != Fault::ResetOnAccept,
            })
            .map(|r| r.fault);
        if let Some(f) = fault {
            s.fired.push((call.clone(), f));
        }
        fault
    };
    record(&shared, &call);
    match fault {
        Some(f) if !f.applies() => Ok(protocol::refusal(shared.service, f)),
        Some(f) => {
            let answer = forward(&shared, &call, parts, body).await;
            match f {
                Fault::LostReply => Err(CutConnection),
                Fault::ServerErrorAfterApply => Ok(protocol::server_error(shared.service)),
                _ => {
                    tokio::time::sleep(shared.slow_for).await;
                    Ok(answer)
                }
            }
        }
        None => Ok(forward(&shared, &call, parts, body).await),
    }
}

/// Forwards the request to moto and returns its answer; a SendEmail moto accepted goes to the
/// `on_accepted_send` hook first.
async fn forward(
    shared: &Shared,
    call: &Call,
    parts: hyper::http::request::Parts,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let request =
        (call.service == Service::SesV2 && call.operation == "SendEmail").then(|| body.clone());
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut req = Request::builder()
        .method(parts.method)
        .uri(format!("{}{path}", shared.upstream));
    for (name, value) in &parts.headers {
        req = req.header(name, value);
    }
    let answer = match req.body(Full::new(body)) {
        Ok(req) => shared.client.request(req).await.ok(),
        Err(_) => None,
    };
    let Some(answer) = answer else {
        return protocol::server_error(shared.service);
    };
    let (mut parts, body) = answer.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if let Some(request) = request.filter(|_| parts.status.is_success()) {
        let hook = shared.lock().on_accepted_send.clone();
        if let Some(hook) = hook {
            match accepted_email(&request, &body, chrono::Utc::now()) {
                Some(email) => hook(email),
                None => {
                    eprintln!("aws-fault-proxy: a SendEmail moto accepted could not be read back")
                }
            }
        }
    }
    parts.headers.insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    parts.headers.remove(hyper::header::TRANSFER_ENCODING);
    Response::from_parts(parts, Full::new(body))
}

fn record(shared: &Shared, call: &Call) {
    let Some(path) = &shared.log else { return };
    let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    else {
        return;
    };
    // One line per resource IAM authorises the call on.
    for resource in std::iter::once(&call.resource).chain(&call.also_on) {
        let mut line = serde_json::json!({
            "function": call.function,
            "service": shared.service.name(),
            "action": format!("{}:{}", shared.service.iam_prefix(), call.operation),
            "resource": resource,
        })
        .to_string();
        line.push('\n');
        // One write(2) per line: concurrent calls append whole lines (O_APPEND), where
        // `writeln!` would write a JSON value piece by piece and let lines interleave.
        let _ = f.write_all(line.as_bytes());
    }
}
