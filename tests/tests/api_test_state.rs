//! TestState and ValidateStateMachineDefinition through real clients against `sfn-local serve`:
//! the corpus's recorded test_state and validate cases through aws-sdk-sfn and through the pinned
//! AWS CLI agree with AWS exactly where `asl-run` does (the ratchet's passing.txt); and the
//! README's `aws stepfunctions test-state` line, run as written on the real definition.
//!
//! The requests come from `tests/conformance/request_cases.py --requests` (what the ratchet
//! sends asl-run) and the answers are scored by the same script (the corpus's run_cases.compare).
//! The corpus's Lambda functions are served by `--lambda-functions` (lambda-local's Python
//! runtime), created as the ratchet creates them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{
    InspectionLevel, MockErrorOutput, MockInput, MockResponseValidationMode, TestStateConfiguration,
};
use aws_sdk_sfn::Client;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::endpoint::EndpointPrefix;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::{json, Map, Value};
use workflow_tests::{aws_cli, project_root, ApiServer};

/// The account the corpus was recorded in (its ARNs name it).
const CORPUS_ACCOUNT: &str = "111111111111";

fn corpus_dir() -> PathBuf {
    std::env::var_os("ASL_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join("../shared/asl-conformance"))
}

fn request_cases() -> PathBuf {
    project_root().join("tests/conformance/request_cases.py")
}

/// The test_state and validate cases that agree with AWS through asl-run (passing.txt).
fn passing_through_asl_run(requests: &[Value]) -> BTreeSet<String> {
    let listed: BTreeSet<String> =
        std::fs::read_to_string(project_root().join("tests/conformance/passing.txt"))
            .expect("passing.txt")
            .lines()
            .map(str::to_string)
            .collect();
    requests
        .iter()
        .filter_map(|r| r["id"].as_str())
        .filter(|id| listed.contains(*id))
        .map(str::to_string)
        .collect()
}

/// The corpus's Lambda functions as a `--lambda-functions` registry (sources written to `dir`),
/// with the Timeout LocalStack's test utility gave them (as tests/conformance/ratchet.sh).
fn corpus_functions(dir: &Path) -> PathBuf {
    let cases = std::fs::read_to_string(corpus_dir().join("cases.jsonl")).expect("cases.jsonl");
    let mut registry = Map::new();
    for case in cases
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a case"))
    {
        for f in case["lambda_functions"].as_array().into_iter().flatten() {
            let name = f["func_name"].as_str().expect("func_name");
            let source = dir.join(format!("{name}.py"));
            std::fs::write(&source, f["source"].as_str().expect("source")).expect("write");
            let runtime = f["runtime"]
                .as_str()
                .unwrap_or("python3_12")
                .replace('_', ".");
            registry.insert(
                name.into(),
                json!({"source": source, "runtime": runtime, "timeout": 8}),
            );
        }
    }
    let path = dir.join("functions.json");
    std::fs::write(&path, Value::Object(registry).to_string()).expect("write registry");
    path
}

/// `sfn-local serve` in the corpus's account, with its Lambda functions.
fn corpus_server(dir: &Path) -> ApiServer {
    let functions = corpus_functions(dir);
    let functions = functions.to_str().expect("utf-8 path");
    ApiServer::start_serving(
        &dir.join("state"),
        &["--virtual-clock", "--lambda-functions", functions],
        &["--account", CORPUS_ACCOUNT],
    )
}

/// Each case's API request, as request_cases.py builds it.
fn corpus_requests(dir: &Path) -> Vec<Value> {
    let out = dir.join("requests.jsonl");
    let status = Command::new("python3")
        .arg(request_cases())
        .arg("--cases")
        .arg(corpus_dir().join("cases.jsonl"))
        .args(["--cmd", "unused", "--report", "/dev/null", "--requests"])
        .arg(&out)
        .status()
        .expect("run request_cases.py");
    assert!(status.success(), "request_cases.py --requests failed");
    std::fs::read_to_string(&out)
        .expect("requests")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a request"))
        .collect()
}

/// The ids the report says agree with AWS, and every line that does not (for the message).
fn scored(report: &Path) -> (BTreeSet<String>, Vec<String>) {
    let mut pass = BTreeSet::new();
    let mut other = Vec::new();
    for line in std::fs::read_to_string(report).expect("report").lines() {
        let r: Value = serde_json::from_str(line).expect("a report line");
        let id = r["id"].as_str().unwrap_or_default().to_string();
        if r["result"] == "pass" {
            pass.insert(id);
        } else {
            other.push(format!("{id}: {} {}", r["result"], r["detail"]));
        }
    }
    (pass, other)
}

/// The same cases agree with AWS as through asl-run: none fewer, none more.
fn assert_same_as_asl_run(client: &str, requests: &[Value], report: &Path) {
    let (pass, failing) = scored(report);
    let expected = passing_through_asl_run(requests);
    assert_eq!(
        requests.len(),
        pass.len() + failing.len(),
        "{client}: every case answered"
    );
    let lost: Vec<_> = expected.difference(&pass).collect();
    let gained: Vec<_> = pass.difference(&expected).collect();
    assert!(
        lost.is_empty() && gained.is_empty(),
        "{client}: differs from asl-run; lost {lost:#?}, gained {gained:#?} (not yet in \
         passing.txt: run tests/conformance/ratchet.sh --update)\nfailing: {failing:#?}"
    );
    eprintln!(
        "{client}: {} of {} test_state/validate cases agree with AWS, as through asl-run",
        pass.len(),
        requests.len()
    );
}

/// AWS's model gives TestState the host prefix `sync-` (`sync-states.REGION.amazonaws.com`);
/// a local endpoint has no `sync-127.0.0.1`, so the client drops the prefix, as
/// `AWS_DISABLE_HOST_PREFIX_INJECTION=true` does for the AWS CLI.
#[derive(Debug)]
struct NoHostPrefix;

impl Intercept for NoHostPrefix {
    fn name(&self) -> &'static str {
        "NoHostPrefix"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().unset::<EndpointPrefix>();
        Ok(())
    }
}

