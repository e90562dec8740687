//! Per-run state, the Context object (`$$`) view of one state attempt, and history event shapes.

use super::*;

pub(super) type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Per-run shared state.
pub(super) struct Run<'a> {
    pub(super) ctx: ExecutionContext,
    /// The run-constant part of the Context object (Execution, StateMachine, TestState
    /// overrides), built once: states borrow it through [`ContextView`].
    pub(super) context_base: Arc<Map<String, Value>>,
    pub(super) sink: &'a dyn HistorySink,
    pub(super) next_id: AtomicU64,
    pub(super) last_id: AtomicU64,
    /// Completed children of the failing top-level Map/Parallel (for redrive).
    pub(super) partial: Mutex<Option<Vec<Option<Value>>>>,
    /// Children to reuse on redrive (consumed by the first Map/Parallel that runs).
    pub(super) reuse: Mutex<Option<Vec<Option<Value>>>>,
    /// TestState mode: no retries are performed, the outcome is reported instead.
    pub(super) test_mode: bool,
    /// TestState `mock` (`{"result": "<json>"}` or `{"errorOutput": {...}}`) for the tested state.
    pub(super) mock: Option<Value>,
    pub(super) test_outcome: Mutex<Option<&'static str>>,
    /// TestState: the error the tested state's Catch caught (CAUGHT_ERROR reports it).
    pub(super) test_caught: Mutex<Option<Failure>>,
    /// The machine-level TimeoutSeconds elapsed (TIMED_OUT rather than FAILED).
    pub(super) timed_out: std::sync::atomic::AtomicBool,
    /// TestState's `inspectionData` of the tested state (DEBUG/TRACE only).
    pub(super) inspection: Option<Inspection>,
    /// TestState's `stateConfiguration` (default outside TestState).
    pub(super) config: StateConfiguration,
}

impl Run<'_> {
    /// Record an event; ids advance even when the sink keeps nothing (causes cite them), but
    /// the details are only built for a sink that keeps them.
    pub(super) fn event(
        &self,
        clock: &dyn Clock,
        ty: &str,
        details: impl FnOnce() -> Value,
    ) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst) + 1;
        let prev = self.last_id.swap(id, Ordering::SeqCst);
        if self.sink.enabled() {
            self.sink.record(HistoryEvent {
                timestamp: clock.now(),
                r#type: ty.to_string(),
                id,
                previous_event_id: prev,
                details: details(),
            });
        }
        id
    }
}

/// The run-constant members of the Context object, with TestState's overrides applied.
pub(super) fn context_base(
    ctx: &ExecutionContext,
    input: Value,
    overrides: Option<&Value>,
) -> Arc<Map<String, Value>> {
    let mut base = Map::new();
    base.insert(
        "Execution".into(),
        json!({
            "Id": ctx.execution_arn,
            "Input": input,
            "StartTime": ts(ctx.start_time),
            "Name": ctx.execution_name,
            "RoleArn": ctx.role_arn,
            "RedriveCount": ctx.redrive_count,
        }),
    );
    base.insert(
        "StateMachine".into(),
        json!({"Id": ctx.state_machine_arn, "Name": ctx.state_machine_name}),
    );
    if let Some(Value::Object(o)) = overrides {
        for (k, v) in o {
            base.insert(k.clone(), v.clone());
        }
    }
    Arc::new(base)
}

/// The execution input kept in a run's Context object, taken back when nobody else holds it
/// (a dispatcher may keep a [`TaskContext`]; then it is copied).
pub(super) fn take_input(base: &mut Arc<Map<String, Value>>) -> Value {
    let input = |m: &mut Map<String, Value>| m.get_mut("Execution").map(|e| e["Input"].take());
    match Arc::get_mut(base) {
        Some(m) => input(m).unwrap_or_default(),
        None => base
            .get("Execution")
            .and_then(|e| e.get("Input"))
            .cloned()
            .unwrap_or_default(),
    }
}

/// The Context object (`$$`) of one state attempt: borrows the run's constant part and adds
/// `State` (and `Map` in an ItemSelector), so no state copies the execution input.
pub(super) struct ContextView<'a> {
    pub(super) base: &'a Arc<Map<String, Value>>,
    pub(super) state: &'a StateContext<'a>,
    pub(super) map: Option<Value>,
}

/// `$$.State` of one state attempt, built only if something reads it (most states do not).
pub(super) struct StateContext<'a> {
    name: &'a str,
    entered: DateTime<Utc>,
    retry_count: Option<u64>,
    value: std::sync::OnceLock<Value>,
}

impl<'a> StateContext<'a> {
    pub(super) fn new(name: &'a str, entered: DateTime<Utc>, retry_count: Option<u64>) -> Self {
        StateContext {
            name,
            entered,
            retry_count,
            value: std::sync::OnceLock::new(),
        }
    }

    pub(super) fn value(&self) -> &Value {
        self.value.get_or_init(|| {
            let mut m = Map::with_capacity(3);
            m.insert("Name".into(), Value::String(self.name.to_string()));
            m.insert("EnteredTime".into(), Value::String(ts(self.entered)));
            if let Some(r) = self.retry_count {
                m.insert("RetryCount".into(), Value::from(r));
            }
            Value::Object(m)
        })
    }
}

