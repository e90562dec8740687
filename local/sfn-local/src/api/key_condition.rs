//! DynamoDB's `KeyConditionExpression` for the offline DynamoDB API: parsed with its
//! `ExpressionAttributeNames`/`Values`, checked against the key schema as DynamoDB checks it
//! (equality on the partition key, at most one condition on the sort key), and evaluated.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use unpaid_order::{Attr, Item};

use crate::project::tables::KeySchema;

/// A condition on the sort key.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum RangeCondition {
    /// `=`, `<`, `<=`, `>`, `>=` with the value.
    Compare(&'static str, String),
    /// `BETWEEN low AND high` (both included).
    Between(String, String),
    /// `begins_with(key, prefix)`.
    BeginsWith(String),
}

/// A parsed key condition: the partition key's value and the sort key's condition.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct KeyCondition {
    /// The partition key's value.
    pub(super) hash: String,
    /// The condition on the sort key, if any.
    pub(super) range: Option<RangeCondition>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Value(String),
    Op(&'static str),
    Open,
    Close,
    Comma,
    And,
    Between,
    BeginsWith,
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let (token, width) = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => (Token::Open, 1),
            ')' => (Token::Close, 1),
            ',' => (Token::Comma, 1),
            '=' => (Token::Op("="), 1),
            '<' if next == Some('>') => {
                return Err("the operator <> is not allowed in a key condition".into())
            }
            '<' if next == Some('=') => (Token::Op("<="), 2),
            '>' if next == Some('=') => (Token::Op(">="), 2),
            '<' => (Token::Op("<"), 1),
            '>' => (Token::Op(">"), 1),
            c if c == '#' || c == ':' || c.is_alphanumeric() || c == '_' => {
                let mut end = i + 1;
                while end < chars.len() && (chars[end].is_alphanumeric() || chars[end] == '_') {
                    end += 1;
                }
                let word: String = chars[i..end].iter().collect();
                let token = match word.as_str() {
                    w if w.starts_with(':') => Token::Value(word),
                    w if w.eq_ignore_ascii_case("and") => Token::And,
                    w if w.eq_ignore_ascii_case("between") => Token::Between,
                    "begins_with" => Token::BeginsWith,
                    _ => Token::Name(word),
                };
                (token, end - i)
            }
            other => return Err(format!("Syntax error; token: \"{other}\"")),
        };
        out.push(token);
        i += width;
    }
    Ok(out)
}

/// One `name op value` (or BETWEEN / begins_with) of the expression, names still as written.
#[derive(Debug, Clone, PartialEq)]
enum Term {
    Compare(String, &'static str, String),
    Between(String, String, String),
    BeginsWith(String, String),
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn expect(&mut self, want: &Token, what: &str) -> Result<(), String> {
        match self.next() {
            Some(t) if &t == want => Ok(()),
            _ => Err(format!("Syntax error; expected {what}")),
        }
    }

    fn name(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Name(n)) => Ok(n),
            _ => Err("Syntax error; expected an attribute name".into()),
        }
    }

    fn value(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Value(v)) => Ok(v),
            _ => Err("Syntax error; expected an expression attribute value (:name)".into()),
        }
    }

    /// `term (AND term)*`
    fn conjunction(&mut self, out: &mut Vec<Term>) -> Result<(), String> {
        self.term(out)?;
        while self.peek() == Some(&Token::And) {
            self.next();
            self.term(out)?;
        }
        Ok(())
    }

    fn term(&mut self, out: &mut Vec<Term>) -> Result<(), String> {
        match self.peek() {
            Some(Token::Open) => {
                self.next();
                self.conjunction(out)?;
                self.expect(&Token::Close, "\")\"")
            }
            Some(Token::BeginsWith) => {
                self.next();
                self.expect(&Token::Open, "\"(\"")?;
                let name = self.name()?;
                self.expect(&Token::Comma, "\",\"")?;
                let value = self.value()?;
                self.expect(&Token::Close, "\")\"")?;
                out.push(Term::BeginsWith(name, value));
                Ok(())
            }
            _ => {
                let name = self.name()?;
                match self.next() {
                    Some(Token::Op(op)) => {
                        let value = self.value()?;
                        out.push(Term::Compare(name, op, value));
                        Ok(())
                    }
                    Some(Token::Between) => {
                        let low = self.value()?;
                        self.expect(&Token::And, "AND")?;
                        let high = self.value()?;
                        out.push(Term::Between(name, low, high));
                        Ok(())
                    }
                    _ => Err("Syntax error; expected a comparison, BETWEEN or begins_with".into()),
                }
            }
        }
    }
}

