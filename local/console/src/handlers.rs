//! The console's routes: each GET reads through the Step Functions API (and DynamoDB: the order
//! index, email log and attempt table) and renders a page; each POST (already past the Origin and
//! token guards) acts and redirects, or shows its results.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::Utc;
use hyper::StatusCode;
use maud::{html, Markup};
use unpaid_order::memory::Outbox;

use crate::backend::{Backend, ConsoleError};
use crate::bulk::{self, BulkForm};
use crate::detail::{self, AttemptView, Links};
use crate::find::{self, MAX_BULK};
use crate::graph;
use crate::marks::state_runs;
use crate::pages::{self, execution_url, Frame, ListFilter};
use crate::select::{self, FailedFilter};
use crate::stack::{BATCH_MACHINE_PREFIX, ORDER_MACHINE_PREFIX};
use crate::timeline::{self, EmailRecords, Evidence};
use crate::web::{Guard, Reply};

/// Most attempts of one order whose history is read for the payment header.
const MAX_ATTEMPT_HISTORIES: usize = 20;
/// Most executions listed on the executions page.
const MAX_ROWS: usize = 1000;

/// The console: its clients, its guards, and what it shows of itself.
pub struct App {
    /// The Step Functions API and DynamoDB (sfn-local or AWS), and the stack.
    pub backend: Backend,
    /// Host, Origin and token checks.
    pub guard: Guard,
    /// E.g. "endpoint http://127.0.0.1:8083" or "AWS eu-west-1" (never a credential).
    pub label: String,
    /// sfn-local's state directory, when offline: its outbox says what was sent.
    pub sfn_local_state: Option<PathBuf>,
    /// Bulk redrives: RedriveExecution calls a second.
    pub rate: u32,
}

type Form = HashMap<String, Vec<String>>;

fn one<'a>(form: &'a Form, key: &str) -> &'a str {
    form.get(key)
        .and_then(|v| v.first())
        .map(|s| s.trim())
        .unwrap_or("")
}

impl App {
    fn frame(&self) -> Frame<'_> {
        Frame {
            backend: &self.label,
        }
    }

    fn page(&self, title: &str, body: Markup) -> Reply {
        Reply::Page(StatusCode::OK, self.frame().page(title, body).into_string())
    }

    fn error(&self, status: StatusCode, title: &str, message: &str) -> Reply {
        Reply::Page(status, message_page(self, title, message))
    }

    fn api_error(&self, e: &ConsoleError) -> Reply {
        let (code, title) = match e {
            ConsoleError::Sfn(e) => (e.code.as_deref(), "The Step Functions API refused"),
            ConsoleError::Dynamo(_) => (None, "DynamoDB refused"),
        };
        let status = match code {
            Some("ExecutionDoesNotExist" | "StateMachineDoesNotExist") => StatusCode::NOT_FOUND,
            Some(c) if c.starts_with("Invalid") || c == "ValidationException" => {
                StatusCode::BAD_REQUEST
            }
            _ => StatusCode::BAD_GATEWAY,
        };
        self.error(status, title, &e.to_string())
    }

    /// The outbox as `sfn-local outbox` prints it: tables.json and its journal, read under the
    /// store's lock (the running `sfn-local serve` keeps writing it).
    async fn read_outbox(&self) -> Result<Option<Outbox>, String> {
        let Some(dir) = self.sfn_local_state.as_ref() else {
            return Ok(None);
        };
        if !dir.join(sfn_local::functions::TABLES_FILE).exists() {
            return Ok(Some(Outbox::default()));
        }
        let store = sfn_local::Store::open(dir).map_err(|e| e.to_string())?;
        // No fixtures: the tables exist, nothing is seeded.
        let tables = sfn_local::functions::EmbeddedFunctions::new(
            store,
            dir.join("no-fixtures"),
            String::new(),
            String::new(),
        );
        let state = tables.snapshot().await.map_err(|e| e.to_string())?;
        Ok(Some(state.outbox))
    }
}

