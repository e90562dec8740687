//! `sfn-console`: the operator console of process-unpaid-order (find an order's executions, see
//! where they failed, redrive them one by one or in bulk), reading and acting only through the
//! Step Functions API, so it works the same against `sfn-local serve` and AWS.

pub mod bulk;
pub mod detail;
pub mod find;
pub mod graph;
pub mod handlers;
pub mod marks;
pub mod pages;
pub mod sfn;
pub mod web;
