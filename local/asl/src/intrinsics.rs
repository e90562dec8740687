//! Amazon States Language intrinsic functions (`States.Format(...)`, `States.Hash(...)`, ...):
//! parsed once when a definition loads, evaluated against paths the engine resolves.
//!
//! Semantics follow what AWS Step Functions (a JVM service) does, as recorded in the conformance
//! corpus: `States.Format` renders objects the way a Java `Map` prints (`{a=1, b=[]}`),
//! `States.StringSplit` tokenises like `java.util.StringTokenizer` (any delimiter character, empty
//! tokens dropped), `States.MathAdd`/`States.MathRandom` round non-integers like `Math.round`.

use std::fmt::Display;

use base64::Engine as _;
use serde_json::{Map, Number, Value};

/// At most this many intrinsic calls in one field (AWS: "up to 10 intrinsic functions").
const MAX_CALLS: usize = 10;
/// `States.ArrayRange` may not produce more items than this.
const MAX_RANGE_ITEMS: usize = 1000;
/// Input length limit (characters) of `States.Hash`, `States.Base64Encode`, `States.Base64Decode`.
const MAX_INPUT_CHARS: usize = 10_000;

const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
const RUNTIME: &str = "States.Runtime";

/// The functions AWS offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

impl Func {
    fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "Format" => Func::Format,
            "StringToJson" => Func::StringToJson,
            "JsonToString" => Func::JsonToString,
            "Array" => Func::Array,
            "ArrayPartition" => Func::ArrayPartition,
            "ArrayContains" => Func::ArrayContains,
            "ArrayRange" => Func::ArrayRange,
            "ArrayGetItem" => Func::ArrayGetItem,
            "ArrayLength" => Func::ArrayLength,
            "ArrayUnique" => Func::ArrayUnique,
            "Base64Encode" => Func::Base64Encode,
            "Base64Decode" => Func::Base64Decode,
            "Hash" => Func::Hash,
            "JsonMerge" => Func::JsonMerge,
            "MathRandom" => Func::MathRandom,
            "MathAdd" => Func::MathAdd,
            "StringSplit" => Func::StringSplit,
            "UUID" => Func::Uuid,
            _ => return None,
        })
    }

    /// Allowed argument counts (inclusive range; `usize::MAX` = unbounded).
    fn arity(self) -> (usize, usize) {
        match self {
            Func::Format => (1, usize::MAX),
            Func::Array => (0, usize::MAX),
            Func::Uuid => (0, 0),
            Func::StringToJson
            | Func::JsonToString
            | Func::ArrayLength
            | Func::ArrayUnique
            | Func::Base64Encode
            | Func::Base64Decode => (1, 1),
            Func::ArrayPartition
            | Func::ArrayContains
            | Func::ArrayGetItem
            | Func::Hash
            | Func::MathAdd
            | Func::StringSplit => (2, 2),
            Func::ArrayRange | Func::JsonMerge => (3, 3),
            Func::MathRandom => (2, 3),
        }
    }
}

/// A parsed intrinsic function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Intrinsic {
    func: Func,
    /// `States.Format`, as written, for causes.
    name: String,
    args: Vec<Arg>,
}

/// One argument of an intrinsic call.
#[derive(Debug, Clone, PartialEq)]
enum Arg {
    /// A quoted string literal: its unescaped value, and its reading as a `States.Format`
    /// template (where `\{` and `\}` are literal braces, not placeholders).
    Str {
        value: String,
        template: Vec<Piece>,
    },
    /// A number, boolean or null literal.
    Literal(Value),
    /// A path on the input (`$`), the Context object (`$$`) or a variable (`$name`).
    Path(String),
    Call(Box<Intrinsic>),
}

/// A part of a `States.Format` template.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Placeholder,
}

/// A failure to parse or evaluate an intrinsic, named as AWS names it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct IntrinsicError {
    error: String,
    cause: String,
}

impl IntrinsicError {
    fn new(error: &str, cause: impl Into<String>) -> Self {
        IntrinsicError {
            error: error.to_string(),
            cause: cause.into(),
        }
    }
    fn failure(cause: impl Into<String>) -> Self {
        Self::new(INTRINSIC_FAILURE, cause)
    }
    /// AWS's error name, e.g. `States.IntrinsicFailure` or `States.Runtime`.
    pub fn error(&self) -> &str {
        &self.error
    }
    /// AWS's cause text (without the engine's "An error occurred while executing the state" prefix).
    pub fn cause(&self) -> String {
        self.cause.clone()
    }
}