/// A page with one message, for errors and confirmations.
pub fn message_page(app: &App, title: &str, message: &str) -> String {
    app.frame()
        .page(title, html! { p.notice #message { (message) } p { a href="/" { "Back to the state machines" } } })
        .into_string()
}

/// Answers a GET: the pages, which only read.
pub async fn get(app: &App, path: &str, q: &Form) -> Reply {
    let r = match path {
        "/assets/console.css" => return Reply::Css,
        "/" => machines(app).await,
        "/executions" => executions(app, q).await,
        "/execution" => execution(app, one(q, "arn"), one(q, "notice")).await,
        "/order" => order(app, one(q, "id"), one(q, "scan") == "1").await,
        "/redrive-failed" => bulk_filter(app, q).await,
        _ => return app.error(StatusCode::NOT_FOUND, "Not found", "There is no such page."),
    };
    r.unwrap_or_else(|e| app.api_error(&e))
}

/// Answers a POST (already past the Origin and token guards): start, redrive, stop, bulk redrive.
pub async fn post(app: &App, path: &str, form: &Form) -> Reply {
    let r = match path {
        "/start" => start(app, form).await,
        "/redrive" => {
            let arn = one(form, "arn");
            match app.backend.sfn.redrive(arn).await {
                Ok(()) => {
                    tracing::info!(execution = %arn, "redriven from the console");
                    Ok(Reply::Redirect(format!(
                        "{}&notice=redriven",
                        execution_url(arn)
                    )))
                }
                Err(e) => Err(e.into()),
            }
        }
        "/stop" => {
            let arn = one(form, "arn");
            match app.backend.sfn.stop(arn, "stopped from sfn-console").await {
                Ok(()) => {
                    tracing::info!(execution = %arn, "stopped from the console");
                    Ok(Reply::Redirect(format!(
                        "{}&notice=stopped",
                        execution_url(arn)
                    )))
                }
                Err(e) => Err(e.into()),
            }
        }
        "/redrive-failed" => Ok(bulk_redrive(app, form).await),
        _ => {
            return app.error(
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no such action.",
            )
        }
    };
    r.unwrap_or_else(|e| app.api_error(&e))
}

async fn machines(app: &App) -> Result<Reply, ConsoleError> {
    let mut rows = Vec::new();
    for m in app.backend.machines().await? {
        let failed = app
            .backend
            .sfn
            .executions(&m.arn, Some("FAILED"), None, MAX_ROWS)
            .await?
            .len();
        rows.push((m, failed));
    }
    Ok(app.page("State machines", pages::machines(&rows)))
}

async fn executions(app: &App, q: &Form) -> Result<Reply, ConsoleError> {
    let f = ListFilter {
        machine: one(q, "machine").to_string(),
        status: one(q, "status").to_string(),
        redrive: one(q, "redrive").to_string(),
        since: one(q, "since").to_string(),
        until: one(q, "until").to_string(),
    };
    if f.machine.is_empty() {
        return Ok(Reply::Redirect("/".into()));
    }
    let now = Utc::now();
    let parse = |t: &str| {
        (!t.is_empty())
            .then(|| find::parse_since(t, now))
            .transpose()
    };
    let (since, until) = match (parse(&f.since), parse(&f.until)) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(e), _) | (_, Err(e)) => {
            return Ok(app.error(StatusCode::BAD_REQUEST, "Bad time range", &e));
        }
    };
    let redriven = match f.redrive.as_str() {
        "REDRIVEN" => Some(true),
        "NOT_REDRIVEN" => Some(false),
        _ => None,
    };
    let status = (!f.status.is_empty()).then_some(f.status.as_str());
    let listed = app
        .backend
        .sfn
        .executions(&f.machine, status, redriven, MAX_ROWS)
        .await?;
    let truncated = listed.len() == MAX_ROWS;
    let items: Vec<_> = listed
        .into_iter()
        .filter(|e| since.is_none_or(|s| e.start >= s))
        .filter(|e| until.is_none_or(|u| e.start < u))
        .collect();
    let name = f.machine.rsplit(':').next().unwrap_or("").to_string();
    Ok(app.page(
        &format!("Executions of {name}"),
        pages::executions(&f.machine, &f, &items, truncated),
    ))
}

