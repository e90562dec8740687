//! The body of a JSONPath state (Parameters, ResultSelector, the `*Path` fields), run once.

use super::*;

impl Engine {
    /// Evaluate a state's body once (no Retry/Catch).
    pub(super) async fn exec_state(
        &self,
        run: &Run<'_>,
        state: &State,
        raw_input: &Value,
        context: &ContextView<'_>,
        vars: &mut Map<String, Value>,
        depth: usize,
    ) -> Result<Step, Failure> {
        if state.is_jsonata() {
            return self
                .exec_jsonata(run, state, raw_input, context, vars, depth)
                .await;
        }
        let next = state.next.clone();
        let effective = apply_io_path(state, "InputPath", raw_input, context, vars)?;
        let env = Env {
            input: &effective,
            context,
            vars,
        };
        // Assign reads the result; then ResultPath merges it and OutputPath filters.
        let finish = |result: Value, vars: &mut Map<String, Value>| -> Result<Value, Failure> {
            if let Some(a) = state.field("Assign") {
                let env = Env {
                    input: &result,
                    context,
                    vars,
                };
                let assigned = eval_template(a, &env)?;
                merge_vars(vars, assigned);
            }
            let merged = apply_result_path(state.field("ResultPath"), raw_input, result)?;
            apply_io_path_owned(state, "OutputPath", merged, context, vars)
        };
        match state.ty {
            StateType::Pass => {
                let result = if let Some(r) = state.field("Result") {
                    r.clone()
                } else if let Some(p) = state.field("Parameters") {
                    eval_template(p, &env)?
                } else {
                    effective.clone().into_owned()
                };
                let out = finish(result, vars)?;
                Ok(Step { output: out, next })
            }
            StateType::Succeed => Ok(Step {
                output: apply_io_path(state, "OutputPath", &effective, context, vars)?.into_owned(),
                next: None,
            }),
            StateType::Fail => {
                let error = match (state.str_field("Error"), state.str_field("ErrorPath")) {
                    (Some(e), _) => Some(e.to_string()),
                    (None, Some(p)) => Some(fail_field(p, "ErrorPath", &env)?),
                    _ => None,
                };
                let cause = match (state.str_field("Cause"), state.str_field("CausePath")) {
                    (Some(c), _) => Some(c.to_string()),
                    (None, Some(p)) => Some(fail_field(p, "CausePath", &env)?),
                    _ => None,
                };
                Err(Failure::raw(error, cause))
            }
            StateType::Choice => {
                let choices = state
                    .field("Choices")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                for rule in choices {
                    if choice::evaluate(rule, &env)? {
                        if let Some(a) = rule.get("Assign") {
                            let assigned = eval_template(a, &env)?;
                            merge_vars(vars, assigned);
                        }
                        let next = rule.get("Next").and_then(Value::as_str).map(str::to_string);
                        let out = apply_io_path(state, "OutputPath", &effective, context, vars)?
                            .into_owned();
                        return Ok(Step { output: out, next });
                    }
                }
                match state.str_field("Default") {
                    Some(d) => {
                        if let Some(a) = state.field("Assign") {
                            let assigned = eval_template(a, &env)?;
                            merge_vars(vars, assigned);
                        }
                        let out = apply_io_path(state, "OutputPath", &effective, context, vars)?
                            .into_owned();
                        Ok(Step {
                            output: out,
                            next: Some(d.to_string()),
                        })
                    }
                    None => Err(Failure::raw(
                        Some("States.NoChoiceMatched".into()),
                        Some("No Matches!".into()),
                    )),
                }
            }
            StateType::Wait => {
                let until = self.wait_target(state, &env)?;
                self.sleep_until(until).await;
                if let Some(a) = state.field("Assign") {
                    let assigned = eval_template(a, &env)?;
                    merge_vars(vars, assigned);
                }
                Ok(Step {
                    output: apply_io_path(state, "OutputPath", &effective, context, vars)?
                        .into_owned(),
                    next,
                })
            }
            StateType::Task => {
                let params = match state.field("Parameters") {
                    Some(p) => eval_template(p, &env)?,
                    None => effective.clone().into_owned(),
                };
                let timeout =
                    self.seconds_field(state, "TimeoutSeconds", "TimeoutSecondsPath", &env)?;
                let heartbeat =
                    self.seconds_field(state, "HeartbeatSeconds", "HeartbeatSecondsPath", &env)?;
                let result = self
                    .invoke_task(
                        run,
                        depth,
                        state,
                        params,
                        context.to_value(),
                        timeout,
                        heartbeat,
                    )
                    .await?;
                let result = self.select_result(state, result, context, vars)?;
                let out = finish(result, vars)?;
                Ok(Step { output: out, next })
            }
            StateType::Parallel => {
                let branch_input = match state.field("Parameters") {
                    Some(p) => eval_template(p, &env)?,
                    None => effective.clone().into_owned(),
                };
                let result = self
                    .run_parallel(run, state, branch_input, vars, depth)
                    .await?;
                let result = self.select_result(state, result, context, vars)?;
                let out = finish(result, vars)?;
                Ok(Step { output: out, next })
            }
            StateType::Map => {
                let items_v = match state.str_field("ItemsPath") {
                    Some(p) => {
                        let path = Path::parse(p).map_err(|e| Failure::runtime(e.to_string()))?;
                        path.evaluate(&effective, context, vars).map_err(|_| {
                            Failure::runtime(format!(
                                "Invalid path '{p}' : No results for path: {}",
                                path.normalized()
                            ))
                        })?
                    }
                    None => effective.clone().into_owned(),
                };
                let items = match items_v {
                    Value::Array(a) => a,
                    other => {
                        return Err(Failure::runtime(format!(
                            "Map state input must be an array but was: {}",
                            json_type_name(&other)
                        )))
                    }
                };
                let selector = state
                    .field("ItemSelector")
                    .or_else(|| state.field("Parameters"));
                let mut inputs = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    inputs.push(match selector {
                        Some(sel) => {
                            // Only `Map` is per item; the rest of `$$` stays borrowed.
                            let ctx = ContextView {
                                base: context.base,
                                state: context.state,
                                map: Some(json!({"Item": {"Index": i, "Value": item}})),
                            };
                            eval_template(
                                sel,
                                &Env {
                                    input: &effective,
                                    context: &ctx,
                                    vars,
                                },
                            )?
                        }
                        None => item,
                    });
                }
                let limit = self.max_concurrency(state, &env)?;
                let tolerated = self.tolerance(state, &env)?;
                let result = self
                    .run_map(run, state, inputs, vars, depth, tolerated, limit)
                    .await?;
                let result = self.select_result(state, result, context, vars)?;
                let out = finish(result, vars)?;
                Ok(Step { output: out, next })
            }
        }
    }

    pub(super) fn select_result(
        &self,
        state: &State,
        result: Value,
        context: &dyn ContextRoot,
        vars: &Map<String, Value>,
    ) -> Result<Value, Failure> {
        match state.field("ResultSelector") {
            Some(sel) => eval_template(
                sel,
                &Env {
                    input: &result,
                    context,
                    vars,
                },
            ),
            None => Ok(result),
        }
    }

    pub(super) fn seconds_field(
        &self,
        state: &State,
        field: &str,
        path_field: &str,
        env: &Env,
    ) -> Result<Option<u64>, Failure> {
        if let Some(v) = state.field(field) {
            if let Some(s) = v.as_str().and_then(jsonata_expr) {
                let _ = s;
                return Ok(None);
            }
            return Ok(v.as_u64());
        }
        if let Some(p) = state.str_field(path_field) {
            // AWS words a missing timeout/heartbeat path like a missing InputPath, not like a
            // missing Parameters path (recorded: test_invalid_jsonpath[*SECONDSPATH]).
            let path = Path::parse(p).map_err(|e| Failure::runtime(e.to_string()))?;
            let v = path
                .evaluate(env.input, env.context, env.vars)
                .map_err(|e| match e {
                    PathError::NotFound { .. } | PathError::UnknownVariable(_) => {
                        Failure::runtime(format!(
                            "Invalid path '{p}' : No results for path: {}",
                            path.normalized()
                        ))
                    }
                    other => Failure::runtime(other.to_string()),
                })?;
            return Ok(v.as_u64());
        }
        Ok(None)
    }

    /// How many iterations may run at once; 0 = no limit.
    pub(super) fn max_concurrency(&self, state: &State, env: &Env) -> Result<usize, Failure> {
        if let Some(p) = state.str_field("MaxConcurrencyPath") {
            let v = eval_expr(p, "MaxConcurrencyPath", env)?;
            return match integer_value(&v) {
                Some(n) => Ok(n.max(0) as usize),
                None => Err(Failure::runtime(format!(
                    "The MaxConcurrencyPath field refers to value \"{}\" which is not a valid integer: {p}",
                    display_value(&v)
                ))),
            };
        }
        Ok(concurrency_limit(state.field("MaxConcurrency")))
    }

    /// (tolerated failure count, tolerated percentage)
    pub(super) fn tolerance(
        &self,
        state: &State,
        env: &Env,
    ) -> Result<(Option<i64>, Option<f64>), Failure> {
        let mut count = state.field("ToleratedFailureCount").and_then(Value::as_i64);
        if let Some(p) = state.str_field("ToleratedFailureCountPath") {
            let v = eval_expr(p, "ToleratedFailureCountPath", env)?;
            match integer_value(&v) {
                Some(n) => count = Some(n),
                None => {
                    return Err(Failure::runtime(format!(
                        "The ToleratedFailureCountPath field refers to value \"{}\" which is not a valid integer: {p}",
                        display_value(&v)
                    )))
                }
            }
        }
        if count.is_some_and(|c| c < 0) {
            return Err(Failure::runtime(
                "ToleratedFailureCount cannot be negative.",
            ));
        }
        let mut pct = state
            .field("ToleratedFailurePercentage")
            .and_then(Value::as_f64);
        if let Some(p) = state.str_field("ToleratedFailurePercentagePath") {
            let v = eval_expr(p, "ToleratedFailurePercentagePath", env)?;
            match v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())) {
                Some(n) => pct = Some(n),
                None => {
                    return Err(Failure::runtime(format!(
                        "The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid float: {p}",
                        display_value(&v)
                    )))
                }
            }
        }
        if pct.is_some_and(|p| !(0.0..=100.0).contains(&p)) {
            return Err(Failure::runtime(
                "ToleratedFailurePercentage must be between 0 and 100.",
            ));
        }
        Ok((count, pct))
    }
}
