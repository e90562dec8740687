//! Opening a runner: the template and both definitions loaded and checked (every Task resource
//! one the runner can run), the fault switch resolved, and the functions backend chosen.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use asl::StateMachine;
use serde_json::Value;

use crate::error::RunnerError;
use crate::functions::{
    AwsFunctions, EmbeddedFunctions, Fault, Faulty, Functions, RemoteFunctions,
};
use crate::project::handlers::{Ports, BINARIES};
use crate::store::Store;
use crate::template::Template;

use super::dispatch::{
    LAMBDA_INVOKE, START_EXECUTION, START_EXECUTION_SYNC, START_EXECUTION_SYNC2,
};
use super::{Core, Machine, Runner, RunnerOptions};

/// Every `Resource` of every Task state, however deeply nested.
fn task_resources(v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            if m.get("Type").and_then(Value::as_str) == Some("Task") {
                if let Some(r) = m.get("Resource").and_then(Value::as_str) {
                    out.push((
                        r.to_string(),
                        m.get("Parameters").cloned().unwrap_or(Value::Null),
                    ));
                }
            }
            m.values().for_each(|x| task_resources(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| task_resources(x, out)),
        _ => {}
    }
}
impl Runner {
    /// Loads the template and both definitions (refusing any resource the runner cannot run),
    /// opens the state directory and sets up the functions backend.
    pub async fn open(options: RunnerOptions) -> Result<Runner, RunnerError> {
        let template_path = options.project_root.join("template.yaml");
        let template = Template::load(&template_path, &options.parameters)?;
        let mut machines = Vec::new();
        for m in &template.state_machines {
            let text = template.definition(m)?;
            let definition_error = |message: String| RunnerError::Definition {
                path: m.definition_path.clone(),
                message,
            };
            let json: Value =
                serde_json::from_str(&text).map_err(|e| definition_error(e.to_string()))?;
            let mut resources = Vec::new();
            task_resources(&json, &mut resources);
            for (resource, params) in resources {
                match resource.as_str() {
                    LAMBDA_INVOKE => {
                        if let Some(name) = params.get("FunctionName").and_then(Value::as_str) {
                            if template.function(name).is_none() {
                                return Err(definition_error(format!(
                                    "FunctionName {name} is not a function of the template"
                                )));
                            }
                        }
                    }
                    START_EXECUTION | START_EXECUTION_SYNC | START_EXECUTION_SYNC2 => {
                        if let Some(sm) = params.get("StateMachineArn").and_then(Value::as_str) {
                            if template.state_machine(sm).is_none() {
                                return Err(definition_error(format!(
                                    "StateMachineArn {sm} is not a state machine of the template"
                                )));
                            }
                        }
                    }
                    r if r.starts_with("arn:aws:lambda:") => {
                        if template.function(r).is_none() {
                            return Err(definition_error(format!(
                                "Resource {r} is not a function of the template"
                            )));
                        }
                    }
                    r => {
                        return Err(definition_error(format!(
                            "Task resource {r} is not supported by sfn-local"
                        )))
                    }
                }
            }
            let definition =
                StateMachine::from_value(json).map_err(|e| definition_error(e.to_string()))?;
            machines.push(Machine {
                name: m.name.clone(),
                arn: m.arn.clone(),
                definition,
            });
        }
        for f in &template.functions {
            if !BINARIES.contains(&f.binary.as_str()) && options.lambda_endpoint.is_none() {
                return Err(RunnerError::Template {
                    path: template_path.clone(),
                    message: format!(
                        "function {} runs binary {}, for which sfn-local has no handler",
                        f.logical_id, f.binary
                    ),
                });
            }
        }
        for fault in &options.faults {
            if crate::project::port_faults::is_port_fault(fault) {
                continue;
            }
            if crate::evidence::is_ses_events_fault(fault) {
                crate::evidence::ses::check_ses_events_fault(fault)?;
                continue;
            }
            if template.function(&fault.function).is_none() {
                return Err(RunnerError::argument(
                    format!("--fail {}", fault.function),
                    format!(
                        "no such function in the template (one of: {}; or a port: {})",
                        template
                            .functions
                            .iter()
                            .map(|f| f.binary.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        crate::project::port_faults::PORTS.join(", ")
                    ),
                ));
            }
        }
        let faults = options
            .faults
            .iter()
            .filter(|f| !crate::evidence::is_ses_events_fault(f))
            .map(|f| {
                if crate::project::port_faults::is_port_fault(f) {
                    return f.clone();
                }
                let binary = template
                    .function(&f.function)
                    .map(|x| x.binary.clone())
                    .unwrap_or_default();
                Fault {
                    function: binary,
                    ..f.clone()
                }
            })
            .collect();

        let store = Store::open(&options.state_dir)?;
        let env = |name: &str| -> String {
            options
                .environment
                .get(name)
                .cloned()
                .or_else(|| std::env::var(name).ok())
                .filter(|v| !v.is_empty())
                .or_else(|| template.function_environment.get(name).cloned())
                .unwrap_or_default()
        };
        let policy = notify_failure::EvidencePolicy::from_lookup(|name| Some(env(name)))
            .map_err(|e| RunnerError::Backend(e.to_string()))?;
        // DescribeExecution of the recorder: this runner's own executions.
        let executions: Arc<dyn unpaid_order::ExecutionInputs> =
            Arc::new(crate::evidence::StoreExecutionInputs::new(
                store.clone(),
                machines.iter().map(|m| m.name.clone()).collect(),
            ));
        let evidence = Arc::new(
            evidence_queue(
                &options,
                &template,
                &store,
                policy.window,
                env(crate::project::SES_CONFIGURATION_SET_VAR),
            )
            .await?,
        );
        let mut embedded = None;
        let backend: Arc<dyn Functions> = if let Some(url) = &options.lambda_endpoint {
            let sdk = match &options.sdk_config {
                Some(s) => s.to_builder().endpoint_url(url).build(),
                None => unpaid_order::aws::sdk_config(Some(url)).await,
            };
            let names = template
                .functions
                .iter()
                .map(|f| (f.binary.clone(), f.binary.clone()))
                .collect();
            Arc::new(RemoteFunctions::new(
                aws_sdk_lambda::Client::new(&sdk),
                names,
            ))
        } else if let Some(url) = &options.aws_endpoint {
            let sdk = match &options.sdk_config {
                Some(s) => s.to_builder().endpoint_url(url).build(),
                None => unpaid_order::aws::sdk_config(Some(url)).await,
            };
            let config = unpaid_order::Config::with(
                unpaid_order::Setting::ALL
                    .iter()
                    .map(|s| (*s, env(s.var()))),
            );
            // Each function's own clients, as each Lambda has: `app/<binary>` in the user agent.
            let mut per_binary = BTreeMap::new();
            for f in &template.functions {
                let sdk = unpaid_order::aws::with_app_name(&sdk, &f.binary);
                let ports = unpaid_order::aws::AwsPorts::with_endpoints(
                    &sdk,
                    &config,
                    &options.service_endpoints,
                )
                .map_err(|e| RunnerError::Backend(e.to_string()))?;
                per_binary.insert(
                    f.binary.clone(),
                    Ports::from_aws(&ports, executions.clone()).with_policy(policy),
                );
            }
            Arc::new(AwsFunctions::new(per_binary))
        } else {
            let e = Arc::new(
                EmbeddedFunctions::new(
                    store.clone(),
                    crate::project::fixtures_dir(&options.project_root),
                    env(crate::project::FAILURE_TOPIC_VAR),
                    env(crate::project::SENDER_EMAIL_VAR),
                )
                .with_evidence(policy, executions.clone(), evidence.clone()),
            );
            embedded = Some(e.clone());
            e
        };
        let lease = store.take_lease()?;
        let timeouts = template
            .functions
            .iter()
            .map(|f| (f.binary.clone(), f.timeout))
            .collect();
        let python = (!options.lambda_functions.is_empty()).then(|| {
            lambda_local::LambdaTasks::new(
                lambda_local::PythonFunctions::new(options.lambda_functions.clone()),
                options.clock.clone(),
            )
            .in_account(crate::template::ACCOUNT, crate::template::REGION)
        });
        let runner = Runner {
            core: Arc::new_cyclic(|me| Core {
                template,
                machines,
                store,
                functions: Arc::new(Faulty::new(backend, faults).with_timeouts(timeouts)),
                embedded,
                python,
                evidence,
                clock: options.clock,
                progress: options.progress,
                running: Mutex::new(HashMap::new()),
                run_ids: AtomicU64::new(0),
                opened_at: chrono::Utc::now(),
                lease,
                me: me.clone(),
            }),
        };
        runner.core.recover().await?;
        // What a runner that ended before it was delivered left in the directory.
        runner.core.evidence.adopt().await?;
        Ok(runner)
    }
}

/// The evidence queue: in process with the template's queue settings, or the SQS queue at
/// `evidence_queue_url`; SES's events name the functions' configuration set.
async fn evidence_queue(
    options: &RunnerOptions,
    template: &Template,
    store: &Store,
    window: std::time::Duration,
    configuration_set: String,
) -> Result<crate::evidence::Evidence, RunnerError> {
    use crate::evidence::{Backend, Evidence, InProcessQueue, QueueSettings, SesEvents, SqsQueue};
    let queue = template.evidence_queue.as_ref();
    let settings = QueueSettings {
        visibility_timeout: queue
            .and_then(|q| chrono::Duration::from_std(q.visibility_timeout).ok())
            .unwrap_or(chrono::Duration::seconds(30)),
        max_receive_count: queue.and_then(|q| q.max_receive_count),
        batch_size: queue.map_or(10, |q| q.batch_size),
        batching_window: queue
            .and_then(|q| chrono::Duration::from_std(q.batching_window).ok())
            .unwrap_or_else(chrono::Duration::zero),
    };
    let backend = match &options.evidence_queue_url {
        None => Backend::InProcess(InProcessQueue::new(settings)),
        Some(url) => {
            let sdk = match &options.sdk_config {
                Some(s) => s.clone(),
                None => unpaid_order::aws::sdk_config(options.aws_endpoint.as_deref()).await,
            };
            let mut config = aws_sdk_sqs::config::Builder::from(&sdk);
            if let Some(endpoint) = &options.aws_endpoint {
                config = config.endpoint_url(endpoint);
            }
            Backend::Sqs(SqsQueue::new(
                aws_sdk_sqs::Client::from_conf(config.build()),
                url.clone(),
                settings.batch_size,
            ))
        }
    };
    let ses = SesEvents::new(Some(configuration_set), window);
    ses.set_faults(&options.faults);
    Ok(Evidence::new(
        backend,
        ses,
        store.clone(),
        options.clock.clone(),
        queue.map(|q| q.arn.clone()).unwrap_or_default(),
        queue.map(|q| q.function_binary.clone()),
    )
    .with_rules(queue.map(|q| q.rules.clone()).unwrap_or_default()))
}
