//! One state with its Retry (back-off, jitter) and Catch, and the error matching both use.

use super::*;

/// The random source of Retry's FULL jitter: splitmix64, seeded, so runs are reproducible.
#[derive(Debug)]
pub(super) struct JitterRng(pub(super) u64);

impl JitterRng {
    /// A uniform draw in [0, 1].
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // 53 random bits over 2^53 - 1: both ends reachable.
        (z >> 11) as f64 / ((1u64 << 53) - 1) as f64
    }
}

pub(super) fn matches_error(list: &[String], err: &str, ty: StateType) -> bool {
    // States.ALL never catches States.Runtime; it catches States.DataLimitExceeded only when a
    // Task's result was too big (AWS's recording of a Lambda's oversized result shows it caught).
    list.iter().any(|e| {
        e == err
            || (e == "States.ALL"
                && err != "States.Runtime"
                && (err != "States.DataLimitExceeded" || ty == StateType::Task))
            || (e == "States.TaskFailed"
                && ty == StateType::Task
                && err != "States.Timeout"
                && !err.starts_with("States.Runtime"))
    })
}

impl Engine {
    /// Run one state with its Retry/Catch.
    pub(super) async fn run_state(
        &self,
        run: &Run<'_>,
        state: &State,
        raw_input: &Value,
        vars: &mut Map<String, Value>,
        depth: usize,
    ) -> Result<Step, Failure> {
        let clock = self.clock.as_ref();
        let (entered_type, exited_type) = state_event_types(state.ty);
        let entered_id = run.event(clock, entered_type, || {
            obj([
                ("name", Value::String(state.name.clone())),
                ("input", Value::String(to_json(raw_input))),
                ("inputDetails", not_truncated()),
            ])
        });
        let entered = clock.now();
        let prefix = |f: Failure| -> Failure {
            if f.needs_state_prefix {
                Failure {
                    error: f.error,
                    cause: f
                        .cause
                        .map(|c| causes::in_state(&state.name, entered_id, &c)),
                    needs_state_prefix: false,
                }
            } else {
                f
            }
        };
        if let Some(i) = run.inspector(depth) {
            i.record("input", raw_input.clone());
        }
        let mut retry_counts = vec![0u64; state.retry.len()];
        // TestState: the tested state stands where `retrierRetryCount` says.
        let tested = run.test_mode && depth == 0;
        let mut attempt = match tested {
            true => run.config.retrier_retry_count.unwrap_or(0),
            false => 0,
        };
        loop {
            let retry_count = if state.ty == StateType::Task {
                Some(attempt)
            } else {
                None
            };
            let state_ctx = StateContext::new(&state.name, entered, retry_count);
            let context = ContextView {
                base: &run.context_base,
                state: &state_ctx,
                map: None,
            };
            let res = self
                .exec_state(run, state, raw_input, &context, vars, depth)
                .await
                .map_err(prefix);
            match res {
                Ok(step) => {
                    let output = step.output.as_ref().unwrap_or(raw_input);
                    if payload_too_big(output) {
                        return Err(causes::data_limit_exceeded(&state.name));
                    }
                    run.event(clock, exited_type, || state_exited(state, output));
                    return Ok(step);
                }
                Err(f) => {
                    let name = f.name().to_string();
                    // Retry: the first retrier whose ErrorEquals matches decides.
                    if let Some(i) = state
                        .retry
                        .iter()
                        .position(|r| matches_error(&r.error_equals, &name, state.ty))
                    {
                        let r = &state.retry[i];
                        if tested {
                            // TestState runs the state once: it reports whether the retrier
                            // would retry (and after how long), or falls through to Catch.
                            let count = run.config.retrier_retry_count.unwrap_or(0);
                            let inspector = run.inspector(depth);
                            if let Some(ins) = inspector {
                                ins.error_detail("retryIndex", json!(i));
                            }
                            if count < r.max_attempts {
                                if let Some(ins) = inspector {
                                    let seconds = backoff_seconds(r, count).floor() as u64;
                                    ins.error_detail("retryBackoffIntervalSeconds", json!(seconds));
                                }
                                *run.test_outcome.lock().unwrap_or_else(|p| p.into_inner()) =
                                    Some("RETRIABLE");
                                return Err(f);
                            }
                        } else if retry_counts[i] < r.max_attempts {
                            let mut delay = backoff_seconds(r, retry_counts[i]);
                            if r.jitter_full {
                                delay *= match &self.jitter {
                                    // AWS's full jitter: a random delay in [0, interval].
                                    Some(rng) => {
                                        rng.lock().unwrap_or_else(|p| p.into_inner()).unit()
                                    }
                                    // Deterministic stand-in: half the interval.
                                    None => 0.5,
                                };
                            }
                            retry_counts[i] += 1;
                            attempt += 1;
                            clock.sleep(Duration::from_secs_f64(delay.max(0.0))).await;
                            continue;
                        }
                    }
                    if let Some((ci, c)) = state
                        .catch
                        .iter()
                        .enumerate()
                        .find(|(_, c)| matches_error(&c.error_equals, &name, state.ty))
                    {
                        if let Some(ins) = run.inspector(depth) {
                            ins.error_detail("catchIndex", json!(ci));
                        }
                        let output = self
                            .apply_catcher(c, state, raw_input, &context, vars, &f)
                            .map_err(prefix)?;
                        if tested {
                            *run.test_outcome.lock().unwrap_or_else(|p| p.into_inner()) =
                                Some("CAUGHT_ERROR");
                            *run.test_caught.lock().unwrap_or_else(|p| p.into_inner()) =
                                Some(f.clone());
                        }
                        run.event(clock, exited_type, || state_exited(state, &output));
                        return Ok(Step {
                            output: Some(output),
                            next: Some(c.next.clone()),
                        });
                    }
                    return Err(f);
                }
            }
        }
    }

    pub(super) fn apply_catcher(
        &self,
        c: &Catcher,
        state: &State,
        raw_input: &Value,
        context: &ContextView<'_>,
        vars: &mut Map<String, Value>,
        f: &Failure,
    ) -> Result<Value, Failure> {
        let err_out = error_output(f);
        if state.is_jsonata() {
            let mut b = vars.clone();
            b.insert(
                "states".into(),
                json!({"input": raw_input, "context": context.to_value(), "errorOutput": err_out}),
            );
            if let Some(Payload::Jsonata(a)) = &c.assign {
                let assigned = a.evaluate(&b)?;
                merge_vars(vars, assigned);
            }
            return match &c.output {
                Some(o) => o.evaluate(&b),
                None => Ok(err_out),
            };
        }
        if let Some(Payload::JsonPath(a)) = &c.assign {
            let env = Env {
                input: &err_out,
                context,
                vars,
            };
            let assigned = a.evaluate(&env)?;
            merge_vars(vars, assigned);
        }
        apply_result_path(c.result_path.as_ref(), raw_input, err_out)
    }
}
