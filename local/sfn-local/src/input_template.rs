//! The Pipe's `TargetParameters.InputTemplate`, applied as EventBridge Pipes applies it: once per
//! event of a batch, with `<$.path>` placeholders and the `<aws.pipes.*>` reserved variables.
//!
//! Rules followed (EventBridge Pipes user guide, "input transformation"):
//! - a template that starts with `{` or `[` is JSON: a placeholder inside a string literal is
//!   replaced by the value's text (a string without its quotes, escaped so the JSON stays valid; an
//!   object or array serialised with its inner quotes removed), a placeholder outside a string by
//!   the value's JSON (strings quoted: the form EventBridge's API reference shows as valid); the
//!   result must parse as JSON;
//! - a template that is exactly one placeholder yields the value itself;
//! - any other template is text: placeholders are replaced by the value's text;
//! - paths: `$`, `.name` (letters, digits, `-`, `_`, `/`) and `[index]`; a path that does not
//!   exist in the event is replaced by nothing (so `"<$.missing>"` is `""` and an unquoted one
//!   leaves JSON that does not parse: that event's batch fails, as the target would refuse it).

use serde_json::Value;

/// Why a template could not be read, or an event could not be transformed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputTemplateError {
    /// A `<` with no closing `>`, at this byte offset.
    #[error("InputTemplate: unclosed placeholder at byte {0}")]
    Unclosed(usize),
    /// A placeholder that is neither a JSON path nor an `aws.pipes` variable.
    #[error("InputTemplate: placeholder <{0}> is neither a JSON path ($...) nor a reserved aws.pipes variable")]
    UnknownPlaceholder(String),
    /// A JSON path placeholder that does not parse, or needs what sfn-local lacks (wildcards).
    #[error("InputTemplate: path {path}: {message}")]
    BadPath {
        /// The placeholder's path.
        path: String,
        /// Why it does not parse.
        message: String,
    },
    /// The template filled in for an event is not JSON (the target would refuse it).
    #[error("InputTemplate: the transformed event is not JSON ({message}): {text}")]
    NotJson {
        /// The filled-in text.
        text: String,
        /// The JSON parser's error.
        message: String,
    },
}

/// Values of the reserved `<aws.pipes.*>` variables for one event.
#[derive(Debug, Clone, Default)]
pub struct PipeContext {
    /// `<aws.pipes.pipe-arn>`.
    pub pipe_arn: String,
    /// `<aws.pipes.pipe-name>`.
    pub pipe_name: String,
    /// `<aws.pipes.source-arn>`: the DynamoDB stream.
    pub source_arn: String,
    /// `<aws.pipes.target-arn>`: the batch machine.
    pub target_arn: String,
    /// ISO 8601 time the Pipe received the event.
    pub ingestion_time: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Hole { source: Slot, in_string: bool },
}

#[derive(Debug, Clone, PartialEq)]
enum Slot {
    Path(Vec<Step>),
    PipeArn,
    PipeName,
    SourceArn,
    TargetArn,
    IngestionTime,
    /// `<aws.pipes.event>` and `<aws.pipes.event.json>`: the whole event.
    Event,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
}

/// A parsed InputTemplate.
#[derive(Debug, Clone, PartialEq)]
pub struct InputTemplate {
    parts: Vec<Part>,
    json: bool,
}

