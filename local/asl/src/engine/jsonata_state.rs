//! The body of a JSONata state (Arguments, Output, Assign with `$states`), run once.

use super::*;
use crate::jsonata::QUERY_EVALUATION_ERROR;

impl Engine {
    /// JSONata states: Arguments → task → Output/Assign with `$states`.
    pub(super) async fn exec_jsonata(
        &self,
        run: &Run<'_>,
        state: &State,
        raw_input: &Value,
        context: &ContextView<'_>,
        vars: &mut Map<String, Value>,
        depth: usize,
    ) -> Result<Step, Failure> {
        let context = &context.to_value();
        let mut b = vars.clone();
        b.insert(
            "states".into(),
            json!({"input": raw_input, "context": context}),
        );
        let next = state.next.clone();
        let f = &state.jsonata;
        let eval = |t: &Option<JsonataTemplate>, b: &Map<String, Value>| {
            t.as_ref().map(|t| t.evaluate(b)).transpose()
        };
        let finish = |result: Option<Value>,
                      vars: &mut Map<String, Value>,
                      b: &mut Map<String, Value>|
         -> Result<Value, Failure> {
            if let Some(r) = &result {
                b.insert(
                    "states".into(),
                    json!({"input": raw_input, "context": context, "result": r}),
                );
            }
            let assigned = eval(&f.assign, b)?;
            let out = match eval(&f.output, b)? {
                Some(o) => o,
                None => result.unwrap_or_else(|| raw_input.clone()),
            };
            if let Some(a) = assigned {
                merge_vars(vars, a);
            }
            Ok(out)
        };
        match state.ty {
            StateType::Pass | StateType::Succeed => {
                let out = finish(None, vars, &mut b)?;
                Ok(Step {
                    output: Some(out),
                    next: if state.ty == StateType::Succeed {
                        None
                    } else {
                        next
                    },
                })
            }
            StateType::Fail => {
                let error = eval(&f.error, &b)?.map(|v| display_value(&v));
                let cause = eval(&f.cause, &b)?.map(|v| display_value(&v));
                Err(Failure::raw(error, cause))
            }
            StateType::Choice => {
                for rule in &f.choices {
                    let v = rule.condition.evaluate(&b)?;
                    if choice::condition_result(rule.condition.expr_text(), &v)? {
                        let assigned = eval(&rule.assign, &b)?;
                        let out = match &rule.output {
                            Some(o) => o.evaluate(&b)?,
                            None => raw_input.clone(),
                        };
                        if let Some(a) = assigned {
                            merge_vars(vars, a);
                        }
                        return Ok(Step {
                            output: Some(out),
                            next: rule.next.clone(),
                        });
                    }
                }
                match state.literals.default.as_deref() {
                    Some(d) => {
                        let out = finish(None, vars, &mut b)?;
                        Ok(Step {
                            output: Some(out),
                            next: Some(d.to_string()),
                        })
                    }
                    None => Err(causes::no_choice_matched()),
                }
            }
            StateType::Wait => {
                let now = self.clock.now();
                let until = if let Some(s) = eval(&f.seconds, &b)? {
                    match integer_value(&s).filter(|_| s.is_number()) {
                        Some(n) if n >= 0 => now + chrono::Duration::seconds(n),
                        _ => {
                            return Err(Failure::new(
                                QUERY_EVALUATION_ERROR,
                                causes::seconds_field_invalid(&display_value(&s)),
                            ))
                        }
                    }
                } else if let Some(t) = eval(&f.timestamp, &b)? {
                    let s = display_value(&t);
                    choice::parse_timestamp(&s)
                        .map(|t| t.with_timezone(&Utc))
                        .ok_or_else(|| {
                            Failure::new(
                                QUERY_EVALUATION_ERROR,
                                causes::timestamp_field_invalid(&s),
                            )
                        })?
                } else {
                    now
                };
                self.sleep_until(until).await;
                let out = finish(None, vars, &mut b)?;
                Ok(Step {
                    output: Some(out),
                    next,
                })
            }
            StateType::Task => {
                let args = eval(&f.arguments, &b)?.unwrap_or_else(|| raw_input.clone());
                let timeout = eval(&f.timeout_seconds, &b)?.and_then(|v| v.as_u64());
                let heartbeat = eval(&f.heartbeat_seconds, &b)?.and_then(|v| v.as_u64());
                let result = self
                    .invoke_task(run, depth, state, args, context.clone(), timeout, heartbeat)
                    .await?;
                let out = finish(Some(result), vars, &mut b)?;
                Ok(Step {
                    output: Some(out),
                    next,
                })
            }
            StateType::Parallel => {
                let args = eval(&f.arguments, &b)?.unwrap_or_else(|| raw_input.clone());
                let result = self.run_parallel(run, state, args, vars, depth).await?;
                let out = finish(Some(result), vars, &mut b)?;
                Ok(Step {
                    output: Some(out),
                    next,
                })
            }
            StateType::Map => {
                let items_v = match &f.items {
                    Some(t) => t.evaluate(&b)?,
                    None => raw_input.clone(),
                };
                let items = match items_v {
                    Value::Array(a) => a,
                    other => {
                        let expr = f.items.as_ref().map_or("", JsonataTemplate::expr_text);
                        return Err(Failure::new(
                            QUERY_EVALUATION_ERROR,
                            causes::jsonata_result_type(expr, "Items", "array", &other),
                        ));
                    }
                };
                let mut inputs = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    inputs.push(match &f.item_selector {
                        Some(sel) => {
                            let mut ctx = context.clone();
                            ctx["Map"] = json!({"Item": {"Index": i, "Value": item}});
                            let mut bi = vars.clone();
                            bi.insert("states".into(), json!({"input": raw_input, "context": ctx}));
                            sel.evaluate(&bi)?
                        }
                        None => item.clone(),
                    });
                }
                let count = eval(&f.tolerated_failure_count, &b)?.and_then(|v| v.as_i64());
                let pct = eval(&f.tolerated_failure_percentage, &b)?.and_then(|v| v.as_f64());
                check_tolerated_count(count)?;
                check_tolerated_percentage(pct)?;
                let limit = concurrency_limit(eval(&f.max_concurrency, &b)?.as_ref());
                let result = self
                    .run_map(run, state, inputs, vars, depth, (count, pct), limit)
                    .await?;
                let out = finish(Some(result), vars, &mut b)?;
                Ok(Step {
                    output: Some(out),
                    next,
                })
            }
        }
    }
}
