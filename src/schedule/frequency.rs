//! [`Frequency`]: a Cloud Assistant `Frequency` expression, parsed and kept verbatim, and the
//! checks that depend on the step's timeout and on "now" ([`validate`]).
//!
//! This module reads `rate(..)` and `at(..)` itself and hands cron expressions to `cron`. It
//! never rewrites the text: what goes to the API is exactly what the user wrote
//! ([`Frequency::as_str`]). Fire times are `preview`'s business.

use std::fmt::{self, Write as _};
use std::ops::Range;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};

use crate::schedule::cron::{CronExpr, FIRST_YEAR, LAST_YEAR, aws_cron_error, parse_cron};
use crate::schedule::error::{FrequencyError, FrequencyErrorKind, replaced};
use crate::schedule::preview::{Horizon, cron_fire_times};
use crate::schedule::zone::{LocalTime, Zone, parse_zone};

/// The shortest `rate(..)` interval.
pub const MIN_RATE: Duration = Duration::from_mins(1);
/// The longest `rate(..)` interval.
pub const MAX_RATE: Duration = Duration::from_hours(7 * 24);
/// The shortest gap between two runs of a cron schedule.
pub const MIN_CRON_INTERVAL: Duration = Duration::from_secs(10);

/// How many upcoming cron runs [`validate`] examines for the smallest gap.
const GAP_RUNS: usize = 1000;
/// How far ahead [`validate`] looks for the smallest gap between cron runs.
const GAP_DAYS: i64 = 400;

/// A parsed Frequency expression.
#[derive(Debug, Clone)]
pub struct Frequency {
    /// The expression exactly as written; this is what the API gets.
    text: String,
    kind: FrequencyKind,
    zone: Option<Zone>,
    /// Byte range of the part the limits are about: the interval, the time, the cron fields.
    value_span: Range<usize>,
    /// Remarks that do not make the expression invalid.
    notes: Vec<String>,
}

/// The three forms of a Frequency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrequencyKind {
    /// `rate(5m)`: every interval from the task's creation, first run one interval after it.
    Rate(Duration),
    /// `at(2025-06-01 03:00:00 Asia/Shanghai)`: once, at this instant.
    At(DateTime<Utc>),
    /// A cron expression with seconds, optional year and optional zone.
    Cron(Box<CronExpr>),
}

impl Frequency {
    /// The expression exactly as written, for the API.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Which form it is, with its parsed value.
    pub fn kind(&self) -> &FrequencyKind {
        &self.kind
    }

    /// The zone written in the expression (`at` and cron only).
    pub fn zone(&self) -> Option<&Zone> {
        self.zone.as_ref()
    }

    /// Remarks that do not make the expression invalid: a non-canonical `rate` spelling, what
    /// numeric weekdays mean, an inverted `Etc/GMT` sign.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The expression with `zone` written into it, for a cron or `at(..)` expression that
    /// names none: `0 0 3 ? * SUN` in `Asia/Shanghai` is `0 0 3 ? * SUN Asia/Shanghai`, and
    /// `at(2025-06-01 03:00:00)` is `at(2025-06-01 03:00:00 Asia/Shanghai)`. `None` for
    /// `rate(..)`, which has no zone, and for an expression that already names one.
    pub fn in_zone(&self, zone: &Zone) -> Option<String> {
        if self.zone.is_some() {
            return None;
        }
        match self.kind {
            FrequencyKind::Rate(_) => None,
            // `parse` accepts `at(..)` only in its exact spelling, which ends in `)`.
            FrequencyKind::At(_) => Some(format!("{} {zone})", &self.text[..self.text.len() - 1])),
            FrequencyKind::Cron(_) => Some(format!("{} {zone}", self.text.trim_end())),
        }
    }
}

impl fmt::Display for Frequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Parses a Frequency expression the way Cloud Assistant reads it.
///
/// The form is chosen by prefix: `rate`, `at(`, otherwise cron. Foreign dialects (crontab,
/// `@daily`, AWS `cron(..)` and `rate(5 minutes)`) are refused with the Cloud Assistant
/// spelling. Limits that depend on the timeout or the clock are left to [`validate`].
pub fn parse(expr: &str) -> Result<Frequency, FrequencyError> {
    let start = expr.len() - expr.trim_start().len();
    let lower = expr.trim().to_ascii_lowercase();
    let mut freq = if lower.starts_with("rate") {
        parse_rate(expr)?
    } else if lower.starts_with("at(") || lower.starts_with("at (") {
        parse_at(expr)?
    } else if lower.starts_with("cron(") {
        return Err(aws_cron_error(expr, start));
    } else {
        let parsed = parse_cron(expr)?;
        Frequency {
            text: expr.to_owned(),
            value_span: parsed.expr.span.clone(),
            zone: parsed.zone.map(|(zone, _)| zone),
            kind: FrequencyKind::Cron(Box::new(parsed.expr)),
            notes: parsed.notes,
        }
    };
    if let Some(zone) = &freq.zone {
        let name = zone.name();
        if let Some(sign) = name
            .strip_prefix("Etc/GMT")
            .and_then(|rest| rest.chars().next())
            && (sign == '+' || sign == '-')
            && !name[8..].chars().all(|c| c == '0')
        {
            let flipped = if sign == '+' { '-' } else { '+' };
            freq.notes.push(format!(
                "`{name}` is UTC{flipped}{}: POSIX-style `Etc/GMT` names invert the sign; for UTC{sign}{} write `GMT{sign}{}:00`",
                &name[8..],
                &name[8..],
                &name[8..]
            ));
        }
    }
    Ok(freq)
}

/// The agent's `rate` grammar, `(?i)^rate\s*\((\d+)\s*([smhd])\)$`: the spans of the number
/// and the unit, when `expr` matches exactly.
fn agent_rate(expr: &str) -> Option<(Range<usize>, Range<usize>)> {
    let b = expr.as_bytes();
    if b.len() < 4 || !b[..4].eq_ignore_ascii_case(b"rate") {
        return None;
    }
    let skip_ws = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let mut i = skip_ws(4);
    if b.get(i) != Some(&b'(') {
        return None;
    }
    i += 1;
    let number_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let number = number_start..i;
    if number.is_empty() {
        return None;
    }
    i = skip_ws(i);
    let unit = i..i + 1;
    if !matches!(
        b.get(i).map(u8::to_ascii_lowercase),
        Some(b's' | b'm' | b'h' | b'd')
    ) {
        return None;
    }
    (b.get(i + 1) == Some(&b')') && i + 2 == b.len()).then_some((number, unit))
}

