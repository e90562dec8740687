//! Parallel states, and the bounded driver that runs branches and Map iterations.

use super::*;

impl Engine {
    pub(super) async fn run_parallel(
        &self,
        run: &Run<'_>,
        state: &State,
        input: Value,
        vars: &Map<String, Value>,
        depth: usize,
    ) -> Result<Value, Failure> {
        let clock = self.clock.as_ref();
        run.event(clock, "ParallelStateStarted", || Value::Null);
        if let Some(m) = self.mock_result(run, depth) {
            return m;
        }
        let mut results = self.take_reuse(run, depth, state.children.len());
        let input = &input;
        let branches: Vec<BoxFut<'_, (usize, Result<Value, Failure>)>> = state
            .children
            .iter()
            .enumerate()
            .filter(|(i, _)| results[*i].is_none())
            .map(
                |(i, branch)| -> BoxFut<'_, (usize, Result<Value, Failure>)> {
                    Box::pin(async move {
                        let mut fa = None;
                        let r = self
                            .run_machine(
                                run,
                                branch,
                                &branch.start_at,
                                input.clone(),
                                vars.clone(),
                                depth + 1,
                                &mut fa,
                            )
                            .await;
                        (i, r)
                    })
                },
            )
            .collect();
        // Branches run concurrently (all at once, as on AWS); results stay in branch order.
        let mut failure = None;
        let limit = if self.concurrent { 0 } else { 1 };
        run_bounded(branches, limit, |(i, r)| match r {
            Ok(v) => {
                results[i] = Some(v);
                true
            }
            Err(f) => {
                failure = Some(f);
                false
            }
        })
        .await;
        if let Some(f) = failure {
            run.event(clock, "ParallelStateFailed", || Value::Null);
            if depth == 0 {
                *run.partial.lock().unwrap_or_else(|p| p.into_inner()) = Some(results);
            }
            return Err(f);
        }
        run.event(clock, "ParallelStateSucceeded", || Value::Null);
        Ok(Value::Array(
            results
                .into_iter()
                .map(|r| r.unwrap_or(Value::Null))
                .collect(),
        ))
    }
}

/// Drive `futs` with at most `limit` in flight (0 = all), starting them in order, and hand each
/// output to `done` as it completes; `done` returning false stops (the rest are dropped, i.e.
/// cancelled). Polling is in a fixed order, so with a virtual clock and a deterministic
/// dispatcher the interleaving (and the history) is reproducible.
pub(super) async fn run_bounded<'a, T>(
    futs: Vec<BoxFut<'a, T>>,
    limit: usize,
    mut done: impl FnMut(T) -> bool + Send,
) {
    let limit = if limit == 0 { futs.len() } else { limit };
    let mut waiting = futs.into_iter();
    let mut active: Vec<BoxFut<'a, T>> = Vec::new();
    std::future::poll_fn(move |cx| loop {
        while active.len() < limit {
            match waiting.next() {
                Some(f) => active.push(f),
                None => break,
            }
        }
        if active.is_empty() {
            return std::task::Poll::Ready(());
        }
        let mut progressed = false;
        let mut i = 0;
        while i < active.len() {
            match active[i].as_mut().poll(cx) {
                std::task::Poll::Ready(out) => {
                    // `remove`, not `swap_remove`: keeps the start order for the next polls.
                    drop(active.remove(i));
                    progressed = true;
                    if !done(out) {
                        return std::task::Poll::Ready(());
                    }
                }
                std::task::Poll::Pending => i += 1,
            }
        }
        if !progressed {
            return std::task::Poll::Pending;
        }
    })
    .await
}
