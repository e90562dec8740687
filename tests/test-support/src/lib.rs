//! Dev-only harnesses shared by the function crates' tests and the workspace tests: a moto server
//! on a free loopback port with fresh tables per test, and a local Lambda Runtime API for a binary.
//!
//! Never a dependency of a Lambda: `[dev-dependencies]` (and the `workflow-tests` harness) only.

mod env;
mod moto;
mod runtime_api;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

pub use env::MotoEnv;
pub use moto::{create_table, http, moto_data, moto_endpoint, sdk_config};
pub use runtime_api::{invoke_binary, Invocation, Run};

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
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