/// Seconds per unit letter.
fn unit_seconds(unit: &str) -> Option<u64> {
    match unit.to_ascii_lowercase().as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => Some(1),
        "m" | "min" | "mins" | "minute" | "minutes" => Some(60),
        "h" | "hr" | "hrs" | "hour" | "hours" => Some(3600),
        "d" | "day" | "days" => Some(86_400),
        "w" | "week" | "weeks" => Some(7 * 86_400),
        _ => None,
    }
}

/// `rate(5m)`, and the near misses with their fixes.
fn parse_rate(expr: &str) -> Result<Frequency, FrequencyError> {
    let syntax = |span: Range<usize>, message: String, help: String| {
        FrequencyError::new(FrequencyErrorKind::Syntax, expr, span, message, help)
    };
    if let Some((number, unit)) = agent_rate(expr) {
        let n: u64 = expr[number.clone()].parse().map_err(|_| {
            syntax(
                number.clone(),
                format!("the interval `{}` is too large", &expr[number.clone()]),
                "write at most `rate(7d)`".to_owned(),
            )
        })?;
        if n == 0 {
            return Err(syntax(
                number.start..unit.end,
                "the interval of `rate(..)` must be greater than zero".to_owned(),
                "write e.g. `rate(5m)`".to_owned(),
            ));
        }
        let seconds = n
            .checked_mul(unit_seconds(&expr[unit.clone()]).expect("the grammar allows s, m, h, d"))
            .ok_or_else(|| {
                syntax(
                    number.start..unit.end,
                    format!(
                        "the interval `{}` is too large",
                        &expr[number.start..unit.end]
                    ),
                    "write at most `rate(7d)`".to_owned(),
                )
            })?;
        let canonical = format!("rate({n}{})", expr[unit.clone()].to_ascii_lowercase());
        let mut notes = Vec::new();
        if canonical != expr {
            notes.push(format!(
                "`{expr}` is read by the agent, but write `{canonical}`: the service tells the forms apart by prefix and documents only the lower-case `rate(..)` spelling"
            ));
        }
        return Ok(Frequency {
            text: expr.to_owned(),
            kind: FrequencyKind::Rate(Duration::from_secs(seconds)),
            zone: None,
            value_span: number.start..unit.end,
            notes,
        });
    }
    Err(rate_error(expr))
}

/// Why `expr` is not the agent's `rate` grammar, with the spelling that was probably meant.
fn rate_error(expr: &str) -> FrequencyError {
    let whole = 0..expr.len();
    let syntax = |span: Range<usize>, message: String, help: String| {
        FrequencyError::new(FrequencyErrorKind::Syntax, expr, span, message, help)
    };
    let trimmed = expr.trim();
    let offset = expr.len() - expr.trim_start().len();
    let open = trimmed.find('(');
    let close = trimmed.rfind(')');
    let Some(open) = open else {
        return syntax(
            whole,
            format!("`{trimmed}` needs its interval in parentheses"),
            "write e.g. `rate(5m)` (units `s`, `m`, `h`, `d`)".to_owned(),
        );
    };
    let inner_end = close.filter(|&c| c > open).unwrap_or(trimmed.len());
    let inner = &trimmed[open + 1..inner_end];
    let inner_span = offset + open + 1..offset + inner_end;
    let trailing = close.map_or("", |c| &trimmed[c + 1..]);
    let body = inner.trim();
    let digits_end = body
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(body.len());
    let (number, unit) = (&body[..digits_end], body[digits_end..].trim());
    let fix = match (number.parse::<u64>(), unit_seconds(unit)) {
        (Ok(n), Some(secs)) if n > 0 => n.checked_mul(secs).map(canonical_rate),
        _ => match (number.parse::<f64>(), unit_seconds(unit)) {
            (Ok(x), Some(secs)) if x > 0.0 => whole_seconds(x, secs).map(canonical_rate),
            _ => None,
        },
    };
    let help = match &fix {
        Some(fix) => format!("write `{fix}`"),
        None => "write e.g. `rate(5m)`: a whole number and one of the units `s`, `m`, `h`, `d`"
            .to_owned(),
    };
    let message = if close.is_none_or(|c| c < open) {
        format!("`{trimmed}` is missing its closing `)`")
    } else if !trailing.is_empty() {
        format!("unexpected `{trailing}` after `rate(..)`")
    } else if trimmed != expr {
        format!("`rate(..)` must not have spaces around it (`{expr}`)")
    } else if body.is_empty() {
        "`rate()` needs an interval".to_owned()
    } else if inner != body {
        format!("`rate({inner})` has spaces inside the parentheses, which the agent refuses")
    } else if number.is_empty() {
        format!("the interval `{body}` of `rate(..)` has no number")
    } else if number.contains('.') {
        format!("the interval `{body}` of `rate(..)` must be a whole number")
    } else if unit.is_empty() {
        format!("the interval `{body}` of `rate(..)` has no unit")
    } else if unit_seconds(unit).is_some() {
        format!("`{unit}` is not a unit of `rate(..)`, which takes `s`, `m`, `h` and `d`")
    } else {
        format!("unknown unit `{unit}` in `rate(..)`")
    };
    let span = if inner_span.is_empty() {
        whole
    } else {
        inner_span
    };
    let mut error = syntax(span, message, help);
    if let Some(fix) = fix {
        error = error.with_replacement(fix);
        error.span = 0..expr.len();
        expr.clone_into(&mut error.token);
    }
    error
}

/// `rate(..)` in the largest unit that divides `seconds`.
fn canonical_rate(seconds: u64) -> String {
    let (n, unit) = if seconds.is_multiple_of(86_400) {
        (seconds / 86_400, 'd')
    } else if seconds.is_multiple_of(3600) {
        (seconds / 3600, 'h')
    } else if seconds.is_multiple_of(60) {
        (seconds / 60, 'm')
    } else {
        (seconds, 's')
    };
    format!("rate({n}{unit})")
}

