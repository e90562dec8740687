//! A request's members read as AWS's JSON protocol reads them: a wrong JSON type is a
//! SerializationException in AWS's words, `null` is absent; constraints collected as AWS lists them.
//!
//! AWS's JSON services deserialize the whole body into the operation's input shape, then check its
//! constraints, and only then run the operation. The wording is what other services of the same
//! protocol were measured to send (floci-io/floci: Athena, EventBridge Scheduler, SESv2): a number
//! where a String is wanted is `NUMBER_VALUE can not be converted to a String`, naming no member;
//! a decimal Integer is truncated. Not measured on Step Functions itself (no AWS account here).

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::ApiError;

/// The types of the members sfn-local reads, in AWS's message wording.
#[derive(Clone, Copy)]
enum Want {
    String,
    Integer,
    Boolean,
}

impl Want {
    fn words(self) -> &'static str {
        match self {
            Want::String => "a String",
            Want::Integer => "an Integer",
            Want::Boolean => "a Boolean",
        }
    }
}

/// One scalar member as read (`Absent` for JSON null).
enum Scalar {
    Absent,
    Text(String),
    Integer(i64),
    Boolean(bool),
}

fn mismatch<E: de::Error>(token: &str, want: Want) -> E {
    E::custom(format!("{token} can not be converted to {}", want.words()))
}

struct ScalarVisitor(Want);

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.0.words())
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Scalar, E> {
        match self.0 {
            Want::String => Ok(Scalar::Text(s.to_string())),
            w => Err(mismatch("STRING_VALUE", w)),
        }
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Scalar, E> {
        match self.0 {
            Want::Boolean => Ok(Scalar::Boolean(b)),
            w => Err(mismatch(if b { "TRUE_VALUE" } else { "FALSE_VALUE" }, w)),
        }
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Scalar, E> {
        match self.0 {
            Want::Integer => Ok(Scalar::Integer(n)),
            w => Err(mismatch("NUMBER_VALUE", w)),
        }
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Scalar, E> {
        // Beyond i64: still over every upper bound, which validation then reports.
        self.visit_i64(i64::try_from(n).unwrap_or(i64::MAX))
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<Scalar, E> {
        // AWS truncates a decimal given for an Integer (1.5 → 1); `as` saturates out of range.
        self.visit_i64(x.trunc() as i64)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Absent)
    }

    fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Absent)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Scalar, A::Error> {
        Err(de::Error::custom(
            "Start of structure or map found where not expected.",
        ))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Scalar, A::Error> {
        Err(de::Error::custom("Start of list found where not expected"))
    }
}

/// An optional String member (`#[serde(default, deserialize_with = "members::string")]`).
pub(super) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match d.deserialize_any(ScalarVisitor(Want::String))? {
        Scalar::Text(s) => Some(s),
        _ => None,
    })
}

/// An optional Integer member.
pub(super) fn integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match d.deserialize_any(ScalarVisitor(Want::Integer))? {
        Scalar::Integer(n) => Some(n),
        _ => None,
    })
}

/// An optional Boolean member.
pub(super) fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match d.deserialize_any(ScalarVisitor(Want::Boolean))? {
        Scalar::Boolean(b) => Some(b),
        _ => None,
    })
}

/// A String member the operation requires: absent or null is a ValidationException, which
/// [`Violations::required`] records before any handler reads the value.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Required(Option<String>);

impl Required {
    /// The value; empty only if [`Violations::required`] was not asked, which every request's
    /// `check` does before `parse` hands the request over.
    pub(super) fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or_default()
    }
}

impl<'de> Deserialize<'de> for Required {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        string(d).map(Required)
    }
}

/// The constraint failures of one request, reported together as AWS does
/// (`2 validation errors detected: ...; ...`).
#[derive(Default)]
pub(super) struct Violations(Vec<String>);

impl Violations {
    /// `name` must be present (and not null).
    pub(super) fn required(&mut self, name: &str, value: &Required) {
        if value.0.is_none() {
            self.0.push(format!(
                "Value null at '{name}' failed to satisfy constraint: Member must not be null"
            ));
        }
    }

    /// `name`, when present, has at most `max` characters.
    pub(super) fn max_chars(&mut self, name: &str, value: Option<&str>, max: usize) {
        if value.is_some_and(|v| v.chars().count() > max) {
            self.0.push(format!(
                "Value at '{name}' failed to satisfy constraint: Member must have length less than or equal to {max}"
            ));
        }
    }

    /// `name`, when present, is between `min` and `max`.
    pub(super) fn range(&mut self, name: &str, value: Option<i64>, min: i64, max: i64) {
        match value {
            Some(n) if n < min => self.0.push(format!(
                "Value '{n}' at '{name}' failed to satisfy constraint: Member must have value greater than or equal to {min}"
            )),
            Some(n) if n > max => self.0.push(format!(
                "Value '{n}' at '{name}' failed to satisfy constraint: Member must have value less than or equal to {max}"
            )),
            _ => {}
        }
    }

    /// `name`, when present, is one of `values`.
    pub(super) fn one_of(&mut self, name: &str, value: Option<&str>, values: &[&str]) {
        if let Some(v) = value.filter(|v| !values.contains(v)) {
            self.0.push(format!(
                "Value '{v}' at '{name}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                values.join(", ")
            ));
        }
    }

    /// Ok when nothing failed, else one ValidationException listing every failure.
    pub(super) fn finish(self) -> Result<(), ApiError> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(ApiError::validation(format!(
                "1 validation error detected: {}",
                self.0[0]
            ))),
            n => Err(ApiError::validation(format!(
                "{n} validation errors detected: {}",
                self.0.join("; ")
            ))),
        }
    }
}