async fn execution(app: &App, arn: &str, notice: &str) -> Result<Reply, ConsoleError> {
    if arn.is_empty() {
        return Ok(Reply::Redirect("/".into()));
    }
    let sfn = &app.backend.sfn;
    let (described, definition, history) =
        tokio::join!(sfn.describe(arn), sfn.definition_for(arn), sfn.history(arn));
    let (e, history) = (described?, history?);
    let definition = graph::parse(&definition?).unwrap_or_default();
    let runs = state_runs(&history);
    let input = e.input_json();
    let mut links = Links {
        order_id: input
            .as_ref()
            .and_then(|i| i.get("orderId"))
            .and_then(|v| v.as_str())
            .map(str::to_string),
        started_by: input
            .as_ref()
            .and_then(find::started_by)
            .map(str::to_string),
        ..Links::default()
    };
    if let Some(batch) = &links.started_by {
        // The batch's own history says which stream record started this execution.
        if let Ok(batch_history) = sfn.history(batch).await {
            links.record = detail::batch_records(&batch_history).into_iter().find(|r| {
                r.child_arn.as_deref() == Some(e.arn.as_str())
                    || r.execution_name.as_deref() == Some(e.name.as_str())
            });
        }
    } else {
        links.children = detail::batch_records(&history);
    }
    let notice = match notice {
        "redriven" => Some("Redrive started: it runs again from the state that failed."),
        "stopped" => Some("Stop requested."),
        "started" => Some("Execution started."),
        _ => None,
    };
    let body = html! {
        @if let Some(n) = notice { (pages::notice(n)) }
        (pages::execution_header(&e, &app.guard.token))
        (detail::links(&links))
        h2 { "Graph" }
        p.legend {
            span.mark.succeeded { "succeeded" } " " span.mark.failed { "failed" } " "
            span.mark.caught { "caught" } " " span.mark.running { "running" } " "
            span.mark.not-reached { "not reached" }
        }
        (pages::graph(&graph::svg(&definition, &runs)))
        h2 { "States" }
        (detail::states(&definition, &runs))
        h2 { "Input and output" }
        (pages::json_block("execution input", e.input.as_deref()))
        (pages::json_block("execution output", e.output.as_deref()))
        h2 { "Events" }
        (detail::events(&history))
    };
    Ok(app.page(&e.name, body))
}

async fn order(app: &App, id: &str, scan: bool) -> Result<Reply, ConsoleError> {
    if id.is_empty() {
        return Ok(Reply::Redirect("/".into()));
    }
    let sfn = &app.backend.sfn;
    let machines = app.backend.machines().await?;
    let (found, entries) = crate::index::find_order(&app.backend, id, scan).await?;
    let records = app.backend.records().await?;
    let per_order = |a: &find::Attempt| {
        a.execution
            .input_json()
            .is_some_and(|v| v.get("orderId").is_some())
    };
    // Histories of the per-order executions (the header written, the redrives), bounded.
    let mut histories = HashMap::new();
    for a in found
        .executions
        .iter()
        .filter(|a| per_order(a) && !a.gone)
        .take(MAX_ATTEMPT_HISTORIES)
    {
        histories.insert(
            a.execution.arn.clone(),
            sfn.history(&a.execution.arn).await?,
        );
    }
    let mut views = Vec::new();
    for a in &found.executions {
        let header = if !per_order(a) {
            None
        } else {
            let events = histories
                .get(&a.execution.arn)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            detail::written_header(a.execution.output_json().as_ref(), events)
        };
        views.push(AttemptView {
            attempt: a.clone(),
            header,
        });
    }
    // The email log's records of each attempt (the attempt id is the per-order execution's name).
    let mut emails: HashMap<String, EmailRecords> = HashMap::new();
    if records.tables.email_log.is_some() {
        for a in found.executions.iter().filter(|a| per_order(a) || a.gone) {
            let name = &a.execution.name;
            if emails.contains_key(name) {
                continue;
            }
            let sns = records.email_record(&format!("{id}#{name}#sns")).await?;
            let email = records.email_record(&format!("{id}#{name}#email")).await?;
            emails.insert(name.clone(), EmailRecords { sns, email });
        }
    }
    let attempt_records = records.attempt_records(id).await?;
    let entries_built = timeline::build(&Evidence {
        order_id: id,
        executions: &found.executions,
        entries: &entries,
        histories: &histories,
        emails: &emails,
        attempts: attempt_records.as_deref(),
    });
    let mut missing = Vec::new();
    if records.tables.email_log.is_none() {
        missing.push("No email log configured (--branch or --email-log-table): the SNS message, the email and SES's events about it are not shown.".to_string());
    }
    if attempt_records.is_none() {
        missing.push("No attempt table configured (--branch or --attempt-table): the attempt records are not shown.".to_string());
    }
    let timeline = timeline::render(
        &entries_built,
        &missing,
        timeline::customer_never_heard(&emails),
    );
    // The machine a new attempt runs on: the one this order's per-order attempts ran on.
    let default_machine = views
        .iter()
        .find(|v| per_order(&v.attempt))
        .map(|v| v.attempt.execution.machine_arn.clone())
        .unwrap_or_default();
    // A new attempt for one order runs on the per-order machine (the operator's policy lets it
    // start nothing else); without a known stack, any machine.
    let stack = app.backend.stack().await?;
    let startable: Vec<_> = machines
        .iter()
        .filter(|m| {
            stack.branch.is_none()
                || (m.name.starts_with(ORDER_MACHINE_PREFIX)
                    && !m.name.starts_with(BATCH_MACHINE_PREFIX))
        })
        .collect();
    let start_form = html! {
        form.action #start-form method="post" action="/start" {
            input type="hidden" name="token" value=(app.guard.token);
            input type="hidden" name="order_id" value=(id);
            label { "Machine "
                select name="machine" {
                    @for m in &startable {
                        option value=(m.arn) selected[m.arn == default_machine] { (m.name) }
                    }
                }
            }
            " with input " code { "{\"orderId\": …}" } " and a new execution name "
            button type="submit" #start-attempt { "Start an execution for this order" }
        }
    };
    let outbox = match app.read_outbox().await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the sfn-local outbox");
            None
        }
    };
    Ok(app.page(
        &format!("Order {id}"),
        detail::order(
            id,
            &views,
            &found.searched,
            timeline,
            outbox.as_ref(),
            start_form,
        ),
    ))
}

