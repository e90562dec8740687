//! An Amazon States Language interpreter: parses, validates and executes state machines offline,
//! as AWS Step Functions does, with pluggable task dispatch and a virtual clock for tests.
//!
//! Layers, bottom up: [`error`], [`causes`] (every run-time cause) and the JSON helpers; the
//! expression languages ([`path`] JSONPath, [`intrinsics`], [`jsonata`]); payload [`template`]s
//! and [`choice`] rules, compiled at load; the [`definition`] ([`StateMachine::from_json`]):
//! validated states whose fields are compiled in their query language; the [`engine`] that
//! runs it, by concern (data flow, retry/catch, task, map, parallel, wait); on top, AWS's
//! [`test_state`] (TestState) and [`validate`] (ValidateStateMachineDefinition).
//!
//! Load → run, with a [`TaskDispatcher`] for Task states and a [`Clock`]:
//!
//! ```
//! use std::sync::Arc;
//! use asl::{Engine, ExecutionContext, ExecutionStatus, NoHistory, StateMachine, TaskDispatcher,
//!     TaskFailure, TaskRequest, VirtualClock};
//! use serde_json::{json, Value};
//!
//! /// Every task returns its parameters.
//! struct Echo;
//! #[async_trait::async_trait]
//! impl TaskDispatcher for Echo {
//!     async fn invoke(&self, req: TaskRequest) -> Result<Value, TaskFailure> {
//!         Ok(req.parameters)
//!     }
//! }
//!
//! let machine = StateMachine::from_json(r#"{
//!     "StartAt": "Charge",
//!     "States": {
//!         "Charge": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:charge",
//!                    "Parameters": {"order.$": "$.orderId"}, "ResultPath": "$.charged", "End": true}
//!     }
//! }"#)?;
//! let start = chrono::DateTime::UNIX_EPOCH;
//! let clock = Arc::new(VirtualClock::new(start));
//! let engine = Engine::new(Arc::new(Echo), clock);
//! let ctx = ExecutionContext::new("run-1", "machine", start);
//! let run = engine.run(&machine, json!({"orderId": "o-1"}), ctx, &NoHistory);
//! let execution = tokio::runtime::Builder::new_current_thread().build()?.block_on(run);
//! assert_eq!(execution.status, ExecutionStatus::Succeeded);
//! assert_eq!(execution.output, Some(json!({"orderId": "o-1", "charged": {"order": "o-1"}})));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A failed execution's [`Execution::checkpoint`] goes to [`Engine::redrive`]; history goes to a
//! [`HistorySink`] ([`VecHistory`] keeps it, [`NoHistory`] discards it).

pub mod causes;
pub mod choice;
pub mod clock;
pub mod definition;
pub mod engine;
pub mod error;
pub mod history;
pub mod intrinsics;
pub mod jsonata;
pub mod path;
pub mod template;
pub mod test_state;
pub mod validate;
mod value;

pub use clock::{Clock, SystemClock, VirtualClock};
pub use definition::{QueryLanguage, State, StateMachine, StateType};
pub use engine::{
    Checkpoint, Engine, Execution, ExecutionContext, ExecutionStatus, StateConfiguration,
    TaskContext, TaskDispatcher, TaskFailure, TaskRequest, MAX_PAYLOAD_BYTES,
};
pub use error::{DefinitionError, Failure};
pub use history::{HistoryEvent, HistorySink, NoHistory, VecHistory};
