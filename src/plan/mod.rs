//! Plans: the DAG order, rendered scripts, resolved targets and the exact API calls of a run.

pub mod build;
pub mod calls;
pub mod display;
pub mod graph;
pub mod guard;
pub mod inventory;
pub mod model;
pub mod render;
pub mod schedule;
pub mod templates;

pub use build::{BuildOptions, build};
pub use inventory::Inventory;
pub use model::Plan;
