//! ecs-runbook: maintenance runbooks kept in git, reviewed as plans, run on Alibaba Cloud ECS
//! fleets through Cloud Assistant.
//!
//! The pipeline is `runbook::load` → `plan::build` → `exec::run`; `cloud` is the API client
//! and `sandbox` a local Cloud Assistant that speaks the same signed API.

#![forbid(unsafe_code)]

pub mod cloud;
pub mod runbook;
pub mod schedule;
