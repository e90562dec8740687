//! The operator's real AWS CLI (awscli v1 from PyPI, pinned by `tests/tools/install-awscli.sh`).

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

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

/// Runs `aws SERVICE ARGS --endpoint-url ENDPOINT --output json` with placeholder credentials, no
/// profile, pager or instance metadata, and `env` added: Ok(its JSON output; Null when it printed
/// nothing) or Err((exit code, stderr)).
pub fn aws_json(
    service: &str,
    endpoint: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<Value, (i32, String)> {
    let out = Command::new(aws_cli())
        .arg(service)
        .args(args)
        .args(["--endpoint-url", endpoint, "--output", "json"])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_PAGER", "")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied())
        .output()
        .expect("run the AWS CLI");
    if !out.status.success() {
        return Err((
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    Ok(serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("aws {service} {args:?}: {e}: {text}")))
}