impl InputTemplate {
    /// Parses a Pipe's `TargetParameters.InputTemplate`.
    pub fn parse(template: &str) -> Result<Self, InputTemplateError> {
        let trimmed = template.trim_start();
        let json = trimmed.starts_with('{') || trimmed.starts_with('[');
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut in_string = false;
        let mut escaped = false;
        let mut chars = template.char_indices();
        while let Some((at, c)) = chars.next() {
            if c == '<' && !escaped {
                let rest = &template[at + 1..];
                let end = rest.find('>').ok_or(InputTemplateError::Unclosed(at))?;
                let name = &rest[..end];
                // Skip the placeholder's characters.
                for _ in 0..name.chars().count() + 1 {
                    chars.next();
                }
                parts.push(Part::Text(std::mem::take(&mut text)));
                parts.push(Part::Hole {
                    source: source(name)?,
                    in_string: json && in_string,
                });
                continue;
            }
            if json {
                if escaped {
                    escaped = false;
                } else if in_string && c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    in_string = !in_string;
                }
            }
            text.push(c);
        }
        parts.push(Part::Text(text));
        parts.retain(|p| !matches!(p, Part::Text(t) if t.is_empty()));
        Ok(InputTemplate { parts, json })
    }

    /// The event as the target receives it.
    pub fn apply(&self, event: &Value, cx: &PipeContext) -> Result<Value, InputTemplateError> {
        if let [Part::Hole { source, .. }] = self.parts.as_slice() {
            return Ok(resolve(source, event, cx).unwrap_or(Value::String(String::new())));
        }
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Hole { source, in_string } => {
                    let Some(v) = resolve(source, event, cx) else {
                        continue;
                    };
                    match (&v, self.json && !in_string) {
                        (_, true) => out.push_str(&v.to_string()),
                        (Value::String(s), false) if self.json => {
                            let quoted = Value::String(s.clone()).to_string();
                            out.push_str(&quoted[1..quoted.len() - 1]);
                        }
                        (Value::String(s), false) => out.push_str(s),
                        (Value::Object(_) | Value::Array(_), false) if self.json => {
                            let quoted = Value::String(v.to_string().replace('"', "")).to_string();
                            out.push_str(&quoted[1..quoted.len() - 1]);
                        }
                        (Value::Object(_) | Value::Array(_), false) => {
                            out.push_str(&v.to_string().replace('"', ""))
                        }
                        (other, false) => out.push_str(&other.to_string()),
                    }
                }
            }
        }
        if !self.json {
            return Ok(Value::String(out));
        }
        serde_json::from_str(&out).map_err(|e| InputTemplateError::NotJson {
            message: e.to_string(),
            text: out,
        })
    }
}

fn source(name: &str) -> Result<Slot, InputTemplateError> {
    Ok(match name {
        "aws.pipes.pipe-arn" => Slot::PipeArn,
        "aws.pipes.pipe-name" => Slot::PipeName,
        "aws.pipes.source-arn" => Slot::SourceArn,
        "aws.pipes.target-arn" => Slot::TargetArn,
        "aws.pipes.event.ingestion-time" => Slot::IngestionTime,
        "aws.pipes.event" | "aws.pipes.event.json" => Slot::Event,
        p if p.starts_with('$') => Slot::Path(path(p)?),
        other => return Err(InputTemplateError::UnknownPlaceholder(other.to_string())),
    })
}

fn path(p: &str) -> Result<Vec<Step>, InputTemplateError> {
    let bad = |message: &str| InputTemplateError::BadPath {
        path: p.to_string(),
        message: message.to_string(),
    };
    let mut steps = Vec::new();
    let mut rest = &p[1..];
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let name = &r[..end];
            if name == "*" {
                return Err(bad("wildcards are not supported by sfn-local"));
            }
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_/".contains(c))
            {
                return Err(bad(
                    "a field name is letters, digits, '-', '_' or '/' (EventBridge's subset of JSONPath)",
                ));
            }
            steps.push(Step::Field(name.to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(|| bad("unclosed ["))?;
            let index = r[..end]
                .parse()
                .map_err(|_| bad("an array index is a non-negative integer"))?;
            steps.push(Step::Index(index));
            rest = &r[end + 1..];
        } else {
            return Err(bad("expected '.' or '[' after '$'"));
        }
    }
    Ok(steps)
}

