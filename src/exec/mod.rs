//! Running a plan: the scheduler, one step's lifecycle, the gate, events and reporters; and
//! `timed`, the Timed invocations of scheduled runbooks.
//!
//! `exec` never talks to the terminal; reporters do, from the events it emits.

pub mod event;
pub mod gate;
pub mod inventory;
pub mod report;
pub mod scheduler;
pub mod step;
pub mod timed;

pub use event::{RunEvent, SkipReason, StepStatus};
pub use scheduler::{RunConfig, RunSummary, SecretValues, StepSummary, run};
pub use step::{Cancel, PollConfig};
