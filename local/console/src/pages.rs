//! The console's HTML, rendered on the server with maud (every `(value)` is HTML-escaped: order
//! fields are untrusted). The one unescaped piece is the graph's SVG, built from the definition by
//! [`crate::graph`] with the state names escaped or restricted to a safe alphabet.

use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::sfn::{Execution, ExecutionItem, Machine};

/// `?k=v&...` with each value percent-encoded.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    format!("?{}", s.finish())
}

/// Link to an execution's page.
pub fn execution_url(arn: &str) -> String {
    format!("/execution{}", query(&[("arn", arn)]))
}

/// Link to an order's page.
pub fn order_url(id: &str) -> String {
    format!("/order{}", query(&[("id", id)]))
}

/// Link to a machine's executions.
pub fn executions_url(machine_arn: &str) -> String {
    format!("/executions{}", query(&[("machine", machine_arn)]))
}

/// A time as every page shows it (UTC, milliseconds).
pub fn time(d: &DateTime<Utc>) -> String {
    d.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

/// [`time`], or empty for none.
pub fn opt_time(d: Option<&DateTime<Utc>>) -> String {
    d.map(time).unwrap_or_default()
}

/// What every page shares: the header (back end, order search) and the stylesheet.
pub struct Frame<'a> {
    /// The back end shown in the header (never a credential).
    pub backend: &'a str,
}

impl Frame<'_> {
    /// A whole page: header, `title` and `body`.
    pub fn page(&self, title: &str, body: Markup) -> Markup {
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · sfn-console" }
                    link rel="stylesheet" href="/assets/console.css";
                }
                body {
                    header.top {
                        a.brand href="/" { "sfn-console" }
                        nav {
                            a href="/" { "State machines" }
                            a href="/redrive-failed" { "Redrive failed" }
                        }
                        form.search method="get" action="/order" {
                            input type="search" name="id" placeholder="Order id" aria-label="Order id" required;
                            button type="submit" { "Find order" }
                        }
                        span.backend title="The Step Functions endpoint this console talks to" { (self.backend) }
                    }
                    main {
                        h1 { (title) }
                        (body)
                    }
                }
            }
        }
    }
}

/// An execution status, styled by its value.
pub fn status(s: &str) -> Markup {
    html! { span class={ "status " (s.to_ascii_lowercase()) } { (s) } }
}

/// A form for a state-changing request: POST with the anti-CSRF token.
pub fn action(
    path: &str,
    token: &str,
    fields: &[(&str, &str)],
    label: &str,
    class: &str,
) -> Markup {
    html! {
        form.action method="post" action=(path) {
            input type="hidden" name="token" value=(token);
            @for (k, v) in fields {
                input type="hidden" name=(k) value=(v);
            }
            button type="submit" class=(class) { (label) }
        }
    }
}

/// The home page: every state machine, with its recent failures.
pub fn machines(machines: &[(Machine, usize)]) -> Markup {
    html! {
        table.list {
            thead { tr { th { "Name" } th { "Failed (recent)" } th { "ARN" } } }
            tbody {
                @for (m, failed) in machines {
                    tr {
                        td { a href=(executions_url(&m.arn)) { (m.name) } }
                        td {
                            @if *failed > 0 {
                                a href={ "/executions" (query(&[("machine", &m.arn), ("status", "FAILED")])) } { (failed) }
                            } @else { "0" }
                        }
                        td.mono { (m.arn) }
                    }
                }
            }
        }
    }
}

/// The filters of the executions page, as the query string gave them.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// The machine's ARN.
    pub machine: String,
    /// Only this status; empty: any.
    pub status: String,
    /// Only redriven (or never redriven) executions; empty: any.
    pub redrive: String,
    /// Started at or after.
    pub since: String,
    /// Started before.
    pub until: String,
}

