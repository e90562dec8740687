//! Conformance CLI for the `asl` engine: runs one definition on one input (or one state, after
//! AWS's TestState API) and prints AWS's outcome as one JSON object, as run_cases.py expects.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use asl::test_state::{
    self, state_configuration_from_json, InspectionLevel, Mock, TestStateError, TestStateRequest,
};
use asl::{Engine, ExecutionContext, ExecutionStatus, StateMachine, VecHistory, VirtualClock};
use chrono::{TimeZone, Utc};
use clap::Parser;
use lambda_local::{LambdaTasks, PythonFunctions, RequestIds};
use serde_json::{json, Map, Value};

#[derive(Parser, Debug)]
#[command(about = "Run an Amazon States Language definition offline and print the outcome as JSON")]
struct Args {
    #[arg(long)]
    definition: PathBuf,
    /// Required unless --validate.
    #[arg(long, required_unless_present = "validate")]
    input: Option<PathBuf>,
    /// ValidateStateMachineDefinition: print {"result": "OK"|"FAIL", "diagnostics": [...]}.
    /// The definition file may hold any text.
    #[arg(long)]
    validate: bool,
    #[arg(long, default_value = "STANDARD")]
    state_machine_type: String,
    /// TestState API mode: run a single state.
    #[arg(long)]
    test_state: bool,
    #[arg(long)]
    state_name: Option<String>,
    /// INFO, DEBUG or TRACE (DEBUG and TRACE add `inspectionData`).
    #[arg(long, default_value = "INFO")]
    inspection_level: String,
    #[arg(long)]
    variables: Option<PathBuf>,
    /// TestState's `mock`, as JSON.
    #[arg(long)]
    mock: Option<PathBuf>,
    #[arg(long)]
    context: Option<PathBuf>,
    /// TestState's `stateConfiguration`, as JSON.
    #[arg(long)]
    state_configuration: Option<PathBuf>,
    /// The Lambda functions tasks may invoke: a registry file {"function-name": {"source":
    /// "handler.py", "timeout": 8, ...}}; each handler source runs in Lambda's Python runtime
    /// (one warm `python3` sandbox per function, see lambda-local).
    #[arg(long, env = "ASL_RUN_LAMBDAS")]
    lambdas: Option<PathBuf>,
    /// Print the execution history (GetExecutionHistory events) to stderr.
    #[arg(long)]
    history: bool,
}

fn read_json(p: &PathBuf) -> Result<Value, String> {
    let text =
        std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", p.display()))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("asl-run: {e}");
            ExitCode::from(2)
        }
    }
}

/// A TestState request AWS refuses: its error as the run's status.
fn refused(e: TestStateError) -> Value {
    match e {
        TestStateError::InvalidDefinition(m) => {
            json!({"status": "INVALID_DEFINITION", "error": "States.Runtime", "cause": m})
        }
        TestStateError::Validation(m) => {
            json!({"status": "VALIDATION_EXCEPTION", "error": "ValidationException", "cause": m})
        }
    }
}

fn run(args: &Args) -> Result<Value, String> {
    if args.validate {
        let text = std::fs::read_to_string(&args.definition)
            .map_err(|e| format!("cannot read {}: {e}", args.definition.display()))?;
        return serde_json::to_value(asl::validate::validate(&text)).map_err(|e| e.to_string());
    }
    let def = read_json(&args.definition)?;
    if !def.is_object() {
        return Err("the definition is not a JSON object".into());
    }
    let input = read_json(args.input.as_ref().ok_or("--input is required")?)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    // Fixed identity and start time keep runs deterministic.
    let start = Utc
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .ok_or("bad start time")?;
    let clock = Arc::new(VirtualClock::new(start));
    let sm_name = "asl-run";
    let mut ctx = ExecutionContext::new("asl-run-execution", sm_name, start);
    if args.state_machine_type == "EXPRESS" {
        // Express execution ARNs carry the execution name and an execution id.
        ctx.execution_arn = format!(
            "arn:aws:states:us-east-1:111111111111:express:{sm_name}:{}:00000000-0000-0000-0000-000000000000",
            ctx.execution_name
        );
    }

    let functions = match &args.lambdas {
        Some(p) => lambda_local::load_functions(p).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    // Reproducible request ids; a virtual clock dates the responses.
    let dispatcher = Arc::new(
        LambdaTasks::new(PythonFunctions::new(functions), clock.clone())
            .with_request_ids(RequestIds::Sequential(Default::default())),
    );
    let engine = Engine::new(dispatcher, clock.clone());
    if args.test_state {
        let opt = |p: &Option<PathBuf>| p.as_ref().map(read_json).transpose();
        let vars = match opt(&args.variables)? {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let level = InspectionLevel::parse(&args.inspection_level)
            .ok_or("--inspection-level is INFO, DEBUG or TRACE")?;
        let mock = opt(&args.mock)?.map(|m| Mock::from_json(&m)).transpose();
        let config = opt(&args.state_configuration)?
            .map(|c| state_configuration_from_json(&c))
            .transpose();
        let (mock, config) = match (mock, config) {
            (Ok(m), Ok(c)) => (m, c.unwrap_or_default()),
            (Err(e), _) | (_, Err(e)) => return Ok(refused(e)),
        };
        let req = TestStateRequest {
            definition: def,
            state_name: args.state_name.clone(),
            input,
            variables: vars,
            mock,
            context: opt(&args.context)?,
            inspection_level: level,
            config,
            role_arn: Some(ctx.role_arn.clone()),
            reveal_secrets: false,
        };
        return Ok(
            match rt.block_on(test_state::test_state(&engine, req, ctx)) {
                Ok(r) => r.to_json(),
                Err(e) => refused(e),
            },
        );
    }

    let sm = match StateMachine::from_value(def) {
        Ok(sm) => sm,
        Err(e) => {
            return Ok(
                json!({"status": "INVALID_DEFINITION", "error": "States.Runtime", "cause": e.to_string()}),
            )
        }
    };
    let sink = VecHistory::new();
    let ex = rt.block_on(engine.run(&sm, input, ctx, &sink));
    if args.history {
        eprintln!(
            "{}",
            serde_json::to_string_pretty(&sink.events()).unwrap_or_default()
        );
    }
    let mut out = Map::new();
    out.insert(
        "status".into(),
        serde_json::to_value(ex.status).map_err(|e| e.to_string())?,
    );
    if ex.status == ExecutionStatus::Succeeded {
        out.insert("output".into(), ex.output.unwrap_or(Value::Null));
    }
    if let Some(e) = ex.error {
        out.insert("error".into(), Value::String(e));
    }
    if let Some(c) = ex.cause {
        out.insert("cause".into(), Value::String(c));
    }
    Ok(Value::Object(out))
}
