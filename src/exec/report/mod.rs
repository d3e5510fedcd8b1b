//! Reporters: they consume [`RunEvent`](crate::exec::RunEvent)s and summaries, and print or
//! write files. `human` prints plain lines, `progress` draws bars on a terminal, `json`,
//! `junit` and `markdown` write the report files.

pub mod human;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod progress;
