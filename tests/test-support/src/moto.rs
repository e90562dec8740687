//! The moto server (started once per test binary unless `MOTO_ENDPOINT` names one), SDK clients
//! for it, table creation and moto's inspection API.

use std::io::{Read, Write};
use std::net::{TcpListener as StdListener, TcpStream as StdStream};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::workspace_root;

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

/// SDK configuration for moto: fixed test credentials, us-east-1.
pub fn sdk_config(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        // The SDK crates are built without a default HTTP client (see the root Cargo.toml).
        .http_client(unpaid_order::aws::http_client())
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

/// Creates the order index as template.yaml declares it: hash `orderId`, range `executionArn`,
/// and the sparse global secondary index of FAILED executions (`failedMachine`, `startDate`).
pub async fn create_order_index_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    use unpaid_order::evidence::items::{
        FAILED_INDEX, FAILED_INDEX_HASH_KEY, FAILED_INDEX_RANGE_KEY, INDEX_HASH_KEY,
        INDEX_RANGE_KEY,
    };
    let key = |attr: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(attr)
            .key_type(key_type)
            .build()
            .expect("key schema")
    };
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(INDEX_HASH_KEY, KeyType::Hash))
        .key_schema(key(INDEX_RANGE_KEY, KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(FAILED_INDEX)
                .key_schema(key(FAILED_INDEX_HASH_KEY, KeyType::Hash))
                .key_schema(key(FAILED_INDEX_RANGE_KEY, KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .expect("index"),
        );
    for attr in [
        INDEX_HASH_KEY,
        INDEX_RANGE_KEY,
        FAILED_INDEX_HASH_KEY,
        FAILED_INDEX_RANGE_KEY,
    ] {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition"),
        );
    }
    request
        .send()
        .await
        .unwrap_or_else(|e| panic!("create table {name}: {e:?}"));
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