/// `x` units of `secs` seconds as whole seconds, when that is whole (`1.5h` → 5400).
fn whole_seconds(x: f64, secs: u64) -> Option<u64> {
    let total = x * f64::from(u32::try_from(secs).ok()?);
    let rounded = total.round();
    ((total - rounded).abs() < 1e-6 && (1.0..1e12).contains(&rounded))
        .then(|| format!("{rounded:.0}").parse().ok())
        .flatten()
}

/// What a lenient reading of the inside of `at(..)` found.
struct AtParts {
    /// The date.
    date: NaiveDate,
    /// The time.
    time: NaiveTime,
    /// The zone text and its byte offset inside the parentheses (`None` when it was derived
    /// from an ISO offset glued to the time).
    zone: Option<(String, Option<usize>)>,
    /// Why the text is not canonical, when that was seen while reading.
    reason: Option<String>,
}

/// Reads `yyyy-MM-dd[ T]HH:mm[:ss][Z|±hh:mm] [zone]` from the inside of `at(..)`; on failure
/// returns the message.
fn read_at(inner: &str) -> Result<AtParts, String> {
    let mut words: Vec<(usize, &str)> = Vec::new();
    let mut at = 0;
    for word in inner.split_whitespace() {
        let pos = inner[at..].find(word).map_or(at, |p| at + p);
        words.push((pos, word));
        at = pos + word.len();
    }
    let Some(((_, first), rest)) = words.split_first() else {
        return Err("`at()` needs a date and a time".to_owned());
    };
    let (date_word, time_word, rest) = match first.split_once(['T', 't']) {
        Some((date, time)) => (date, Some(time), rest),
        None => match rest.split_first() {
            Some(((_, time), rest)) => (*first, Some(*time), rest),
            None => (*first, None, rest),
        },
    };
    let mut zone = rest
        .first()
        .map(|(pos, word)| ((*word).to_owned(), Some(*pos)));
    let mut reason = None;
    let mut time_word = time_word.unwrap_or_default();
    if let Some(i) = time_word.find(['Z', 'z', '+', '-']) {
        let suffix = &time_word[i..];
        let derived = match suffix {
            "Z" | "z" => Some("UTC".to_owned()),
            _ => {
                let gmt = format!("GMT{suffix}");
                match parse_zone(&gmt) {
                    Ok(_) => Some(gmt),
                    Err(e) => e.replacement,
                }
            }
        };
        let message =
            format!("`at(..)` takes a zone name after the time, not the offset `{suffix}`");
        let Some(derived) = derived else {
            return Err(message);
        };
        reason = Some(message);
        zone.get_or_insert((derived, None));
        time_word = &time_word[..i];
    }
    let date = NaiveDate::parse_from_str(date_word, "%Y-%m-%d")
        .ok()
        .filter(|_| date_word.len() == 10)
        .ok_or_else(|| format!("`{date_word}` is not a date `yyyy-MM-dd`"))?;
    let time = match time_word.len() {
        8 => NaiveTime::parse_from_str(time_word, "%H:%M:%S").ok(),
        5 => NaiveTime::parse_from_str(time_word, "%H:%M").ok(),
        _ => None,
    }
    .ok_or_else(|| format!("`{time_word}` is not a time `HH:mm:ss`"))?;
    if time_word.len() == 5 {
        reason.get_or_insert_with(|| "the time of `at(..)` needs seconds, `HH:mm:ss`".to_owned());
    }
    if first.contains(['T', 't']) {
        reason.get_or_insert_with(|| {
            "`at(..)` separates the date and the time with a space, not `T`".to_owned()
        });
    }
    Ok(AtParts {
        date,
        time,
        zone,
        reason,
    })
}

/// `at(yyyy-MM-dd HH:mm:ss [zone])`, written exactly so; near misses get the exact spelling.
fn parse_at(expr: &str) -> Result<Frequency, FrequencyError> {
    let trimmed = expr.trim();
    let offset = expr.len() - expr.trim_start().len();
    let open = trimmed.find('(').expect("the prefix has a `(`");
    let close = trimmed.rfind(')').filter(|&c| c > open);
    let inner = &trimmed[open + 1..close.unwrap_or(trimmed.len())];
    let inner_start = offset + open + 1;
    let inner_span = inner_start..inner_start + inner.len();
    let parts = read_at(inner).map_err(|message| {
        FrequencyError::new(
            FrequencyErrorKind::Syntax,
            expr,
            inner_span.clone(),
            message,
            "write e.g. `at(2025-06-01 03:00:00 Asia/Shanghai)`",
        )
    })?;
    let local = NaiveDateTime::new(parts.date, parts.time);
    let shown = local.format("%Y-%m-%d %H:%M:%S");
    let zone_ok = parts
        .zone
        .as_ref()
        .is_none_or(|(z, _)| parse_zone(z).is_ok());
    let canonical = match &parts.zone {
        Some((z, _)) => format!("at({shown} {z})"),
        None => format!("at({shown})"),
    };
    // A refused zone gets its own error below; the rest of the spelling is fixed here.
    if canonical != expr && zone_ok {
        let message = parts.reason.unwrap_or_else(|| {
            if !trimmed.starts_with("at(") {
                "`at(..)` is written in lower case with no space before `(`".to_owned()
            } else if close.is_none() {
                format!("`{trimmed}` is missing its closing `)`")
            } else if trimmed != expr {
                format!("`at(..)` must not have spaces around it (`{expr}`)")
            } else {
                "`at(..)` is written `at(yyyy-MM-dd HH:mm:ss [zone])` with single spaces".to_owned()
            }
        });
        let help = format!("write `{canonical}`");
        return Err(FrequencyError::new(
            FrequencyErrorKind::Syntax,
            expr,
            0..expr.len(),
            message,
            help,
        )
        .with_replacement(canonical));
    }
    let time_span = inner_start..inner_start + 19;
    let zone = match parts.zone {
        Some((text, pos)) => {
            let start = inner_start + pos.unwrap_or(0);
            let zone = parse_zone(&text).map_err(|e| {
                let e = e.shifted(start);
                match e.replacement.clone() {
                    Some(fix) => {
                        let help = format!("{} (`{}`)", e.help, replaced(expr, &e.span, &fix));
                        FrequencyError { help, ..e }
                    }
                    None => e,
                }
            })?;
            Some(zone)
        }
        None => None,
    };
    let instant = at_instant(expr, zone.as_ref(), local, time_span.clone())?;
    let mut notes = Vec::new();
    if zone.is_none() {
        notes.push(format!(
            "`{expr}` names no time zone, so Cloud Assistant reads it as UTC"
        ));
    }
    Ok(Frequency {
        text: expr.to_owned(),
        kind: FrequencyKind::At(instant),
        zone,
        value_span: time_span,
        notes,
    })
}

