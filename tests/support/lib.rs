//! Workspace-level tests: workflows over the real state machines, the AWS CLI against the offline
//! API, and the reliability suite.