/// The expression's names and values, and which of them the expression used (DynamoDB refuses
/// a request that defines one it does not use).
pub(super) struct Substitutions<'a> {
    /// `ExpressionAttributeNames`.
    pub(super) names: &'a BTreeMap<String, String>,
    /// `ExpressionAttributeValues`.
    pub(super) values: &'a BTreeMap<String, Attr>,
    /// The names used so far.
    pub(super) used_names: BTreeSet<String>,
    /// The values used so far.
    pub(super) used_values: BTreeSet<String>,
}

impl<'a> Substitutions<'a> {
    /// Over a request's names and values.
    pub(super) fn new(
        names: &'a BTreeMap<String, String>,
        values: &'a BTreeMap<String, Attr>,
    ) -> Self {
        Substitutions {
            names,
            values,
            used_names: BTreeSet::new(),
            used_values: BTreeSet::new(),
        }
    }

    fn name(&mut self, written: &str) -> Result<String, String> {
        if !written.starts_with('#') {
            return Ok(written.to_string());
        }
        self.used_names.insert(written.to_string());
        self.names.get(written).cloned().ok_or_else(|| {
            format!(
                "Value provided in ExpressionAttributeNames unused in expressions: An expression attribute name used in the document path is not defined; attribute name: {written}"
            )
        })
    }

    fn string(&mut self, written: &str) -> Result<String, String> {
        self.used_values.insert(written.to_string());
        match self.values.get(written) {
            Some(Attr::S(s)) => Ok(s.clone()),
            Some(_) => Err(
                "One or more parameter values were invalid: Condition parameter type does not match schema type"
                    .into(),
            ),
            None => Err(format!(
                "An expression attribute value used in expression is not defined; attribute value: {written}"
            )),
        }
    }

