//! The `sfn-console` binary as the tests drive it: its CLI verbs (exit code, JSON answer and
//! what it said on stderr), and `serve` with a page fetched over plain HTTP/1.1.

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// `target/<profile>/sfn-console`, built on demand (as the sfn-local binary is).
pub fn console_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>/deps")
        .to_path_buf();
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        if crate::binaries_built_by_this_run(&profile_dir.join("sfn-console")) {
            return;
        }
        let mut build = crate::cargo_build();
        build.args(["-p", "console", "--bin", "sfn-console"]);
        if profile_dir.file_name().and_then(|n| n.to_str()) == Some("release") {
            build.arg("--release");
        }
        assert!(build.status().expect("cargo build").success());
    });
    profile_dir.join("sfn-console")
}

/// What one `sfn-console` verb did.
#[derive(Debug)]
pub struct ConsoleRun {
    /// Its exit code.
    pub code: i32,
    /// Its stdout as JSON (`Value::Null` when it is not).
    pub json: Value,
    /// Its stderr.
    pub stderr: String,
}

/// A console command with the test environment: fixed credentials and region, no profile
/// files, no IMDS, and none of the variables that would pick tables or a Branch behind the
/// test's back.
fn command() -> Command {
    let mut c = Command::new(console_binary());
    c.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for var in [
        "BRANCH",
        "ORDER_INDEX_TABLE",
        "EMAIL_LOG_TABLE",
        "PROCESS_UNPAID_ORDER_TABLE",
        "DYNAMODB_ENDPOINT",
        "SFN_ENDPOINT",
    ] {
        c.env_remove(var);
    }
    c
}

/// Runs `sfn-console --endpoint-url ENDPOINT ARGS` with `env` added.
pub fn run_console(endpoint: &str, args: &[&str], env: &[(&str, &str)]) -> ConsoleRun {
    let out = command()
        .args(["--endpoint-url", endpoint])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run sfn-console");
    ConsoleRun {
        code: out.status.code().unwrap_or(-1),
        json: serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `sfn-console serve --port 0` in a child process; stopped when dropped.
pub struct ConsoleServer {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub address: String,
}

impl ConsoleServer {
    /// Serves the console over `endpoint` with `args` before `serve` (e.g. `--branch dev`).
    pub fn start(endpoint: &str, args: &[&str]) -> ConsoleServer {
        let mut child = command()
            .args(["--endpoint-url", endpoint])
            .args(args)
            .args(["serve", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn sfn-console serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("sfn-console serve printed no URL within 60 s")
            });
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        let address = v["url"]
            .as_str()
            .expect("url")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        ConsoleServer { child, address }
    }

    /// GET `path`: (HTTP status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        let (status, _, body) = self.request(&format!("GET {path} HTTP/1.1\r\n"), "");
        (status, body)
    }

    /// POST the urlencoded `form` to `path` as the console's own page does (its Origin):
    /// (HTTP status, the `Location` of a redirect, body).
    pub fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, Option<String>, String) {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let head = format!(
            "POST {path} HTTP/1.1\r\nOrigin: http://{}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            self.address,
            body.len()
        );
        self.request(&head, &body)
    }

    /// The anti-CSRF token of a page with a form (every form of the console carries it).
    pub fn token(page: &str) -> String {
        page.split("name=\"token\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a form with the token")
            .to_string()
    }

    fn request(&self, head: &str, body: &str) -> (u16, Option<String>, String) {
        let mut stream = std::net::TcpStream::connect(&self.address).expect("connect");
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(120)))
            .expect("read timeout");
        write!(
            stream,
            "{head}Host: {}\r\nConnection: close\r\n\r\n{body}",
            self.address
        )
        .expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let location = head
            .lines()
            .find_map(|l| {
                l.strip_prefix("location: ")
                    .or_else(|| l.strip_prefix("Location: "))
            })
            .map(str::to_string);
        (status, location, body.to_string())
    }
}

/// `application/x-www-form-urlencoded` of one value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of `key` in a console URL's query (`/execution?arn=...&notice=...`), decoded.
pub fn query_value(url: &str, key: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| decode(v))
    })
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Drop for ConsoleServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
