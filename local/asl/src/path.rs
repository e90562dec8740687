//! JSONPath as Step Functions evaluates it (Jayway semantics): `$` input, `$$` Context object,
//! `$name` variables; definite paths yield one value or "not found", indefinite ones a list.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{Map, Value};
use thiserror::Error;

/// Why a path could not be parsed or selected nothing.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PathError {
    /// A definite path matched nothing; `normalized` is Jayway's `$['a']['b']` form used in AWS causes.
    #[error("Invalid path '{path}' : No results for path: {normalized}")]
    NotFound {
        /// The path as written.
        path: String,
        /// The path in Jayway's bracket form.
        normalized: String,
    },
    #[error("Invalid path '{0}'")]
    /// The text is not a path.
    Syntax(String),
    /// `$name` refers to a variable that is not in scope.
    #[error("Variable '{0}' is not defined")]
    UnknownVariable(String),
}

/// Where evaluation starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Root {
    /// `$`: the state input.
    Input,
    /// `$$`: the Context object.
    Context,
    /// `$name`: a variable.
    Variable(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Field(String),
    Index(i64),
    Wildcard,
    Slice(Option<i64>, Option<i64>),
    Fields(Vec<String>),
    Indexes(Vec<i64>),
    /// `..name` / `..*` / `..[n]`
    Descend(Box<Segment>),
    Filter(Filter),
    Length,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Current(Vec<Segment>),
    Literal(Value),
}

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    Exists(Vec<Segment>),
    Compare(Operand, String, Operand),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

/// A parsed JSONPath (`$.a.b`, `$$.Execution.Id`, `$var.x`, `$.items[1:]`, `$..x`, `$[?(@.a == 1)]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    inner: Arc<PathInner>,
}

#[derive(Debug, PartialEq)]
struct PathInner {
    text: String,
    root: Root,
    segments: Vec<Segment>,
}

impl Path {
    /// Parse a path (definitions compile theirs once, when they load).
    pub fn parse(text: &str) -> Result<Path, PathError> {
        let err = || PathError::Syntax(text.to_string());
        let t = text.trim();
        let (root, rest) = if let Some(r) = t.strip_prefix("$$") {
            (Root::Context, r)
        } else if let Some(r) = t.strip_prefix('$') {
            let name_len = r
                .char_indices()
                .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
                .map(|(i, _)| i)
                .unwrap_or(r.len());
            if name_len > 0 {
                (Root::Variable(r[..name_len].to_string()), &r[name_len..])
            } else {
                (Root::Input, r)
            }
        } else {
            return Err(err());
        };
        let segments = parse_segments(rest).ok_or_else(err)?;
        Ok(Path {
            inner: Arc::new(PathInner {
                text: text.to_string(),
                root,
                segments,
            }),
        })
    }

    /// The path as written.
    pub fn text(&self) -> &str {
        &self.inner.text
    }

    /// What the path starts from.
    pub fn root(&self) -> &Root {
        &self.inner.root
    }

    /// A definite path names at most one node; an indefinite one (wildcard, slice, filter,
    /// descent, unions) always yields a list.
    pub fn is_definite(&self) -> bool {
        self.inner
            .segments
            .iter()
            .all(|s| matches!(s, Segment::Field(_) | Segment::Index(_) | Segment::Length))
    }

    /// Field names of a plain reference path (`$.a.b` → ["a","b"]); `None` when it has other segments.
    pub fn reference_fields(&self) -> Option<Vec<String>> {
        self.inner
            .segments
            .iter()
            .map(|s| match s {
                Segment::Field(f) => Some(f.clone()),
                _ => None,
            })
            .collect()
    }

    /// Jayway's normalised form, used in AWS cause texts: `$['a']['b']`.
    pub fn normalized(&self) -> String {
        let mut s = String::from("$");
        for seg in &self.inner.segments {
            match seg {
                Segment::Field(f) => s.push_str(&format!("['{f}']")),
                Segment::Index(i) => s.push_str(&format!("[{i}]")),
                Segment::Wildcard => s.push_str("[*]"),
                _ => {}
            }
        }
        s
    }

