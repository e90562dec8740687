//! The only place that names this project's functions, tables and keys: the five handlers and
//! their ports, the four tables keyed by `orderId`, the fixtures and the local parameter values.
//!
//! Everything else in sfn-local is generic over a SAM template and its state machines; the embedded
//! store, the journal and the CLI reach the project's specifics through this module.

pub mod handlers;
pub mod port_faults;
pub mod tables;

use std::path::{Path, PathBuf};

use unpaid_order::memory::{MemoryState, PublishedMessage, SentEmail};
use unpaid_order::Item;

/// The key every table's items carry: what an invocation's payload names, and what the journal
/// and the order index group items by.
pub const ORDER_KEY: &str = "orderId";

/// The order id of an item (its `orderId` key as text).
pub fn order_key(item: &Item) -> Option<&str> {
    item.get(ORDER_KEY).and_then(unpaid_order::Attr::key_text)
}

/// The recorder's binary (record-event): its SQS batches name no orderId, their events do.
pub const RECORDER_BINARY: &str = "record-event";

/// The functions that touch no table (run without a transaction on the embedded store).
pub const TABLELESS_FUNCTIONS: [&str; 1] = ["build-failed-header"];

/// The environment variables naming the functions' own identity on the embedded store: the SNS
/// topic they publish to and the SES sender.
pub const FAILURE_TOPIC_VAR: &str = "FAILURE_TOPIC_ARN";
/// The SES identity notify-failure sends from.
pub const SENDER_EMAIL_VAR: &str = "SENDER_EMAIL";
/// The configuration set the emails name: the embedded mailer's SES events carry it (and without
/// one, SES publishes none).
pub const SES_CONFIGURATION_SET_VAR: &str = "SES_CONFIGURATION_SET";

/// `events/tables/`: what the embedded tables hold before first use.
pub fn fixtures_dir(project_root: &Path) -> PathBuf {
    project_root.join("events").join("tables")
}

/// Values for the template's required parameters that have no default, so that a fresh checkout
/// runs without any flag. They only name things; nothing is sent anywhere.
pub const LOCAL_PARAMETER_DEFAULTS: &[(&str, &str)] = &[
    ("SenderEmail", "payments@example.com"),
    (
        "FailedOrderStreamArn",
        "arn:aws:dynamodb:us-east-1:123456789012:table/payment3-failed-order-dev/stream/2026-11-01T00:00:00.000",
    ),
];

/// What the per-order machine's output says when it skipped a paid order (`pipe`'s report).
pub const ALREADY_PAID: &str = "OrderAlreadyPaid";

/// How many tables the embedded store keeps (orders, checkStatus, processUnpaidOrder, emailLog,
/// orderIndex).
pub const TABLES: usize = 5;

/// The tables of `state`, in the order of [`TABLES`].
pub fn tables(state: &MemoryState) -> [&Vec<Item>; TABLES] {
    [
        &state.orders,
        &state.check_status,
        &state.process_unpaid_order,
        &state.email_log,
        &state.order_index,
    ]
}

/// The tables of `state`, mutable, in the order of [`TABLES`].
pub fn tables_mut(state: &mut MemoryState) -> [&mut Vec<Item>; TABLES] {
    [
        &mut state.orders,
        &mut state.check_status,
        &mut state.process_unpaid_order,
        &mut state.email_log,
        &mut state.order_index,
    ]
}

/// A state of these tables (the outbox left empty).
pub fn from_tables(tables: [Vec<Item>; TABLES]) -> MemoryState {
    let [orders, check_status, process_unpaid_order, email_log, order_index] = tables;
    MemoryState {
        orders,
        check_status,
        process_unpaid_order,
        email_log,
        order_index,
        outbox: Default::default(),
    }
}

/// One journal line: every item of one order after a handler ran (they replace that order's
/// items), and what it added to the outbox. Its fields are the tables, so it is defined here.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JournalEntry {
    pub(crate) order_id: String,
    pub(crate) orders: Vec<Item>,
    pub(crate) check_status: Vec<Item>,
    pub(crate) process_unpaid_order: Vec<Item>,
    pub(crate) email_log: Vec<Item>,
    #[serde(default)]
    pub(crate) order_index: Vec<Item>,
    #[serde(default)]
    pub(crate) sns: Vec<PublishedMessage>,
    #[serde(default)]
    pub(crate) emails: Vec<SentEmail>,
}

/// A journal line's parts: the order, its items per table, and what it sent.
pub(crate) type EntryParts = (
    String,
    [Vec<Item>; TABLES],
    Vec<PublishedMessage>,
    Vec<SentEmail>,
);

impl JournalEntry {
    /// The line for `order_id` whose items are now those of `after` (and what it sent).
    pub(crate) fn of_order(order_id: String, after: MemoryState) -> Self {
        JournalEntry {
            order_id,
            orders: after.orders,
            check_status: after.check_status,
            process_unpaid_order: after.process_unpaid_order,
            email_log: after.email_log,
            order_index: after.order_index,
            sns: after.outbox.sns,
            emails: after.outbox.emails,
        }
    }

    pub(crate) fn into_parts(self) -> EntryParts {
        (
            self.order_id,
            [
                self.orders,
                self.check_status,
                self.process_unpaid_order,
                self.email_log,
                self.order_index,
            ],
            self.sns,
            self.emails,
        )
    }
}