fn sdk(server: &ApiServer) -> Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "api_test_state",
        ))
        .endpoint_url(&server.endpoint)
        .interceptor(NoHostPrefix)
        .build();
    Client::from_conf(config)
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// One TestState request through the SDK: the answer as the API sent it.
async fn sdk_test_state(sfn: &Client, r: &Value) -> Result<Value, (String, String)> {
    let mut call = sfn
        .test_state()
        .definition(r["definition"].as_str().unwrap_or_default())
        .set_role_arn(text(&r["roleArn"]))
        .set_input(text(&r["input"]))
        .set_state_name(text(&r["stateName"]))
        .set_variables(text(&r["variables"]))
        .set_context(text(&r["context"]));
    if let Some(level) = r["inspectionLevel"].as_str() {
        call = call.inspection_level(InspectionLevel::from(level));
    }
    if let Value::Object(_) = &r["mock"] {
        let m = &r["mock"];
        let mut mock = MockInput::builder().set_result(text(&m["result"]));
        if let Value::Object(_) = &m["errorOutput"] {
            let e = &m["errorOutput"];
            mock = mock.error_output(
                MockErrorOutput::builder()
                    .set_error(text(&e["error"]))
                    .set_cause(text(&e["cause"]))
                    .build(),
            );
        }
        if let Some(mode) = m["fieldValidationMode"].as_str() {
            mock = mock.field_validation_mode(MockResponseValidationMode::from(mode));
        }
        call = call.mock(mock.build());
    }
    if let Value::Object(c) = &r["stateConfiguration"] {
        let count = |k: &str| c.get(k).and_then(Value::as_i64).map(|n| n as i32);
        call = call.state_configuration(
            TestStateConfiguration::builder()
                .set_retrier_retry_count(count("retrierRetryCount"))
                .set_map_iteration_failure_count(count("mapIterationFailureCount"))
                .set_error_caused_by_state(c.get("errorCausedByState").and_then(text))
                .set_map_item_reader_data(c.get("mapItemReaderData").and_then(text))
                .build(),
        );
    }
    let out = call.send().await.map_err(|e| {
        (
            e.code().unwrap_or("unknown").to_string(),
            e.message().unwrap_or_default().to_string(),
        )
    })?;
    let mut answer = Map::new();
    answer.insert("status".into(), json!(out.status().map(|s| s.as_str())));
    for (k, v) in [
        ("output", out.output()),
        ("error", out.error()),
        ("cause", out.cause()),
        ("nextState", out.next_state()),
    ] {
        if let Some(v) = v {
            answer.insert(k.into(), json!(v));
        }
    }
    if let Some(d) = out.inspection_data() {
        let mut data = Map::new();
        for (k, v) in [
            ("input", d.input()),
            ("afterArguments", d.after_arguments()),
            ("afterInputPath", d.after_input_path()),
            ("afterParameters", d.after_parameters()),
            ("result", d.result()),
            ("afterResultSelector", d.after_result_selector()),
            ("afterResultPath", d.after_result_path()),
            ("variables", d.variables()),
        ] {
            if let Some(v) = v {
                data.insert(k.into(), json!(v));
            }
        }
        if let Some(n) = d.max_concurrency() {
            data.insert("maxConcurrency".into(), json!(n));
        }
        if let Some(n) = d.tolerated_failure_count() {
            data.insert("toleratedFailureCount".into(), json!(n));
        }
        if let Some(n) = d.tolerated_failure_percentage() {
            data.insert("toleratedFailurePercentage".into(), json!(n));
        }
        if let Some(e) = d.error_details() {
            let mut details = Map::new();
            if let Some(i) = e.catch_index() {
                details.insert("catchIndex".into(), json!(i));
            }
            if let Some(i) = e.retry_index() {
                details.insert("retryIndex".into(), json!(i));
            }
            if let Some(i) = e.retry_backoff_interval_seconds() {
                details.insert("retryBackoffIntervalSeconds".into(), json!(i));
            }
            data.insert("errorDetails".into(), Value::Object(details));
        }
        answer.insert("inspectionData".into(), Value::Object(data));
    }
    Ok(Value::Object(answer))
}

