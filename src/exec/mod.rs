//! Running a plan: the scheduler, one step's lifecycle, the gate, events and reporters.
//!
//! `exec` never talks to the terminal; reporters do, from the events it emits.

pub mod event;
pub mod gate;
pub mod inventory;
pub mod report;
pub mod scheduler;
pub mod step;

pub use event::{RunEvent, SkipReason, StepStatus};
pub use scheduler::{RunConfig, RunSummary, SecretValues, StepSummary, run};
pub use step::{Cancel, PollConfig};