/// The instant of an `at(..)` local time; refused when a DST change skips or repeats it.
fn at_instant(
    expr: &str,
    zone: Option<&Zone>,
    local: NaiveDateTime,
    time_span: Range<usize>,
) -> Result<DateTime<Utc>, FrequencyError> {
    let in_zone = zone.cloned().unwrap_or_else(Zone::utc);
    let shown = local.format("%Y-%m-%d %H:%M:%S");
    match in_zone.resolve(local) {
        LocalTime::Single(t) => Ok(t),
        LocalTime::Missing => {
            let change = in_zone
                .transition_near(local)
                .map_or_else(String::new, |t| {
                    format!(
                        " (clocks jump from {} to {})",
                        t.local_before().format("%H:%M"),
                        t.local_after().format("%H:%M")
                    )
                });
            Err(FrequencyError::new(
                FrequencyErrorKind::Ambiguous,
                expr,
                time_span,
                format!("`{shown}` does not exist in `{}`{change}", in_zone.name()),
                "pick a time outside the DST change, or give a fixed offset such as `GMT+8:00`",
            ))
        }
        LocalTime::Repeated(first, second) => {
            let with_offset = |t: DateTime<Utc>| {
                let secs = in_zone.offset_at(t).local_minus_utc();
                let sign = if secs < 0 { '-' } else { '+' };
                let (h, m) = (secs.abs() / 3600, secs.abs() % 3600 / 60);
                format!("at({shown} GMT{sign}{h}:{m:02})")
            };
            Err(FrequencyError::new(
                FrequencyErrorKind::Ambiguous,
                expr,
                time_span,
                format!(
                    "`{shown}` happens twice in `{}` (clocks go back), at {} and at {}",
                    in_zone.name(),
                    rfc3339(first),
                    rfc3339(second)
                ),
                format!(
                    "give the offset to pick one: `{}` or `{}`",
                    with_offset(first),
                    with_offset(second)
                ),
            ))
        }
    }
}

/// An instant as RFC 3339 in UTC, to the second.
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A duration the way runbooks write timeouts: `59s`, `5m`, `1h30m`, `7d1s`.
pub(crate) fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            let _ = write!(out, "{}{unit}", secs / size);
            secs %= size;
        }
    }
    out
}

/// Checks the limits that depend on the step's timeout and on the clock.
///
/// - `rate`: 60 s ≤ interval ≤ 7 days, and interval > timeout.
/// - cron: a future run exists (`CronExpressionExpired`), and the smallest gap between runs is
///   at least 10 s and at least the timeout. The gap is the smallest between consecutive fire
///   times among the next 1000 runs within 400 days of the first (in the expression's zone, or
///   UTC when it names none), with DST handled as in the preview: that covers every month and
///   weekday pattern of a year, and a gap longer than the horizon is longer than any timeout.
/// - `at`: the time is not in the past (`AtExpressionExpired`).
pub fn validate(
    freq: &Frequency,
    timeout: Duration,
    now: DateTime<Utc>,
) -> Result<(), FrequencyError> {
    let expr = freq.text.as_str();
    let span = freq.value_span.clone();
    match &freq.kind {
        FrequencyKind::Rate(interval) => validate_rate(expr, span, *interval, timeout),
        FrequencyKind::At(instant) => {
            if now > *instant {
                return Err(FrequencyError::new(
                    FrequencyErrorKind::Expired,
                    expr,
                    span,
                    format!(
                        "`{expr}` is in the past: {} is before now ({})",
                        rfc3339(*instant),
                        rfc3339(now)
                    ),
                    "pick a future time; Cloud Assistant refuses a past one (`AtExpressionExpired`)",
                ));
            }
            Ok(())
        }
        FrequencyKind::Cron(cron) => {
            let zone = freq.zone.clone().unwrap_or_else(Zone::utc);
            validate_cron(expr, cron, &zone, timeout, now)
        }
    }
}

/// The bounds of a `rate(..)` interval, and interval against timeout.
fn validate_rate(
    expr: &str,
    span: Range<usize>,
    interval: Duration,
    timeout: Duration,
) -> Result<(), FrequencyError> {
    let limit = |message: String, help: String| {
        FrequencyError::new(FrequencyErrorKind::Limit, expr, span.clone(), message, help)
    };
    let shown = format_duration(interval);
    if interval < MIN_RATE {
        return Err(limit(
            format!("the interval `{shown}` is shorter than the 60s minimum of `rate(..)`"),
            "write at least `rate(1m)`, or a cron expression such as `*/30 * * * * ?` for runs every 30s".to_owned(),
        ));
    }
    if interval > MAX_RATE {
        return Err(limit(
            format!("the interval `{shown}` is longer than the 7-day maximum of `rate(..)`"),
            "write at most `rate(7d)`, or a cron expression such as `0 0 3 1 * ?` for monthly runs"
                .to_owned(),
        ));
    }
    if interval <= timeout {
        let t = format_duration(timeout);
        return Err(limit(
            format!(
                "the interval `{shown}` is not longer than the timeout ({t}), so a run could still be going when the next is due"
            ),
            format!("make the interval longer than {t}, or the timeout shorter than {shown}"),
        ));
    }
    Ok(())
}

