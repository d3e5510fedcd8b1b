//! Reporters: they consume [`RunEvent`](crate::exec::RunEvent)s and summaries, and print;
//! `schedule` formats the results of the schedule commands.

pub mod human;
pub mod schedule;
