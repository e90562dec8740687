//! JSONPath data flow: InputPath → Parameters → (the state's work) → ResultSelector → Assign →
//! ResultPath → OutputPath, and the `*Path` fields, read against the effective input.

use super::*;

/// A JSONPath state's data flow for one attempt: the effective input (after InputPath) and the
/// Context object, borrowed; the variables are lent per call.
pub(super) struct JsonPathFlow<'a> {
    state: &'a State,
    f: &'a crate::definition::JsonPathFields,
    raw_input: &'a Value,
    effective: Cow<'a, Value>,
    context: &'a ContextView<'a>,
    /// TestState: where the tested state's results are shown.
    inspect: Option<&'a Inspection>,
}

impl<'a> JsonPathFlow<'a> {
    /// Apply InputPath (its failure is the state's first).
    pub(super) fn new(
        state: &'a State,
        raw_input: &'a Value,
        context: &'a ContextView<'a>,
        vars: &Map<String, Value>,
        inspect: Option<&'a Inspection>,
    ) -> Result<Self, Failure> {
        let f = &state.jsonpath;
        let effective = apply_io_path(f.input_path.as_ref(), raw_input, context, vars)?;
        Ok(JsonPathFlow {
            state,
            f,
            raw_input,
            effective,
            context,
            inspect,
        })
    }

    fn note(&self, key: &str, v: &Value) {
        if let Some(i) = self.inspect {
            i.record(key, v.clone());
        }
    }

    fn env<'e>(&'e self, vars: &'e Map<String, Value>) -> Env<'e> {
        Env {
            input: &self.effective,
            context: self.context,
            vars,
        }
    }

