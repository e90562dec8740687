//! The body of one state, run once (no Retry/Catch): one match on the state's kind, with the
//! query language's part (where input, arguments and output come from) behind [`Dataflow`].

use super::jsonata_flow::JsonataFlow;
use super::jsonpath::JsonPathFlow;
use super::*;

impl Engine {
    /// Evaluate a state's body once, in the state's query language.
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
            let flow = JsonataFlow::new(state, raw_input, context, vars);
            self.exec_body(run, state, flow, vars, depth).await
        } else {
            let flow = JsonPathFlow::new(state, raw_input, context, vars, run.inspector(depth))?;
            self.exec_body(run, state, flow, vars, depth).await
        }
    }

    async fn exec_body<F: Dataflow>(
        &self,
        run: &Run<'_>,
        state: &State,
        mut flow: F,
        vars: &mut Map<String, Value>,
        depth: usize,
    ) -> Result<Step, Failure> {
        let next = state.next.clone();
        // TestState's inspectionData: the steps AWS shows for this kind of state.
        let inspect = run.inspector(depth);
        let note = |key: &str, v: &Value| {
            if let Some(i) = inspect {
                i.record(key, v.clone());
            }
        };
        if matches!(
            state.ty,
            StateType::Choice
                | StateType::Succeed
                | StateType::Fail
                | StateType::Wait
                | StateType::Task
        ) || (state.ty == StateType::Pass && state.literals.result.is_none())
        {
            if let Some(e) = flow.after_input_path() {
                note("afterInputPath", e);
            }
        }
        match state.ty {
            StateType::Pass => {
                let result = flow.pass_result(vars)?;
                if let Some(r) = &result {
                    let key = match state.literals.result {
                        Some(_) => "result",
                        None => F::ARGUMENTS,
                    };
                    note(key, r);
                }
                let output = Some(flow.finish(result, vars)?);
                Ok(Step { output, next })
            }
            StateType::Succeed => Ok(Step {
                output: flow.pass_on(vars)?,
                next: None,
            }),
            StateType::Fail => Err(flow.failure(vars)?),
            StateType::Choice => {
                if let Some(step) = flow.choose(vars)? {
                    return Ok(step);
                }
                match state.literals.default.as_deref() {
                    Some(d) => Ok(Step {
                        output: flow.pass_on(vars)?,
                        next: Some(d.to_string()),
                    }),
                    None => Err(causes::no_choice_matched()),
                }
            }
            StateType::Wait => {
                let until = flow.wait_until(self.clock.now(), vars)?;
                self.sleep_until(until).await;
                Ok(Step {
                    output: flow.pass_on(vars)?,
                    next,
                })
            }
            StateType::Task => {
                let args = flow.arguments(vars)?;
                note(F::ARGUMENTS, &args);
                let (timeout, heartbeat) = flow.task_limits(vars)?;
                let context = flow.task_context();
                let result = self
                    .invoke_task(run, depth, state, args, context, timeout, heartbeat)
                    .await?;
                note("result", &result);
                let output = Some(flow.finish(Some(result), vars)?);
                Ok(Step { output, next })
            }
            StateType::Parallel => {
                let args = flow.arguments(vars)?;
                let result = self.run_parallel(run, state, args, vars, depth).await?;
                let output = Some(flow.finish(Some(result), vars)?);
                Ok(Step { output, next })
            }
            StateType::Map => {
                let inputs = flow.map_inputs(vars, run.reader_items(state, depth))?;
                let (limit, tolerated) = flow.map_limits(vars)?;
                note("maxConcurrency", &json!(limit));
                if let Some(c) = tolerated.0 {
                    note("toleratedFailureCount", &json!(c));
                }
                if let Some(p) = tolerated.1 {
                    note("toleratedFailurePercentage", &json!(p));
                }
                let result = self
                    .run_map(run, state, inputs, vars, depth, tolerated, limit)
                    .await?;
                let output = Some(flow.finish(Some(result), vars)?);
                Ok(Step { output, next })
            }
        }
    }
}
