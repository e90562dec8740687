//! JSONata data flow: Arguments → (the state's work) → Assign and Output, each a `{% %}`
//! template over the variables and `$states` (input, context, and the result once there is one).

use super::*;
use crate::jsonata::QUERY_EVALUATION_ERROR;

/// A JSONata state's data flow for one attempt: the bindings its templates read (the variables
/// in scope and `$states`), built once.
pub(super) struct JsonataFlow<'a> {
    f: &'a crate::definition::JsonataFields,
    raw_input: &'a Value,
    context: Value,
    task_context: TaskContext,
    bindings: Map<String, Value>,
}

impl<'a> JsonataFlow<'a> {
    /// Bind `$states.input` and `$states.context` beside the variables.
    pub(super) fn new(
        state: &'a State,
        raw_input: &'a Value,
        context: &ContextView<'_>,
        vars: &Map<String, Value>,
    ) -> Self {
        let task_context = context.task_context();
        let context = context.to_value();
        let mut bindings = vars.clone();
        bindings.insert(
            "states".into(),
            json!({"input": raw_input, "context": context}),
        );
        JsonataFlow {
            f: &state.jsonata,
            raw_input,
            context,
            task_context,
            bindings,
        }
    }

    fn eval(&self, t: &Option<JsonataTemplate>) -> Result<Option<Value>, Failure> {
        t.as_ref().map(|t| t.evaluate(&self.bindings)).transpose()
    }
}

impl Dataflow for JsonataFlow<'_> {
    const ARGUMENTS: &'static str = "afterArguments";

    fn after_input_path(&self) -> Option<&Value> {
        None
    }

    fn task_context(&self) -> TaskContext {
        self.task_context.clone()
    }

    fn arguments(&self, _vars: &Map<String, Value>) -> Result<Value, Failure> {
        Ok(self
            .eval(&self.f.arguments)?
            .unwrap_or_else(|| self.raw_input.clone()))
    }

    /// A JSONata Pass state has no result of its own: its Output reads `$states.input`.
    fn pass_result(&self, _vars: &Map<String, Value>) -> Result<Option<Value>, Failure> {
        Ok(None)
    }

    fn finish(
        &mut self,
        result: Option<Value>,
        vars: &mut Map<String, Value>,
    ) -> Result<Value, Failure> {
        if let Some(r) = &result {
            self.bindings.insert(
                "states".into(),
                json!({"input": self.raw_input, "context": self.context, "result": r}),
            );
        }
        // Assign and Output both read the state's bindings as they were, not each other.
        let assigned = self.eval(&self.f.assign)?;
        let out = match self.eval(&self.f.output)? {
            Some(o) => o,
            None => result.unwrap_or_else(|| self.raw_input.clone()),
        };
        if let Some(a) = assigned {
            merge_vars(vars, a);
        }
        Ok(out)
    }

    fn pass_on(&mut self, vars: &mut Map<String, Value>) -> Result<Option<Value>, Failure> {
        self.finish(None, vars).map(Some)
    }

    fn choose(&mut self, vars: &mut Map<String, Value>) -> Result<Option<Step>, Failure> {
        for rule in &self.f.choices {
            let v = rule.condition.evaluate(&self.bindings)?;
            if choice::condition_result(rule.condition.expr_text(), &v)? {
                let assigned = self.eval(&rule.assign)?;
                let output = match &rule.output {
                    Some(o) => o.evaluate(&self.bindings)?,
                    None => self.raw_input.clone(),
                };
                if let Some(a) = assigned {
                    merge_vars(vars, a);
                }
                return Ok(Some(Step {
                    output: Some(output),
                    next: rule.next.clone(),
                }));
            }
        }
        Ok(None)
    }

    fn failure(&self, _vars: &Map<String, Value>) -> Result<Failure, Failure> {
        let error = self.eval(&self.f.error)?.map(|v| display_value(&v));
        let cause = self.eval(&self.f.cause)?.map(|v| display_value(&v));
        Ok(Failure::raw(error, cause))
    }

    fn wait_until(
        &self,
        now: DateTime<Utc>,
        _vars: &Map<String, Value>,
    ) -> Result<DateTime<Utc>, Failure> {
        let seconds = self.eval(&self.f.seconds)?;
        let timestamp = match seconds {
            Some(_) => None,
            None => self.eval(&self.f.timestamp)?,
        };
        wait::jsonata_target(now, seconds, timestamp)
    }

    fn task_limits(
        &self,
        _vars: &Map<String, Value>,
    ) -> Result<(Option<u64>, Option<u64>), Failure> {
        let timeout = self.eval(&self.f.timeout_seconds)?.and_then(|v| v.as_u64());
        let heartbeat = self
            .eval(&self.f.heartbeat_seconds)?
            .and_then(|v| v.as_u64());
        Ok((timeout, heartbeat))
    }

    fn map_inputs(
        &self,
        vars: &Map<String, Value>,
        read: Option<Vec<Value>>,
    ) -> Result<Vec<Value>, Failure> {
        let items = match (read, &self.f.items) {
            (Some(read), _) => Value::Array(read),
            (None, Some(t)) => t.evaluate(&self.bindings)?,
            (None, None) => self.raw_input.clone(),
        };
        let items = match items {
            Value::Array(a) => a,
            other => {
                let expr = self.f.items.as_ref().map_or("", JsonataTemplate::expr_text);
                return Err(Failure::new(
                    QUERY_EVALUATION_ERROR,
                    causes::jsonata_result_type(expr, "Items", "array", &other),
                ));
            }
        };
        let Some(selector) = &self.f.item_selector else {
            return Ok(items);
        };
        let mut inputs = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let mut ctx = self.context.clone();
            ctx["Map"] = json!({"Item": {"Index": i, "Value": item}});
            let mut b = vars.clone();
            b.insert(
                "states".into(),
                json!({"input": self.raw_input, "context": ctx}),
            );
            inputs.push(selector.evaluate(&b)?);
        }
        Ok(inputs)
    }

    fn map_limits(&self, _vars: &Map<String, Value>) -> Result<MapLimits, Failure> {
        let count = self
            .eval(&self.f.tolerated_failure_count)?
            .and_then(|v| v.as_i64());
        let pct = self
            .eval(&self.f.tolerated_failure_percentage)?
            .and_then(|v| v.as_f64());
        check_tolerated_count(count)?;
        check_tolerated_percentage(pct)?;
        let limit = concurrency_limit(self.eval(&self.f.max_concurrency)?.as_ref());
        Ok((limit, (count, pct)))
    }
}