async fn sdk_validate(sfn: &Client, r: &Value) -> Result<Value, (String, String)> {
    let out = sfn
        .validate_state_machine_definition()
        .definition(r["definition"].as_str().unwrap_or_default())
        .send()
        .await
        .map_err(|e| {
            (
                e.code().unwrap_or("unknown").to_string(),
                e.message().unwrap_or_default().to_string(),
            )
        })?;
    let diagnostics: Vec<Value> = out
        .diagnostics()
        .iter()
        .map(|d| {
            let mut v = json!({"code": d.code(), "message": d.message(),
                               "severity": d.severity().as_str()});
            if let Some(l) = d.location() {
                v["location"] = json!(l);
            }
            v
        })
        .collect();
    Ok(
        json!({"result": out.result().as_str(), "diagnostics": diagnostics,
              "truncated": out.truncated().unwrap_or(false)}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs python3 (the corpus's Lambda handlers and scorer) and ../shared/asl-conformance: run by tests/run.sh, or --features emulator"
)]
async fn the_corpus_test_state_and_validate_cases_agree_through_aws_sdk_sfn_as_through_asl_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = corpus_server(dir.path());
    let requests = corpus_requests(dir.path());
    let sfn = sdk(&server);
    let mut answers = String::new();
    for r in &requests {
        let answer = match r["mode"].as_str() {
            Some("validate") => sdk_validate(&sfn, &r["request"]).await,
            _ => sdk_test_state(&sfn, &r["request"]).await,
        };
        let line = match answer {
            Ok(a) => json!({"id": r["id"], "answer": a}),
            Err((code, message)) => {
                json!({"id": r["id"], "refused": {"code": code, "message": message}})
            }
        };
        answers.push_str(&format!("{line}\n"));
    }
    let answers_path = dir.path().join("answers.jsonl");
    std::fs::write(&answers_path, answers).expect("write answers");
    let report = dir.path().join("report.jsonl");
    let status = Command::new("python3")
        .arg(request_cases())
        .arg("--cases")
        .arg(corpus_dir().join("cases.jsonl"))
        .arg("--answers")
        .arg(&answers_path)
        .arg("--report")
        .arg(&report)
        .status()
        .expect("run request_cases.py");
    assert!(status.success(), "request_cases.py --answers failed");
    assert_same_as_asl_run("aws-sdk-sfn", &requests, &report);
}

/// The AWS CLI's own Python (the venv install-awscli.sh made), which has its driver.
fn aws_cli_python() -> PathBuf {
    let aws = aws_cli();
    let python = aws.with_file_name("python");
    assert!(python.is_file(), "no python beside {}", aws.display());
    python
}

fn cli_env(cmd: &mut Command) -> &mut Command {
    cmd.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_PAGER", "")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // TestState's `sync-` host prefix off (a local endpoint has no `sync-127.0.0.1`), as
        // local/sfn-local/README.md tells users; one attempt, so a refusal is not retried.
        .env("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
}

#[test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs the AWS CLI: run by tests/run.sh, or --features emulator with .tools/awscli"
)]
fn the_corpus_test_state_and_validate_cases_agree_through_the_aws_cli_as_through_asl_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = corpus_server(dir.path());
    let requests = corpus_requests(dir.path());
    let report = dir.path().join("report.jsonl");
    let status = cli_env(&mut Command::new(aws_cli_python()))
        .arg(request_cases())
        .arg("--cases")
        .arg(corpus_dir().join("cases.jsonl"))
        .args(["--cli", &server.endpoint])
        .arg("--report")
        .arg(&report)
        .status()
        .expect("run request_cases.py with the AWS CLI's driver");
    assert!(status.success(), "request_cases.py --cli failed");
    assert_same_as_asl_run("aws-cli", &requests, &report);
}

