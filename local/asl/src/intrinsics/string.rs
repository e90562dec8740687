//! `States.Format` (rendered as the JVM prints values) and `States.StringSplit`.

use serde_json::{Number, Value};

use super::*;

impl Invocation<'_> {
    pub(super) fn format(&self, first: &Arg, vals: &[Value]) -> Result<Value, IntrinsicError> {
        let pieces = match first {
            Arg::Str { template, .. } => template.clone(),
            _ => template_of(self.string(&vals[0], 1)?),
        };
        let holes = pieces.iter().filter(|p| **p == Piece::Placeholder).count();
        let values = &vals[1..];
        if holes != values.len() {
            return Err(self.fail(format!(
                "the format string has {holes} placeholder(s) but {} value(s) were given",
                values.len()
            )));
        }
        let mut out = String::new();
        let mut next = values.iter();
        for p in &pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Placeholder => {
                    if let Some(v) = next.next() {
                        render_java(v, &mut out);
                    }
                }
            }
        }
        Ok(Value::String(out))
    }
}

impl Invocation<'_> {
    pub(super) fn string_split(&self, s: &Value, delims: &Value) -> Result<Value, IntrinsicError> {
        let s = self.string(s, 1)?;
        let delims = self.string(delims, 2)?;
        // java.util.StringTokenizer: every character of the delimiter string separates, and
        // empty tokens are dropped.
        let parts = s
            .split(|c: char| delims.contains(c))
            .filter(|t| !t.is_empty())
            .map(|t| Value::String(t.to_string()))
            .collect();
        Ok(Value::Array(parts))
    }
}

/// A Format template that came from a path: `{}` are placeholders, no escapes.
pub(super) fn template_of(s: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    for (i, part) in s.split("{}").enumerate() {
        if i > 0 {
            out.push(Piece::Placeholder);
        }
        if !part.is_empty() {
            out.push(Piece::Text(part.to_string()));
        }
    }
    out
}

/// Render a value the way AWS's `States.Format` does: strings bare, objects as a Java `Map`
/// prints (`{k=v, ...}`), arrays as a Java `List` prints (`[a, b]`), numbers as Java prints them.
pub(super) fn render_java(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::String(s) => out.push_str(s),
        Value::Number(n) => out.push_str(&java_number(n)),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_java(x, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                render_java(x, out);
            }
            out.push('}');
        }
    }
}

/// Java's `Double.toString` layout for non-integers: plain between 10^-3 and 10^7, otherwise
/// `d.dddE±n`.
pub(super) fn java_number(n: &Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    let abs = f.abs();
    if abs == 0.0 || (1e-3..1e7).contains(&abs) {
        let s = n.to_string();
        return if s.contains('.') || s.contains('e') {
            s
        } else {
            format!("{s}.0")
        };
    }
    // Rust's `{:e}` gives the shortest digits: "1.5e-5", "1e10".
    let s = format!("{f:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_string()
    } else {
        format!("{mantissa}.0")
    };
    format!("{mantissa}E{exp}")
}
