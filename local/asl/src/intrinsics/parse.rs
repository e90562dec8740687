//! The intrinsic-call parser: syntax, argument counts and literal argument types, checked
//! when the definition loads.

use serde_json::Value;

use super::*;

pub(super) struct Parser<'a> {
    pub(super) s: &'a str,
    pub(super) pos: usize,
    pub(super) calls: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    pub(super) fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub(super) fn skip_ws(&mut self) {
        while let Some(c) = self.peek().filter(|c| c.is_whitespace()) {
            self.pos += c.len_utf8();
        }
    }

    pub(super) fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// `States.Name(arg, ...)`
    pub(super) fn call(&mut self) -> Result<Intrinsic, String> {
        self.calls += 1;
        if self.calls > MAX_CALLS {
            return Err(format!(
                "more than {MAX_CALLS} intrinsic functions in one field"
            ));
        }
        let start = self.pos;
        let prefix_len = "States.".len();
        self.pos += prefix_len;
        let name_len = self
            .rest()
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(self.rest().len());
        let short = &self.rest()[..name_len];
        self.pos += name_len;
        let name = self.s[start..self.pos].to_string();
        let func = Func::from_name(short).ok_or_else(|| format!("unknown function '{name}'"))?;
        self.skip_ws();
        if !self.eat('(') {
            return Err(format!("expected '(' after '{name}'"));
        }
        let mut args = Vec::new();
        self.skip_ws();
        if !self.eat(')') {
            loop {
                self.skip_ws();
                args.push(self.arg()?);
                self.skip_ws();
                if self.eat(',') {
                    continue;
                }
                if self.eat(')') {
                    break;
                }
                return Err(format!("expected ',' or ')' in the arguments of '{name}'"));
            }
        }
        let (min, max) = func.arity();
        if args.len() < min || args.len() > max {
            return Err(arity_message(&name, min, max, args.len()));
        }
        check_literal_types(func, &name, &args)?;
        Ok(Intrinsic { func, name, args })
    }

    pub(super) fn arg(&mut self) -> Result<Arg, String> {
        match self.peek() {
            Some('\'') => self.string(),
            Some('$') => self.path(),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number(),
            Some(_) if self.rest().starts_with("States.") => Ok(Arg::Call(Box::new(self.call()?))),
            Some(_) => {
                for (word, v) in [
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                    ("null", Value::Null),
                ] {
                    if self.rest().starts_with(word) {
                        let after = self.rest()[word.len()..].chars().next();
                        if !after.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                            self.pos += word.len();
                            return Ok(Arg::Literal(v));
                        }
                    }
                }
                Err(format!("unexpected argument '{}'", self.rest()))
            }
            None => Err("missing argument".into()),
        }
    }

    /// `'...'` with the escapes `\'`, `\{`, `\}` and `\\`.
    pub(super) fn string(&mut self) -> Result<Arg, String> {
        self.pos += 1;
        let mut value = String::new();
        let mut template = Vec::new();
        let mut text = String::new();
        let mut chars = self.rest().char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '\'' => {
                    self.pos += i + 1;
                    if !text.is_empty() {
                        template.push(Piece::Text(text));
                    }
                    return Ok(Arg::Str { value, template });
                }
                '\\' => {
                    let Some((_, e)) = chars.next() else { break };
                    if !matches!(e, '\'' | '{' | '}' | '\\') {
                        // Not one of AWS's escapes: the backslash is an ordinary character.
                        value.push('\\');
                        text.push('\\');
                    }
                    value.push(e);
                    text.push(e);
                }
                '{' if chars.peek().map(|(_, n)| *n) == Some('}') => {
                    chars.next();
                    value.push_str("{}");
                    if !text.is_empty() {
                        template.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    template.push(Piece::Placeholder);
                }
                _ => {
                    value.push(c);
                    text.push(c);
                }
            }
        }
        Err("unterminated string literal".into())
    }

    /// A path runs to the next `,` or `)` outside brackets, parentheses and quotes.
    pub(super) fn path(&mut self) -> Result<Arg, String> {
        let rest = self.rest();
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        let mut end = rest.len();
        let mut prev = '\0';
        for (i, c) in rest.char_indices() {
            match quote {
                Some(q) => {
                    if c == q && prev != '\\' {
                        quote = None;
                    }
                }
                None => match c {
                    '\'' | '"' if depth > 0 => quote = Some(c),
                    '[' | '(' => depth += 1,
                    ']' if depth > 0 => depth -= 1,
                    ')' if depth > 0 => depth -= 1,
                    ',' | ')' if depth == 0 => {
                        end = i;
                        break;
                    }
                    _ => {}
                },
            }
            prev = c;
        }
        let path = rest[..end].trim_end();
        if quote.is_some() || depth > 0 {
            return Err(format!("unbalanced path '{path}'"));
        }
        // An invalid path makes the whole definition invalid, as on AWS.
        let parsed = crate::path::Path::parse(path).map_err(|e| e.to_string())?;
        self.pos += end;
        Ok(Arg::Path(parsed))
    }

    pub(super) fn number(&mut self) -> Result<Arg, String> {
        let rest = self.rest();
        let end = rest
            .char_indices()
            .skip(1)
            .find(|(_, c)| !(c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')))
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let text = &rest[..end];
        let v: Value =
            serde_json::from_str(text).map_err(|_| format!("invalid number '{text}'"))?;
        if !v.is_number() {
            return Err(format!("invalid number '{text}'"));
        }
        self.pos += end;
        Ok(Arg::Literal(v))
    }
}

pub(super) fn arity_message(name: &str, min: usize, max: usize, got: usize) -> String {
    let expected = if min == max {
        format!("{min}")
    } else if max == usize::MAX {
        format!("at least {min}")
    } else {
        format!("{min} to {max}")
    };
    let plural = if min == 1 && max == 1 {
        "argument"
    } else {
        "arguments"
    };
    format!("the function '{name}' takes {expected} {plural}, but {got} were given")
}

/// Literal arguments are checked when the definition loads, as AWS does for obvious type errors.
pub(super) fn check_literal_types(func: Func, name: &str, args: &[Arg]) -> Result<(), String> {
    let lit_kind = |a: &Arg| match a {
        Arg::Str { .. } => Some("string"),
        Arg::Literal(Value::Number(_)) => Some("number"),
        Arg::Literal(Value::Bool(_)) => Some("boolean"),
        Arg::Literal(Value::Null) => Some("null"),
        _ => None,
    };
    let want = |i: usize, kinds: &[&str]| -> Result<(), String> {
        match args.get(i).and_then(lit_kind) {
            Some(k) if !kinds.contains(&k) => Err(format!(
                "argument {} of '{name}' must be a {}, not a {k}",
                i + 1,
                kinds.join(" or ")
            )),
            _ => Ok(()),
        }
    };
    match func {
        Func::Format | Func::StringToJson | Func::Base64Encode | Func::Base64Decode => {
            want(0, &["string"])
        }
        Func::JsonToString => match args.first() {
            Some(Arg::Path(_)) | Some(Arg::Call(_)) => Ok(()),
            _ => Err(format!("the argument of '{name}' must be a path")),
        },
        Func::ArrayPartition | Func::ArrayGetItem => {
            want(0, &[])?;
            want(1, &["number"])
        }
        Func::ArrayLength | Func::ArrayUnique => want(0, &[]),
        Func::ArrayContains => want(0, &[]),
        Func::ArrayRange => (0..3).try_for_each(|i| want(i, &["number"])),
        Func::Hash => {
            want(0, &["string"])?;
            want(1, &["string"])
        }
        Func::JsonMerge => {
            want(0, &[])?;
            want(1, &[])?;
            want(2, &["boolean"])
        }
        Func::MathRandom | Func::MathAdd => (0..args.len()).try_for_each(|i| want(i, &["number"])),
        Func::StringSplit => {
            want(0, &["string"])?;
            want(1, &["string"])
        }
        Func::Array | Func::Uuid => Ok(()),
    }
}
