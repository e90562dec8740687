//! The offline runner: executes the real state machines with the real handlers on an embedded store,
//! with the AWS CLI's stepfunctions verbs.
