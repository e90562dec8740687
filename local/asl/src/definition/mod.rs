//! State machine definitions: parsed once and validated up front, so that a run never meets a
//! malformed field; unknown fields are refused naming the state and the field, as AWS does.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

mod allowed;
mod compiled;
mod handlers;

pub use crate::error::DefinitionError;
use crate::path::Path;
pub use compiled::{
    ChoiceBranch, IoPath, JsonPathFields, JsonataChoice, JsonataFields, Literals, PathField,
    ResultPath,
};
use handlers::{parse_catcher, parse_retrier};
pub use handlers::{Catcher, Retrier};

fn schema(location: &str, message: impl Into<String>) -> DefinitionError {
    DefinitionError {
        code: "SCHEMA_VALIDATION_FAILED".into(),
        message: message.into(),
        location: location.into(),
    }
}

/// How a state's fields are evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryLanguage {
    /// `$.x` paths, `.$` templates and intrinsic functions.
    JsonPath,
    /// `{% ... %}` JSONata expressions.
    Jsonata,
}

/// The state types of ASL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateType {
    /// Passes its input on, optionally shaped.
    Pass,
    /// Calls a resource through the dispatcher.
    Task,
    /// Branches on rules.
    Choice,
    /// Waits for a duration or until a time.
    Wait,
    /// Ends the execution (or branch) successfully.
    Succeed,
    /// Ends the execution with an error.
    Fail,
    /// Runs branches on the same input.
    Parallel,
    /// Runs an item processor per item.
    Map,
}

impl StateType {
    /// The `Type` as written in ASL.
    pub fn name(self) -> &'static str {
        match self {
            StateType::Pass => "Pass",
            StateType::Task => "Task",
            StateType::Choice => "Choice",
            StateType::Wait => "Wait",
            StateType::Succeed => "Succeed",
            StateType::Fail => "Fail",
            StateType::Parallel => "Parallel",
            StateType::Map => "Map",
        }
    }
}

/// A validated state: its JSON, and its expression fields compiled in the state's query
/// language ([`JsonPathFields`] or [`JsonataFields`]).
#[derive(Debug, Clone)]
pub struct State {
    /// The state name (its key in `States`).
    pub name: String,
    /// The state type.
    pub ty: StateType,
    /// The effective query language (the state's, else the machine's).
    pub query_language: QueryLanguage,
    /// The state's JSON, validated.
    pub raw: Map<String, Value>,
    /// The `Next` state, if any.
    pub next: Option<String>,
    /// `End: true`.
    pub end: bool,
    /// Retriers, in order.
    pub retry: Vec<Retrier>,
    /// Catchers, in order.
    pub catch: Vec<Catcher>,
    /// The JSONPath fields, compiled (empty for a JSONata state).
    pub jsonpath: JsonPathFields,
    /// The JSONata fields, compiled (empty for a JSONPath state).
    pub jsonata: JsonataFields,
    /// The literal fields.
    pub literals: Literals,
    /// Parallel branches, or the Map item processor as a single element.
    pub children: Vec<StateMachine>,
}

impl State {
    /// A field of the state's JSON.
    pub fn field(&self, k: &str) -> Option<&Value> {
        self.raw.get(k)
    }
    /// A string field of the state's JSON.
    pub fn str_field(&self, k: &str) -> Option<&str> {
        self.raw.get(k).and_then(Value::as_str)
    }
    /// Whether the state's fields are JSONata.
    pub fn is_jsonata(&self) -> bool {
        self.query_language == QueryLanguage::Jsonata
    }
}

/// A parsed and validated state machine (or a Parallel branch / Map processor).
#[derive(Debug, Clone)]
pub struct StateMachine {
    /// The first state.
    pub start_at: String,
    /// The states by name.
    pub states: BTreeMap<String, State>,
    /// The machine's query language (states may override it).
    pub query_language: QueryLanguage,
    /// The execution timeout (top level only).
    pub timeout_seconds: Option<u64>,
    /// The definition as given.
    pub raw: Value,
}

impl StateMachine {
    /// Parse and validate definition text.
    pub fn from_json(text: &str) -> Result<StateMachine, DefinitionError> {
        let v: Value = serde_json::from_str(text).map_err(|e| DefinitionError {
            code: "INVALID_JSON_DESCRIPTION".into(),
            message: e.to_string(),
            location: "/".into(),
        })?;
        Self::from_value(v)
    }

    /// Validate a parsed definition.
    pub fn from_value(v: Value) -> Result<StateMachine, DefinitionError> {
        if let Some(o) = v.as_object() {
            if o.get("QueryLanguage").and_then(Value::as_str) == Some("JSONata") {
                no_jsonpath_state(o, "")?;
            }
        }
        let sm = parse_machine(&v, "", None, true)?;
        Ok(sm)
    }