    /// `TimeoutSeconds`/`HeartbeatSeconds`: the literal, or the `*SecondsPath`.
    fn seconds(
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

    /// (tolerated failure count, tolerated percentage); each checked as soon as it is read.
    fn tolerance(&self, env: &Env) -> Result<(Option<i64>, Option<f64>), Failure> {
        let (state, f) = (self.state, self.f);
        let mut count = state.literals.tolerated_failure_count;
        if let Some(p) = &f.tolerated_failure_count_path {
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
        if let Some(p) = &f.tolerated_failure_percentage_path {
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

    /// How many iterations may run at once; 0 = no limit.
    fn max_concurrency(&self, env: &Env) -> Result<usize, Failure> {
        if let Some(p) = &self.f.max_concurrency_path {
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
        Ok(concurrency_limit(
            self.state.literals.max_concurrency.as_ref(),
        ))
    }
}

impl Dataflow for JsonPathFlow<'_> {
    const ARGUMENTS: &'static str = "afterParameters";

    fn after_input_path(&self) -> Option<&Value> {
        Some(&self.effective)
    }

    fn task_context(&self) -> TaskContext {
        self.context.task_context()
    }

    fn arguments(&self, vars: &Map<String, Value>) -> Result<Value, Failure> {
        match &self.f.parameters {
            Some(p) => p.evaluate(&self.env(vars)),
            None => Ok(self.effective.clone().into_owned()),
        }
    }

    fn pass_result(&self, vars: &Map<String, Value>) -> Result<Option<Value>, Failure> {
        match &self.state.literals.result {
            Some(r) => Ok(Some(r.clone())),
            None => self.arguments(vars).map(Some),
        }
    }

    fn finish(
        &mut self,
        result: Option<Value>,
        vars: &mut Map<String, Value>,
    ) -> Result<Value, Failure> {
        let Some(result) = result else {
            return Ok(self
                .pass_on(vars)?
                .unwrap_or_else(|| self.raw_input.clone()));
        };
        let result = match &self.f.result_selector {
            Some(sel) => sel.evaluate(&Env {
                input: &result,
                context: self.context,
                vars,
            })?,
            None => result,
        };
        self.note("afterResultSelector", &result);
        // Assign reads the result; then ResultPath merges it and OutputPath filters.
        if let Some(a) = &self.f.assign {
            let assigned = a.evaluate(&Env {
                input: &result,
                context: self.context,
                vars,
            })?;
            merge_vars(vars, assigned);
        }
        let merged = apply_result_path(self.f.result_path.as_ref(), self.raw_input, result)?;
        self.note("afterResultPath", &merged);
        apply_io_path_owned(self.f.output_path.as_ref(), merged, self.context, vars)
    }

    fn pass_on(&mut self, vars: &mut Map<String, Value>) -> Result<Option<Value>, Failure> {
        if let Some(a) = &self.f.assign {
            let assigned = a.evaluate(&self.env(vars))?;
            merge_vars(vars, assigned);
        }
        pass_on(
            self.f.output_path.as_ref(),
            &self.effective,
            self.context,
            vars,
        )
    }

    fn choose(&mut self, vars: &mut Map<String, Value>) -> Result<Option<Step>, Failure> {
        for branch in &self.f.choices {
            let env = self.env(vars);
            if branch.rule.evaluate(&env)? {
                if let Some(a) = &branch.assign {
                    let assigned = a.evaluate(&env)?;
                    merge_vars(vars, assigned);
                }
                let output = pass_on(
                    self.f.output_path.as_ref(),
                    &self.effective,
                    self.context,
                    vars,
                )?;
                return Ok(Some(Step {
                    output,
                    next: branch.next.clone(),
                }));
            }
        }
        Ok(None)
    }

    fn failure(&self, vars: &Map<String, Value>) -> Result<Failure, Failure> {
        let (literals, f, env) = (&self.state.literals, self.f, self.env(vars));
        let error = match (&literals.error, &f.error_path) {
            (Some(e), _) => Some(e.to_string()),
            (None, Some(p)) => Some(display_value(&p.evaluate("ErrorPath", &env)?)),
            _ => None,
        };
        let cause = match (&literals.cause, &f.cause_path) {
            (Some(c), _) => Some(c.to_string()),
            (None, Some(p)) => Some(display_value(&p.evaluate("CausePath", &env)?)),
            _ => None,
        };
        Ok(Failure::raw(error, cause))
    }

    fn wait_until(
        &self,
        now: DateTime<Utc>,
        vars: &Map<String, Value>,
    ) -> Result<DateTime<Utc>, Failure> {
        wait::jsonpath_target(now, self.state, &self.env(vars))
    }

    fn task_limits(
        &self,
        vars: &Map<String, Value>,
    ) -> Result<(Option<u64>, Option<u64>), Failure> {
        let (literals, f, env) = (&self.state.literals, self.f, self.env(vars));
        let timeout = self.seconds(
            literals.timeout_seconds.as_ref(),
            f.timeout_seconds_path.as_ref(),
            &env,
        )?;
        let heartbeat = self.seconds(
            literals.heartbeat_seconds.as_ref(),
            f.heartbeat_seconds_path.as_ref(),
            &env,
        )?;
        Ok((timeout, heartbeat))
    }

    fn map_inputs(
        &self,
        vars: &Map<String, Value>,
        read: Option<Vec<Value>>,
    ) -> Result<Vec<Value>, Failure> {
        let items = match (read, &self.f.items_path) {
            (Some(read), _) => Value::Array(read),
            (None, Some(p)) => p.select(&self.effective, self.context, vars)?,
            (None, None) => self.effective.clone().into_owned(),
        };
        let items = match items {
            Value::Array(a) => a,
            other => return Err(Failure::runtime(causes::map_input_not_array(&other))),
        };
        let Some(selector) = &self.f.item_selector else {
            return Ok(items);
        };
        let mut inputs = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            // Only `Map` is per item; the rest of `$$` stays borrowed.
            let ctx = ContextView {
                base: self.context.base,
                state: self.context.state,
                map: Some(json!({"Item": {"Index": i, "Value": item}})),
            };
            inputs.push(selector.evaluate(&Env {
                input: &self.effective,
                context: &ctx,
                vars,
            })?);
        }
        Ok(inputs)
    }

    fn map_limits(&self, vars: &Map<String, Value>) -> Result<MapLimits, Failure> {
        let env = self.env(vars);
        let limit = self.max_concurrency(&env)?;
        Ok((limit, self.tolerance(&env)?))
    }
}
