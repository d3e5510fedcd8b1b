//! Reporters: they consume [`RunEvent`](crate::exec::RunEvent)s and summaries, and print.

pub mod human;
