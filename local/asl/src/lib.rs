//! An Amazon States Language interpreter: parses, validates and executes state machines offline,
//! as AWS Step Functions does, with pluggable task dispatch and a virtual clock for tests.
