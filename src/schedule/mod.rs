//! Cloud Assistant `Frequency` expressions: parsing and checking them as Cloud Assistant does
//! ([`parse`], [`check`], [`validate`]) and previewing their fire times across zones and DST changes
//! ([`preview()`]).
//!
//! Everything here is synchronous and pure: no I/O, no clock (callers pass "now"). Sending the
//! expression, verbatim, is the cloud client's job.

mod cron;
mod error;
mod frequency;
mod instant;
mod preview;
mod wall_clock;
mod zone;

pub use cron::CronExpr;
pub use error::{ExpressionDiagnostic, FrequencyError, FrequencyErrorKind};
pub use frequency::{
    Frequency, FrequencyKind, MAX_RATE, MIN_CRON_INTERVAL, MIN_RATE, check, parse, validate,
};
pub use instant::parse_time;
pub use preview::{FireTime, MAX_PREVIEW, Preview, PreviewOptions, preview, render_text};
pub use zone::{Zone, parse_zone};
