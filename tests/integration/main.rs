//! The single integration-test binary: every module runs the real `ecs-runbook` binary.

mod cases;
mod corpus;
mod ecosystem;
mod errors;
mod hardening;
mod harness;
mod plan;
mod run;
mod saved;
mod scale;
mod schedule;
mod signals;
mod templates;
mod validate;