    /// The state called `name` at this level.
    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.get(name)
    }
}

/// A machine whose top level is JSONata may not switch any state back to JSONPath (AWS refuses
/// it before anything else; a JSONata Map inside a JSONPath machine may).
fn no_jsonpath_state(machine: &Map<String, Value>, loc: &str) -> Result<(), DefinitionError> {
    let Some(states) = machine.get("States").and_then(Value::as_object) else {
        return Ok(());
    };
    for (name, st) in states {
        let sloc = format!("{loc}/States/{name}");
        if st.get("QueryLanguage").and_then(Value::as_str) == Some("JSONPath") {
            return Err(schema(
                &sloc,
                "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
            ));
        }
        for field in ["ItemProcessor", "Iterator"] {
            if let Some(m) = st.get(field).and_then(Value::as_object) {
                no_jsonpath_state(m, &format!("{sloc}/{field}"))?;
            }
        }
        if let Some(Value::Array(bs)) = st.get("Branches") {
            for (i, b) in bs.iter().enumerate() {
                if let Some(m) = b.as_object() {
                    no_jsonpath_state(m, &format!("{sloc}/Branches/{i}"))?;
                }
            }
        }
    }
    Ok(())
}

/// The parse error AWS (Jackson) reports for definition text that is not JSON:
/// `(message, location)`.
pub fn json_syntax_error(text: &str) -> (String, String) {
    let source = format!("[Source: (String){}", Value::String(text.to_string()));
    let trimmed = text.trim_start();
    let lead = text.len() - trimmed.len();
    let token: String = trimmed
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '$')
        .collect();
    if !token.is_empty() && !["true", "false", "null"].contains(&token.as_str()) {
        let before = &text[..lead];
        let line = before.matches('\n').count() + 1;
        let col = lead - before.rfind('\n').map_or(0, |i| i + 1) + token.chars().count() + 1;
        let location = format!("{source}; line: {line}, column: {col}]");
        let message = format!(
            "Unrecognized token '{token}': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')\n at {location}"
        );
        return (message, location);
    }
    match serde_json::from_str::<Value>(text) {
        Err(e) => {
            let location = format!("{source}; line: {}, column: {}]", e.line(), e.column());
            (format!("{e}\n at {location}"), location)
        }
        Ok(_) => (String::new(), String::new()),
    }
}

fn parse_ql(
    v: Option<&Value>,
    loc: &str,
    inherited: QueryLanguage,
) -> Result<QueryLanguage, DefinitionError> {
    match v {
        None => Ok(inherited),
        Some(Value::String(s)) if s == "JSONPath" => Ok(QueryLanguage::JsonPath),
        Some(Value::String(s)) if s == "JSONata" => Ok(QueryLanguage::Jsonata),
        Some(other) => Err(schema(loc, format!("Unsupported QueryLanguage {other}"))),
    }
}

fn parse_machine(
    v: &Value,
    loc: &str,
    parent_ql: Option<QueryLanguage>,
    top: bool,
) -> Result<StateMachine, DefinitionError> {
    let obj = v
        .as_object()
        .ok_or_else(|| schema(loc, "Definition must be a valid JSON object"))?;
    let allowed: &[&str] = if top {
        &[
            "Comment",
            "StartAt",
            "States",
            "TimeoutSeconds",
            "Version",
            "QueryLanguage",
        ]
    } else {
        &[
            "Comment",
            "StartAt",
            "States",
            "ProcessorConfig",
            "QueryLanguage",
        ]
    };
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(schema(
                loc,
                format!("The field '{k}' is not supported by Step Functions"),
            ));
        }
    }
    let ql = parse_ql(
        obj.get("QueryLanguage"),
        loc,
        parent_ql.unwrap_or(QueryLanguage::JsonPath),
    )?;
    if !top
        && parent_ql == Some(QueryLanguage::Jsonata)
        && ql == QueryLanguage::JsonPath
        && obj.contains_key("QueryLanguage")
    {
        return Err(schema(loc, "Cannot use JSONPath inside a JSONata scope"));
    }
    let missing: Vec<&str> = ["States", "StartAt"]
        .into_iter()
        .filter(|k| !obj.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        return Err(schema(
            if loc.is_empty() { "/" } else { loc },
            format!("These fields are required: [{}]", missing.join(", ")),
        ));
    }
    let start_at = obj
        .get("StartAt")
        .and_then(Value::as_str)
        .ok_or_else(|| schema(loc, "The field 'StartAt' should be a string"))?
        .to_string();
    let states_v = obj
        .get("States")
        .and_then(Value::as_object)
        .ok_or_else(|| schema(loc, "The field 'States' should be an object"))?;
    let mut states = BTreeMap::new();
    for (name, sv) in states_v {
        let sloc = format!("{loc}/States/{name}");
        states.insert(name.clone(), parse_state(name, sv, &sloc, ql)?);
    }
    if !states.contains_key(&start_at) {
        return Err(DefinitionError {
            code: "MISSING_TRANSITION_TARGET".into(),
            message: format!("Missing 'Next' target: {start_at}"),
            location: format!("{loc}/StartAt"),
        });
    }
    // Every transition must land on a state of this machine, and every state must be reachable.
    let mut reach = BTreeSet::new();
    let mut stack = vec![start_at.clone()];
    while let Some(n) = stack.pop() {
        if !reach.insert(n.clone()) {
            continue;
        }
        let st = &states[&n];
        let mut targets: Vec<&str> = Vec::new();
        if let Some(x) = &st.next {
            targets.push(x);
        }
        targets.extend(st.catch.iter().map(|c| c.next.as_str()));
        if st.ty == StateType::Choice {
            if let Some(d) = st.str_field("Default") {
                targets.push(d);
            }
            for c in st
                .field("Choices")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(x) = c.get("Next").and_then(Value::as_str) {
                    targets.push(x);
                }
            }
        }
        for t in targets {
            if !states.contains_key(t) {
                return Err(DefinitionError {
                    code: "MISSING_TRANSITION_TARGET".into(),
                    message: format!("Missing 'Next' target: {t}"),
                    location: format!("{loc}/States/{n}"),
                });
            }
            stack.push(t.to_string());
        }
    }
    for n in states.keys() {
        if !reach.contains(n) {
            return Err(DefinitionError {
                code: "UNREACHABLE_STATE".into(),
                message: format!("State '{n}' is not reachable"),
                location: format!("{loc}/States/{n}"),
            });
        }
    }
    let timeout_seconds = obj.get("TimeoutSeconds").and_then(Value::as_u64);
    Ok(StateMachine {
        start_at,
        states,
        query_language: ql,
        timeout_seconds,
        raw: v.clone(),
    })
}

