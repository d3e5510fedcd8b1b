//! The single integration-test binary: every module runs the real `ecs-runbook` binary.

mod corpus;
mod ecosystem;
mod errors;
mod harness;
mod plan;
mod run;
mod schedule;
mod saved;
mod templates;
mod validate;
