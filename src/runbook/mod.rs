//! Runbooks: YAML with spans kept, checked into a validated [`Runbook`].
//!
//! `yaml` turns text into a span-keeping tree, `raw` decodes its shape, `load` checks it into
//! the `model`; `diagnostic` words every problem and `schema` describes the format once.

pub mod diagnostic;
pub mod id;
pub mod load;
pub mod model;
pub(crate) mod raw;
pub mod schema;
pub mod yaml;

pub use diagnostic::{Diagnostic, Diagnostics, Kind};
pub use id::{RunbookName, StepName};
pub use load::{VarOverrides, hash, load, load_str, load_with};
pub use model::Runbook;
