//! Reporters: they consume [`RunEvent`](crate::exec::RunEvent)s and summaries, and print or
//! write files. `human` prints plain lines, `progress` draws bars on a terminal, `json`,
//! `junit` and `markdown` write the report files, `schedule` formats the results of the
//! schedule commands.

pub mod human;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod progress;
pub mod schedule;
