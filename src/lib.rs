//! ecs-runbook: maintenance runbooks kept in git, reviewed as plans, run on Alibaba Cloud ECS
//! fleets through Cloud Assistant.
//!
//! The pipeline is `runbook::load` → `plan::build` → `exec::run`; `cloud` is the API client,
//! `sandbox` a local Cloud Assistant that speaks the same signed API, `app` the commands.

#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod cloud;
pub mod count;
pub mod error;
pub mod exec;
pub mod plan;
pub mod runbook;
pub mod sandbox;
pub mod schedule;
pub(crate) mod suggest;
