//! A throw-away copy of the project (template, definitions, fixtures) for tests that add orders
//! to the fixtures or edit the template, and a runner over it on the virtual clock.

use std::path::Path;
use std::sync::Arc;

use asl::VirtualClock;
use serde_json::Value;
use sfn_local::{Runner, RunnerOptions};

use crate::{project_root, start_time};

/// A copy of `template.yaml` (through `edit`), `statemachine/` and `events/` in a temporary
/// directory.
pub fn project_copy(edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = project_root();
    let template = std::fs::read_to_string(root.join("template.yaml")).expect("template.yaml");
    std::fs::write(dir.path().join("template.yaml"), edit(template)).expect("write template");
    copy_dir(&root.join("statemachine"), &dir.path().join("statemachine"));
    copy_dir(&root.join("events"), &dir.path().join("events"));
    dir
}

/// Appends items to the fixture file `events/tables/<file>` of a [`project_copy`].
pub fn add_fixtures(project: &Path, file: &str, items: impl IntoIterator<Item = Value>) {
    let path = project.join("events/tables").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut all: Vec<Value> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    all.extend(items);
    let text = serde_json::to_string(&all).expect("fixtures serialise");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// A runner over `project` with its state in `state`, on the virtual clock.
pub async fn open_runner(project: &Path, state: &Path) -> Runner {
    let mut options = RunnerOptions::new(project, state);
    options.clock = Arc::new(VirtualClock::new(start_time()));
    Runner::open(options).await.expect("the runner opens")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}