/// What the definition says a mocked `error` leads to at `state`: (status, retryIndex or
/// nextState), by the first retrier, then the first catcher, whose ErrorEquals names it.
fn expected_by_definition(definition: &Value, state: &str, error: &str) -> (String, Value) {
    let s = &definition["States"][state];
    let names = |h: &Value| {
        h["ErrorEquals"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e == error || e == "States.ALL" || e == "States.TaskFailed")
    };
    let list = |k: &str| s[k].as_array().cloned().unwrap_or_default();
    if let Some(i) = list("Retry").iter().position(&names) {
        return ("RETRIABLE".into(), json!(i));
    }
    if let Some(c) = list("Catch").iter().find(|c| names(c)) {
        return ("CAUGHT_ERROR".into(), c["Next"].clone());
    }
    ("FAILED".into(), Value::Null)
}

#[test]
#[cfg_attr(
    not(feature = "emulator"),
    ignore = "needs the AWS CLI: run by tests/run.sh, or --features emulator with .tools/awscli"
)]
fn the_readme_test_state_line_runs_as_written_and_answers_as_the_definition_says() {
    let readme = std::fs::read_to_string(project_root().join("README.md")).expect("README.md");
    // The command as the README shows it: its first line and the `\`-continued ones.
    let mut lines = readme
        .lines()
        .skip_while(|l| !l.starts_with("aws stepfunctions test-state "));
    let mut command = String::new();
    for l in lines.by_ref() {
        command.push_str(l);
        command.push('\n');
        if !l.ends_with('\\') {
            break;
        }
    }
    assert!(
        !command.is_empty(),
        "README.md shows an `aws stepfunctions test-state` command"
    );
    let line = command.replace("\\\n", " ");
    let line = line.trim();
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ApiServer::start(dir.path(), &["--virtual-clock"]);
    let definition: Value = serde_json::from_str(
        &std::fs::read_to_string(project_root().join("statemachine/process-unpaid-order.asl.json"))
            .expect("definition"),
    )
    .expect("JSON definition");
    let aws_dir = aws_cli().parent().expect("bin dir").to_path_buf();
    let path = format!(
        "{}:{}",
        aws_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // The README's line with this server's endpoint, and (second and third runs) the same line
    // mocking the errors NotifyFailure's Retry and Catch name, so each status is seen.
    let readme_mock: Value = {
        let start = line.find("--mock '").expect("a --mock argument") + "--mock '".len();
        let end = start + line[start..].find('\'').expect("closing quote");
        serde_json::from_str(&line[start..end]).expect("the mock is JSON")
    };
    let readme_error = readme_mock["errorOutput"]["error"]
        .as_str()
        .expect("the README mocks an error")
        .to_string();
    let state = {
        let start = line.find("--state-name ").expect("--state-name") + "--state-name ".len();
        line[start..]
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    for error in [readme_error.as_str(), "TransientError", "OrderNotFound"] {
        let run = command
            .trim()
            .replace("http://127.0.0.1:8083", &server.endpoint)
            .replace(
                &format!("\"error\":\"{readme_error}\""),
                &format!("\"error\":\"{error}\""),
            );
        let out = cli_env(&mut Command::new("bash"))
            .args([
                "-c",
                &format!("{run} --output json --inspection-level DEBUG"),
            ])
            .env("PATH", &path)
            .current_dir(project_root())
            .output()
            .expect("run the README's line");
        assert!(
            out.status.success(),
            "{run}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let answer: Value = serde_json::from_slice(&out.stdout).expect("JSON answer");
        let (status, detail) = expected_by_definition(&definition, &state, error);
        assert_eq!(answer["status"], status.as_str(), "{error}: {answer}");
        assert_eq!(answer["error"], error, "{answer}");
        match status.as_str() {
            "RETRIABLE" => assert_eq!(
                answer["inspectionData"]["errorDetails"]["retryIndex"], detail,
                "{answer}"
            ),
            "CAUGHT_ERROR" => assert_eq!(answer["nextState"], detail, "{answer}"),
            _ => assert!(answer.get("nextState").is_none(), "{answer}"),
        }
    }
}
