//! Reading a request's fields as AWS validates them: strings, required members, `maxResults` and
//! `nextToken`, `redriveFilter`.

use serde_json::Value;

use super::ApiError;

/// ListExecutions and GetExecutionHistory page size when `maxResults` is absent or 0.
pub(super) const DEFAULT_PAGE: usize = 100;
pub(super) const MAX_PAGE: usize = 1000;

pub(super) fn string_field<'a>(body: &'a Value, name: &str) -> Result<Option<&'a str>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::validation(format!(
            "1 validation error detected: Value at '{name}' failed to satisfy constraint: Member must be a string"
        ))),
    }
}

pub(super) fn required<'a>(body: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    string_field(body, name)?.ok_or_else(|| {
        ApiError::validation(format!(
            "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

/// `maxResults` (0 or absent: the default page) and `nextToken` (an offset this API issued).
pub(super) fn page(body: &Value) -> Result<(usize, usize), ApiError> {
    let size = match body.get("maxResults") {
        None | Some(Value::Null) => DEFAULT_PAGE,
        Some(v) => match v.as_u64() {
            Some(0) => DEFAULT_PAGE,
            Some(n) if n as usize <= MAX_PAGE => n as usize,
            _ => {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{v}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to {MAX_PAGE}"
                )))
            }
        },
    };
    let start = match string_field(body, "nextToken")? {
        None => 0,
        Some(t) => t
            .strip_prefix("sfn-local:")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| ApiError::new("InvalidToken", format!("Invalid Token: '{t}'")))?,
    };
    Ok((start, size))
}

/// ListExecutions' `redriveFilter`: `REDRIVEN` (redriven at least once) → Some(true),
/// `NOT_REDRIVEN` → Some(false), absent → None (both, as AWS).
pub(super) fn redrive_filter(filter: Option<&str>) -> Result<Option<bool>, ApiError> {
    match filter {
        None => Ok(None),
        Some("REDRIVEN") => Ok(Some(true)),
        Some("NOT_REDRIVEN") => Ok(Some(false)),
        Some(other) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{other}' at 'redriveFilter' failed to satisfy constraint: Member must satisfy enum value set: [REDRIVEN, NOT_REDRIVEN]"
        ))),
    }
}