    /// Evaluate against an already-chosen root value.
    pub fn select(&self, root: &Value) -> Result<Value, PathError> {
        self.select_from(&self.inner.segments, root)
    }

    /// Walk `segments` by reference and clone only what was selected.
    fn select_from(&self, segments: &[Segment], root: &Value) -> Result<Value, PathError> {
        let found = select_refs(segments, root);
        if self.is_definite() {
            found
                .into_iter()
                .next()
                .map(Node::into_value)
                .ok_or_else(|| self.not_found())
        } else {
            Ok(Value::Array(
                found.into_iter().map(Node::into_value).collect(),
            ))
        }
    }

    fn not_found(&self) -> PathError {
        PathError::NotFound {
            path: self.inner.text.clone(),
            normalized: self.normalized(),
        }
    }

    /// Evaluate with the root picked from input, context or variables.
    pub fn evaluate<C: ContextRoot + ?Sized>(
        &self,
        input: &Value,
        context: &C,
        variables: &Map<String, Value>,
    ) -> Result<Value, PathError> {
        match &self.inner.root {
            Root::Input => self.select(input),
            Root::Context => match self.inner.segments.split_first() {
                // `$$.State...`: start at the named part without building the whole object.
                Some((Segment::Field(f), rest)) => match context.top(f) {
                    Some(v) => self.select_from(rest, v),
                    None if self.is_definite() => Err(self.not_found()),
                    None => Ok(Value::Array(Vec::new())),
                },
                _ => self.select(&context.materialize()),
            },
            Root::Variable(name) => {
                let v = variables
                    .get(name)
                    .ok_or_else(|| PathError::UnknownVariable(name.clone()))?;
                self.select(v)
            }
        }
    }
}

/// The Context object (`$$`) as paths read it: its top-level parts by name, or the whole of it.
/// The engine implements it with a view that borrows the per-run parts instead of copying them
/// (the execution input among them) for every state.
pub trait ContextRoot: Send + Sync {
    /// A top-level member (`Execution`, `State`, `Map`, ...).
    fn top(&self, key: &str) -> Option<&Value>;
    /// The whole object (for `$$`, `$$.*`, `$$..x`).
    fn materialize(&self) -> Cow<'_, Value>;
}

impl ContextRoot for Value {
    fn top(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }
    fn materialize(&self) -> Cow<'_, Value> {
        Cow::Borrowed(self)
    }
}

/// Evaluate a JSONPath (`$...` input, `$$...` Context object, `$name...` variable) — the entry
/// point the intrinsic functions use to resolve their path arguments.
pub fn evaluate_path<C: ContextRoot + ?Sized>(
    path: &str,
    input: &Value,
    context: &C,
    variables: &Map<String, Value>,
) -> Result<Value, PathError> {
    Path::parse(path)?.evaluate(input, context, variables)
}

fn parse_segments(mut s: &str) -> Option<Vec<Segment>> {
    let mut out = Vec::new();
    while !s.is_empty() {
        if let Some(r) = s.strip_prefix("..") {
            let (seg, rest) = if r.starts_with('[') {
                parse_bracket(r)?
            } else {
                let (name, rest) = take_name(r);
                if name == "*" {
                    (Segment::Wildcard, rest)
                } else if name.is_empty() {
                    return None;
                } else {
                    (Segment::Field(name.to_string()), rest)
                }
            };
            out.push(Segment::Descend(Box::new(seg)));
            s = rest;
        } else if let Some(r) = s.strip_prefix('.') {
            let (name, rest) = take_name(r);
            if name.is_empty() {
                return None;
            }
            if name == "length()" {
                out.push(Segment::Length);
            } else if name == "*" {
                out.push(Segment::Wildcard);
            } else {
                out.push(Segment::Field(name.to_string()));
            }
            s = rest;
        } else if s.starts_with('[') {
            let (seg, rest) = parse_bracket(s)?;
            out.push(seg);
            s = rest;
        } else {
            return None;
        }
    }
    Some(out)
}

