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
        let f = &state.jsonpath;
        let effective = apply_io_path(f.input_path.as_ref(), raw_input, context, vars)?;
        let env = Env {
            input: &effective,
            context,
            vars,
        };
        // Assign reads the result; then ResultPath merges it and OutputPath filters.
        let finish = |result: Value, vars: &mut Map<String, Value>| -> Result<Value, Failure> {
            if let Some(a) = &f.assign {
                let env = Env {
                    input: &result,
                    context,
                    vars,
                };
                let assigned = a.evaluate(&env)?;
                merge_vars(vars, assigned);
            }
            let merged = apply_result_path(f.result_path.as_ref(), raw_input, result)?;
            apply_io_path_owned(f.output_path.as_ref(), merged, context, vars)
        };
        match state.ty {
            StateType::Pass => {
                let result = if let Some(r) = &state.literals.result {
                    r.clone()
                } else if let Some(p) = &f.parameters {
                    p.evaluate(&env)?
                } else {
                    effective.clone().into_owned()
                };
                let out = finish(result, vars)?;
                Ok(Step {
                    output: Some(out),
                    next,
                })
            }
            StateType::Succeed => Ok(Step {
                output: pass_on(f.output_path.as_ref(), &effective, context, vars)?,
                next: None,
            }),
            StateType::Fail => {
                let error = match (&state.literals.error, &f.error_path) {
                    (Some(e), _) => Some(e.to_string()),
                    (None, Some(p)) => Some(display_value(&p.evaluate("ErrorPath", &env)?)),
                    _ => None,
                };
                let cause = match (&state.literals.cause, &f.cause_path) {
                    (Some(c), _) => Some(c.to_string()),
                    (None, Some(p)) => Some(display_value(&p.evaluate("CausePath", &env)?)),
                    _ => None,
                };
                Err(Failure::raw(error, cause))
            }
            StateType::Choice => {
                for branch in &f.choices {
                    if branch.rule.evaluate(&env)? {
                        if let Some(a) = &branch.assign {
                            let assigned = a.evaluate(&env)?;
                            merge_vars(vars, assigned);
                        }
                        let out = pass_on(f.output_path.as_ref(), &effective, context, vars)?;
                        return Ok(Step {
                            output: out,
                            next: branch.next.clone(),
                        });
                    }
                }
                match state.literals.default.as_deref() {
                    Some(d) => {
                        if let Some(a) = &f.assign {
                            let assigned = a.evaluate(&env)?;
                            merge_vars(vars, assigned);
                        }
                        let out = pass_on(f.output_path.as_ref(), &effective, context, vars)?;
                        Ok(Step {
                            output: out,
                            next: Some(d.to_string()),
                        })
                    }
                    None => Err(causes::no_choice_matched()),
                }
            }
            StateType::Wait => {
                let until = self.wait_target(state, &env)?;
                self.sleep_until(until).await;
                if let Some(a) = &f.assign {
                    let assigned = a.evaluate(&env)?;
                    merge_vars(vars, assigned);
                }
                Ok(Step {
                    output: pass_on(f.output_path.as_ref(), &effective, context, vars)?,
                    next,
                })
            }
            StateType::Task => {
                let params = match &f.parameters {
                    Some(p) => p.evaluate(&env)?,
                    None => effective.clone().into_owned(),
                };
                let timeout = self.seconds_field(
                    state.literals.timeout_seconds.as_ref(),
                    f.timeout_seconds_path.as_ref(),
                    &env,
                )?;
                let heartbeat = self.seconds_field(
                    state.literals.heartbeat_seconds.as_ref(),
                    f.heartbeat_seconds_path.as_ref(),
                    &env,
                )?;
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
                Ok(Step {
                    output: Some(out),
                    next,
                })
            }
            StateType::Parallel => {
                let branch_input = match &f.parameters {
                    Some(p) => p.evaluate(&env)?,
                    None => effective.clone().into_owned(),
                };
                let result = self
                    .run_parallel(run, state, branch_input, vars, depth)
                    .await?;
                let result = self.select_result(state, result, context, vars)?;
                let out = finish(result, vars)?;
                Ok(Step {
                    output: Some(out),
                    next,
                })
            }
            StateType::Map => {
                let items_v = match &f.items_path {
                    Some(p) => p.select(&effective, context, vars)?,
                    None => effective.clone().into_owned(),
                };
                let items = match items_v {
                    Value::Array(a) => a,
                    other => return Err(Failure::runtime(causes::map_input_not_array(&other))),
                };
                let selector = f.item_selector.as_ref();
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
                            sel.evaluate(&Env {
                                input: &effective,
                                context: &ctx,
                                vars,
                            })?
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
                Ok(Step {
                    output: Some(out),
                    next,
                })
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
        match &state.jsonpath.result_selector {
            Some(sel) => sel.evaluate(&Env {
                input: &result,
                context,
                vars,
            }),
            None => Ok(result),
        }
    }

    pub(super) fn seconds_field(
        &self,
        literal: Option<&Value>,
        path: Option<&PathField>,
        env: &Env,
    ) -> Result<Option<u64>, Failure> {
        if let Some(v) = literal {
            if v.as_str().and_then(jsonata_expr).is_some() {
                return Ok(None);
            }
            return Ok(v.as_u64());
        }
        if let Some(p) = path {
            // AWS words a missing timeout/heartbeat path like a missing InputPath, not like a
            // missing Parameters path (recorded: test_invalid_jsonpath[*SECONDSPATH]).
            return Ok(p.select(env.input, env.context, env.vars)?.as_u64());
        }
        Ok(None)
    }

    /// How many iterations may run at once; 0 = no limit.
    pub(super) fn max_concurrency(&self, state: &State, env: &Env) -> Result<usize, Failure> {
        if let Some(p) = &state.jsonpath.max_concurrency_path {
            let v = p.evaluate("MaxConcurrencyPath", env)?;
            return match integer_value(&v) {
                Some(n) => Ok(n.max(0) as usize),
                None => Err(Failure::runtime(causes::path_value_not(
                    "MaxConcurrencyPath",
                    &display_value(&v),
                    "integer",
                    p.text(),
                ))),
            };
        }
        Ok(concurrency_limit(state.literals.max_concurrency.as_ref()))
    }

    /// (tolerated failure count, tolerated percentage)
    pub(super) fn tolerance(
        &self,
        state: &State,
        env: &Env,
    ) -> Result<(Option<i64>, Option<f64>), Failure> {
        let mut count = state.literals.tolerated_failure_count;
        if let Some(p) = &state.jsonpath.tolerated_failure_count_path {
            let v = p.evaluate("ToleratedFailureCountPath", env)?;
            match integer_value(&v) {
                Some(n) => count = Some(n),
                None => {
                    return Err(Failure::runtime(causes::path_value_not(
                        "ToleratedFailureCountPath",
                        &display_value(&v),
                        "integer",
                        p.text(),
                    )))
                }
            }
        }
        check_tolerated_count(count)?;
        let mut pct = state.literals.tolerated_failure_percentage;
        if let Some(p) = &state.jsonpath.tolerated_failure_percentage_path {
            let v = p.evaluate("ToleratedFailurePercentagePath", env)?;
            match v
                .as_f64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            {
                Some(n) => pct = Some(n),
                None => {
                    return Err(Failure::runtime(causes::path_value_not(
                        "ToleratedFailurePercentagePath",
                        &display_value(&v),
                        "float",
                        p.text(),
                    )))
                }
            }
        }
        check_tolerated_percentage(pct)?;
        Ok((count, pct))
    }
}