    /// Names and values the request defined but no expression used.
    pub(super) fn unused(&self) -> Result<(), String> {
        let names: Vec<&String> = self
            .names
            .keys()
            .filter(|k| !self.used_names.contains(*k))
            .collect();
        if !names.is_empty() {
            return Err(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                names
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let values: Vec<&String> = self
            .values
            .keys()
            .filter(|k| !self.used_values.contains(*k))
            .collect();
        if !values.is_empty() {
            return Err(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                values
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(())
    }
}

/// Parses `text` against `keys`: the partition key by equality, at most one sort-key condition,
/// nothing else. The messages are DynamoDB's.
pub(super) fn parse(
    text: &str,
    keys: &KeySchema,
    subs: &mut Substitutions<'_>,
) -> Result<KeyCondition, String> {
    let invalid = |m: String| format!("Invalid KeyConditionExpression: {m}");
    let mut parser = Parser {
        tokens: tokens(text).map_err(invalid)?,
        at: 0,
    };
    let mut terms = Vec::new();
    parser.conjunction(&mut terms).map_err(invalid)?;
    if parser.peek().is_some() {
        return Err(invalid(
            "Syntax error; unexpected text after the condition".into(),
        ));
    }
    let mut hash = None;
    let mut range = None;
    for term in terms {
        let (written, condition) = match term {
            Term::Compare(n, op, v) => (n, (op, vec![v])),
            Term::Between(n, lo, hi) => (n, ("BETWEEN", vec![lo, hi])),
            Term::BeginsWith(n, v) => (n, ("begins_with", vec![v])),
        };
        let name = subs.name(&written)?;
        let (op, values) = condition;
        let values: Vec<String> = values
            .iter()
            .map(|v| subs.string(v))
            .collect::<Result<_, _>>()?;
        if name == keys.hash {
            if op != "=" || hash.is_some() {
                return Err("Query key condition not supported".into());
            }
            hash = values.into_iter().next();
        } else if Some(name.as_str()) == keys.range {
            if range.is_some() {
                return Err(invalid(
                    "KeyConditionExpressions must only contain one condition per key".into(),
                ));
            }
            let mut v = values.into_iter();
            let first = v.next().unwrap_or_default();
            range = Some(match op {
                "BETWEEN" => {
                    let high = v.next().unwrap_or_default();
                    if first > high {
                        return Err(invalid(format!(
                            "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {{S:{first}}}, upper bound operand: AttributeValue: {{S:{high}}}"
                        )));
                    }
                    RangeCondition::Between(first, high)
                }
                "begins_with" => RangeCondition::BeginsWith(first),
                op => RangeCondition::Compare(
                    match op {
                        "=" => "=",
                        "<" => "<",
                        "<=" => "<=",
                        ">" => ">",
                        _ => ">=",
                    },
                    first,
                ),
            });
        } else {
            return Err(format!(
                "Query condition missed key schema element: {}",
                keys.hash
            ));
        }
    }
    let hash =
        hash.ok_or_else(|| format!("Query condition missed key schema element: {}", keys.hash))?;
    Ok(KeyCondition { hash, range })
}

/// DynamoDB's order of string keys: by their UTF-8 bytes.
pub(super) fn compare(a: &str, b: &str) -> Ordering {
    a.as_bytes().cmp(b.as_bytes())
}

impl KeyCondition {
    /// Whether `item` (a table item, or one of a secondary index) satisfies the condition.
    pub(super) fn matches(&self, item: &Item, keys: &KeySchema) -> bool {
        let text = |name: &str| item.get(name).and_then(Attr::as_s);
        if text(keys.hash) != Some(self.hash.as_str()) {
            return false;
        }
        let (Some(condition), Some(range_key)) = (&self.range, keys.range) else {
            return true;
        };
        let Some(v) = text(range_key) else {
            return false;
        };
        match condition {
            RangeCondition::Compare(op, x) => {
                let o = compare(v, x);
                match *op {
                    "=" => o == Ordering::Equal,
                    "<" => o == Ordering::Less,
                    "<=" => o != Ordering::Greater,
                    ">" => o == Ordering::Greater,
                    _ => o != Ordering::Less,
                }
            }
            RangeCondition::Between(lo, hi) => {
                compare(v, lo) != Ordering::Less && compare(v, hi) != Ordering::Greater
            }
            RangeCondition::BeginsWith(p) => v.starts_with(p.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: KeySchema = KeySchema {
        hash: "orderId",
        range: Some("created_at"),
    };

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, Attr> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Attr::s(*v)))
            .collect()
    }

    fn parse_with(
        text: &str,
        names: &[(&str, &str)],
        vals: &[(&str, &str)],
    ) -> Result<KeyCondition, String> {
        let names: BTreeMap<String, String> = names
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let vals = values(vals);
        let mut subs = Substitutions::new(&names, &vals);
        let c = parse(text, &KEYS, &mut subs)?;
        subs.unused()?;
        Ok(c)
    }

    #[test]
    fn the_forms_dynamodb_takes() {
        let c = parse_with("#h = :id", &[("#h", "orderId")], &[(":id", "1")]).unwrap();
        assert_eq!((c.hash.as_str(), c.range), ("1", None));
        let c = parse_with(
            "(orderId = :id) and created_at BETWEEN :a AND :b",
            &[],
            &[(":id", "1"), (":a", "2026-01"), (":b", "2026-12")],
        )
        .unwrap();
        assert_eq!(
            c.range,
            Some(RangeCondition::Between("2026-01".into(), "2026-12".into()))
        );
        let c = parse_with(
            "orderId = :id AND begins_with(#r, :p)",
            &[("#r", "created_at")],
            &[(":id", "1"), (":p", "2026-")],
        )
        .unwrap();
        assert_eq!(c.range, Some(RangeCondition::BeginsWith("2026-".into())));
        let c = parse_with(
            "orderId = :id AND created_at >= :t",
            &[],
            &[(":id", "1"), (":t", "x")],
        )
        .unwrap();
        let mut item = Item::new();
        item.insert("orderId".into(), Attr::s("1"));
        item.insert("created_at".into(), Attr::s("y"));
        assert!(c.matches(&item, &KEYS));
        item.insert("created_at".into(), Attr::s("w"));
        assert!(!c.matches(&item, &KEYS));
    }

    #[test]
    fn what_dynamodb_refuses_is_refused_with_its_message() {
        let refused = |text: &str, names: &[(&str, &str)], vals: &[(&str, &str)]| {
            parse_with(text, names, vals).unwrap_err()
        };
        assert!(refused("created_at = :t", &[], &[(":t", "x")])
            .contains("missed key schema element: orderId"));
        assert!(refused("orderId > :id", &[], &[(":id", "1")]).contains("not supported"));
        assert!(refused(
            "status = :s AND orderId = :id",
            &[],
            &[(":s", "x"), (":id", "1")]
        )
        .contains("missed key schema element"));
        assert!(refused("orderId = :id", &[], &[(":id", "1"), (":x", "2")])
            .contains("ExpressionAttributeValues unused in expressions: keys: {:x}"));
        assert!(refused("#h = :id", &[], &[(":id", "1")]).contains("attribute name: #h"));
        assert!(refused("orderId = :nope", &[], &[]).contains("attribute value: :nope"));
        assert!(refused("orderId = :id AND", &[], &[(":id", "1")]).contains("Syntax error"));
        assert!(refused("orderId <> :id", &[], &[(":id", "1")]).contains("<>"));
        let names = BTreeMap::new();
        let vals: BTreeMap<String, Attr> = [(":id".to_string(), Attr::N("1".into()))]
            .into_iter()
            .collect();
        let mut subs = Substitutions::new(&names, &vals);
        assert!(parse("orderId = :id", &KEYS, &mut subs)
            .unwrap_err()
            .contains("type does not match schema type"));
    }
}
