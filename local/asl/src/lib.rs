//! An Amazon States Language interpreter: parses, validates and executes state machines offline,
//! as AWS Step Functions does, with pluggable task dispatch and a virtual clock for tests.
//!
//! API: [`StateMachine::from_json`] → [`Engine::new`]`(dispatcher, clock)` → [`Engine::run`] /
//! [`Engine::redrive`]; history through [`HistorySink`].

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
mod value;

pub use clock::{Clock, SystemClock, VirtualClock};
pub use definition::{QueryLanguage, State, StateMachine, StateType};
pub use engine::{
    Checkpoint, Engine, Execution, ExecutionContext, ExecutionStatus, TaskDispatcher, TaskFailure,
    TaskRequest, MAX_PAYLOAD_BYTES,
};
pub use error::{DefinitionError, Failure};
pub use history::{HistoryEvent, HistorySink, NoHistory, VecHistory};
