//! Criterion benches of the offline ASL engine: cost per state transition for a Pass chain, a
//! Choice-heavy loop, a Map of 1,000 items and Retry with back-off on the virtual clock.
//!
//! Run: `cargo bench -p asl --bench engine`; per-transition
//! medians: `bash tests/bench/engine.sh` (reads criterion's estimates and the counts written here).

// criterion_group! defines an undocumented `pub fn benches`; a lint attribute on the macro call
// is ignored, so it is allowed for this bench target only.
#![allow(missing_docs)]

mod machines;

use std::time::Duration;

use asl::ExecutionStatus;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::{Map, Value};

use machines::Workload;

fn workloads() -> Vec<(Workload, usize)> {
    // ASL_BENCH_MAP_ITEMS shrinks the Map for a quick smoke run (tests/bench/engine.sh --quick).
    let map_items = std::env::var("ASL_BENCH_MAP_ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    vec![
        (machines::pass_chain(100), 100),
        (machines::choice_loop(50), 50),
        (machines::map_items(map_items), map_items),
        (machines::retry_chain(5, 2), 5),
    ]
}

/// Where criterion writes (`$CARGO_TARGET_DIR/criterion`): the transition counts go beside it.
fn criterion_dir() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("target"));
    target.join("criterion")
}

fn bench_engine(c: &mut Criterion) {
    let rt = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => panic!("tokio runtime: {e}"),
    };
    let mut counts = Map::new();
    let mut group = c.benchmark_group("engine");
    for (w, size) in workloads() {
        let engine = machines::engine();
        let sm = machines::machine(&w);
        let (transitions, execution) = rt.block_on(machines::transitions(&engine, &sm, &w.input));
        // A bench of a failing run would measure the error path, not the workload.
        assert_eq!(
            execution.status,
            ExecutionStatus::Succeeded,
            "{}: {:?} {:?}",
            w.name,
            execution.error,
            execution.cause
        );
        let id = BenchmarkId::new(w.name, size);
        counts.insert(format!("{}/{}", w.name, size), Value::from(transitions));
        group.throughput(Throughput::Elements(transitions));
        if transitions > 1000 {
            group.sample_size(10);
            group.measurement_time(Duration::from_secs(8));
        } else {
            group.sample_size(30);
            group.measurement_time(Duration::from_secs(4));
        }
        group.bench_with_input(id, &w.input, |b, input| {
            b.iter(|| rt.block_on(machines::run_once(&engine, &sm, input)))
        });
        // The runner keeps every history event: measure that path too where it is cheap to.
        if transitions <= 200 {
            let name = format!("{}+history", w.name);
            counts.insert(format!("{name}/{size}"), Value::from(transitions));
            group.bench_with_input(BenchmarkId::new(name, size), &w.input, |b, input| {
                b.iter(|| {
                    let history = asl::VecHistory::new();
                    rt.block_on(machines::run_with(&engine, &sm, input, &history))
                })
            });
        }
    }
    group.finish();
    let dir = criterion_dir();
    let written = std::fs::create_dir_all(&dir).and_then(|_| {
        std::fs::write(
            dir.join("engine-transitions.json"),
            Value::Object(counts).to_string(),
        )
    });
    if let Err(e) = written {
        eprintln!(
            "engine bench: cannot write transition counts to {}: {e}",
            dir.display()
        );
    }
}

criterion_group!(benches, bench_engine);
criterion_main!(benches);