fn take_name(s: &str) -> (&str, &str) {
    if let Some(r) = s.strip_prefix("length()") {
        return (&s[..8], r);
    }
    let end = s.find(['.', '[']).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// Find the `]` closing the bracket at `s[0]`, skipping quoted strings and nested brackets.
fn bracket_end(s: &str) -> Option<usize> {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '[' | '(' => depth += 1,
            ']' | ')' => {
                depth -= 1;
                if depth == 0 && c == ']' {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn parse_bracket(s: &str) -> Option<(Segment, &str)> {
    let end = bracket_end(s)?;
    let inner = s[1..end].trim();
    let rest = &s[end + 1..];
    let seg = if inner == "*" {
        Segment::Wildcard
    } else if let Some(f) = inner.strip_prefix("?(").and_then(|x| x.strip_suffix(')')) {
        Segment::Filter(parse_filter(f.trim())?)
    } else if inner.starts_with('\'') || inner.starts_with('"') {
        let names: Option<Vec<String>> = split_top(inner, ',')
            .iter()
            .map(|p| unquote(p.trim()))
            .collect();
        let names = names?;
        if names.len() == 1 {
            Segment::Field(names.into_iter().next()?)
        } else {
            Segment::Fields(names)
        }
    } else if inner.contains(':') {
        let mut parts = inner.splitn(3, ':');
        let a = parts.next()?.trim();
        let b = parts.next()?.trim();
        let p = |x: &str| -> Option<Option<i64>> {
            if x.is_empty() {
                Some(None)
            } else {
                x.parse().ok().map(Some)
            }
        };
        Segment::Slice(p(a)?, p(b)?)
    } else {
        let idx: Option<Vec<i64>> = inner.split(',').map(|p| p.trim().parse().ok()).collect();
        let idx = idx?;
        if idx.len() == 1 {
            Segment::Index(idx[0])
        } else {
            Segment::Indexes(idx)
        }
    };
    Some((seg, rest))
}

fn unquote(s: &str) -> Option<String> {
    let q = s.chars().next()?;
    if (q == '\'' || q == '"') && s.len() >= 2 && s.ends_with(q) {
        Some(s[1..s.len() - 1].to_string())
    } else {
        None
    }
}

fn split_top(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quote: Option<char> = None;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        if c == '\'' || c == '"' {
            quote = Some(c);
        } else if c == sep {
            out.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    out.push(&s[start..]);
    out
}

fn find_top(s: &str, pat: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut depth = 0i32;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i] as char;
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
        } else if c == '\'' || c == '"' {
            quote = Some(c);
        } else if c == '(' || c == '[' {
            depth += 1;
        } else if c == ')' || c == ']' {
            depth -= 1;
        } else if depth == 0 && s[i..].starts_with(pat) {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn parse_filter(s: &str) -> Option<Filter> {
    if let Some(i) = find_top(s, "||") {
        return Some(Filter::Or(
            Box::new(parse_filter(s[..i].trim())?),
            Box::new(parse_filter(s[i + 2..].trim())?),
        ));
    }
    if let Some(i) = find_top(s, "&&") {
        return Some(Filter::And(
            Box::new(parse_filter(s[..i].trim())?),
            Box::new(parse_filter(s[i + 2..].trim())?),
        ));
    }
    if let Some(inner) = s.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
        return parse_filter(inner.trim());
    }
    for op in ["==", "!=", "<=", ">=", "<", ">"] {
        if let Some(i) = find_top(s, op) {
            let l = parse_operand(s[..i].trim())?;
            let r = parse_operand(s[i + op.len()..].trim())?;
            return Some(Filter::Compare(l, op.to_string(), r));
        }
    }
    match parse_operand(s)? {
        Operand::Current(p) => Some(Filter::Exists(p)),
        Operand::Literal(_) => None,
    }
}

fn parse_operand(s: &str) -> Option<Operand> {
    if let Some(r) = s.strip_prefix('@') {
        return Some(Operand::Current(parse_segments(r)?));
    }
    if let Some(u) = unquote(s) {
        return Some(Operand::Literal(Value::String(u)));
    }
    serde_json::from_str(s).ok().map(Operand::Literal)
}

/// A selected node: borrowed from the document, or computed (`length()`).
enum Node<'a> {
    Ref(&'a Value),
    Owned(Value),
}

impl Node<'_> {
    fn into_value(self) -> Value {
        match self {
            Node::Ref(v) => v.clone(),
            Node::Owned(v) => v,
        }
    }
}

fn select_refs<'a>(segments: &[Segment], root: &'a Value) -> Vec<Node<'a>> {
    let mut cur = vec![root];
    for (i, seg) in segments.iter().enumerate() {
        if let Segment::Length = seg {
            // A length is a number: nothing after it can select anything.
            if i + 1 < segments.len() {
                return Vec::new();
            }
            return cur
                .into_iter()
                .filter_map(length)
                .map(Node::Owned)
                .collect();
        }
        let mut next = Vec::new();
        for v in cur {
            apply(seg, v, &mut next);
        }
        cur = next;
    }
    cur.into_iter().map(Node::Ref).collect()
}

fn length(v: &Value) -> Option<Value> {
    match v {
        Value::Array(a) => Some(Value::from(a.len())),
        Value::Object(o) => Some(Value::from(o.len())),
        Value::String(s) => Some(Value::from(s.chars().count())),
        _ => None,
    }
}

fn apply<'a>(seg: &Segment, v: &'a Value, out: &mut Vec<&'a Value>) {
    match seg {
        Segment::Field(f) => {
            if let Some(x) = v.as_object().and_then(|o| o.get(f)) {
                out.push(x);
            }
        }
        Segment::Fields(fs) => {
            if let Some(o) = v.as_object() {
                out.extend(fs.iter().filter_map(|f| o.get(f)));
            }
        }
        Segment::Index(i) => {
            if let Some(x) = v.as_array().and_then(|a| index(a, *i)) {
                out.push(x);
            }
        }
        Segment::Indexes(is) => {
            if let Some(a) = v.as_array() {
                out.extend(is.iter().filter_map(|i| index(a, *i)));
            }
        }
        Segment::Wildcard => match v {
            Value::Array(a) => out.extend(a.iter()),
            Value::Object(o) => out.extend(o.values()),
            _ => {}
        },
        Segment::Slice(a, b) => {
            if let Some(arr) = v.as_array() {
                let n = arr.len() as i64;
                let norm = |x: i64| if x < 0 { (n + x).max(0) } else { x.min(n) };
                let s = a.map(norm).unwrap_or(0);
                let e = b.map(norm).unwrap_or(n);
                if s < e {
                    out.extend(arr[s as usize..e as usize].iter());
                }
            }
        }
        Segment::Descend(inner) => descend(inner, v, out),
        Segment::Filter(f) => match v {
            Value::Array(a) => out.extend(a.iter().filter(|x| filter_matches(f, x))),
            Value::Object(o) => out.extend(o.values().filter(|x| filter_matches(f, x))),
            _ => {}
        },
        // Handled by select_refs (it computes a value instead of borrowing one).
        Segment::Length => {}
    }
}

