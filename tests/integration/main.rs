//! The single integration-test binary: every module runs the real `ecs-runbook` binary.

mod cases;
mod corpus;
mod errors;
mod harness;
mod run;
mod signals;
