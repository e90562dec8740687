//! `sfn-console`: the operator console of process-unpaid-order (find an order's executions and
//! its timeline, see where they failed, redrive them one by one or in bulk), through the Step
//! Functions API and the stack's DynamoDB tables (the order index, the email log, the attempt
//! table), so it works the same against `sfn-local serve` and AWS.

pub mod backend;
pub mod bulk;
pub mod calls;
pub mod detail;
pub mod dynamo;
pub mod find;
pub mod graph;
pub mod handlers;
pub mod index;
pub mod marks;
pub mod pages;
pub mod select;
pub mod sfn;
pub mod stack;
pub mod timeline;
pub mod web;