impl ContextView<'_> {
    /// The whole object as AWS shows it (for JSONata's `$states.context`).
    pub(super) fn to_value(&self) -> Value {
        assemble(self.base, Some(self.state.value()), self.map.as_ref())
    }

    /// The object as a task receives it: shares the run's constant part.
    pub(super) fn task_context(&self) -> TaskContext {
        TaskContext {
            base: Arc::clone(self.base),
            state: Some(self.state.value().clone()),
            map: self.map.clone(),
        }
    }
}

/// The Context object from its parts, members in AWS's order.
fn assemble(base: &Map<String, Value>, state: Option<&Value>, map: Option<&Value>) -> Value {
    if base.len() == 2 {
        // No TestState overrides: a map clone copies its hash table instead of re-hashing
        // every key, then State (and Map) follow as AWS orders them.
        let mut m = base.clone();
        if let Some(v) = state {
            m.insert("State".into(), v.clone());
        }
        if let Some(v) = map {
            m.insert("Map".into(), v.clone());
        }
        return Value::Object(m);
    }
    let mut m = Map::with_capacity(base.len() + 2);
    for k in ["Execution", "StateMachine", "State"] {
        if let Some(v) = top(base, state, map, k) {
            m.insert(k.into(), v.clone());
        }
    }
    for (k, v) in base {
        if !m.contains_key(k) {
            m.insert(k.clone(), v.clone());
        }
    }
    if let (Some(v), false) = (map, m.contains_key("Map")) {
        m.insert("Map".into(), v.clone());
    }
    Value::Object(m)
}

/// A top-level member: TestState overrides (in `base`) win over the per-state parts.
fn top<'v>(
    base: &'v Map<String, Value>,
    state: Option<&'v Value>,
    map: Option<&'v Value>,
    key: &str,
) -> Option<&'v Value> {
    base.get(key).or(match key {
        "State" => state,
        "Map" => map,
        _ => None,
    })
}

/// The Context object (`$$`) a Task state was scheduled with. Its constant part is shared
/// with the run, and the whole object is built only if a dispatcher asks for it: most read one
/// member (`/Execution/Id`, `/State/RetryCount`) or none.
#[derive(Debug, Clone)]
pub struct TaskContext {
    base: Arc<Map<String, Value>>,
    state: Option<Value>,
    map: Option<Value>,
}

impl TaskContext {
    /// The member at a JSON Pointer (`/Execution/Id`), as [`Value::pointer`] finds it in
    /// [`TaskContext::to_value`]; `None` for the empty pointer.
    pub fn pointer(&self, pointer: &str) -> Option<&Value> {
        let rest = pointer.strip_prefix('/')?;
        let key = rest.split('/').next().unwrap_or(rest);
        let member = top(&self.base, self.state.as_ref(), self.map.as_ref(), key)?;
        member.pointer(&rest[key.len()..])
    }

    /// The whole object, as AWS passes `$$`.
    pub fn to_value(&self) -> Value {
        assemble(&self.base, self.state.as_ref(), self.map.as_ref())
    }
}

impl PartialEq for TaskContext {
    fn eq(&self, other: &Self) -> bool {
        self.to_value() == other.to_value()
    }
}

impl From<Value> for TaskContext {
    /// A context given whole (tests, TestState): its members are the constant part.
    fn from(v: Value) -> Self {
        let base = match v {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        TaskContext {
            base: Arc::new(base),
            state: None,
            map: None,
        }
    }
}

impl ContextRoot for ContextView<'_> {
    fn top(&self, key: &str) -> Option<&Value> {
        // `$$.State` is built only when read.
        self.base.get(key).or_else(|| match key {
            "State" => Some(self.state.value()),
            "Map" => self.map.as_ref(),
            _ => None,
        })
    }
    fn materialize(&self) -> Cow<'_, Value> {
        Cow::Owned(self.to_value())
    }
}

/// Where a state transitions next.
pub(super) struct Step {
    /// The state's output; `None`: its input, unchanged (kept by the caller, not copied).
    pub(super) output: Option<Value>,
    pub(super) next: Option<String>,
}

pub(super) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A JSON object of known size, allocated once (the `json!` macro grows its map per key, and
/// history details are built for every event).
pub(super) fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut m = Map::with_capacity(N);
    for (k, v) in pairs {
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}

pub(super) fn not_truncated() -> Value {
    obj([("truncated", Value::Bool(false))])
}

pub(super) fn state_exited(state: &State, output: &Value) -> Value {
    obj([
        ("name", Value::String(state.name.clone())),
        ("output", Value::String(to_json(output))),
        ("outputDetails", not_truncated()),
    ])
}

/// The history types of entering and leaving a state of type `ty`.
pub(super) fn state_event_types(ty: StateType) -> (&'static str, &'static str) {
    match ty {
        StateType::Pass => ("PassStateEntered", "PassStateExited"),
        StateType::Task => ("TaskStateEntered", "TaskStateExited"),
        StateType::Choice => ("ChoiceStateEntered", "ChoiceStateExited"),
        StateType::Wait => ("WaitStateEntered", "WaitStateExited"),
        StateType::Succeed => ("SucceedStateEntered", "SucceedStateExited"),
        StateType::Fail => ("FailStateEntered", "FailStateExited"),
        StateType::Parallel => ("ParallelStateEntered", "ParallelStateExited"),
        StateType::Map => ("MapStateEntered", "MapStateExited"),
    }
}
