//! The state machine's graph as inline SVG, each state coloured by its mark: the ASL definition's
//! transitions (Next, Default, Choices, Catch, a Map's or Parallel's inner states) laid out by
//! layout-rs (a Sugiyama-style layered layout in pure Rust) on the server; no script in the page.

use std::collections::{BTreeMap, HashMap};

use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::render::get_shape_size;
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;
use serde_json::Value;

use crate::marks::{Mark, StateRun};

/// One state of the definition (inner states of a Map/Parallel included).
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// The state's name.
    pub name: String,
    /// Its `Type` (`Task`, `Choice`, `Map`, ...).
    pub kind: String,
}

/// A transition; `kind` is "next", "choice", "catch" or "inner" (a Map/Parallel to its start).
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The state the transition leaves.
    pub from: String,
    /// The state it goes to.
    pub to: String,
    /// `next`, `choice`, `catch` or `inner`.
    pub kind: &'static str,
}

/// The states in definition order and the transitions between them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Definition {
    /// The `StartAt` state.
    pub start: String,
    /// Every state, in definition order.
    pub states: Vec<State>,
    /// Every transition.
    pub transitions: Vec<Transition>,
}

fn walk(states: &serde_json::Map<String, Value>, out: &mut Definition) {
    for (name, s) in states {
        let kind = s.get("Type").and_then(Value::as_str).unwrap_or("?");
        out.states.push(State {
            name: name.clone(),
            kind: kind.to_string(),
        });
        let mut edges: Vec<(Option<&str>, &'static str)> = vec![
            (s.get("Next").and_then(Value::as_str), "next"),
            (s.get("Default").and_then(Value::as_str), "choice"),
        ];
        for c in s
            .get("Choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            edges.push((c.get("Next").and_then(Value::as_str), "choice"));
        }
        for c in s
            .get("Catch")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            edges.push((c.get("Next").and_then(Value::as_str), "catch"));
        }
        let mut inner = Vec::new();
        for key in ["ItemProcessor", "Iterator"] {
            if let Some(p) = s.get(key) {
                inner.push(p);
            }
        }
        inner.extend(
            s.get("Branches")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        );
        for p in &inner {
            edges.push((p.get("StartAt").and_then(Value::as_str), "inner"));
        }
        for (target, kind) in edges {
            if let Some(t) = target {
                out.transitions.push(Transition {
                    from: name.clone(),
                    to: t.to_string(),
                    kind,
                });
            }
        }
        for p in inner {
            if let Some(states) = p.get("States").and_then(Value::as_object) {
                walk(states, out);
            }
        }
    }
}

/// Reads an ASL definition (its JSON text); None when it is not one.
pub fn parse(definition: &str) -> Option<Definition> {
    let v: Value = serde_json::from_str(definition).ok()?;
    let mut out = Definition {
        start: v.get("StartAt")?.as_str()?.to_string(),
        ..Definition::default()
    };
    walk(v.get("States")?.as_object()?, &mut out);
    Some(out)
}

/// State names go into the SVG as text (escaped by layout-rs) and into attributes (not escaped):
/// keep a safe alphabet for the attribute; ASL allows any 80 characters.
pub fn attribute_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn colours(mark: Mark) -> (&'static str, &'static str) {
    // (fill, stroke): the same palette as console.css's legend.
    match mark {
        Mark::Succeeded => ("#dcf5e3", "#1e7b3a"),
        Mark::Failed => ("#fde0e0", "#b3261e"),
        Mark::Caught => ("#fff0d1", "#a35b00"),
        Mark::Running => ("#dde9ff", "#1a56c4"),
        Mark::NotReached => ("#f1f1f1", "#9a9a9a"),
    }
}

fn colour(hex: &str) -> Color {
    Color::fast(hex)
}

