//! Test harnesses shared by this crate's and the function crates' tests (feature `test-support`):
//! moto server on a free loopback port, SDK clients for it, table/topic/identity set-up, moto's
//! inspection API, and a local Lambda Runtime API that drives a real function binary.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener as StdListener, TcpStream as StdStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::config::{Config, Setting};

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct MotoServer {
    endpoint: String,
    // Held so the server's stdin stays open: the wrapper shell kills moto when it closes, i.e.
    // when this test process exits, however it exits.
    _child: Child,
}

static MOTO: OnceLock<Result<MotoServer, String>> = OnceLock::new();

/// The moto endpoint: `MOTO_ENDPOINT` if set (tests/tools/moto.sh), else a moto server started
/// once per test binary from `.tools/moto` on a free port. Panics (never skips) when neither is there.
pub fn moto_endpoint() -> String {
    if let Ok(endpoint) = std::env::var("MOTO_ENDPOINT") {
        if !endpoint.is_empty() {
            return endpoint.trim_end_matches('/').to_string();
        }
    }
    match MOTO.get_or_init(start_moto) {
        Ok(server) => server.endpoint.clone(),
        Err(message) => panic!("{message}"),
    }
}

fn start_moto() -> Result<MotoServer, String> {
    let bin = workspace_root().join(".tools/moto/bin/moto_server");
    if !bin.exists() {
        return Err(format!(
            "moto server not installed at {}: run `bash tests/tools/install-moto.sh` (or set MOTO_ENDPOINT)",
            bin.display()
        ));
    }
    let port = free_port();
    let child = Command::new("sh")
        .arg("-c")
        .arg(r#""$0" -H 127.0.0.1 -p "$1" >/dev/null 2>&1 & m=$!; cat >/dev/null; kill $m"#)
        .arg(&bin)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if blocking_get(port, "/moto-api/").is_some() {
            return Ok(MotoServer {
                endpoint,
                _child: child,
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "moto server on {endpoint} did not answer within 30 s"
    ))
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn blocking_get(port: u16, path: &str) -> Option<String> {
    let mut stream = StdStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1).unwrap_or("");
    (status == "200").then_some(response)
}

/// A name unique to this process and call, for parallel-safe tables, topics and addresses.
pub fn unique(name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{name}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// SDK configuration for moto: fixed test credentials, us-east-1.
pub fn sdk_config(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        // The SDK crates are built without a default HTTP client (see the root Cargo.toml).
        .http_client(crate::aws::http_client())
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "moto"),
        ))
        .build()
}

/// Creates a table with a string hash key and optional string range key (on-demand).
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    hash: &str,
    range: Option<&str>,
) {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest);
    for (attr, key_type) in
        std::iter::once((hash, KeyType::Hash)).chain(range.map(|r| (r, KeyType::Range)))
    {
        request = request
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(attr)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("attribute definition"),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(attr)
                    .key_type(key_type)
                    .build()
                    .expect("key schema"),
            );
    }
    request
        .send()
        .await
        .unwrap_or_else(|e| panic!("create table {name}: {e:?}"));
}

