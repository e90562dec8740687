//! Runs one benchmark workload (or any definition + input) in-process N times and prints the
//! per-execution median as JSON: the engine's side of tests/bench/engine-vs-moto.sh.
//!
//! `cargo bench -p asl --bench run-definition -- --workload map:100 --iterations 50`
//! `cargo bench -p asl --bench run-definition -- --emit DIR` writes the workloads as JSON files.

mod machines;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use asl::ExecutionStatus;
use clap::Parser;
use serde_json::{json, Value};

use machines::Workload;

#[derive(Parser, Debug)]
struct Args {
    /// A built-in workload: pass_chain[:states], choice_loop[:rounds], map[:items], retry[:tasks].
    #[arg(long)]
    workload: Option<String>,
    /// Or any definition file (with --input).
    #[arg(long, requires = "input")]
    definition: Option<PathBuf>,
    #[arg(long)]
    input: Option<PathBuf>,
    /// Write each workload's definition and input as <name>.asl.json / <name>.input.json here.
    #[arg(long)]
    emit: Option<PathBuf>,
    /// Workloads to emit (same syntax as --workload).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "pass_chain:100,choice_loop:50,map:100"
    )]
    emit_workloads: Vec<String>,
    #[arg(long, default_value_t = 50)]
    iterations: usize,
    /// Stop early when this much time has been spent measuring (keeps the run bounded).
    #[arg(long, default_value_t = 20.0)]
    max_seconds: f64,
    /// Include the execution's output in the JSON (to compare engines).
    #[arg(long)]
    print_output: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn workload(spec: &str) -> Result<Workload, String> {
    let (name, size) = match spec.split_once(':') {
        Some((n, s)) => (
            n,
            Some(s.parse::<usize>().map_err(|e| format!("{spec}: {e}"))?),
        ),
        None => (spec, None),
    };
    Ok(match name {
        "pass_chain" => machines::pass_chain(size.unwrap_or(100)),
        "choice_loop" => machines::choice_loop(size.unwrap_or(50) as u64),
        "map" => machines::map_items(size.unwrap_or(1000)),
        "retry" => machines::retry_chain(size.unwrap_or(5), 2),
        other => return Err(format!("unknown workload {other}")),
    })
}

fn read_json(p: &PathBuf) -> Result<Value, String> {
    let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
}

fn emit(dir: &PathBuf, specs: &[String]) -> Result<Value, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut written = Vec::new();
    for spec in specs {
        let w = workload(spec)?;
        let stem = spec.replace(':', "-");
        for (suffix, v) in [("asl.json", &w.definition), ("input.json", &w.input)] {
            let p = dir.join(format!("{stem}.{suffix}"));
            let text = serde_json::to_string_pretty(v).map_err(|e| e.to_string())?;
            std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        written.push(json!(stem));
    }
    Ok(json!({"emitted": written, "dir": dir.display().to_string()}))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

fn measure(args: &Args) -> Result<Value, String> {
    let w = match (&args.workload, &args.definition, &args.input) {
        (Some(spec), _, _) => workload(spec)?,
        (None, Some(d), Some(i)) => Workload {
            name: "definition",
            definition: read_json(d)?,
            input: read_json(i)?,
        },
        _ => return Err("give --workload, --definition + --input, or --emit".into()),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| e.to_string())?;
    let engine = machines::engine();
    let sm = machines::machine(&w);
    let (transitions, first) = rt.block_on(machines::transitions(&engine, &sm, &w.input));
    if first.status != ExecutionStatus::Succeeded {
        return Err(format!(
            "the workload does not succeed: {:?} {:?}",
            first.error, first.cause
        ));
    }
    let budget = Duration::from_secs_f64(args.max_seconds);
    let started = Instant::now();
    let mut samples = Vec::with_capacity(args.iterations);
    for _ in 0..args.iterations.max(1) {
        let t = Instant::now();
        let e = rt.block_on(machines::run_once(&engine, &sm, &w.input));
        samples.push(t.elapsed());
        std::hint::black_box(e);
        if started.elapsed() > budget {
            break;
        }
    }
    samples.sort();
    let median = percentile(&samples, 0.5);
    let output = if args.print_output {
        first.output
    } else {
        None
    };
    Ok(json!({
        "engine": "asl (in-process)",
        "workload": args.workload.clone().unwrap_or_else(|| w.name.to_string()),
        "iterations": samples.len(),
        "transitions": transitions,
        "median_us": median,
        "p10_us": percentile(&samples, 0.1),
        "p90_us": percentile(&samples, 0.9),
        "median_us_per_transition": median / transitions.max(1) as f64,
        "output": output,
    }))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = match &args.emit {
        Some(dir) => emit(dir, &args.emit_workloads),
        None => measure(&args),
    };
    match out {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("run-definition: {e}");
            ExitCode::from(2)
        }
    }
}