/// The graph as an `<svg>` element (no XML prolog, no `<style>`: the page's stylesheet styles
/// its text), each state a `<g class="state MARK" data-state="NAME">`.
pub fn svg(definition: &Definition, runs: &BTreeMap<String, StateRun>) -> String {
    let dir = Orientation::TopToBottom;
    let mut vg = VisualGraph::new(dir);
    let mut handles = HashMap::new();
    let font = 13;
    for s in &definition.states {
        let run = runs.get(&s.name);
        let mark = run.map(StateRun::mark).unwrap_or(Mark::NotReached);
        let summary = run
            .map(StateRun::summary)
            .unwrap_or_else(|| "not reached".into());
        let label = format!("{}\n{}", s.name, summary);
        let (fill, stroke) = colours(mark);
        let shape = ShapeKind::new_box(&label);
        // The shape is laid out top-down with records growing left: as layout-rs's builder does.
        let size = get_shape_size(dir.flip(), &shape, font, false);
        let look = StyleAttr::new(colour(stroke), 2, Some(colour(fill)), 6, font);
        let props = format!(
            "class=\"state {}\" data-state=\"{}\"",
            mark.as_str(),
            attribute_safe(&s.name)
        );
        let e = Element::create_with_properties(shape, look, dir.flip(), size, props);
        handles.insert(s.name.clone(), vg.add_node(e));
    }
    for t in &definition.transitions {
        let (Some(&from), Some(&to)) = (handles.get(&t.from), handles.get(&t.to)) else {
            continue;
        };
        let (style, label) = match t.kind {
            "catch" => (LineStyleKind::Dashed, "catch"),
            "inner" => (LineStyleKind::Dotted, "each"),
            _ => (LineStyleKind::Normal, ""),
        };
        let look = StyleAttr::new(colour("#555555"), 1, None, 0, 11);
        let arrow = Arrow::new(
            LineEndKind::None,
            LineEndKind::Arrow,
            style,
            label,
            &look,
            &None,
            &None,
        );
        vg.add_edge(arrow, from, to);
    }
    if definition.states.is_empty() {
        return String::new();
    }
    let mut writer = SVGWriter::new();
    vg.do_it(false, false, false, &mut writer);
    let text = writer.finalize();
    inline(&text)
}

/// layout-rs writes a standalone document: drop its XML prolog and its `<style>` block (the
/// page's Content-Security-Policy allows no inline style; console.css has the font classes).
fn inline(document: &str) -> String {
    let body = document
        .find("<svg")
        .map(|i| &document[i..])
        .unwrap_or(document);
    match (body.find("<style>"), body.find("</style>")) {
        (Some(a), Some(b)) if b > a => {
            format!("{}{}", &body[..a], &body[b + "</style>".len()..])
        }
        _ => body.to_string(),
    }
    .replacen("<svg ", "<svg class=\"graph\" role=\"img\" ", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER_MACHINE: &str = include_str!("../../../statemachine/process-unpaid-order.asl.json");
    const BATCH_MACHINE: &str =
        include_str!("../../../statemachine/process-unpaid-orders.asl.json");

    #[test]
    fn reads_the_project_machines() {
        let order = parse(ORDER_MACHINE).expect("the per-order machine");
        assert_eq!(order.start, "LoadOrder");
        assert!(order.transitions.contains(&Transition {
            from: "LoadOrder".into(),
            to: "OrderNotFound".into(),
            kind: "catch"
        }));
        let batch = parse(BATCH_MACHINE).expect("the batch machine");
        assert!(batch.states.iter().any(|s| s.name == "ProcessOrder"));
        assert!(batch.transitions.iter().any(|t| t.kind == "inner"));
    }

    #[test]
    fn marks_each_state_in_the_svg() {
        let order = parse(ORDER_MACHINE).expect("definition");
        let mut runs = BTreeMap::new();
        let failed = StateRun {
            entered: 1,
            failed: 1,
            retries: 3,
            last: Some(Mark::Failed),
            ..StateRun::default()
        };
        runs.insert("NotifyFailure".to_string(), failed);
        let svg = svg(&order, &runs);
        assert!(svg.starts_with("<svg class=\"graph\""), "{}", &svg[..80]);
        assert!(!svg.contains("<style>") && !svg.contains("<?xml"));
        assert!(svg.contains("class=\"state failed\" data-state=\"NotifyFailure\""));
        assert!(svg.contains("class=\"state not-reached\" data-state=\"LoadOrder\""));
        assert!(
            svg.contains("retried 3 times"),
            "the label says how often it retried"
        );
    }

    #[test]
    fn hostile_state_names_stay_text() {
        let def = r#"{"StartAt": "<b>\"x", "States": {"<b>\"x": {"Type": "Succeed"}}}"#;
        let svg = svg(&parse(def).expect("definition"), &BTreeMap::new());
        assert!(!svg.contains("<b>"), "{svg}");
        assert!(svg.contains("data-state=\"_b__x\""), "{svg}");
    }
}
