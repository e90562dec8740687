//! Task states: the dispatcher call, its history events, timeouts and TestState mocks.

use super::*;

/// A Task's Resource as history shows it, `(resourceType, resource)`:
/// `arn:aws:states:::lambda:invoke` → (`lambda`, `invoke`),
/// `arn:aws:states:::states:startExecution.sync:2` → (`states`, `startExecution.sync:2`),
/// any other ARN → (its service, the whole ARN), e.g. a Lambda function ARN → (`lambda`, ARN).
pub fn split_resource(resource: &str) -> (&str, &str) {
    if let Some(rest) = resource
        .strip_prefix("arn:")
        .and_then(|r| r.split_once(':'))
        .and_then(|(_, r)| r.strip_prefix("states:::"))
    {
        if let Some((service, api)) = rest.split_once(':') {
            return (service, api);
        }
    }
    match resource.split(':').nth(2) {
        Some("states") if resource.contains(":activity:") => ("activity", resource),
        Some(service) if !service.is_empty() => (service, resource),
        _ => ("", resource),
    }
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn invoke_task(
        &self,
        run: &Run<'_>,
        depth: usize,
        state: &State,
        params: Value,
        context: TaskContext,
        timeout: Option<u64>,
        heartbeat: Option<u64>,
    ) -> Result<Value, Failure> {
        let clock = self.clock.as_ref();
        let resource = state.literals.resource.clone().unwrap_or_default();
        // History names the integration as AWS does: `resourceType` + `resource`.
        let task_details = |extra: Vec<(&str, Value)>| -> Value {
            let (ty, res) = split_resource(&resource);
            let mut d = Map::with_capacity(2 + extra.len());
            d.insert("resourceType".into(), Value::String(ty.to_string()));
            d.insert("resource".into(), Value::String(res.to_string()));
            for (k, v) in extra {
                d.insert(k.to_string(), v);
            }
            Value::Object(d)
        };
        run.event(clock, "TaskScheduled", || {
            let mut extra = vec![
                ("region", json!("us-east-1")),
                ("parameters", Value::String(to_json(&params))),
            ];
            if let Some(t) = timeout {
                extra.push(("timeoutInSeconds", json!(t)));
            }
            if let Some(h) = heartbeat {
                extra.push(("heartbeatInSeconds", json!(h)));
            }
            task_details(extra)
        });
        run.event(clock, "TaskStarted", || task_details(Vec::new()));
        if let Some(m) = self.mock_result(run, depth) {
            return m;
        }
        let req = TaskRequest {
            resource: resource.clone(),
            parameters: params,
            state_name: state.name.clone(),
            context,
            timeout_seconds: timeout,
            heartbeat_seconds: heartbeat,
        };
        let before = self.clock.now();
        let outcome = self.dispatcher.invoke(req).await;
        // A task that ran longer than TimeoutSeconds (on the engine's clock, or as the dispatcher
        // saw it in real time and reported with States.Timeout) timed out.
        let reported = matches!(&outcome, Err(f) if f.error == causes::TIMEOUT);
        if reported
            || timeout
                .is_some_and(|t| self.clock.now() - before >= chrono::Duration::seconds(t as i64))
        {
            run.event(clock, "TaskTimedOut", || {
                task_details(vec![("error", json!("States.Timeout"))])
            });
            return Err(causes::timeout(Some(String::new())));
        }
        match outcome {
            Ok(v) => {
                if payload_too_big(&v) {
                    return Err(causes::data_limit_exceeded(&state.name));
                }
                run.event(clock, "TaskSucceeded", || {
                    task_details(vec![
                        ("output", Value::String(to_json(&v))),
                        ("outputDetails", json!({"truncated": false})),
                    ])
                });
                Ok(v)
            }
            Err(tf) => {
                run.event(clock, "TaskFailed", || {
                    let mut extra = vec![("error", json!(tf.error))];
                    if let Some(c) = &tf.cause {
                        extra.push(("cause", json!(c)));
                    }
                    task_details(extra)
                });
                Err(Failure::raw(Some(tf.error), tf.cause))
            }
        }
    }

    /// The TestState mock for the tested state (depth 0) as a task outcome.
    pub(super) fn mock_result(
        &self,
        run: &Run<'_>,
        depth: usize,
    ) -> Option<Result<Value, Failure>> {
        let m = run.mock.as_ref().filter(|_| depth == 0)?;
        if let Some(r) = m.get("result") {
            let text = r
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| r.to_string());
            return Some(serde_json::from_str(&text).map_err(|_| {
                Failure::raw(
                    Some("States.Runtime".into()),
                    Some(causes::MOCK_RESULT_NOT_JSON.template.into()),
                )
            }));
        }
        let e = m.get("errorOutput")?;
        Some(Err(Failure::raw(
            e.get("error").and_then(Value::as_str).map(str::to_string),
            e.get("cause").and_then(Value::as_str).map(str::to_string),
        )))
    }
}