async fn start(app: &App, form: &Form) -> Result<Reply, ConsoleError> {
    let (machine, order_id) = (one(form, "machine"), one(form, "order_id"));
    if order_id.is_empty() || machine.is_empty() {
        return Ok(app.error(
            StatusCode::BAD_REQUEST,
            "Nothing to start",
            "An order id and a machine are needed.",
        ));
    }
    let name = find::attempt_name(order_id, Utc::now());
    let input = serde_json::json!({ "orderId": order_id }).to_string();
    let arn = app.backend.sfn.start(machine, &name, &input).await?;
    tracing::info!(execution = %name, "started from the console");
    Ok(Reply::Redirect(format!(
        "{}&notice=started",
        execution_url(&arn)
    )))
}

async fn bulk_filter(app: &App, q: &Form) -> Result<Reply, ConsoleError> {
    let f = BulkForm {
        machine: one(q, "machine").to_string(),
        error: one(q, "error").to_string(),
        since: one(q, "since").to_string(),
        until: one(q, "until").to_string(),
        limit: one(q, "limit").parse().unwrap_or(100).clamp(1, MAX_BULK),
    };
    let machines = app.backend.machines().await?;
    let mut body = vec![bulk::filter(&machines, &f)];
    if one(q, "dry_run") == "1" {
        let now = Utc::now();
        let parse = |t: &str| {
            (!t.is_empty())
                .then(|| find::parse_since(t, now))
                .transpose()
        };
        let (since, until) = match (parse(&f.since), parse(&f.until)) {
            (Ok(s), Ok(u)) => (s, u),
            (Err(e), _) | (_, Err(e)) => {
                return Ok(app.error(StatusCode::BAD_REQUEST, "Bad time range", &e));
            }
        };
        let filter = FailedFilter {
            machines: if f.machine.is_empty() {
                vec![]
            } else {
                vec![f.machine.clone()]
            },
            error: (!f.error.is_empty()).then(|| f.error.clone()),
            since,
            until,
            limit: f.limit,
        };
        let selection = select::select_failed(&app.backend, &filter).await?;
        body.push(bulk::dry_run(&selection, &app.guard.token, app.rate));
    }
    Ok(app.page(
        "Redrive failed executions",
        html! { @for b in body { (b) } },
    ))
}

async fn bulk_redrive(app: &App, form: &Form) -> Reply {
    if one(form, "confirm") != "yes" {
        return app.error(
            StatusCode::BAD_REQUEST,
            "Not confirmed",
            "Tick the confirmation box under the dry run's list to redrive it.",
        );
    }
    let arns: Vec<String> = form.get("arn").cloned().unwrap_or_default();
    if arns.len() > MAX_BULK {
        return app.error(
            StatusCode::BAD_REQUEST,
            "Too many",
            &format!("A bulk redrive takes at most {MAX_BULK} executions."),
        );
    }
    let results = find::redrive_each(&app.backend.sfn, &arns, app.rate).await;
    app.page("Bulk redrive: results", bulk::results(&results))
}
