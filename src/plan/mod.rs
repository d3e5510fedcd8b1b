//! Plans: the DAG order, rendered scripts, resolved targets and the exact API calls of a run.

pub mod graph;