fn descend<'a>(inner: &Segment, v: &'a Value, out: &mut Vec<&'a Value>) {
    apply(inner, v, out);
    match v {
        Value::Array(a) => a.iter().for_each(|x| descend(inner, x, out)),
        Value::Object(o) => o.values().for_each(|x| descend(inner, x, out)),
        _ => {}
    }
}

fn index(a: &[Value], i: i64) -> Option<&Value> {
    let i = if i < 0 { a.len() as i64 + i } else { i };
    if i < 0 {
        None
    } else {
        a.get(i as usize)
    }
}

fn operand_value<'a>(op: &'a Operand, cur: &'a Value) -> Option<Node<'a>> {
    match op {
        Operand::Literal(v) => Some(Node::Ref(v)),
        Operand::Current(segs) => select_refs(segs, cur).into_iter().next(),
    }
}

impl Node<'_> {
    fn as_value(&self) -> &Value {
        match self {
            Node::Ref(v) => v,
            Node::Owned(v) => v,
        }
    }
}

fn filter_matches(f: &Filter, cur: &Value) -> bool {
    match f {
        Filter::Exists(segs) => !select_refs(segs, cur).is_empty(),
        Filter::And(a, b) => filter_matches(a, cur) && filter_matches(b, cur),
        Filter::Or(a, b) => filter_matches(a, cur) || filter_matches(b, cur),
        Filter::Compare(l, op, r) => {
            let (Some(a), Some(b)) = (operand_value(l, cur), operand_value(r, cur)) else {
                return false;
            };
            let (a, b) = (a.as_value(), b.as_value());
            let ord = match (a, b) {
                (Value::Number(x), Value::Number(y)) => x
                    .as_f64()
                    .zip(y.as_f64())
                    .and_then(|(x, y)| x.partial_cmp(&y)),
                (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
                _ => None,
            };
            match op.as_str() {
                "==" => ord.map(|o| o.is_eq()).unwrap_or(a == b),
                "!=" => !ord.map(|o| o.is_eq()).unwrap_or(a == b),
                "<" => ord.is_some_and(|o| o.is_lt()),
                "<=" => ord.is_some_and(|o| o.is_le()),
                ">" => ord.is_some_and(|o| o.is_gt()),
                ">=" => ord.is_some_and(|o| o.is_ge()),
                _ => false,
            }
        }
    }
}

/// Write `value` at a reference path (`$`, `$.a.b`) inside `target`, creating objects on the way,
/// as ResultPath does. Errors when an intermediate node is not an object.
pub fn set_at(target: &mut Value, fields: &[String], value: Value) -> Result<(), String> {
    let Some((last, init)) = fields.split_last() else {
        *target = value;
        return Ok(());
    };
    let mut cur = target;
    for f in init {
        let obj = cur.as_object_mut().ok_or_else(|| f.clone())?;
        cur = obj
            .entry(f.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
    }
    cur.as_object_mut()
        .ok_or_else(|| last.clone())?
        .insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(p: &str, v: &Value) -> Result<Value, PathError> {
        evaluate_path(p, v, &json!({"Execution": {"Name": "n"}}), &Map::new())
    }

    #[test]
    fn definite_paths() {
        let v = json!({"a": {"b": [1, 2, 3]}, "x y": 1});
        assert_eq!(eval("$.a.b[1]", &v).unwrap(), json!(2));
        assert_eq!(eval("$['a']['b'][-1]", &v).unwrap(), json!(3));
        assert_eq!(eval("$$.Execution.Name", &v).unwrap(), json!("n"));
        assert_eq!(eval("$.a.b.length()", &v).unwrap(), json!(3));
        assert_eq!(
            eval("$.nope", &v).unwrap_err().to_string(),
            "Invalid path '$.nope' : No results for path: $['nope']"
        );
    }

    #[test]
    fn indefinite_paths() {
        let v = json!({"items": [{"k": 1}, {"k": 2}, {"k": 3}]});
        assert_eq!(eval("$.items[1:].k", &v).unwrap(), json!([2, 3]));
        assert_eq!(eval("$.items[:1]", &v).unwrap(), json!([{"k": 1}]));
        assert_eq!(eval("$.items[*].k", &v).unwrap(), json!([1, 2, 3]));
        assert_eq!(eval("$..k", &v).unwrap(), json!([1, 2, 3]));
        assert_eq!(eval("$.items[?(@.k >= 2)].k", &v).unwrap(), json!([2, 3]));
        assert_eq!(eval("$.items[?(@.z)]", &v).unwrap(), json!([]));
    }

    #[test]
    fn variables() {
        let mut vars = Map::new();
        vars.insert("total".into(), json!({"n": 5}));
        assert_eq!(
            evaluate_path("$total.n", &json!({}), &json!({}), &vars).unwrap(),
            json!(5)
        );
        assert!(matches!(
            evaluate_path("$missing", &json!({}), &json!({}), &vars),
            Err(PathError::UnknownVariable(_))
        ));
    }

    #[test]
    fn set_at_creates_objects() {
        let mut v = json!({"a": 1});
        set_at(&mut v, &["b".into(), "c".into()], json!(2)).unwrap();
        assert_eq!(v, json!({"a": 1, "b": {"c": 2}}));
        assert!(set_at(&mut json!(3), &["x".into()], json!(1)).is_err());
    }
}
