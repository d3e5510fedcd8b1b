//! The single integration-test binary: every module runs the real `ecs-runbook` binary.

mod corpus;
mod ecosystem;
mod errors;
mod hardening;
mod harness;
mod run;
