//! Counters as CloudWatch Embedded Metric Format log lines: one JSON object on stdout that
//! CloudWatch Logs turns into a metric (namespace `ProcessUnpaidOrder`, dimension `Branch`),
//! with no API call, no IAM permission and nothing to fail in the function.

use std::sync::Mutex;

/// The metrics' namespace.
pub const NAMESPACE: &str = "ProcessUnpaidOrder";

/// The counters this project emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// An email whose send stayed unknown past the confirmation window was sent again.
    AmbiguousSendsResent,
    /// An SES event showed a superseded claim's email went out too: the customer got two.
    DuplicateEmailsSent,
    /// A failure email bounced: the customer never heard.
    EmailsBounced,
    /// A failure email was marked as spam.
    EmailsComplained,
    /// A failure email was rejected by SES (virus) or could not be rendered.
    EmailsRejected,
    /// An SES event for a key this stack does not own (another sender on the configuration set).
    UnknownEmailEvents,
    /// A queue message that is not an AWS event of a documented shape (it goes to the DLQ).
    MalformedEvents,
}

impl Metric {
    /// The metric's name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::AmbiguousSendsResent => "AmbiguousSendsResent",
            Metric::DuplicateEmailsSent => "DuplicateEmailsSent",
            Metric::EmailsBounced => "EmailsBounced",
            Metric::EmailsComplained => "EmailsComplained",
            Metric::EmailsRejected => "EmailsRejected",
            Metric::UnknownEmailEvents => "UnknownEmailEvents",
            Metric::MalformedEvents => "MalformedEvents",
        }
    }
}

static EMITTED: Mutex<Vec<(Metric, u64)>> = Mutex::new(Vec::new());

/// Where the EMF lines go: stdout (a Lambda's log stream) unless [`write_to_stderr`] was called.
static TO_STDERR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sends the EMF lines to stderr: for a process whose stdout is its answer (the offline runner
/// prints JSON there, and a reader of `serve`'s first line leaves the rest of the pipe unread).
pub fn write_to_stderr() {
    TO_STDERR.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The EMF document of `count` of `metric` at `epoch_ms`, for `branch`.
pub fn emf_line(metric: Metric, count: u64, branch: &str, epoch_ms: i64) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": epoch_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Branch"]],
                "Metrics": [{"Name": metric.name(), "Unit": "Count"}],
            }],
        },
        "Branch": branch,
        metric.name(): count,
    })
    .to_string()
}

/// Counts `metric` once: an EMF line on stdout (the Lambda's log stream; stderr after
/// [`write_to_stderr`]), and the in-process
/// tally [`emitted`] reads (the offline runner's report and tests).
pub fn count(metric: Metric) {
    let branch = std::env::var("BRANCH").unwrap_or_else(|_| "local".to_string());
    let line = emf_line(metric, 1, &branch, chrono::Utc::now().timestamp_millis());
    if TO_STDERR.load(std::sync::atomic::Ordering::Relaxed) {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
    let mut emitted = EMITTED.lock().unwrap_or_else(|p| p.into_inner());
    match emitted.iter_mut().find(|(m, _)| *m == metric) {
        Some((_, n)) => *n += 1,
        None => emitted.push((metric, 1)),
    }
}

/// How many times `metric` was counted in this process.
pub fn emitted(metric: Metric) -> u64 {
    EMITTED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .find(|(m, _)| *m == metric)
        .map_or(0, |(_, n)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_names_the_metric_its_namespace_and_dimension() {
        let line: serde_json::Value =
            serde_json::from_str(&emf_line(Metric::EmailsBounced, 1, "dev", 1_000)).unwrap();
        assert_eq!(line["EmailsBounced"], 1);
        assert_eq!(line["Branch"], "dev");
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Metrics"][0]["Name"], "EmailsBounced");
        assert_eq!(directive["Dimensions"][0][0], "Branch");
        let before = emitted(Metric::MalformedEvents);
        count(Metric::MalformedEvents);
        assert_eq!(emitted(Metric::MalformedEvents), before + 1);
    }
}