/// Whether a `.$` string value is an intrinsic call rather than a path.
pub fn is_intrinsic(s: &str) -> bool {
    s.trim_start().starts_with("States.")
}

/// Parse an intrinsic call expression; fails on syntax errors, unknown functions, wrong argument
/// counts and literal arguments of the wrong type (what AWS refuses when the definition is created).
pub fn parse(expr: &str) -> Result<Intrinsic, IntrinsicError> {
    let invalid = |why: &str| {
        IntrinsicError::failure(format!("Invalid intrinsic function call '{expr}': {why}"))
    };
    let mut p = Parser {
        s: expr,
        pos: 0,
        calls: 0,
    };
    p.skip_ws();
    if !p.rest().starts_with("States.") {
        return Err(invalid("it must start with 'States.'"));
    }
    let call = p.call().map_err(|why| invalid(&why))?;
    p.skip_ws();
    if p.pos != p.s.len() {
        return Err(invalid(&format!(
            "unexpected text '{}' after the call",
            p.rest()
        )));
    }
    Ok(call)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
    calls: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek().filter(|c| c.is_whitespace()) {
            self.pos += c.len_utf8();
        }
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// `States.Name(arg, ...)`
    fn call(&mut self) -> Result<Intrinsic, String> {
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

    fn arg(&mut self) -> Result<Arg, String> {
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
    fn string(&mut self) -> Result<Arg, String> {
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
    fn path(&mut self) -> Result<Arg, String> {
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
        crate::path::Path::parse(path).map_err(|e| e.to_string())?;
        self.pos += end;
        Ok(Arg::Path(path.to_string()))
    }

    fn number(&mut self) -> Result<Arg, String> {
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

fn arity_message(name: &str, min: usize, max: usize, got: usize) -> String {
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
fn check_literal_types(func: Func, name: &str, args: &[Arg]) -> Result<(), String> {
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

impl Intrinsic {
    /// Evaluate; `resolve` evaluates a path argument (`$`, `$.x`, `$$.x`, `$var.x`) and its error
    /// text becomes the cause of a `States.Runtime` failure.
    pub fn evaluate<E: Display>(
        &self,
        resolve: &dyn Fn(&str) -> Result<Value, E>,
    ) -> Result<Value, IntrinsicError> {
        let mut vals = Vec::with_capacity(self.args.len());
        for a in &self.args {
            vals.push(match a {
                Arg::Str { value, .. } => Value::String(value.clone()),
                Arg::Literal(v) => v.clone(),
                Arg::Path(p) => {
                    resolve(p).map_err(|e| IntrinsicError::new(RUNTIME, e.to_string()))?
                }
                Arg::Call(c) => c.evaluate(resolve)?,
            });
        }
        let f = Invocation { name: &self.name };
        match self.func {
            Func::Format => f.format(&self.args[0], &vals),
            Func::StringToJson => f.string_to_json(&vals[0]),
            Func::JsonToString => Ok(Value::String(
                serde_json::to_string(&vals[0]).unwrap_or_default(),
            )),
            Func::Array => Ok(Value::Array(vals)),
            Func::ArrayPartition => f.array_partition(&vals[0], &vals[1]),
            Func::ArrayContains => Ok(Value::Bool(f.array(&vals[0], 1)?.contains(&vals[1]))),
            Func::ArrayRange => f.array_range(&vals[0], &vals[1], &vals[2]),
            Func::ArrayGetItem => f.array_get_item(&vals[0], &vals[1]),
            Func::ArrayLength => Ok(Value::from(f.array(&vals[0], 1)?.len())),
            Func::ArrayUnique => f.array_unique(&vals[0]),
            Func::Base64Encode => {
                let s = f.limited_string(&vals[0], 1)?;
                Ok(Value::String(
                    base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
                ))
            }
            Func::Base64Decode => f.base64_decode(&vals[0]),
            Func::Hash => f.hash(&vals[0], &vals[1]),
            Func::JsonMerge => f.json_merge(&vals[0], &vals[1], &vals[2]),
            Func::MathRandom => f.math_random(&vals),
            Func::MathAdd => {
                let a = f.rounded_int(&vals[0], 1)?;
                let b = f.rounded_int(&vals[1], 2)?;
                Ok(Value::from(a + b))
            }
            Func::StringSplit => f.string_split(&vals[0], &vals[1]),
            Func::Uuid => Ok(Value::String(uuid::Uuid::new_v4().to_string())),
        }
    }
}

/// The function being evaluated, for messages.
struct Invocation<'a> {
    name: &'a str,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl Invocation<'_> {
    fn fail(&self, why: impl Display) -> IntrinsicError {
        IntrinsicError::failure(format!("Invalid arguments in {}: {why}", self.name))
    }

    fn wrong_type(&self, pos: usize, want: &str, got: &Value) -> IntrinsicError {
        self.fail(format!(
            "argument {pos} must be {want}, but was {} {}",
            type_name(got),
            compact(got)
        ))
    }

    fn string<'v>(&self, v: &'v Value, pos: usize) -> Result<&'v str, IntrinsicError> {
        v.as_str()
            .ok_or_else(|| self.wrong_type(pos, "a string", v))
    }

    fn limited_string<'v>(&self, v: &'v Value, pos: usize) -> Result<&'v str, IntrinsicError> {
        let s = self.string(v, pos)?;
        if s.chars().count() > MAX_INPUT_CHARS {
            return Err(self.fail(format!(
                "the input string exceeds {MAX_INPUT_CHARS} characters"
            )));
        }
        Ok(s)
    }

    fn array<'v>(&self, v: &'v Value, pos: usize) -> Result<&'v Vec<Value>, IntrinsicError> {
        v.as_array()
            .ok_or_else(|| self.wrong_type(pos, "an array", v))
    }

    /// An integer argument; a number with a fractional part is refused.
    fn int(&self, v: &Value, pos: usize) -> Result<i64, IntrinsicError> {
        let n = v
            .as_f64()
            .ok_or_else(|| self.wrong_type(pos, "an integer", v))?;
        match v.as_i64() {
            Some(i) => Ok(i),
            None if n.fract() == 0.0 && n.abs() < 9.0e15 => Ok(n as i64),
            None => Err(self.wrong_type(pos, "an integer", v)),
        }
    }

    /// A number rounded half up to an integer, as Java's `Math.round` does.
    fn rounded_int(&self, v: &Value, pos: usize) -> Result<i64, IntrinsicError> {
        if let Some(i) = v.as_i64() {
            return Ok(i);
        }
        let n = v
            .as_f64()
            .ok_or_else(|| self.wrong_type(pos, "a number", v))?;
        if !n.is_finite() || n.abs() > 9.0e18 {
            return Err(self.fail(format!("argument {pos} is out of range: {}", compact(v))));
        }
        Ok((n + 0.5).floor() as i64)
    }

    fn format(&self, first: &Arg, vals: &[Value]) -> Result<Value, IntrinsicError> {
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

    fn string_to_json(&self, v: &Value) -> Result<Value, IntrinsicError> {
        let s = self.string(v, 1)?;
        if s.trim().is_empty() {
            return Ok(Value::Null);
        }
        let parsed: Value = serde_json::from_str(s)
            .map_err(|e| self.fail(format!("the string is not valid JSON ({e})")))?;
        Ok(normalize_negative_zero(parsed))
    }

    fn array_partition(&self, arr: &Value, size: &Value) -> Result<Value, IntrinsicError> {
        let arr = self.array(arr, 1)?;
        let size = self.int(size, 2)?;
        if size <= 0 {
            return Err(self.fail(format!(
                "the chunk size must be a positive, non-zero integer, but was {size}"
            )));
        }
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        Ok(Value::Array(
            arr.chunks(size).map(|c| Value::Array(c.to_vec())).collect(),
        ))
    }

    fn array_range(
        &self,
        start: &Value,
        end: &Value,
        step: &Value,
    ) -> Result<Value, IntrinsicError> {
        let (start, end, step) = (self.int(start, 1)?, self.int(end, 2)?, self.int(step, 3)?);
        if step == 0 {
            return Err(self.fail("the step must be a non-zero integer"));
        }
        // Count first so a huge range is refused without building it.
        let count = if (step > 0 && start > end) || (step < 0 && start < end) {
            0
        } else {
            ((end as i128 - start as i128) / step as i128 + 1) as u128
        };
        if count > MAX_RANGE_ITEMS as u128 {
            return Err(self.fail(format!(
                "the range would have {count} items, more than the {MAX_RANGE_ITEMS} allowed"
            )));
        }
        Ok(Value::Array(
            (0..count as i64)
                .map(|i| Value::from(start + i * step))
                .collect(),
        ))
    }

    fn array_get_item(&self, arr: &Value, index: &Value) -> Result<Value, IntrinsicError> {
        let arr = self.array(arr, 1)?;
        let i = self.int(index, 2)?;
        usize::try_from(i)
            .ok()
            .and_then(|i| arr.get(i))
            .cloned()
            .ok_or_else(|| {
                self.fail(format!(
                    "the index {i} is out of bounds for an array of {} items",
                    arr.len()
                ))
            })
    }

    fn array_unique(&self, arr: &Value) -> Result<Value, IntrinsicError> {
        let mut out: Vec<Value> = Vec::new();
        for v in self.array(arr, 1)? {
            if !out.contains(v) {
                out.push(v.clone());
            }
        }
        Ok(Value::Array(out))
    }

    fn base64_decode(&self, v: &Value) -> Result<Value, IntrinsicError> {
        let s = self.limited_string(v, 1)?;
        // Java's basic decoder accepts a missing final padding; so do we.
        let engine = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        let bytes = engine
            .decode(s)
            .map_err(|e| self.fail(format!("the input is not valid Base64 ({e})")))?;
        Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    }

    fn hash(&self, data: &Value, algorithm: &Value) -> Result<Value, IntrinsicError> {
        // md-5/sha1 and sha2 implement different `digest` generations: name each trait.
        let data = self.limited_string(data, 1)?.as_bytes();
        let algorithm = self.string(algorithm, 2)?;
        let digest = match algorithm {
            "MD5" => hex::encode(<md5::Md5 as md5::Digest>::digest(data)),
            "SHA-1" => hex::encode(<sha1::Sha1 as sha1::Digest>::digest(data)),
            "SHA-256" => hex::encode(<sha2::Sha256 as sha2::Digest>::digest(data)),
            "SHA-384" => hex::encode(<sha2::Sha384 as sha2::Digest>::digest(data)),
            "SHA-512" => hex::encode(<sha2::Sha512 as sha2::Digest>::digest(data)),
            other => {
                return Err(self.fail(format!(
                    "the hash algorithm '{other}' is not supported; use one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"
                )))
            }
        };
        Ok(Value::String(digest))
    }

    fn json_merge(&self, a: &Value, b: &Value, deep: &Value) -> Result<Value, IntrinsicError> {
        let a = a
            .as_object()
            .ok_or_else(|| self.wrong_type(1, "a JSON object", a))?;
        let b = b
            .as_object()
            .ok_or_else(|| self.wrong_type(2, "a JSON object", b))?;
        match deep {
            Value::Bool(false) => {}
            Value::Bool(true) => {
                return Err(
                    self.fail("deep merge is not supported; the third argument must be false")
                )
            }
            other => return Err(self.wrong_type(3, "a boolean", other)),
        }
        let mut out: Map<String, Value> = a.clone();
        for (k, v) in b {
            out.insert(k.clone(), v.clone());
        }
        Ok(Value::Object(out))
    }

    fn math_random(&self, vals: &[Value]) -> Result<Value, IntrinsicError> {
        let start = self.rounded_int(&vals[0], 1)?;
        let end = self.rounded_int(&vals[1], 2)?;
        if start >= end {
            return Err(self.fail(format!("the start {start} must be less than the end {end}")));
        }
        let bound = end - start;
        let n = match vals.get(2) {
            Some(seed) => {
                let seed = self.rounded_int(seed, 3)?;
                let bound = i32::try_from(bound)
                    .map_err(|_| self.fail("the range between start and end is too large"))?;
                i64::from(JavaRandom::new(seed).next_int(bound))
            }
            None => {
                use rand::RngExt as _;
                rand::rng().random_range(0..bound)
            }
        };
        Ok(Value::from(start + n))
    }

    fn string_split(&self, s: &Value, delims: &Value) -> Result<Value, IntrinsicError> {
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
fn template_of(s: &str) -> Vec<Piece> {
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

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// `-0` parses to an integer zero, as Jackson reads it.
fn normalize_negative_zero(v: Value) -> Value {
    match v {
        Value::Number(n)
            if n.as_f64() == Some(0.0) && n.as_i64().is_none() && n.as_u64().is_none() =>
        {
            if n.as_f64().is_some_and(|f| f.is_sign_negative()) {
                Value::from(0)
            } else {
                Value::Number(n)
            }
        }
        other => other,
    }
}

/// Render a value the way AWS's `States.Format` does: strings bare, objects as a Java `Map`
/// prints (`{k=v, ...}`), arrays as a Java `List` prints (`[a, b]`), numbers as Java prints them.
fn render_java(v: &Value, out: &mut String) {
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
fn java_number(n: &Number) -> String {
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

/// `java.util.Random`, so a seeded `States.MathRandom` draws what the JVM-based service draws.
struct JavaRandom {
    seed: i64,
}

impl JavaRandom {
    const MULTIPLIER: i64 = 0x5DEE_CE66D;
    const MASK: i64 = (1 << 48) - 1;

    fn new(seed: i64) -> Self {
        JavaRandom {
            seed: (seed ^ Self::MULTIPLIER) & Self::MASK,
        }
    }

    fn next(&mut self, bits: u32) -> i32 {
        self.seed = (self.seed.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB)) & Self::MASK;
        (self.seed >> (48 - bits)) as i32
    }

    /// `nextInt(bound)` for a positive bound.
    fn next_int(&mut self, bound: i32) -> i32 {
        if bound & bound.wrapping_neg() == bound {
            return ((i64::from(bound) * i64::from(self.next(31))) >> 31) as i32;
        }
        loop {
            let bits = self.next(31);
            let val = bits % bound;
            if bits.wrapping_sub(val).wrapping_add(bound - 1) >= 0 {
                return val;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval_on(expr: &str, input: &Value) -> Result<Value, IntrinsicError> {
        let f = parse(expr)?;
        f.evaluate(&|p: &str| resolve_simple(p, input))
    }

    /// A tiny resolver for `$`, `$.a.b` and `$.a[0]` paths, enough for unit tests.
    fn resolve_simple(p: &str, input: &Value) -> Result<Value, String> {
        let rest = p.strip_prefix('$').ok_or_else(|| format!("bad path {p}"))?;
        let mut cur = input;
        for seg in rest.split('.').filter(|s| !s.is_empty()) {
            let (name, idx) = match seg.split_once('[') {
                Some((n, i)) => (
                    n,
                    Some(
                        i.trim_end_matches(']')
                            .parse::<usize>()
                            .map_err(|e| e.to_string())?,
                    ),
                ),
                None => (seg, None),
            };
            if !name.is_empty() {
                cur = cur
                    .get(name)
                    .ok_or_else(|| format!("Invalid path '{p}' : No results for path: {p}"))?;
            }
            if let Some(i) = idx {
                cur = cur
                    .get(i)
                    .ok_or_else(|| format!("Invalid path '{p}' : No results for path: {p}"))?;
            }
        }
        Ok(cur.clone())
    }

    fn eval(expr: &str) -> Result<Value, IntrinsicError> {
        eval_on(expr, &Value::Null)
    }

    #[test]
    fn format_escapes_and_rendering() {
        assert_eq!(
            eval(r"States.Format('a \{} b {} \' \\ c', 1)").unwrap(),
            json!(r"a {} b 1 ' \ c")
        );
        assert_eq!(
            eval_on("States.Format('{}|{}|{}|{}', $.o, $.n, $.f, $.a)", &json!({"o": {"A": 1, "B": [], "C": "x"}, "n": null, "f": 1.5, "a": [1, "b", {"c": true}]}))
                .unwrap(),
            json!("{A=1, B=[], C=x}|null|1.5|[1, b, {c=true}]")
        );
        assert_eq!(
            eval("States.Format('{}', 1.0E20)").unwrap(),
            json!("1.0E20")
        );
        assert_eq!(
            eval("States.Format('{}', 0.0001)").unwrap(),
            json!("1.0E-4")
        );
        assert_eq!(eval("States.Format('{}', 2.0)").unwrap(), json!("2.0"));
        assert_eq!(eval("States.Format('{}', 1.0E7)").unwrap(), json!("1.0E7"));
        assert_eq!(
            eval("States.Format('{}', 123456.789)").unwrap(),
            json!("123456.789")
        );
    }

    #[test]
    fn format_template_from_path_and_count_mismatch() {
        assert_eq!(
            eval_on("States.Format($.t, 'x')", &json!({"t": "It's {}!"})).unwrap(),
            json!("It's x!")
        );
        let e = eval("States.Format('{} {}', 1)").unwrap_err();
        assert_eq!(e.error(), "States.IntrinsicFailure");
        assert!(e.cause().contains("2 placeholder(s)"), "{}", e.cause());
    }

    #[test]
    fn parse_rejects_bad_calls() {
        for bad in [
            "States.Nope(1)",
            "States.UUID(1)",
            "States.MathAdd(1)",
            "States.Format(1)",
            "States.JsonToString('x')",
            "States.JsonMerge($.a, $.b, 'no')",
            "States.Format('x'",
            "States.Format('x') trailing",
            "States.Array('unterminated)",
            "Format('x')",
            "States.Array($.a[)",
            "States.Array($..)",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be refused");
        }
        let eleven = "States.Array(".repeat(11) + &")".repeat(11);
        assert!(parse(&eleven).is_err());
        let ten = "States.Array(".repeat(10) + &")".repeat(10);
        assert!(parse(&ten).is_ok());
    }

    #[test]
    fn literals_and_nested_calls() {
        assert_eq!(
            eval("States.Array(1, -2.5, true, false, null, 'x', States.Array())").unwrap(),
            json!([1, -2.5, true, false, null, "x", []])
        );
        assert_eq!(
            eval_on("States.ArrayGetItem(States.StringSplit($.n, '-'), States.MathAdd(States.ArrayLength(States.StringSplit($.n, '-')), -1))", &json!({"n": "a-b-c"}))
                .unwrap(),
            json!("c")
        );
        assert_eq!(
            eval_on("States.Array($.a['x,y'])", &json!({}))
                .unwrap_err()
                .error(),
            "States.Runtime"
        );
    }

    #[test]
    fn path_failure_is_runtime_with_resolver_cause() {
        let e = eval_on("States.Format('{}', $.missing)", &json!({})).unwrap_err();
        assert_eq!(e.error(), "States.Runtime");
        assert!(
            e.cause().starts_with("Invalid path '$.missing'"),
            "{}",
            e.cause()
        );
    }

    #[test]
    fn array_functions() {
        assert_eq!(
            eval("States.ArrayPartition(States.Array(1,2,3,4,5), 2)").unwrap(),
            json!([[1, 2], [3, 4], [5]])
        );
        assert_eq!(
            eval("States.ArrayPartition(States.Array(), 2)").unwrap(),
            json!([])
        );
        assert!(eval("States.ArrayPartition(States.Array(1), 0)").is_err());
        assert_eq!(
            eval("States.ArrayRange(1, 9, 2)").unwrap(),
            json!([1, 3, 5, 7, 9])
        );
        assert_eq!(
            eval("States.ArrayRange(5, 1, -2)").unwrap(),
            json!([5, 3, 1])
        );
        assert_eq!(eval("States.ArrayRange(5, 1, 2)").unwrap(), json!([]));
        assert_eq!(
            eval("States.ArrayLength(States.ArrayRange(1, 1000, 1))").unwrap(),
            json!(1000)
        );
        assert!(eval("States.ArrayRange(1, 1001, 1)").is_err());
        assert!(eval("States.ArrayRange(1, 3, 0)").is_err());
        assert!(eval("States.ArrayRange(1.5, 3, 1)").is_err());
        assert_eq!(
            eval("States.ArrayGetItem(States.Array(1,2), 1)").unwrap(),
            json!(2)
        );
        assert!(eval("States.ArrayGetItem(States.Array(1,2), 2)").is_err());
        assert!(eval("States.ArrayGetItem(States.Array(1,2), -1)").is_err());
        assert_eq!(
            eval("States.ArrayUnique(States.Array(1, 2, 2, 'a', 1, 'a'))").unwrap(),
            json!([1, 2, "a"])
        );
        assert_eq!(
            eval("States.ArrayContains(States.Array(1, 'a'), 'a')").unwrap(),
            json!(true)
        );
        assert!(eval("States.ArrayLength('x')").is_err());
    }

    #[test]
    fn encoding_and_hashing() {
        assert_eq!(
            eval("States.Base64Encode('Data to encode')").unwrap(),
            json!("RGF0YSB0byBlbmNvZGU=")
        );
        assert_eq!(
            eval("States.Base64Decode('RGF0YSB0byBlbmNvZGU')").unwrap(),
            json!("Data to encode")
        );
        assert!(eval("States.Base64Decode('!!')").is_err());
        assert_eq!(
            eval("States.Hash('input data', 'MD5')").unwrap(),
            json!("812f45842bc6d66ee14572ce20db8e86")
        );
        assert!(eval("States.Hash('x', 'SHA-3')").is_err());
        let long = json!({"s": "a".repeat(10_001)});
        assert!(eval_on("States.Hash($.s, 'MD5')", &long).is_err());
        assert!(eval_on("States.Base64Encode($.s)", &long).is_err());
    }

    #[test]
    fn json_functions() {
        assert_eq!(
            eval_on("States.StringToJson($.s)", &json!({"s": "-0"}))
                .unwrap()
                .to_string(),
            "0"
        );
        assert_eq!(
            eval_on("States.StringToJson($.s)", &json!({"s": " "})).unwrap(),
            Value::Null
        );
        assert!(eval_on("States.StringToJson($.s)", &json!({"s": "{"})).is_err());
        assert_eq!(
            eval_on("States.JsonToString($.o)", &json!({"o": {"a": [1, "x"]}})).unwrap(),
            json!("{\"a\":[1,\"x\"]}")
        );
        assert_eq!(
            eval_on(
                "States.JsonMerge($.a, $.b, false)",
                &json!({"a": {"x": {"y": 1}, "k": 1}, "b": {"x": {"z": 2}}})
            )
            .unwrap(),
            json!({"x": {"z": 2}, "k": 1})
        );
        assert!(eval_on("States.JsonMerge($.a, $.a, true)", &json!({"a": {}})).is_err());
        assert!(eval_on(
            "States.JsonMerge($.a, $.b, false)",
            &json!({"a": {}, "b": 1})
        )
        .is_err());
    }

    #[test]
    fn math_functions() {
        assert_eq!(eval("States.MathAdd(1, -2)").unwrap(), json!(-1));
        assert_eq!(eval("States.MathAdd(1.5, 2.4)").unwrap(), json!(4));
        assert_eq!(eval("States.MathAdd(-2.5, 0)").unwrap(), json!(-2));
        assert_eq!(eval("States.MathAdd(2.5, 0)").unwrap(), json!(3));
        assert!(eval("States.MathAdd($, 1)").is_err());
        for _ in 0..50 {
            let n = eval("States.MathRandom(12.5, 44.51)")
                .unwrap()
                .as_i64()
                .unwrap();
            assert!((13..45).contains(&n), "{n}");
        }
        let a = eval("States.MathRandom(0, 999, 3)").unwrap();
        assert_eq!(a, eval("States.MathRandom(0, 999, 3)").unwrap());
        assert!(eval("States.MathRandom(5, 5)").is_err());
    }

    #[test]
    fn java_random_matches_the_jvm() {
        // Well-known JVM values: new Random(42).nextInt() and new Random(0).nextInt().
        assert_eq!(JavaRandom::new(42).next(32), -1_170_105_035);
        assert_eq!(JavaRandom::new(0).next(32), -1_155_484_576);
        // new Random(3).nextInt(999), new Random(42).nextInt(100), new Random(0).nextInt(16).
        assert_eq!(JavaRandom::new(3).next_int(999), 239);
        assert_eq!(JavaRandom::new(42).next_int(100), 30);
        assert_eq!(JavaRandom::new(0).next_int(16), 11);
        let mut r = JavaRandom::new(7);
        assert!((0..1000).all(|_| (0..999).contains(&r.next_int(999))));
        assert!((0..1000).all(|_| (0..64).contains(&r.next_int(64))));
    }

    #[test]
    fn string_split_and_uuid() {
        assert_eq!(
            eval("States.StringSplit('This.is+a,test=string', '.+,=')").unwrap(),
            json!(["This", "is", "a", "test", "string"])
        );
        assert_eq!(eval("States.StringSplit(',,,,', ',')").unwrap(), json!([]));
        let u = eval("States.UUID()").unwrap();
        let u = u.as_str().unwrap();
        assert!(
            uuid::Uuid::parse_str(u).is_ok_and(|x| x.get_version_num() == 4),
            "{u}"
        );
        assert!(is_intrinsic(" States.UUID()"));
        assert!(!is_intrinsic("$.States"));
    }
}