fn parse_state(
    name: &str,
    v: &Value,
    loc: &str,
    parent_ql: QueryLanguage,
) -> Result<State, DefinitionError> {
    let obj = v
        .as_object()
        .ok_or_else(|| schema(loc, "A state must be an object"))?;
    let ty = match obj.get("Type").and_then(Value::as_str) {
        Some("Pass") => StateType::Pass,
        Some("Task") => StateType::Task,
        Some("Choice") => StateType::Choice,
        Some("Wait") => StateType::Wait,
        Some("Succeed") => StateType::Succeed,
        Some("Fail") => StateType::Fail,
        Some("Parallel") => StateType::Parallel,
        Some("Map") => StateType::Map,
        Some(t) => {
            return Err(schema(
                loc,
                format!("The value '{t}' of the field 'Type' is not supported"),
            ))
        }
        None => return Err(schema(loc, "The field 'Type' is required")),
    };
    let ql = parse_ql(obj.get("QueryLanguage"), loc, parent_ql)?;
    let allowed = ty.allowed_fields(ql);
    for k in obj.keys() {
        if k == "Type" || k == "Comment" || k == "QueryLanguage" {
            continue;
        }
        if !allowed.contains(&k.as_str()) {
            let hint = if ql == QueryLanguage::Jsonata {
                " when the QueryLanguage is JSONata"
            } else {
                ""
            };
            return Err(schema(
                &format!("{loc}/{k}"),
                format!(
                    "The field '{k}' is not supported for the state '{name}' of type {}{hint}",
                    ty.name()
                ),
            ));
        }
    }
    let next = obj
        .get("Next")
        .map(|n| {
            n.as_str()
                .map(str::to_string)
                .ok_or_else(|| schema(loc, "Next must be a string"))
        })
        .transpose()?;
    let end = obj.get("End").and_then(Value::as_bool).unwrap_or(false);
    let terminal = matches!(ty, StateType::Choice | StateType::Succeed | StateType::Fail);
    if !terminal {
        if next.is_some() && end {
            return Err(schema(
                loc,
                "The fields 'Next' and 'End' are mutually exclusive",
            ));
        }
        if next.is_none() && !end {
            return Err(schema(loc, "The field 'Next' or 'End' is required"));
        }
    }
    // Paths are checked here so a run never meets a malformed one.
    for k in [
        "InputPath",
        "OutputPath",
        "ResultPath",
        "ItemsPath",
        "SecondsPath",
        "TimestampPath",
        "ErrorPath",
        "CausePath",
        "MaxConcurrencyPath",
        "ToleratedFailureCountPath",
        "ToleratedFailurePercentagePath",
        "TimeoutSecondsPath",
        "HeartbeatSecondsPath",
    ] {
        match obj.get(k) {
            Some(Value::String(p))
                if !(p.starts_with("States.") && (k == "ErrorPath" || k == "CausePath")) =>
            {
                Path::parse(p).map_err(|_| {
                    schema(
                        &format!("{loc}/{k}"),
                        format!("The value for the field '{k}' must be a valid JSONPath"),
                    )
                })?;
            }
            _ => {}
        }
    }
    if ql == QueryLanguage::JsonPath {
        for k in ["Parameters", "ResultSelector", "ItemSelector"] {
            if let Some(t) = obj.get(k) {
                crate::template::validate(t, &format!("{loc}/{k}"))?;
            }
        }
    }
    let retry = match obj.get("Retry") {
        None => vec![],
        Some(Value::Array(rs)) => rs
            .iter()
            .enumerate()
            .map(|(i, r)| parse_retrier(r, &format!("{loc}/Retry[{i}]")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(schema(loc, "Retry must be an array")),
    };
    let catch = match obj.get("Catch") {
        None => vec![],
        Some(Value::Array(cs)) => cs
            .iter()
            .enumerate()
            .map(|(i, c)| parse_catcher(c, &format!("{loc}/Catch[{i}]"), ql))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(schema(loc, "Catch must be an array")),
    };
    let mut children = vec![];
    match ty {
        StateType::Parallel => {
            let bs = obj
                .get("Branches")
                .and_then(Value::as_array)
                .ok_or_else(|| schema(loc, "The field 'Branches' is required"))?;
            for (i, b) in bs.iter().enumerate() {
                children.push(parse_machine(
                    b,
                    &format!("{loc}/Branches[{i}]"),
                    Some(ql),
                    false,
                )?);
            }
        }
        StateType::Map => {
            let p = obj
                .get("ItemProcessor")
                .or_else(|| obj.get("Iterator"))
                .ok_or_else(|| schema(loc, "The field 'ItemProcessor' is required"))?;
            children.push(parse_machine(
                p,
                &format!("{loc}/ItemProcessor"),
                Some(ql),
                false,
            )?);
        }
        StateType::Task if !obj.get("Resource").is_some_and(Value::is_string) => {
            return Err(schema(loc, "The field 'Resource' is required"));
        }
        StateType::Choice => {
            let cs = obj
                .get("Choices")
                .and_then(Value::as_array)
                .ok_or_else(|| schema(loc, "The field 'Choices' is required"))?;
            if cs.is_empty() {
                return Err(schema(loc, "The field 'Choices' must not be empty"));
            }
            for (i, c) in cs.iter().enumerate() {
                let cl = format!("{loc}/Choices[{i}]");
                if !c.get("Next").is_some_and(Value::is_string) {
                    return Err(schema(&cl, "The field 'Next' is required"));
                }
                crate::choice::validate(c, &cl, ql == QueryLanguage::Jsonata, true)?;
            }
        }
        _ => {}
    }
    let (jsonpath, jsonata) = match ql {
        QueryLanguage::JsonPath => (JsonPathFields::compile(ty, obj), JsonataFields::default()),
        QueryLanguage::Jsonata => (JsonPathFields::default(), JsonataFields::compile(ty, obj)),
    };
    Ok(State {
        name: name.to_string(),
        ty,
        query_language: ql,
        jsonpath,
        jsonata,
        literals: Literals::read(obj),
        raw: obj.clone(),
        next,
        end,
        retry,
        catch,
        children,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_top_level_fields_are_named_as_aws_names_them() {
        let e = StateMachine::from_value(json!({})).unwrap_err();
        assert_eq!(e.message, "These fields are required: [States, StartAt]");
        assert_eq!(e.location, "/");
        let e = StateMachine::from_value(json!({"States": {}})).unwrap_err();
        assert_eq!(e.message, "These fields are required: [StartAt]");
    }

    #[test]
    fn a_jsonata_machine_may_not_switch_a_state_to_jsonpath() {
        let e = StateMachine::from_value(json!({"QueryLanguage": "JSONata", "StartAt": "P",
            "States": {"P": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}}}))
        .unwrap_err();
        assert_eq!(e.location, "/States/P");
        // The other way round (a JSONata Map in a JSONPath machine, JSONPath inside) is valid.
        StateMachine::from_value(json!({"StartAt": "M", "States": {"M": {"Type": "Map",
            "QueryLanguage": "JSONata", "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": "P", "States": {"P": {"QueryLanguage": "JSONPath", "Type": "Pass",
            "End": true}}}, "End": true}}}))
        .unwrap();
    }

    #[test]
    fn unrecognized_tokens_are_reported_like_jackson() {
        let (message, location) = json_syntax_error("not a definition");
        assert_eq!(
            location,
            "[Source: (String)\"not a definition\"; line: 1, column: 4]"
        );
        assert!(message.starts_with("Unrecognized token 'not': was expecting"));
        let (_, location) = json_syntax_error("{\"a\": }");
        assert!(location.contains("line: 1"));
    }
}
