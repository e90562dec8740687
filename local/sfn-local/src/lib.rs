//! The offline runner `sfn-local`: runs the template's real state machines with the real handlers on
//! an embedded, file-backed store (or the real AWS adapters), with the AWS CLI's stepfunctions verbs.
//!
//! Library API: [`Runner::open`] with [`RunnerOptions`], then `start_execution`, `describe_execution`,
//! `get_execution_history`, `list_executions`, `redrive_execution`, `pipe`, `outbox`, `tables`.
//! Where each concern lives (runner, store, functions, project, template, api...): the crate's
//! README, section "Where things are".

pub mod api;
pub mod dlq;
pub mod error;
pub mod evidence;
pub mod functions;
pub mod input_template;
pub mod pipe;
pub mod project;
pub mod runner;
pub mod shapes;
pub mod store;
pub mod stream_pipe;
pub mod stream_record;
pub mod template;

pub use error::RunnerError;
pub use evidence::{DeadLetter, DeliveryReport};
pub use functions::{Fault, FaultTimes};
// Where they were before `project/`: the handlers and the port faults name the project's ports.
pub use project::{handlers, port_faults};
pub use runner::{
    parse_execution_arn, validate_execution_name, FilteredRecord, PipeBatch, PipeReport, Runner,
    RunnerOptions, SeedPlan, SeedReport,
};
pub use store::{cli_date, ExecutionRecord, ExecutionSummary, Store};
pub use template::Template;