/// A fresh set of the four tables, a topic and a verified sender in moto, and the [`Config`]
/// naming them. Every name is unique, so tests can run in parallel on one moto server.
pub struct MotoEnv {
    pub endpoint: String,
    pub sdk: SdkConfig,
    pub config: Config,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl MotoEnv {
    pub async fn new() -> MotoEnv {
        let endpoint = moto_endpoint();
        let sdk = sdk_config(&endpoint);
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let prefix = unique("t");
        let orders = format!("{prefix}-orders");
        let checks = format!("{prefix}-check-status");
        let attempts = format!("{prefix}-process-unpaid-order");
        let emails = format!("{prefix}-email-log");
        create_table(&dynamodb, &orders, "orderId", None).await;
        create_table(&dynamodb, &checks, "orderId", Some("created_at")).await;
        create_table(&dynamodb, &attempts, "orderId", Some("created_at")).await;
        create_table(&dynamodb, &emails, "emailId", None).await;
        let sns = aws_sdk_sns::Client::new(&sdk);
        let topic = sns
            .create_topic()
            .name(format!("{prefix}-failure"))
            .send()
            .await
            .expect("create topic")
            .topic_arn
            .expect("topic arn");
        let sender = format!("{prefix}@payments.example.com");
        aws_sdk_sesv2::Client::new(&sdk)
            .create_email_identity()
            .email_identity(&sender)
            .send()
            .await
            .expect("verify sender identity");
        let config = Config::with([
            (Setting::OrderTable, orders),
            (Setting::CheckStatusTable, checks),
            (Setting::ProcessUnpaidOrderTable, attempts),
            (Setting::EmailLogTable, emails),
            (Setting::FailureTopicArn, topic),
            (Setting::SenderEmail, sender),
        ]);
        MotoEnv {
            endpoint,
            sdk,
            config,
            dynamodb,
        }
    }

    pub fn get(&self, setting: Setting) -> String {
        self.config
            .get(setting)
            .expect("set by MotoEnv::new")
            .to_string()
    }

    /// Seeds the tables from `events/tables/` (the shared fixtures).
    pub async fn seed_fixtures(&self) {
        let state =
            crate::memory::MemoryState::load_fixtures(&workspace_root().join("events/tables"))
                .expect("fixtures");
        for (setting, items) in [
            (Setting::OrderTable, &state.orders),
            (Setting::CheckStatusTable, &state.check_status),
            (
                Setting::ProcessUnpaidOrderTable,
                &state.process_unpaid_order,
            ),
            (Setting::EmailLogTable, &state.email_log),
        ] {
            crate::aws::put_items(&self.dynamodb, &self.get(setting), items)
                .await
                .expect("seed");
        }
    }

    /// Environment variables that point a function binary at these resources.
    pub fn function_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = Setting::ALL
            .iter()
            .map(|s| (s.var().to_string(), self.get(*s)))
            .collect();
        env.push(("AWS_ENDPOINT_URL".into(), self.endpoint.clone()));
        env
    }

    /// Every item of a table (Scan), as plain items.
    pub async fn scan(&self, setting: Setting) -> Vec<crate::Item> {
        let out = self
            .dynamodb
            .scan()
            .table_name(self.get(setting))
            .consistent_read(true)
            .send()
            .await
            .expect("scan");
        out.items
            .unwrap_or_default()
            .iter()
            .map(|i| crate::attr::item_from_sdk(i).expect("item"))
            .collect()
    }

