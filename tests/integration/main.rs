//! The single integration-test binary: every module runs the real `ecs-runbook` binary.

mod cases;
mod cookbook;
mod corpus;
mod crashes;
mod ecosystem;
mod errors;
mod faults;
mod hardening;
mod harness;
mod plan;
mod run;
mod saved;
mod schedule;
mod secrets;
mod signals;
mod templates;
mod validate;
