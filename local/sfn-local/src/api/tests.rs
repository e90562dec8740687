//! The API's request and response helpers.

use serde_json::{json, Value};

use super::http::check_host;
use super::request::{page, redrive_filter, DEFAULT_PAGE};
use super::shapes::{epoch_dates, paginate};

#[test]
fn pages_and_tokens() {
    let items: Vec<Value> = (0..5).map(|i| json!(i)).collect();
    let (p, next) = paginate(items.clone(), 0, 2);
    assert_eq!(p, vec![json!(0), json!(1)]);
    assert_eq!(next.as_deref(), Some("sfn-local:2"));
    let (p, next) = paginate(items, 4, 2);
    assert_eq!(p, vec![json!(4)]);
    assert_eq!(next, None);
    let err = page(&json!({"nextToken": "bogus"})).unwrap_err();
    assert_eq!(err.kind, "InvalidToken");
    assert_eq!(page(&json!({"maxResults": 0})).unwrap(), (0, DEFAULT_PAGE));
    assert_eq!(
        page(&json!({"maxResults": 1001})).unwrap_err().kind,
        "ValidationException"
    );
}

#[test]
fn redrive_filter_names() {
    assert_eq!(redrive_filter(None).unwrap(), None);
    assert_eq!(redrive_filter(Some("REDRIVEN")).unwrap(), Some(true));
    assert_eq!(redrive_filter(Some("NOT_REDRIVEN")).unwrap(), Some(false));
    assert_eq!(
        redrive_filter(Some("redriven")).unwrap_err().kind,
        "ValidationException"
    );
}

#[test]
fn loopback_only_unless_allowed() {
    assert!(check_host("127.0.0.1", false).is_ok());
    assert!(check_host("::1", false).is_ok());
    assert!(check_host("localhost", false).is_ok());
    let err = check_host("0.0.0.0", false).unwrap_err().to_string();
    assert!(err.contains("--allow-remote"), "{err}");
    assert!(check_host("0.0.0.0", true).is_ok());
}

#[test]
fn dates_become_epoch_seconds() {
    let mut v = json!({"startDate": "2026-11-25T06:10:00.123000+00:00", "name": "x"});
    epoch_dates(&mut v);
    assert_eq!(v["startDate"], json!(1795587000.123));
    assert_eq!(v["name"], "x");
}
