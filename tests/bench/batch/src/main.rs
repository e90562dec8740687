//! Times `Runner::pipe` on a stream of N failed orders (default 1,000): the Pipe's batching, the
//! batch machine and one per-order child execution each, the five real handlers in-process on the
//! embedded, file-backed store. Prints the median wall time per stream and orders per second.
//!
//! `batch-bench [--orders N] [--iterations K] [--max-seconds S]`; run through tests/bench/batch.sh.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use asl::VirtualClock;
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};
use sfn_local::{Runner, RunnerOptions};

struct Args {
    orders: usize,
    iterations: usize,
    max_seconds: f64,
    project: PathBuf,
    work: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        orders: 1000,
        iterations: 5,
        max_seconds: 120.0,
        project: PathBuf::from("."),
        work: std::env::temp_dir().join(format!("batch-bench-{}", std::process::id())),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--orders" => {
                args.orders = value("--orders")?
                    .parse()
                    .map_err(|e| format!("--orders: {e}"))?
            }
            "--iterations" => {
                args.iterations = value("--iterations")?
                    .parse()
                    .map_err(|e| format!("--iterations: {e}"))?
            }
            "--max-seconds" => {
                args.max_seconds = value("--max-seconds")?
                    .parse()
                    .map_err(|e| format!("--max-seconds: {e}"))?
            }
            "--project" => args.project = PathBuf::from(value("--project")?),
            "--work" => args.work = PathBuf::from(value("--work")?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

fn order_id(i: usize) -> String {
    format!("7000{i:08}")
}

/// A project root beside the real one: the real template and definitions, and table fixtures
/// with N unpaid orders (each with one check-status record and an email address).
fn project(real: &Path, dir: &Path, n: usize) -> Result<(), String> {
    let io = |e: std::io::Error| format!("{}: {e}", dir.display());
    std::fs::create_dir_all(dir.join("events/tables")).map_err(io)?;
    for entry in [
        "template.yaml",
        "statemachine",
        "functions",
        "samconfig.toml",
    ] {
        let src = real.join(entry);
        let dst = dir.join(entry);
        if src.exists() && !dst.exists() {
            std::os::unix::fs::symlink(&src, &dst).map_err(io)?;
        }
    }
    let orders: Vec<Value> = (0..n)
        .map(|i| {
            let id = order_id(i);
            json!({"orderId": {"S": id}, "data": {"M": {
                "orderId": {"S": id},
                "email": {"S": format!("customer{i}@example.com")},
                "name": {"S": "Bench Customer"},
                "currency": {"S": "THB"},
                "total": {"N": "1290.50"},
                "items": {"L": [{"M": {"sku": {"S": "TEA-001"}, "qty": {"N": "2"}, "price": {"N": "345.25"}}}]},
                "payment": {"M": {"isPaid": {"BOOL": false}, "totalPaid": {"N": "0"}}}
            }}})
        })
        .collect();
    let checks: Vec<Value> = (0..n)
        .map(|i| {
            json!({"orderId": {"S": order_id(i)}, "created_at": {"S": "2026-11-25T06:00:01Z"},
                   "chargeId": {"S": format!("ch_bench{i}")}, "paymentMethod": {"S": "card"},
                   "status": {"S": "failed"}})
        })
        .collect();
    let tables = dir.join("events/tables");
    for (file, items) in [
        ("orders.json", Value::Array(orders)),
        ("check-status.json", Value::Array(checks)),
        ("process-unpaid-order.json", json!([])),
        ("email-log.json", json!([])),
    ] {
        std::fs::write(tables.join(file), items.to_string()).map_err(io)?;
    }
    Ok(())
}

fn records(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| {
                json!({
                    "eventID": format!("{:032x}", i + 1),
                    "eventName": "INSERT",
                    "eventVersion": "1.1",
                    "eventSource": "aws:dynamodb",
                    "awsRegion": "us-east-1",
                    "dynamodb": {
                        "ApproximateCreationDateTime": 1764050401,
                        "Keys": {"orderId": {"S": order_id(i)}},
                        "SequenceNumber": format!("{}", 100000000000000000000u128 + i as u128),
                        "SizeBytes": 120,
                        "StreamViewType": "KEYS_ONLY"
                    },
                    "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/payment3-failed-order-dev/stream/2026-11-01T00:00:00.000"
                })
            })
            .collect(),
    )
}

async fn one_run(args: &Args, run: usize) -> Result<(Duration, Duration, usize, usize), String> {
    let state = args.work.join(format!("state-{run}"));
    let start = Utc
        .with_ymd_and_hms(2026, 11, 25, 6, 10, 0)
        .single()
        .ok_or("start time")?;
    let mut options = RunnerOptions::new(args.work.join("project"), &state);
    // Virtual time: nothing on the happy path waits, and Retry back-off would not either.
    options.clock = Arc::new(VirtualClock::new(start));
    let input = records(args.orders);
    let t = Instant::now();
    let runner = Runner::open(options).await.map_err(|e| e.to_string())?;
    let opened = t.elapsed();
    let t = Instant::now();
    let report = runner.pipe(input).await.map_err(|e| e.to_string())?;
    let elapsed = t.elapsed();
    let succeeded = report
        .orders
        .iter()
        .filter(|o| o["outcome"] == "processed" && o["childStatus"] == "SUCCEEDED")
        .count();
    let _ = std::fs::remove_dir_all(&state);
    Ok((elapsed, opened, succeeded, report.batches.len()))
}

async fn run(args: Args) -> Result<Value, String> {
    let real = args
        .project
        .canonicalize()
        .map_err(|e| format!("{}: {e}", args.project.display()))?;
    project(&real, &args.work.join("project"), args.orders)?;
    let mut samples = Vec::new();
    let mut opens = Vec::new();
    let mut batches = 0;
    let budget = Instant::now();
    for i in 0..args.iterations.max(1) {
        // Bounded: no new run once the budget is spent (a slow runner still gives one figure).
        if i > 0 && budget.elapsed().as_secs_f64() > args.max_seconds {
            break;
        }
        let (d, open, ok, b) = one_run(&args, i).await?;
        opens.push(open);
        // A stream that did not process every order measured something else.
        if ok != args.orders {
            return Err(format!(
                "run {i}: {ok} of {} orders processed and SUCCEEDED",
                args.orders
            ));
        }
        batches = b;
        samples.push(d);
    }
    let _ = std::fs::remove_dir_all(&args.work);
    samples.sort();
    opens.sort();
    let median = samples[samples.len() / 2].as_secs_f64();
    Ok(json!({
        "orders": args.orders,
        "batches": batches,
        "iterations": samples.len(),
        "median_s": median,
        "min_s": samples[0].as_secs_f64(),
        "max_s": samples[samples.len() - 1].as_secs_f64(),
        "orders_per_second": args.orders as f64 / median,
        "open_median_s": opens[opens.len() / 2].as_secs_f64(),
    }))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("batch-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("batch-bench: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(run(args)) {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("batch-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