    /// What moto says was published to this env's topic: `(message_id, message, subject)`.
    pub async fn published(&self) -> Vec<(String, String, String)> {
        let topic = self.get(Setting::FailureTopicArn);
        let data = moto_data(&self.endpoint).await;
        let topics = data["sns"]["Topic"].as_array().cloned().unwrap_or_default();
        topics
            .iter()
            .filter(|t| t["arn"] == topic.as_str())
            .flat_map(|t| {
                t["sent_notifications"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|n| {
                let text = |i: usize| n[i].as_str().unwrap_or_default().to_string();
                (text(0), text(1), text(2))
            })
            .collect()
    }

    /// What moto says SES sent from this env's sender (`{id, source, destinations, subject, body}`;
    /// moto keeps the HTML part when there is one).
    pub async fn sent_emails(&self) -> Vec<Value> {
        let sender = self.get(Setting::SenderEmail);
        let data = moto_data(&self.endpoint).await;
        data["ses"]["Message"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m["source"] == sender.as_str())
            .collect()
    }
}

/// moto's inspection API (`GET /moto-api/data.json`).
/// moto serialises its whole state for this; while other tests write to the same server it can
/// fail (a dictionary changing during iteration: HTTP 500), so it is asked again, boundedly.
pub async fn moto_data(endpoint: &str) -> Value {
    let mut last = (0, String::new());
    for _ in 0..20 {
        let (status, body) = http(endpoint, "GET", "/moto-api/data.json", "").await;
        if status == 200 {
            return serde_json::from_str(&body).expect("data.json is JSON");
        }
        last = (status, body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("moto data.json kept failing: HTTP {}: {}", last.0, last.1)
}

/// A minimal HTTP/1.0 request (the test harness's own client; no extra dependency).
pub async fn http(endpoint: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let response = String::from_utf8_lossy(&response).to_string();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// What a function binary did with one invocation from [`invoke_binary`].
#[derive(Debug)]
pub enum Invocation {
    /// POST .../response with this JSON.
    Response(Value),
    /// POST .../error with this JSON (`{"errorType", "errorMessage"}`).
    Error(Value),
    /// The process ended without answering (e.g. a configuration error at start-up).
    Exited { code: Option<i32>, stderr: String },
}

/// The result of [`invoke_binary`]: what was posted, and the process's logs.
#[derive(Debug)]
pub struct Run {
    pub invocation: Invocation,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Default)]
struct RuntimeApiState {
    delivered: bool,
    result: Option<Invocation>,
}

/// Runs a Lambda binary against a local Lambda Runtime API (2018-06-01) serving one event:
/// `GET /runtime/invocation/next` gets it (with the request id, deadline and function ARN
/// headers), then the binary's `POST .../response` or `.../error` is returned. Bounded: 60 s.
pub async fn invoke_binary(bin: &str, env: &[(String, String)], event: &Value) -> Run {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind runtime api");
    let port = listener.local_addr().expect("addr").port();
    let state = Arc::new(Mutex::new(RuntimeApiState::default()));
    let notify = Arc::new(tokio::sync::Notify::new());
    let event_text = event.to_string();
    let server = {
        let (state, notify) = (state.clone(), notify.clone());
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let (state, notify, event_text) =
                    (state.clone(), notify.clone(), event_text.clone());
                tokio::spawn(serve_runtime_connection(socket, state, notify, event_text));
            }
        })
    };
    let mut command = tokio::process::Command::new(bin);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "test-function")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {bin}: {e}"));
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_task = tokio::spawn(async move {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s).await;
        s
    });
    let err_task = tokio::spawn(async move {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s).await;
        s
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut exit_code = None;
    let mut exited = false;
    loop {
        if state.lock().expect("state").result.is_some() {
            break;
        }
        tokio::select! {
            _ = notify.notified() => {}
            status = child.wait(), if !exited => {
                exited = true;
                exit_code = status.ok().and_then(|s| s.code());
            }
            _ = tokio::time::sleep_until(deadline) => panic!("{bin} neither answered nor exited within 60 s"),
        }
        if exited && state.lock().expect("state").result.is_none() {
            break;
        }
    }
    let _ = child.start_kill();
    let _ = child.wait().await;
    server.abort();
    let stdout = out_task.await.unwrap_or_default();
    let stderr = err_task.await.unwrap_or_default();
    let result = state.lock().expect("state").result.take();
    let invocation = result.unwrap_or(Invocation::Exited {
        code: exit_code,
        stderr: stderr.clone(),
    });
    Run {
        invocation,
        stdout,
        stderr,
    }
}

async fn serve_runtime_connection(
    socket: tokio::net::TcpStream,
    state: Arc<Mutex<RuntimeApiState>>,
    notify: Arc<tokio::sync::Notify>,
    event: String,
) {
    let (read, mut write) = socket.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut headers = HashMap::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        let body = String::from_utf8_lossy(&body).to_string();
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let response = if method == "GET" && path == "/2018-06-01/runtime/invocation/next" {
            let first = {
                let mut s = state.lock().expect("state");
                !std::mem::replace(&mut s.delivered, true)
            };
            if !first {
                // One event per run: later polls wait until the test ends.
                std::future::pending::<()>().await;
            }
            let deadline_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() + 30_000)
                .unwrap_or(0);
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                 Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n\
                 Lambda-Runtime-Deadline-Ms: {deadline_ms}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:test-function\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n\
                 Content-Length: {}\r\n\r\n{event}",
                event.len()
            )
        } else if method == "POST" && path.starts_with("/2018-06-01/runtime/invocation/") {
            let value: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
            let invocation = if path.ends_with("/response") {
                Invocation::Response(value)
            } else {
                Invocation::Error(value)
            };
            state
                .lock()
                .expect("state")
                .result
                .get_or_insert(invocation);
            notify.notify_one();
            "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n"
                .to_string()
        } else {
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string()
        };
        if write.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}
