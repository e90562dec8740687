//! Inline Map states: iterations, tolerated failures, and results reused on redrive.

use super::*;

impl Engine {
    pub(super) fn take_reuse(&self, run: &Run<'_>, depth: usize, n: usize) -> Vec<Option<Value>> {
        let reused = if depth == 0 {
            run.reuse.lock().unwrap_or_else(|p| p.into_inner()).take()
        } else {
            None
        };
        match reused {
            Some(v) if v.len() == n => v,
            _ => vec![None; n],
        }
    }

    /// Run the iterations, at most `limit` at once (0 = no limit), results in item order.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn run_map(
        &self,
        run: &Run<'_>,
        state: &State,
        inputs: Vec<Value>,
        vars: &Map<String, Value>,
        depth: usize,
        tolerated: (Option<i64>, Option<f64>),
        limit: usize,
    ) -> Result<Value, Failure> {
        let clock = self.clock.as_ref();
        let n = inputs.len();
        run.event(clock, "MapStateStarted", || json!({"length": n}));
        let tolerant = tolerated.0.is_some() || tolerated.1.is_some();
        if let Some(m) = self.mock_result(run, depth) {
            // TestState: `mapIterationFailureCount` of the mocked iterations failed.
            let failed = run.config.map_iteration_failure_count.unwrap_or(0) as usize;
            if m.is_ok() && tolerant && failed > 0 && exceeds_tolerance(failed, n, tolerated) {
                return Err(causes::tolerated_failures_exceeded());
            }
            return m;
        }
        let processor = &state.children[0];
        let mut results = self.take_reuse(run, depth, n);
        let name = &state.name;
        let iterations: Vec<BoxFut<'_, (usize, Result<Value, Failure>)>> = inputs
            .into_iter()
            .enumerate()
            .filter(|(i, _)| results[*i].is_none())
            .map(|(i, item)| -> BoxFut<'_, (usize, Result<Value, Failure>)> {
                Box::pin(async move {
                    run.event(clock, "MapIterationStarted", || {
                        obj([("name", Value::String(name.clone())), ("index", json!(i))])
                    });
                    let mut fa = None;
                    let r = self
                        .run_machine(
                            run,
                            processor,
                            &processor.start_at,
                            item,
                            vars.clone(),
                            depth + 1,
                            &mut fa,
                        )
                        .await;
                    let ty = if r.is_ok() {
                        "MapIterationSucceeded"
                    } else {
                        "MapIterationFailed"
                    };
                    run.event(clock, ty, || {
                        obj([("name", Value::String(name.clone())), ("index", json!(i))])
                    });
                    (i, r)
                })
            })
            .collect();
        // AWS runs at most 40 iterations of an inline Map at once, whatever MaxConcurrency says.
        let limit = match limit {
            _ if !self.concurrent => 1,
            0 => INLINE_MAP_MAX_CONCURRENCY,
            n => n.min(INLINE_MAP_MAX_CONCURRENCY),
        };
        let mut failures = 0usize;
        let mut failure = None;
        run_bounded(iterations, limit, |(i, r)| match r {
            Ok(v) => {
                results[i] = Some(v);
                true
            }
            Err(f) => {
                failures += 1;
                if tolerant {
                    results[i] = Some(error_output(&f));
                    true
                } else {
                    failure = Some(f);
                    false
                }
            }
        })
        .await;
        if let Some(f) = failure {
            run.event(clock, "MapStateFailed", || Value::Null);
            if depth == 0 {
                *run.partial.lock().unwrap_or_else(|p| p.into_inner()) = Some(results);
            }
            return Err(f);
        }
        if tolerant && failures > 0 && exceeds_tolerance(failures, n, tolerated) {
            run.event(clock, "MapStateFailed", || Value::Null);
            return Err(causes::tolerated_failures_exceeded());
        }
        run.event(clock, "MapStateSucceeded", || Value::Null);
        Ok(Value::Array(
            results
                .into_iter()
                .map(|r| r.unwrap_or(Value::Null))
                .collect(),
        ))
    }
}