/// A future run exists, and the smallest gap between runs is at least 10 s and the timeout.
fn validate_cron(
    expr: &str,
    cron: &CronExpr,
    zone: &Zone,
    timeout: Duration,
    now: DateTime<Utc>,
) -> Result<(), FrequencyError> {
    let Some(first) = first_cron_run(cron, zone, now) else {
        return Err(FrequencyError::new(
            FrequencyErrorKind::Expired,
            expr,
            cron.year_span.clone().unwrap_or(cron.span.clone()),
            format!("`{expr}` has no run after now ({})", rfc3339(now)),
            "check the year, month and day fields; Cloud Assistant refuses a schedule with no future run (`CronExpressionExpired`)",
        ));
    };
    cron_gap(expr, cron, zone, timeout, now, first)
}

/// The first fire time of `cron` in `zone` strictly after `from`.
fn first_cron_run(cron: &CronExpr, zone: &Zone, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let horizon = Horizon {
        count: 1,
        until: None,
    };
    cron_fire_times(cron, zone, from, horizon)
        .times
        .first()
        .copied()
}

/// Where [`check`] starts measuring: the first instant of the agent's year range.
fn check_reference() -> DateTime<Utc> {
    DateTime::from_timestamp(0, 0).expect("the epoch is a valid instant")
}

/// Checks the limits that do not depend on the clock, so a loader can run it and stay
/// deterministic: the bounds of `rate(..)` and its interval against the timeout; for cron,
/// that some date matches at all (`0 0 0 30 2 ?`, February 30th, never runs) and the smallest
/// gap between runs, measured as [`validate`] measures it but from the first run after
/// 1970-01-01 (the start of the agent's year range) instead of from now.
///
/// Whether the runs are all in the past (`at(..)`, a year range) needs "now": that is
/// [`validate`]'s, which also includes everything checked here.
pub fn check(freq: &Frequency, timeout: Duration) -> Result<(), FrequencyError> {
    let expr = freq.text.as_str();
    match &freq.kind {
        FrequencyKind::Rate(interval) => {
            validate_rate(expr, freq.value_span.clone(), *interval, timeout)
        }
        FrequencyKind::At(_) => Ok(()),
        FrequencyKind::Cron(cron) => {
            let zone = freq.zone.clone().unwrap_or_else(Zone::utc);
            let from = check_reference();
            let Some(first) = first_cron_run(cron, &zone, from) else {
                return Err(FrequencyError::new(
                    FrequencyErrorKind::Expired,
                    expr,
                    cron.span.clone(),
                    format!(
                        "`{expr}` never runs: no date from {FIRST_YEAR} to {LAST_YEAR} matches its fields"
                    ),
                    "check the day-of-month, month, day-of-week and year fields; Cloud Assistant refuses a schedule with no run (`CronExpressionExpired`)",
                ));
            };
            cron_gap(expr, cron, &zone, timeout, from, first)
        }
    }
}

