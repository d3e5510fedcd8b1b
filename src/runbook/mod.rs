//! Runbooks: YAML with spans kept, checked into a validated [`Runbook`].

pub mod diagnostic;
pub mod id;
pub mod model;
pub(crate) mod suggest;
pub mod yaml;

pub use diagnostic::{Diagnostic, Diagnostics, Kind};
pub use id::{RunbookName, StepName};
pub use model::Runbook;
