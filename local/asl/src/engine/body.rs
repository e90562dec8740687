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
            let flow = JsonPathFlow::new(state, raw_input, context, vars)?;
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
        match state.ty {
            StateType::Pass => {
                let result = flow.pass_result(vars)?;
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
                let (timeout, heartbeat) = flow.task_limits(vars)?;
                let context = flow.task_context();
                let result = self
                    .invoke_task(run, depth, state, args, context, timeout, heartbeat)
                    .await?;
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
                let inputs = flow.map_inputs(vars)?;
                let (limit, tolerated) = flow.map_limits(vars)?;
                let result = self
                    .run_map(run, state, inputs, vars, depth, tolerated, limit)
                    .await?;
                let output = Some(flow.finish(Some(result), vars)?);
                Ok(Step { output, next })
            }
        }
    }
}