/// The smallest gap between the runs of `cron` from `first` on is at least 10 s and at least
/// the timeout.
fn cron_gap(
    expr: &str,
    cron: &CronExpr,
    zone: &Zone,
    timeout: Duration,
    from: DateTime<Utc>,
    first: DateTime<Utc>,
) -> Result<(), FrequencyError> {
    let span = cron.span.clone();
    let horizon = Horizon {
        count: GAP_RUNS,
        until: Some(first + chrono::TimeDelta::days(GAP_DAYS)),
    };
    let run = cron_fire_times(cron, zone, from, horizon);
    let smallest = run
        .times
        .windows(2)
        .map(|w| (w[1] - w[0], w[0], w[1]))
        .min_by_key(|(gap, _, _)| *gap);
    let Some((gap, a, b)) = smallest else {
        return Ok(());
    };
    let gap = gap.to_std().unwrap_or(Duration::ZERO);
    let shown = format_duration(gap);
    let pair = format!("{} and {}", rfc3339(a), rfc3339(b));
    let limit = |message: String, help: String| {
        FrequencyError::new(FrequencyErrorKind::Limit, expr, span.clone(), message, help)
    };
    if gap < MIN_CRON_INTERVAL {
        return Err(limit(
            format!(
                "runs are only {shown} apart ({pair}), but Cloud Assistant needs at least 10s between cron runs"
            ),
            "space the seconds field out, e.g. `*/10` or `0`".to_owned(),
        ));
    }
    if gap < timeout {
        let t = format_duration(timeout);
        return Err(limit(
            format!(
                "runs are only {shown} apart ({pair}), less than the timeout ({t}), so a run could still be going when the next is due"
            ),
            format!("set a timeout of at most {shown}, or space the runs further apart"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test instant")
            .to_utc()
    }

    /// An input, and what it parses to or the error's message and help.
    type Case = (
        &'static str,
        Result<&'static str, (&'static str, &'static str)>,
    );

    /// One expression per line: its form and value, or the error's message and help.
    #[test]
    #[expect(clippy::too_many_lines, reason = "one table of cases")]
    fn rate_and_at_forms() {
        let cases: &[Case] = &[
            ("rate(5m)", Ok("rate 5m")),
            ("rate(90s)", Ok("rate 1m30s")),
            ("rate(1d)", Ok("rate 1d")),
            ("rate(7d)", Ok("rate 7d")),
            ("rate(24h)", Ok("rate 1d")),
            ("RATE (5 m)", Ok("rate 5m")),
            ("Rate(2H)", Ok("rate 2h")),
            (
                "rate(0m)",
                Err((
                    "the interval of `rate(..)` must be greater than zero",
                    "write e.g. `rate(5m)`",
                )),
            ),
            (
                "rate(5 minutes)",
                Err((
                    "`minutes` is not a unit of `rate(..)`, which takes `s`, `m`, `h` and `d`",
                    "write `rate(5m)`",
                )),
            ),
            (
                "rate(1 hour)",
                Err((
                    "`hour` is not a unit of `rate(..)`, which takes `s`, `m`, `h` and `d`",
                    "write `rate(1h)`",
                )),
            ),
            (
                "rate(2w)",
                Err((
                    "`w` is not a unit of `rate(..)`, which takes `s`, `m`, `h` and `d`",
                    "write `rate(14d)`",
                )),
            ),
            (
                "rate(1.5h)",
                Err((
                    "the interval `1.5h` of `rate(..)` must be a whole number",
                    "write `rate(90m)`",
                )),
            ),
            (
                "rate( 5m )",
                Err((
                    "`rate( 5m )` has spaces inside the parentheses, which the agent refuses",
                    "write `rate(5m)`",
                )),
            ),
            (
                " rate(5m)",
                Err((
                    "`rate(..)` must not have spaces around it (` rate(5m)`)",
                    "write `rate(5m)`",
                )),
            ),
            (
                "rate(5)",
                Err((
                    "the interval `5` of `rate(..)` has no unit",
                    "write e.g. `rate(5m)`: a whole number and one of the units `s`, `m`, `h`, `d`",
                )),
            ),
            (
                "rate(5ms)",
                Err((
                    "unknown unit `ms` in `rate(..)`",
                    "write e.g. `rate(5m)`: a whole number and one of the units `s`, `m`, `h`, `d`",
                )),
            ),
            (
                "rate(m)",
                Err((
                    "the interval `m` of `rate(..)` has no number",
                    "write e.g. `rate(5m)`: a whole number and one of the units `s`, `m`, `h`, `d`",
                )),
            ),
            (
                "rate(5m",
                Err(("`rate(5m` is missing its closing `)`", "write `rate(5m)`")),
            ),
            (
                "rate 5m",
                Err((
                    "`rate 5m` needs its interval in parentheses",
                    "write e.g. `rate(5m)` (units `s`, `m`, `h`, `d`)",
                )),
            ),
            (
                "rate(5m) daily",
                Err(("unexpected ` daily` after `rate(..)`", "write `rate(5m)`")),
            ),
            ("at(2025-06-01 03:00:00)", Ok("at 2025-06-01T03:00:00Z")),
            (
                "at(2025-06-01 03:00:00 UTC)",
                Ok("at 2025-06-01T03:00:00Z UTC"),
            ),
            (
                "at(2022-06-06 13:15:30 Asia/Shanghai)",
                Ok("at 2022-06-06T05:15:30Z Asia/Shanghai"),
            ),
            (
                "at(2022-06-06 13:15:30 GMT-7:00)",
                Ok("at 2022-06-06T20:15:30Z GMT-7:00"),
            ),
            (
                "at(2025-06-01T03:00:00)",
                Err((
                    "`at(..)` separates the date and the time with a space, not `T`",
                    "write `at(2025-06-01 03:00:00)`",
                )),
            ),
            (
                "at(2025-06-01T03:00:00Z)",
                Err((
                    "`at(..)` takes a zone name after the time, not the offset `Z`",
                    "write `at(2025-06-01 03:00:00 UTC)`",
                )),
            ),
            (
                "at(2025-06-01T03:00:00+08:00)",
                Err((
                    "`at(..)` takes a zone name after the time, not the offset `+08:00`",
                    "write `at(2025-06-01 03:00:00 GMT+8:00)`",
                )),
            ),
            (
                "at(2025-06-01 03:00)",
                Err((
                    "the time of `at(..)` needs seconds, `HH:mm:ss`",
                    "write `at(2025-06-01 03:00:00)`",
                )),
            ),
            (
                "AT(2025-06-01 03:00:00)",
                Err((
                    "`at(..)` is written in lower case with no space before `(`",
                    "write `at(2025-06-01 03:00:00)`",
                )),
            ),
            (
                "at (2025-06-01 03:00:00)",
                Err((
                    "`at(..)` is written in lower case with no space before `(`",
                    "write `at(2025-06-01 03:00:00)`",
                )),
            ),
            (
                "at(2025-06-01  03:00:00)",
                Err((
                    "`at(..)` is written `at(yyyy-MM-dd HH:mm:ss [zone])` with single spaces",
                    "write `at(2025-06-01 03:00:00)`",
                )),
            ),
            (
                "at(2025-02-30 03:00:00)",
                Err((
                    "`2025-02-30` is not a date `yyyy-MM-dd`",
                    "write e.g. `at(2025-06-01 03:00:00 Asia/Shanghai)`",
                )),
            ),
            (
                "at(2025-06-01 25:00:00)",
                Err((
                    "`25:00:00` is not a time `HH:mm:ss`",
                    "write e.g. `at(2025-06-01 03:00:00 Asia/Shanghai)`",
                )),
            ),
            (
                "at(2025-06-01 03:00:00 GMT+08:00)",
                Err((
                    "time zone `GMT+08:00` has a leading zero in the hour, which Cloud Assistant refuses",
                    "write `GMT+8:00` (`at(2025-06-01 03:00:00 GMT+8:00)`)",
                )),
            ),
            (
                "at(2025-06-01 03:00:00 Asia/Shanghia)",
                Err((
                    "unknown time zone `Asia/Shanghia`",
                    "did you mean `Asia/Shanghai`? (`at(2025-06-01 03:00:00 Asia/Shanghai)`)",
                )),
            ),
            (
                "at(2025-03-09 02:30:00 America/New_York)",
                Err((
                    "`2025-03-09 02:30:00` does not exist in `America/New_York` (clocks jump from 02:00 to 03:00)",
                    "pick a time outside the DST change, or give a fixed offset such as `GMT+8:00`",
                )),
            ),
            (
                "at(2025-11-02 01:30:00 America/New_York)",
                Err((
                    "`2025-11-02 01:30:00` happens twice in `America/New_York` (clocks go back), at 2025-11-02T05:30:00Z and at 2025-11-02T06:30:00Z",
                    "give the offset to pick one: `at(2025-11-02 01:30:00 GMT-4:00)` or `at(2025-11-02 01:30:00 GMT-5:00)`",
                )),
            ),
            (
                "cron(0 12 * * ? *)",
                Err((
                    "`cron(0 12 * * ? *)` is AWS cron syntax, which Cloud Assistant does not read",
                    "write `0 0 12 * * ?`: a leading seconds field, no `cron(..)`, and day names because AWS counts `1` as Sunday",
                )),
            ),
        ];
        for (expr, expected) in cases {
            let got = parse(expr)
                .map(|f| match f.kind() {
                    FrequencyKind::Rate(d) => format!("rate {}", format_duration(*d)),
                    FrequencyKind::At(t) => {
                        let zone = f
                            .zone()
                            .map(|z| format!(" {}", z.name()))
                            .unwrap_or_default();
                        format!("at {}{zone}", rfc3339(*t))
                    }
                    FrequencyKind::Cron(_) => "cron".to_owned(),
                })
                .map_err(|e| (e.message, e.help));
            let expected = expected
                .map(str::to_owned)
                .map_err(|(m, h)| (m.to_owned(), h.to_owned()));
            assert_eq!(got, expected, "{expr}");
        }
    }

    /// B09 items 1 and 3 through the public `parse`: refused before any API call, naming the
    /// token, with the fix.
    #[test]
    fn b09_refusals_name_the_token_and_the_fix() {
        let e = parse("0 */12 * * *").expect_err("5 fields");
        assert_eq!(
            (e.kind, e.span.clone(), e.token.as_str()),
            (FrequencyErrorKind::Dialect, 0..12, "0 */12 * * *")
        );
        assert_eq!(
            e.message,
            "`0 */12 * * *` has 5 fields, but Cloud Assistant needs 6 or 7 (seconds minutes hours day-of-month month day-of-week [year]) optionally followed by a time zone"
        );
        assert!(e.help.contains("`0 0 */12 * * ?`"), "{}", e.help);
        let e = parse("0 0 9 * * ? GMT+08:00").expect_err("leading zero");
        assert_eq!(
            (
                e.kind,
                e.span.clone(),
                e.token.as_str(),
                e.replacement.as_deref()
            ),
            (
                FrequencyErrorKind::Zone,
                12..21,
                "GMT+08:00",
                Some("GMT+8:00")
            )
        );
        assert!(parse("0 0 9 * * ? GMT+8:00").is_ok());
    }

    #[test]
    fn verbatim_text_and_notes() {
        // B09 item 2: the expression goes to the API exactly as written.
        let freq = parse("0 0 */12 * * ? Asia/Shanghai").expect("valid");
        assert_eq!(freq.as_str(), "0 0 */12 * * ? Asia/Shanghai");
        assert_eq!(freq.to_string(), "0 0 */12 * * ? Asia/Shanghai");
        assert_eq!(freq.zone().map(Zone::name), Some("Asia/Shanghai"));
        assert!(matches!(freq.kind(), FrequencyKind::Cron(_)));
        // A valid form with an unknown-to-the-crate character is accepted (B09).
        assert!(parse("0 15 10 ? * 6L").is_ok());
        let notes = |e: &str| parse(e).expect(e).notes().to_vec();
        assert_eq!(notes("rate(5m)"), Vec::<String>::new());
        assert_eq!(
            notes("RATE (5 m)"),
            [
                "`RATE (5 m)` is read by the agent, but write `rate(5m)`: the service tells the forms apart by prefix and documents only the lower-case `rate(..)` spelling"
            ]
        );
        assert_eq!(
            notes("0 0 3 * * ? Etc/GMT+8"),
            [
                "`Etc/GMT+8` is UTC-8: POSIX-style `Etc/GMT` names invert the sign; for UTC+8 write `GMT+8:00`"
            ]
        );
        assert_eq!(
            notes("at(2025-06-01 03:00:00)"),
            ["`at(2025-06-01 03:00:00)` names no time zone, so Cloud Assistant reads it as UTC"]
        );
    }

    #[test]
    fn zone_written_into_the_expression() {
        let shanghai = parse_zone("Asia/Shanghai").expect("a zone");
        let cases = [
            ("0 0 3 ? * SUN", Some("0 0 3 ? * SUN Asia/Shanghai")),
            (
                "0 0 3 ? * SUN 2030",
                Some("0 0 3 ? * SUN 2030 Asia/Shanghai"),
            ),
            (
                "at(2030-06-01 03:00:00)",
                Some("at(2030-06-01 03:00:00 Asia/Shanghai)"),
            ),
            ("0 0 3 ? * SUN UTC", None),
            ("at(2030-06-01 03:00:00 GMT+8:00)", None),
            ("rate(5m)", None),
        ];
        for (expr, expected) in cases {
            let got = parse(expr).expect(expr).in_zone(&shanghai);
            assert_eq!(got.as_deref(), expected, "{expr}");
            if let Some(text) = got {
                let zoned = parse(&text).expect("the zoned expression parses");
                assert_eq!(zoned.zone().map(Zone::name), Some("Asia/Shanghai"));
            }
        }
    }

    /// Limits: one expression, timeout and now per line; `Ok` or the error's message.
    #[test]
    #[expect(clippy::too_many_lines, reason = "one table of cases")]
    fn limits() {
        let now = utc("2025-06-01T00:00:00Z");
        let min = |m: u64| Duration::from_secs(m * 60);
        let cases: &[(&str, Duration, Result<(), &str>)] = &[
            // Rate bounds.
            (
                "rate(59s)",
                Duration::from_secs(10),
                Err("the interval `59s` is shorter than the 60s minimum of `rate(..)`"),
            ),
            ("rate(60s)", Duration::from_secs(10), Ok(())),
            ("rate(1m)", Duration::from_secs(59), Ok(())),
            ("rate(7d)", min(60), Ok(())),
            ("rate(168h)", min(60), Ok(())),
            (
                "rate(604801s)",
                min(60),
                Err("the interval `7d1s` is longer than the 7-day maximum of `rate(..)`"),
            ),
            (
                "rate(8d)",
                min(60),
                Err("the interval `8d` is longer than the 7-day maximum of `rate(..)`"),
            ),
            // Rate against timeout: strictly longer.
            (
                "rate(5m)",
                min(5),
                Err(
                    "the interval `5m` is not longer than the timeout (5m), so a run could still be going when the next is due",
                ),
            ),
            (
                "rate(5m)",
                min(10),
                Err(
                    "the interval `5m` is not longer than the timeout (10m), so a run could still be going when the next is due",
                ),
            ),
            ("rate(5m)", Duration::from_secs(299), Ok(())),
            // Cron minimum interval and timeout.
            (
                "*/5 * * * * ?",
                Duration::from_secs(1),
                Err(
                    "runs are only 5s apart (2025-06-01T00:00:05Z and 2025-06-01T00:00:10Z), but Cloud Assistant needs at least 10s between cron runs",
                ),
            ),
            ("*/10 * * * * ?", Duration::from_secs(10), Ok(())),
            (
                "0,5 0 0 * * ?",
                Duration::from_secs(1),
                Err(
                    "runs are only 5s apart (2025-06-02T00:00:00Z and 2025-06-02T00:00:05Z), but Cloud Assistant needs at least 10s between cron runs",
                ),
            ),
            ("0 */30 * * * ?", min(30), Ok(())),
            (
                "0 */30 * * * ?",
                min(31),
                Err(
                    "runs are only 30m apart (2025-06-01T00:30:00Z and 2025-06-01T01:00:00Z), less than the timeout (31m), so a run could still be going when the next is due",
                ),
            ),
            ("0 0 9,17 ? * MON", min(60 * 8), Ok(())),
            (
                "0 0 9,17 ? * MON",
                min(60 * 9),
                Err(
                    "runs are only 8h apart (2025-06-02T09:00:00Z and 2025-06-02T17:00:00Z), less than the timeout (9h), so a run could still be going when the next is due",
                ),
            ),
            // The smallest gap is found past the first runs: June has no 31st.
            (
                "0 0 12 1,31 * ?",
                min(60 * 25),
                Err(
                    "runs are only 1d apart (2025-07-31T12:00:00Z and 2025-08-01T12:00:00Z), less than the timeout (1d1h), so a run could still be going when the next is due",
                ),
            ),
            // Expired schedules.
            (
                "0 0 0 1 1 ? 2024",
                min(1),
                Err("`0 0 0 1 1 ? 2024` has no run after now (2025-06-01T00:00:00Z)"),
            ),
            (
                "0 0 0 1 1 ? 2020-2025",
                min(1),
                Err("`0 0 0 1 1 ? 2020-2025` has no run after now (2025-06-01T00:00:00Z)"),
            ),
            (
                "0 0 0 30 2 ?",
                min(1),
                Err("`0 0 0 30 2 ?` has no run after now (2025-06-01T00:00:00Z)"),
            ),
            ("0 0 0 1 1 ? 2026", min(1), Ok(())),
            ("0 0 0 1 1 ? 2025/2", min(1), Ok(())),
            (
                "at(2025-05-31 23:59:59)",
                min(1),
                Err(
                    "`at(2025-05-31 23:59:59)` is in the past: 2025-05-31T23:59:59Z is before now (2025-06-01T00:00:00Z)",
                ),
            ),
            ("at(2025-06-01 08:00:00 Asia/Shanghai)", min(1), Ok(())),
            (
                "at(2025-06-01 07:59:59 Asia/Shanghai)",
                min(1),
                Err(
                    "`at(2025-06-01 07:59:59 Asia/Shanghai)` is in the past: 2025-05-31T23:59:59Z is before now (2025-06-01T00:00:00Z)",
                ),
            ),
        ];
        for (expr, timeout, expected) in cases {
            let freq = parse(expr).expect(expr);
            let got = validate(&freq, *timeout, now).map_err(|e| e.message);
            assert_eq!(
                got,
                expected.map_err(str::to_owned),
                "{expr} with timeout {timeout:?}"
            );
        }
    }

    /// `check`: the clock-free part of `validate`, the same answers without "now" (a past
    /// year or `at(..)` passes; a pattern no date matches does not).
    #[test]
    fn check_needs_no_clock() {
        let secs = Duration::from_secs;
        let cases: &[(&str, Duration, Result<(), &str>)] = &[
            ("rate(60s)", secs(59), Ok(())),
            (
                "rate(60s)",
                secs(60),
                Err(
                    "the interval `1m` is not longer than the timeout (1m), so a run could still be going when the next is due",
                ),
            ),
            (
                "rate(30s)",
                secs(10),
                Err("the interval `30s` is shorter than the 60s minimum of `rate(..)`"),
            ),
            (
                "rate(8d)",
                secs(10),
                Err("the interval `8d` is longer than the 7-day maximum of `rate(..)`"),
            ),
            ("0/10 * * * * ?", secs(10), Ok(())),
            (
                "0/10 * * * * ?",
                secs(11),
                Err(
                    "runs are only 10s apart (1970-01-01T00:00:10Z and 1970-01-01T00:00:20Z), less than the timeout (11s), so a run could still be going when the next is due",
                ),
            ),
            (
                "*/5 * * * * ? Asia/Shanghai",
                secs(1),
                Err(
                    "runs are only 5s apart (1970-01-01T00:00:05Z and 1970-01-01T00:00:10Z), but Cloud Assistant needs at least 10s between cron runs",
                ),
            ),
            ("0 0 0 1 1 ? 2024", secs(600), Ok(())),
            ("at(2020-01-01 00:00:00)", secs(600), Ok(())),
            (
                "0 0 0 30 2 ?",
                secs(10),
                Err("`0 0 0 30 2 ?` never runs: no date from 1970 to 2099 matches its fields"),
            ),
        ];
        for (expr, timeout, expected) in cases {
            let freq = parse(expr).expect(expr);
            let got = check(&freq, *timeout).map_err(|e| e.message);
            assert_eq!(
                got,
                expected.map_err(str::to_owned),
                "{expr} with timeout {timeout:?}"
            );
        }
    }

    #[test]
    fn limit_errors_point_at_the_value() {
        let now = utc("2025-06-01T00:00:00Z");
        let cases = [
            ("rate(59s)", 5..8, FrequencyErrorKind::Limit),
            ("0 0 0 1 1 ? 2024", 12..16, FrequencyErrorKind::Expired),
            ("*/5 * * * * ? UTC", 0..13, FrequencyErrorKind::Limit),
            (
                "at(2025-05-31 23:59:59 UTC)",
                3..22,
                FrequencyErrorKind::Expired,
            ),
        ];
        for (expr, span, kind) in cases {
            let error =
                validate(&parse(expr).expect(expr), Duration::from_secs(1), now).expect_err(expr);
            assert_eq!((error.span, error.kind), (span, kind), "{expr}");
        }
    }

    #[test]
    fn durations_read_like_runbook_timeouts() {
        let cases = [
            (0, "0s"),
            (59, "59s"),
            (90, "1m30s"),
            (3600, "1h"),
            (5400, "1h30m"),
            (604_801, "7d1s"),
        ];
        for (secs, text) in cases {
            assert_eq!(format_duration(Duration::from_secs(secs)), text);
        }
    }
}
