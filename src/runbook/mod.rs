//! Runbooks: YAML with spans kept, checked into a validated [`Runbook`].

pub mod id;
pub mod model;

pub use id::{RunbookName, StepName};
pub use model::Runbook;
