//! A local Lambda Runtime API (2018-06-01) that hands one event to a real function binary and
//! returns what it posted back, with its logs.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What a function binary did with one invocation from [`invoke_binary`].
#[derive(Debug)]
pub enum Invocation {
    /// POST .../response with this JSON.
    Response(Value),
    /// POST .../error with this JSON (`{"errorType", "errorMessage"}`).
    Error(Value),
    /// The process ended without answering (e.g. a configuration error at start-up).
    Exited {
        /// The exit code, `None` if a signal killed it.
        code: Option<i32>,
        /// What it wrote to stderr (the start-up error).
        stderr: String,
    },
}

/// The result of [`invoke_binary`]: what was posted, and the process's logs.
#[derive(Debug)]
pub struct Run {
    /// What was posted back.
    pub invocation: Invocation,
    /// The function's stdout (its JSON logs).
    pub stdout: String,
    /// The function's stderr.
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