fn resolve(source: &Slot, event: &Value, cx: &PipeContext) -> Option<Value> {
    let text = |s: &str| Some(Value::String(s.to_string()));
    match source {
        Slot::PipeArn => text(&cx.pipe_arn),
        Slot::PipeName => text(&cx.pipe_name),
        Slot::SourceArn => text(&cx.source_arn),
        Slot::TargetArn => text(&cx.target_arn),
        Slot::IngestionTime => text(&cx.ingestion_time),
        Slot::Event => Some(event.clone()),
        Slot::Path(steps) => {
            let mut at = event;
            for s in steps {
                at = match s {
                    Step::Field(f) => at.get(f)?,
                    Step::Index(i) => at.get(*i)?,
                };
            }
            Some(at.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(t: &str, e: Value) -> Result<Value, InputTemplateError> {
        InputTemplate::parse(t)?.apply(&e, &PipeContext::default())
    }

    #[test]
    fn json_template_quotes_strings_and_inlines_objects() {
        let e = json!({"eventID": "e-1", "eventName": "INSERT",
            "dynamodb": {"Keys": {"orderId": {"S": "a \"b\""}}, "NewImage": {"email": {"S": "x@y"}}}});
        let t = r#"{"eventID": "<$.eventID>", "eventName": "<$.eventName>", "dynamodb": {"Keys": <$.dynamodb.Keys>}}"#;
        assert_eq!(
            apply(t, e.clone()).unwrap(),
            json!({"eventID": "e-1", "eventName": "INSERT", "dynamodb": {"Keys": {"orderId": {"S": "a \"b\""}}}})
        );
        // A string with a quote inside a quoted placeholder stays valid JSON.
        assert_eq!(
            apply(r#"{"k": "id=<$.dynamodb.Keys.orderId.S>"}"#, e.clone()).unwrap(),
            json!({"k": "id=a \"b\""})
        );
        // An object inside a string loses its inner quotes (EventBridge's rule).
        assert_eq!(
            apply(r#"{"k": "<$.dynamodb.Keys>"}"#, e).unwrap(),
            json!({"k": "{orderId:{S:a \\b\\}}"})
        );
    }

    #[test]
    fn a_single_placeholder_is_the_value_and_text_templates_are_strings() {
        let e = json!({"a": {"b": [1, {"c": true}]}});
        assert_eq!(apply("<$.a.b[1]>", e.clone()).unwrap(), json!({"c": true}));
        assert_eq!(apply("<$>", e.clone()).unwrap(), e);
        assert_eq!(
            apply("n=<$.a.b[0]> c=<$.a.b[1].c>", e.clone()).unwrap(),
            json!("n=1 c=true")
        );
        let cx = PipeContext {
            pipe_name: "p".into(),
            ..PipeContext::default()
        };
        let t =
            InputTemplate::parse(r#"{"pipe": "<aws.pipes.pipe-name>", "e": <aws.pipes.event>}"#)
                .unwrap();
        assert_eq!(t.apply(&e, &cx).unwrap(), json!({"pipe": "p", "e": e}));
    }

    #[test]
    fn a_missing_path_is_empty_and_unquoted_it_breaks_the_json() {
        let e = json!({"a": 1});
        assert_eq!(
            apply(r#"{"k": "<$.nope>"}"#, e.clone()).unwrap(),
            json!({"k": ""})
        );
        assert!(matches!(
            apply(r#"{"k": <$.nope>}"#, e.clone()),
            Err(InputTemplateError::NotJson { .. })
        ));
        // An unquoted string goes in as a JSON string (the form EventBridge's API reference shows).
        assert_eq!(
            apply(r#"{"k": <$.s>, "n": <$.n>}"#, json!({"s": "x", "n": 2})).unwrap(),
            json!({"k": "x", "n": 2})
        );
    }

    #[test]
    fn refuses_bad_placeholders() {
        assert!(matches!(
            InputTemplate::parse("{\"k\": <$.a"),
            Err(InputTemplateError::Unclosed(_))
        ));
        assert!(matches!(
            InputTemplate::parse("<aws.events.x>"),
            Err(InputTemplateError::UnknownPlaceholder(_))
        ));
        assert!(matches!(
            InputTemplate::parse("<$.a.*>"),
            Err(InputTemplateError::BadPath { .. })
        ));
        assert!(matches!(
            InputTemplate::parse("<$.a[x]>"),
            Err(InputTemplateError::BadPath { .. })
        ));
    }
}
