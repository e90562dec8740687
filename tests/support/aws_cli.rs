//! The operator's real AWS CLI (awscli v1 from PyPI, pinned by `tests/tools/install-awscli.sh`).

use std::path::PathBuf;

use crate::project_root;

/// `.tools/awscli/bin/aws` (or `AWS_CLI`); a missing CLI fails the test with the install command.
pub fn aws_cli() -> PathBuf {
    let path = std::env::var_os("AWS_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join(".tools/awscli/bin/aws"));
    assert!(
        path.is_file(),
        "the AWS CLI is not installed at {}: run `bash tests/tools/install-awscli.sh` (CI's \
         tests/run.sh installs it)",
        path.display()
    );
    path
}
