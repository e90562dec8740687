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
        let eval = |field: &str, b: &Map<String, Value>| -> Result<Option<Value>, Failure> {
            state
                .field(field)
                .map(|t| eval_jsonata_template(t, b, field))
                .transpose()
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
            let assigned = eval("Assign", b)?;
            let out = match eval("Output", b)? {
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
                    output: out,
                    next: if state.ty == StateType::Succeed {
                        None
                    } else {
                        next
                    },
                })
            }
            StateType::Fail => {
                let error = eval("Error", &b)?.map(|v| display_value(&v));
                let cause = eval("Cause", &b)?.map(|v| display_value(&v));
                Err(Failure::raw(error, cause))
            }
            StateType::Choice => {
                let choices = state
                    .field("Choices")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for rule in &choices {
                    let cond = rule.get("Condition").cloned().unwrap_or(Value::Bool(false));
                    let v = eval_jsonata_template(&cond, &b, "Condition")?;
                    let expr = cond.as_str().and_then(jsonata_expr).unwrap_or("");
                    if choice::condition_result(expr, &v)? {
                        let assigned = rule
                            .get("Assign")
                            .map(|a| eval_jsonata_template(a, &b, "Assign"))
                            .transpose()?;
                        let out = match rule.get("Output") {
                            Some(o) => eval_jsonata_template(o, &b, "Output")?,
                            None => raw_input.clone(),
                        };
                        if let Some(a) = assigned {
                            merge_vars(vars, a);
                        }
                        return Ok(Step {
                            output: out,
                            next: rule.get("Next").and_then(Value::as_str).map(str::to_string),
                        });
                    }
                }
                match state.str_field("Default") {
                    Some(d) => {
                        let out = finish(None, vars, &mut b)?;
                        Ok(Step {
                            output: out,
                            next: Some(d.to_string()),
                        })
                    }
                    None => Err(causes::no_choice_matched()),
                }
            }
            StateType::Wait => {
                let now = self.clock.now();
                let until = if let Some(s) = eval("Seconds", &b)? {
                    match integer_value(&s).filter(|_| s.is_number()) {
                        Some(n) if n >= 0 => now + chrono::Duration::seconds(n),
                        _ => {
                            return Err(Failure::new(
                                QUERY_EVALUATION_ERROR,
                                causes::seconds_field_invalid(&display_value(&s)),
                            ))
                        }
                    }
                } else if let Some(t) = eval("Timestamp", &b)? {
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
                Ok(Step { output: out, next })
            }
            StateType::Task => {
                let args = eval("Arguments", &b)?.unwrap_or_else(|| raw_input.clone());
                let timeout = eval("TimeoutSeconds", &b)?.and_then(|v| v.as_u64());
                let heartbeat = eval("HeartbeatSeconds", &b)?.and_then(|v| v.as_u64());
                let result = self
                    .invoke_task(run, depth, state, args, context.clone(), timeout, heartbeat)
                    .await?;
                let out = finish(Some(result), vars, &mut b)?;
                Ok(Step { output: out, next })
            }
            StateType::Parallel => {
                let args = eval("Arguments", &b)?.unwrap_or_else(|| raw_input.clone());
                let result = self.run_parallel(run, state, args, vars, depth).await?;
                let out = finish(Some(result), vars, &mut b)?;
                Ok(Step { output: out, next })
            }
            StateType::Map => {
                let items_v = match state.field("Items") {
                    Some(t) => eval_jsonata_template(t, &b, "Items")?,
                    None => raw_input.clone(),
                };
                let items = match items_v {
                    Value::Array(a) => a,
                    other => {
                        let expr = state
                            .str_field("Items")
                            .and_then(jsonata_expr)
                            .unwrap_or("");
                        return Err(Failure::new(
                            QUERY_EVALUATION_ERROR,
                            causes::jsonata_result_type(expr, "Items", "array", &other),
                        ));
                    }
                };
                let mut inputs = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    inputs.push(match state.field("ItemSelector") {
                        Some(sel) => {
                            let mut ctx = context.clone();
                            ctx["Map"] = json!({"Item": {"Index": i, "Value": item}});
                            let mut bi = vars.clone();
                            bi.insert("states".into(), json!({"input": raw_input, "context": ctx}));
                            eval_jsonata_template(sel, &bi, "ItemSelector")?
                        }
                        None => item.clone(),
                    });
                }
                let count = eval("ToleratedFailureCount", &b)?.and_then(|v| v.as_i64());
                let pct = eval("ToleratedFailurePercentage", &b)?.and_then(|v| v.as_f64());
                check_tolerated_count(count)?;
                check_tolerated_percentage(pct)?;
                let limit = concurrency_limit(eval("MaxConcurrency", &b)?.as_ref());
                let result = self
                    .run_map(run, state, inputs, vars, depth, (count, pct), limit)
                    .await?;
                let out = finish(Some(result), vars, &mut b)?;
                Ok(Step { output: out, next })
            }
        }
    }
}
