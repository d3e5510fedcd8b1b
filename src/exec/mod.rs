//! Running a plan: the scheduler, one step's lifecycle, the gate, preflight, events, the
//! journal and reporters; and `timed`, the Timed invocations of scheduled runbooks.
//!
//! `exec` never talks to the terminal; reporters do, from the events it emits.

pub mod event;
pub mod gate;
pub mod inventory;
pub mod journal;
pub(crate) mod mask;
pub mod preflight;
pub mod report;
pub mod scheduler;
pub mod sequencer;
pub mod step;
pub mod timed;

pub use event::{Cancel, RunEvent, RunSettings, SkipReason, StepStatus};
pub use scheduler::{
    Resume, RunConfig, RunInput, RunOutputs, RunSummary, SecretValues, StepSummary, run,
};
pub use step::PollConfig;