/// A machine's executions page: the filters and one row per execution.
pub fn executions(
    machine: &str,
    f: &ListFilter,
    items: &[ExecutionItem],
    truncated: bool,
) -> Markup {
    let statuses = [
        "",
        "RUNNING",
        "SUCCEEDED",
        "FAILED",
        "TIMED_OUT",
        "ABORTED",
        "PENDING_REDRIVE",
    ];
    let redrives = [
        ("", "any"),
        ("REDRIVEN", "redriven"),
        ("NOT_REDRIVEN", "not redriven"),
    ];
    html! {
        p.mono { (machine) }
        form.filters method="get" action="/executions" {
            input type="hidden" name="machine" value=(f.machine);
            label { "Status "
                select name="status" {
                    @for s in statuses {
                        option value=(s) selected[f.status == s] { @if s.is_empty() { "any" } @else { (s) } }
                    }
                }
            }
            label { "Redrive "
                select name="redrive" {
                    @for (v, text) in redrives {
                        option value=(v) selected[f.redrive == v] { (text) }
                    }
                }
            }
            label { "Started since " input type="text" name="since" value=(f.since) placeholder="2h, 7d or 2026-12-01T10:00:00Z"; }
            label { "until " input type="text" name="until" value=(f.until) placeholder="RFC 3339"; }
            button type="submit" { "Filter" }
        }
        p {
            (items.len()) " execution(s)"
            @if truncated { " (the newest only: narrow the filter)" }
            " · "
            a href={ "/redrive-failed" (query(&[("machine", &f.machine), ("since", &f.since), ("until", &f.until)])) } { "Redrive failed executions of this machine…" }
        }
        table.list #executions {
            thead { tr { th { "Name" } th { "Status" } th { "Started" } th { "Stopped" } th { "Redrives" } } }
            tbody {
                @for e in items {
                    tr data-status=(e.status) {
                        td { a href=(execution_url(&e.arn)) { (e.name) } }
                        td { (status(&e.status)) }
                        td { (time(&e.start)) }
                        td { (opt_time(e.stop.as_ref())) }
                        td { (e.redrive_count) }
                    }
                }
            }
        }
    }
}

/// Pretty JSON when the text is JSON; the text as it is otherwise.
pub fn pretty(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_string())
}

/// A JSON document folded under `summary`, pretty-printed when it parses; nothing for none.
pub fn json_block(summary: &str, text: Option<&str>) -> Markup {
    html! {
        @if let Some(t) = text {
            details.json {
                summary { (summary) }
                pre { (pretty(t)) }
            }
        }
    }
}

/// The execution page's facts (status, times, redrives, error) and its actions.
pub fn execution_header(e: &Execution, token: &str) -> Markup {
    html! {
        dl.facts {
            dt { "Status" } dd #status { (status(&e.status)) }
            dt { "Execution" } dd.mono { (e.arn) }
            dt { "Started" } dd { (time(&e.start)) }
            dt { "Stopped" } dd { (opt_time(e.stop.as_ref())) }
            dt { "Redrive count" } dd #redrive-count { (e.redrive_count) }
            @if let Some(d) = &e.redrive_date { dt { "Last redrive" } dd { (time(d)) } }
            @if let Some(s) = &e.redrive_status {
                dt { "Redrive status" }
                dd { (s) @if let Some(r) = &e.redrive_status_reason { " — " (r) } }
            }
        }
        @if e.error.is_some() || e.cause.is_some() {
            details.cause #cause {
                summary { "Error: " strong #error { (e.error.as_deref().unwrap_or("")) } " — show the cause" }
                pre { (pretty(e.cause.as_deref().unwrap_or(""))) }
            }
        }
        div.actions {
            @if e.redrive_status.as_deref() == Some("REDRIVABLE") {
                (action("/redrive", token, &[("arn", &e.arn)], "Redrive this execution", "primary"))
            }
            @if e.status == "RUNNING" {
                (action("/stop", token, &[("arn", &e.arn)], "Stop this execution", "danger"))
            }
        }
    }
}

/// A status message after an action.
pub fn notice(text: &str) -> Markup {
    html! { p.notice role="status" { (text) } }
}

/// The state-machine graph, an SVG from [`crate::graph`].
pub fn graph(svg: &str) -> Markup {
    // The one unescaped piece: crate::graph escapes the labels and restricts attribute values.
    html! { figure.graph-box { (PreEscaped(svg)) } }
}
