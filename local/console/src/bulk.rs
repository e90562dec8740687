//! The bulk redrive's pages: the filter, the dry run (what would be redriven, and the confirmation
//! form carrying exactly those ARNs), and the result per execution.

use maud::{html, Markup};

use crate::find::{RedriveResult, MAX_BULK};
use crate::pages::{execution_url, status, time};
use crate::select::Selection;
use crate::sfn::Machine;

/// The filter as the form gave it.
#[derive(Debug, Clone, Default)]
pub struct BulkForm {
    /// Machine name or ARN; empty: every machine.
    pub machine: String,
    /// The errorType to match (e.g. `TransientError`); empty: any.
    pub error: String,
    /// Start of the window: `2h`, `7d` or RFC 3339.
    pub since: String,
    /// End of the window (RFC 3339); empty: now.
    pub until: String,
    /// At most this many executions.
    pub limit: usize,
}

/// The bulk redrive's filter form; it only leads to a dry run.
pub fn filter(machines: &[Machine], f: &BulkForm) -> Markup {
    html! {
        p { "Redrives every FAILED execution that matches, from the state that failed. A dry run lists them first; nothing is redriven until you confirm that list." }
        form.filters #bulk-filter method="get" action="/redrive-failed" {
            input type="hidden" name="dry_run" value="1";
            label { "Machine "
                select name="machine" {
                    option value="" selected[f.machine.is_empty()] { "every machine" }
                    @for m in machines {
                        option value=(m.arn) selected[f.machine == m.arn || f.machine == m.name] { (m.name) }
                    }
                }
            }
            label { "Error type " input type="text" name="error" value=(f.error) placeholder="e.g. TransientError"; }
            label { "Started since " input type="text" name="since" value=(f.since) placeholder="2h, 7d or RFC 3339"; }
            label { "until " input type="text" name="until" value=(f.until) placeholder="RFC 3339"; }
            label { "At most " input type="number" name="limit" min="1" max=(MAX_BULK) value=(f.limit); }
            button type="submit" #dry-run { "Dry run" }
        }
    }
}

/// The dry run: the executions that match, and the confirmation form carrying exactly their ARNs.
pub fn dry_run(selection: &Selection, token: &str, rate: u32) -> Markup {
    html! {
        h2 #dry-run-result { "Dry run: " (selection.executions.len()) " execution(s) would be redriven" }
        p #selected-how { (selection.message()) }
        @if selection.truncated {
            p.notice { "More executions match than the limit: only these are listed (and would be redriven)." }
        }
        table.list #would-redrive {
            thead { tr { th { "Execution" } th { "Status" } th { "Error" } th { "Started" } th { "Redrives" } } }
            tbody {
                @for e in &selection.executions {
                    tr {
                        td { a href=(execution_url(&e.arn)) { (e.name) } }
                        td { (status(&e.status)) }
                        td data-error-from=(e.error_from.unwrap_or("")) {
                            @match (&e.error, e.error_from) {
                                (Some(err), _) => (err),
                                (None, Some(_)) => "",
                                (None, None) => span.unknown { "(not in the index)" },
                            }
                        }
                        td { (time(&e.start)) }
                        td { (e.redrive_count) }
                    }
                }
            }
        }
        @if !selection.executions.is_empty() {
            form.confirm method="post" action="/redrive-failed" {
                input type="hidden" name="token" value=(token);
                @for e in &selection.executions {
                    input type="hidden" name="arn" value=(e.arn);
                }
                label {
                    input type="checkbox" name="confirm" value="yes" required;
                    " Redrive these " (selection.executions.len()) " execution(s), at most " (rate) " a second"
                }
                button type="submit" #confirm-redrive class="primary" { "Redrive them" }
            }
        }
    }
}

/// What each redrive of a confirmed bulk redrive did.
pub fn results(results: &[RedriveResult]) -> Markup {
    let ok = results.iter().filter(|r| r.ok).count();
    html! {
        p #redrive-summary { (ok) " of " (results.len()) " redriven; each runs again from the state that failed." }
        table.list #redrive-results {
            thead { tr { th { "Execution" } th { "Result" } } }
            tbody {
                @for r in results {
                    tr data-ok=(r.ok) {
                        td { a href=(execution_url(&r.execution_arn)) { (r.execution_arn) } }
                        td class=(if r.ok { "ok" } else { "error" }) { (r.message) }
                    }
                }
            }
        }
    }
}
