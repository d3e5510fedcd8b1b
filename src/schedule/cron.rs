//! The cron dialect of Cloud Assistant: `sec min hour day-of-month month day-of-week [year] [tz]`.
//!
//! This module owns the grammar, read the way the agent reads it (`cronscheduled.go` for the
//! field count and time-zone suffix, its bundled gorhill/cronexpr for the fields), and refuses
//! the forms on which Alibaba's documents and the agent disagree, each with a fix. It also
//! recognises the dialects people paste by mistake (5-field crontab, `@daily`, AWS `cron(..)`)
//! and offers the Cloud Assistant spelling. Turning a [`CronExpr`] into fire times is left to
//! `wall_clock` (wall-clock matches) and `preview` (instants, DST).
//!
//! Day-of-week numbers are the agent's: `0` and `7` are Sunday, `1` Monday … `6` Saturday.

use std::fmt::Write as _;
use std::ops::Range;

use crate::schedule::error::{FrequencyError, FrequencyErrorKind, replaced};
use crate::schedule::zone::{Zone, parse_zone};

/// A field of a cron expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// 0–59.
    Second,
    /// 0–59.
    Minute,
    /// 0–23.
    Hour,
    /// 1–31, `L`, `LW`, `15W`.
    DayOfMonth,
    /// 1–12, `JAN`–`DEC`.
    Month,
    /// 0–7 (`0` and `7` are Sunday), `SUN`–`SAT`, `6L`, `4#2`.
    DayOfWeek,
    /// 1970–2099.
    Year,
}

/// The fields in the order they are written.
const FIELDS: [Field; 7] = [
    Field::Second,
    Field::Minute,
    Field::Hour,
    Field::DayOfMonth,
    Field::Month,
    Field::DayOfWeek,
    Field::Year,
];

/// The years the agent's library knows.
pub(crate) const FIRST_YEAR: i32 = 1970;
/// The last year the agent's library knows.
pub(crate) const LAST_YEAR: i32 = 2099;

/// Month abbreviations, January first.
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
/// Full month names, as the agent also accepts them.
const MONTH_NAMES: [&str; 12] = [
    "JANUARY",
    "FEBRUARY",
    "MARCH",
    "APRIL",
    "MAY",
    "JUNE",
    "JULY",
    "AUGUST",
    "SEPTEMBER",
    "OCTOBER",
    "NOVEMBER",
    "DECEMBER",
];
/// Day abbreviations indexed by the agent's numbers, Sunday = 0.
pub(crate) const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
/// Full day names, Sunday = 0.
const DAY_NAMES: [&str; 7] = [
    "SUNDAY",
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
];

impl Field {
    /// The name used in messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Second => "seconds",
            Self::Minute => "minutes",
            Self::Hour => "hours",
            Self::DayOfMonth => "day-of-month",
            Self::Month => "month",
            Self::DayOfWeek => "day-of-week",
            Self::Year => "year",
        }
    }

    /// The smallest and largest value once read (day-of-week `7` reads as `0`).
    fn bounds(self) -> (u32, u32) {
        match self {
            Self::Second | Self::Minute => (0, 59),
            Self::Hour => (0, 23),
            Self::DayOfMonth => (1, 31),
            Self::Month => (1, 12),
            Self::DayOfWeek => (0, 6),
            Self::Year => (1970, 2099),
        }
    }

    /// The largest value that may be written.
    fn written_max(self) -> u32 {
        if self == Self::DayOfWeek {
            7
        } else {
            self.bounds().1
        }
    }

    /// What the field accepts, for help lines.
    fn syntax(self) -> String {
        let (min, max) = (self.bounds().0, self.written_max());
        let extra = match self {
            Self::DayOfMonth => {
                ", `?`, `L` (last day), `LW` (last weekday) and `15W` (weekday nearest the 15th)"
            }
            Self::Month => " or `JAN`–`DEC`",
            Self::DayOfWeek => {
                " or `SUN`–`SAT` (`0` and `7` are Sunday, `1` Monday), `?`, `6L` (last Saturday) and `4#2` (second Thursday)"
            }
            Self::Second | Self::Minute | Self::Hour | Self::Year => "",
        };
        format!(
            "{} takes `*`, numbers {min}–{max}{extra}, ranges `a-b`, lists `a,b` and steps `*/n`, `a/n`, `a-b/n`",
            self.name()
        )
    }
}

/// A set of small numbers (0–191): field values, with years stored as `year - 1970`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Bits([u64; 3]);

impl Bits {
    /// Adds `v`.
    fn insert(&mut self, v: u32) {
        let v = v as usize;
        self.0[v / 64] |= 1 << (v % 64);
    }

    /// Whether `v` is in the set.
    pub(crate) fn contains(&self, v: u32) -> bool {
        let v = v as usize;
        v < 192 && self.0[v / 64] & (1 << (v % 64)) != 0
    }

    /// The smallest member at or above `v`.
    pub(crate) fn next_from(&self, v: u32) -> Option<u32> {
        (v..192).find(|&i| self.contains(i))
    }

    /// The smallest member.
    pub(crate) fn first(&self) -> Option<u32> {
        self.next_from(0)
    }

    /// The members in increasing order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..192).filter(|&i| self.contains(i))
    }

    /// `first..=last` by `step`.
    fn stepped(first: u32, last: u32, step: u32) -> Self {
        let mut bits = Self::default();
        for v in (first..=last).step_by(step as usize) {
            bits.insert(v);
        }
        bits
    }

    /// The union.
    fn union(self, other: Self) -> Self {
        Self([
            self.0[0] | other.0[0],
            self.0[1] | other.0[1],
            self.0[2] | other.0[2],
        ])
    }
}

/// How a run of numbers was written, kept so it can be handed on in the same form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// `5`.
    Single,
    /// `5-20`.
    Range,
    /// `*/5`.
    EveryStep,
    /// `5/10`.
    StartStep,
    /// `5-20/5`.
    RangeStep,
}

/// One comma-separated entry of a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// `*`, or `?` in a day field.
    Every,
    /// Numbers `first..=last` by `step` (values as read: years as years, Sunday as 0).
    Values {
        /// The first value.
        first: u32,
        /// The last value.
        last: u32,
        /// The step, 1 when none was written.
        step: u32,
        /// How it was written.
        form: Form,
    },
    /// `L` in day-of-month: the last day of the month.
    LastDay,
    /// `LW`: the last weekday (Monday–Friday) of the month.
    LastWeekday,
    /// `15W`: the weekday nearest the given day, within the month.
    NearestWeekday(u32),
    /// `6L`: the last given weekday of the month.
    LastOf(u32),
    /// `4#2`: the `n`th given weekday of the month.
    Nth {
        /// Sunday = 0.
        weekday: u32,
        /// 1–5.
        n: u32,
    },
}

impl Entry {
    /// Whether the entry uses `L`, `W` or `#`.
    fn is_special(&self) -> bool {
        !matches!(self, Self::Every | Self::Values { .. })
    }
}

/// The day-of-month field when it is restricted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct DomSpec {
    /// Plain days 1–31 (days past the month's end never match).
    pub(crate) days: Bits,
    /// `L`.
    pub(crate) last: bool,
    /// `LW`.
    pub(crate) last_weekday: bool,
    /// `nW` for each `n`.
    pub(crate) nearest_weekday: Bits,
}

/// The day-of-week field when it is restricted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct DowSpec {
    /// Plain weekdays, Sunday = 0.
    pub(crate) days: Bits,
    /// `nL` for each weekday `n`.
    pub(crate) last: Bits,
    /// `w#n` stored as `(n - 1) * 7 + w`, as the agent does.
    pub(crate) nth: Bits,
}

/// A cron expression of the Cloud Assistant dialect, without its time zone.
///
/// `None` for a day field means `*` or `?` (not restricted). When both day fields are
/// restricted the agent runs on days matching either; `parse_cron` refuses that form, but the
/// evaluator implements the agent's rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    /// Seconds 0–59.
    pub(crate) seconds: Bits,
    /// Minutes 0–59.
    pub(crate) minutes: Bits,
    /// Hours 0–23.
    pub(crate) hours: Bits,
    /// Day of month, when restricted.
    pub(crate) dom: Option<DomSpec>,
    /// Months 1–12.
    pub(crate) months: Bits,
    /// Day of week, when restricted.
    pub(crate) dow: Option<DowSpec>,
    /// Years, stored as `year - 1970`.
    pub(crate) years: Bits,
    /// The entries of each field as parsed, in field order (the year is `[Every]` when absent).
    pub(crate) entries: [Vec<Entry>; 7],
    /// Byte range of the cron fields (without the zone) in the expression.
    pub(crate) span: Range<usize>,
    /// Byte range of the year field, when written.
    pub(crate) year_span: Option<Range<usize>>,
}

impl CronExpr {
    /// Whether the expression uses `L`, `W` or `#`, which the `cron` crate cannot evaluate.
    pub fn uses_special_days(&self) -> bool {
        self.entries.iter().flatten().any(Entry::is_special)
    }

    /// Whether a year field was written.
    pub fn has_year(&self) -> bool {
        self.year_span.is_some()
    }
}

/// A cron expression read from a Frequency, with its zone and remarks.
#[derive(Debug, Clone)]
pub(crate) struct ParsedCron {
    /// The fields.
    pub(crate) expr: CronExpr,
    /// The zone suffix and its byte range, when written.
    pub(crate) zone: Option<(Zone, Range<usize>)>,
    /// Remarks that do not make the expression invalid (e.g. what numeric weekdays mean).
    pub(crate) notes: Vec<String>,
}

/// The tokens of `text` separated by whitespace, with their byte ranges.
fn tokens(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push(s..i);
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..text.len());
    }
    out
}

/// The agent's test for a 7th field being a year rather than a zone (`CronYearFieldRegexp`:
/// `^\*$|^\?$|19[789][0-9]|20[0-9]{2}|^\*/(\d+)$`). The year numbers are matched anywhere.
fn is_year_like(token: &str) -> bool {
    let b = token.as_bytes();
    let contains_year = b.windows(4).any(|w| {
        let digit = |c: u8| c.is_ascii_digit();
        (w[0] == b'1' && w[1] == b'9' && (b'7'..=b'9').contains(&w[2]) && digit(w[3]))
            || (w[0] == b'2' && w[1] == b'0' && digit(w[2]) && digit(w[3]))
    });
    let every_n = token
        .strip_prefix("*/")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()));
    token == "*" || token == "?" || contains_year || every_n
}

/// Error shorthand: a syntax error at `span` of `expr`.
fn syntax(expr: &str, span: &Range<usize>, message: String, help: String) -> FrequencyError {
    FrequencyError::new(
        FrequencyErrorKind::Syntax,
        expr,
        span.clone(),
        message,
        help,
    )
}

/// An error whose fix is replacing the token: the help shows the corrected expression.
fn with_fix(
    kind: FrequencyErrorKind,
    expr: &str,
    span: &Range<usize>,
    message: String,
    replacement: &str,
) -> FrequencyError {
    let help = format!("write `{}`", replaced(expr, span, replacement));
    FrequencyError::new(kind, expr, span.clone(), message, help).with_replacement(replacement)
}

/// The field-count rule, stated once for the messages that need it.
const SHAPE: &str = "Cloud Assistant needs 6 or 7 (seconds minutes hours day-of-month month day-of-week [year]) optionally followed by a time zone";

/// The cron fields and the zone suffix of `expr`, split by the agent's field-count rule.
type Split<'t> = (&'t [Range<usize>], Option<(Zone, Range<usize>)>);

/// Splits the tokens into cron fields and a zone, as `_splitExpressionAndLocation` does, and
/// recognises crontab lines and shorthands.
fn split_fields<'t>(expr: &str, toks: &'t [Range<usize>]) -> Result<Split<'t>, FrequencyError> {
    let text = |r: &Range<usize>| &expr[r.clone()];
    if let Some(first) = toks.first()
        && text(first).starts_with('@')
    {
        return Err(macro_error(expr, toks));
    }
    let zone_at = |r: &Range<usize>| -> Result<(Zone, Range<usize>), FrequencyError> {
        let zone = parse_zone(text(r)).map_err(|e| {
            let e = e.shifted(r.start);
            match e.replacement.clone() {
                Some(fix) => {
                    let help = format!("{} (`{}`)", e.help, replaced(expr, &e.span, &fix));
                    FrequencyError { help, ..e }
                }
                None => e,
            }
        })?;
        Ok((zone, r.clone()))
    };
    match toks.len() {
        0 => Err(syntax(
            expr,
            &(0..expr.len()),
            "the Frequency is empty".to_owned(),
            "write a cron expression such as `0 0 3 * * ?`, `rate(5m)` or `at(2025-06-01 03:00:00 Asia/Shanghai)`"
                .to_owned(),
        )),
        5 => Err(crontab_error(expr, toks, None)),
        6 if parse_zone(text(&toks[5])).is_ok() => Err(crontab_error(expr, &toks[..5], Some(&toks[5]))),
        6 => Ok((toks, None)),
        7 if is_year_like(text(&toks[6])) => Ok((toks, None)),
        7 => {
            let zone = zone_at(&toks[6]).map_err(|e| year_or_zone_error(expr, &toks[6], e))?;
            Ok((&toks[..6], Some(zone)))
        }
        8 => Ok((&toks[..7], Some(zone_at(&toks[7])?))),
        n => {
            let whole = toks[0].start..toks[n - 1].end;
            Err(syntax(
                expr,
                &whole,
                format!(
                    "`{}` has {}, but {SHAPE}",
                    text(&whole),
                    crate::count::Count(n, "field")
                ),
                "write e.g. `0 0 3 * * ?` (03:00:00 every day) or `0 0 3 * * ? 2025 Asia/Shanghai`"
                    .to_owned(),
            ))
        }
    }
}

/// Parses a cron Frequency: fields, optional year, optional zone.
pub(crate) fn parse_cron(expr: &str) -> Result<ParsedCron, FrequencyError> {
    let toks = tokens(expr);
    let (fields, zone) = split_fields(expr, &toks)?;
    let text = |r: &Range<usize>| &expr[r.clone()];
    let mut entries: [Vec<Entry>; 7] = Default::default();
    let mut notes = Vec::new();
    for (i, span) in fields.iter().enumerate() {
        entries[i] = parse_field(expr, span, FIELDS[i])?;
    }
    if fields.len() == 6 {
        entries[6] = vec![Entry::Every];
    }
    let plain = |i: usize| -> Bits {
        let field = FIELDS[i];
        let (min, max) = field.bounds();
        let base = if field == Field::Year { 1970 } else { 0 };
        entries[i]
            .iter()
            .fold(Bits::default(), |acc, entry| match entry {
                Entry::Every => acc.union(Bits::stepped(min - base, max - base, 1)),
                Entry::Values {
                    first, last, step, ..
                } => acc.union(Bits::stepped(first - base, last - base, *step)),
                _ => acc,
            })
    };
    let dom = restricted(&entries[3]).then(|| dom_spec(&entries[3]));
    let dow = restricted(&entries[5]).then(|| dow_spec(&entries[5]));
    if dom.is_some() && dow.is_some() {
        return Err(both_days_error(expr, &fields[3], &fields[5]));
    }
    if dow.is_some() && has_weekday_number(text(&fields[5])) {
        notes.push(format!(
            "day-of-week `{}` means {}: Cloud Assistant numbers days `1` = Monday … `6` = Saturday and `0` or `7` = Sunday, while Quartz and AWS count `1` as Sunday; day names such as `MON` leave no doubt",
            text(&fields[5]),
            describe_dow(&entries[5])
        ));
    }
    let expr_fields = CronExpr {
        seconds: plain(0),
        minutes: plain(1),
        hours: plain(2),
        dom,
        months: plain(4),
        dow,
        years: plain(6),
        entries,
        span: fields[0].start..fields[fields.len() - 1].end,
        year_span: fields.get(6).cloned(),
    };
    Ok(ParsedCron {
        expr: expr_fields,
        zone,
        notes,
    })
}

/// Whether a day-of-week field writes a weekday as a number (the `n` of `#n` is a count).
fn has_weekday_number(field: &str) -> bool {
    let bytes = field.as_bytes();
    bytes
        .iter()
        .enumerate()
        .any(|(i, b)| b.is_ascii_digit() && (i == 0 || bytes[i - 1] != b'#'))
}

/// Whether a day field restricts the days (anything but a lone `*` or `?`).
fn restricted(entries: &[Entry]) -> bool {
    !matches!(entries, [Entry::Every])
}

/// The day-of-month spec of a restricted field.
fn dom_spec(entries: &[Entry]) -> DomSpec {
    let mut spec = DomSpec::default();
    for entry in entries {
        match *entry {
            Entry::Values {
                first, last, step, ..
            } => spec.days = spec.days.union(Bits::stepped(first, last, step)),
            Entry::LastDay => spec.last = true,
            Entry::LastWeekday => spec.last_weekday = true,
            Entry::NearestWeekday(day) => spec.nearest_weekday.insert(day),
            Entry::Every | Entry::LastOf(_) | Entry::Nth { .. } => {}
        }
    }
    spec
}

/// The day-of-week spec of a restricted field.
fn dow_spec(entries: &[Entry]) -> DowSpec {
    let mut spec = DowSpec::default();
    for entry in entries {
        match *entry {
            Entry::Values {
                first, last, step, ..
            } => spec.days = spec.days.union(Bits::stepped(first, last, step)),
            Entry::LastOf(day) => spec.last.insert(day),
            Entry::Nth { weekday, n } => spec.nth.insert((n - 1) * 7 + weekday),
            Entry::Every | Entry::LastDay | Entry::LastWeekday | Entry::NearestWeekday(_) => {}
        }
    }
    spec
}

/// "MON, WED, FRI", "the last SAT", "the 2nd THU": what a day-of-week field means.
fn describe_dow(entries: &[Entry]) -> String {
    let ordinal = |n: u32| match n {
        1 => "1st",
        2 => "2nd",
        3 => "3rd",
        4 => "4th",
        _ => "5th",
    };
    let mut parts = Vec::new();
    let mut days = Bits::default();
    for entry in entries {
        match *entry {
            Entry::Values {
                first, last, step, ..
            } => days = days.union(Bits::stepped(first, last, step)),
            Entry::LastOf(d) => parts.push(format!("the last {}", DAYS[d as usize])),
            Entry::Nth { weekday, n } => {
                parts.push(format!("the {} {}", ordinal(n), DAYS[weekday as usize]));
            }
            Entry::Every | Entry::LastDay | Entry::LastWeekday | Entry::NearestWeekday(_) => {}
        }
    }
    // Monday first, as people read a week.
    let plain: Vec<&str> = [1, 2, 3, 4, 5, 6, 0]
        .into_iter()
        .filter(|&d| days.contains(d))
        .map(|d| DAYS[d as usize])
        .collect();
    if !plain.is_empty() {
        parts.insert(0, plain.join(", "));
    }
    parts.join(", ")
}

/// Parses one field into its entries and checks how they combine.
fn parse_field(
    expr: &str,
    span: &Range<usize>,
    field: Field,
) -> Result<Vec<Entry>, FrequencyError> {
    let text = &expr[span.clone()];
    let mut parsed = Vec::new();
    let mut offset = span.start;
    for part in text.split(',') {
        let part_span = offset..offset + part.len();
        offset += part.len() + 1;
        if part.is_empty() {
            return Err(syntax(
                expr,
                span,
                format!("the {} field `{text}` has an empty entry", field.name()),
                "remove the extra `,`".to_owned(),
            ));
        }
        parsed.push((parse_entry(expr, &part_span, field)?, part_span));
    }
    if parsed.len() > 1 {
        for (entry, part_span) in &parsed {
            let token = &expr[part_span.clone()];
            if *entry == Entry::Every {
                return Err(with_fix(
                    FrequencyErrorKind::Syntax,
                    expr,
                    span,
                    format!(
                        "`{token}` must stand alone in the {} field, not in a list",
                        field.name()
                    ),
                    "*",
                ));
            }
            if entry.is_special() {
                let help = format!(
                    "use `{token}` as the whole {} field, and schedule the other days with a second runbook",
                    field.name()
                );
                return Err(FrequencyError::new(
                    FrequencyErrorKind::Ambiguous,
                    expr,
                    part_span.clone(),
                    format!(
                        "`{token}` cannot be combined with other entries in {}: Alibaba's documents forbid `L` in lists and Quartz, which they follow, also forbids `W` and `#` there, though the agent would take them",
                        field.name()
                    ),
                    help,
                ));
            }
        }
    }
    Ok(parsed.into_iter().map(|(entry, _)| entry).collect())
}

/// Parses one entry (`5`, `1-5`, `*/15`, `L`, `15W`, `6L`, `4#2`, …).
fn parse_entry(expr: &str, span: &Range<usize>, field: Field) -> Result<Entry, FrequencyError> {
    let raw = &expr[span.clone()];
    let s = raw.to_ascii_uppercase();
    let day_field = matches!(field, Field::DayOfMonth | Field::DayOfWeek);
    if s == "*" {
        return Ok(Entry::Every);
    }
    if s == "?" {
        if day_field {
            return Ok(Entry::Every);
        }
        return Err(with_fix(
            FrequencyErrorKind::Syntax,
            expr,
            span,
            format!(
                "`?` is only allowed in day-of-month and day-of-week, not in {}",
                field.name()
            ),
            "*",
        ));
    }
    match field {
        Field::DayOfMonth => {
            if let Some(entry) = parse_dom_special(expr, span, &s)? {
                return Ok(entry);
            }
        }
        Field::DayOfWeek => {
            if let Some(entry) = parse_dow_special(expr, span, &s)? {
                return Ok(entry);
            }
        }
        _ => {}
    }
    match parse_values(field, &s) {
        Ok(entry) => Ok(entry),
        Err(Problem::Reversed { fix }) => {
            let message = if field == Field::DayOfWeek && s.ends_with('7') {
                format!(
                    "in day-of-week `7` is Sunday (`0`), so the range `{raw}` ends before it starts and matches no day"
                )
            } else {
                format!(
                    "the range `{raw}` in {} ends before it starts, so it matches nothing (ranges do not wrap around)",
                    field.name()
                )
            };
            Err(match fix {
                Some(fix) => with_fix(FrequencyErrorKind::Syntax, expr, span, message, &fix),
                None => syntax(
                    expr,
                    span,
                    message,
                    "split it into two ranges, e.g. `22-23` and `0-2`".to_owned(),
                ),
            })
        }
        Err(Problem::OnlySunday) => Err(with_fix(
            FrequencyErrorKind::Syntax,
            expr,
            span,
            format!("in day-of-week `7` is Sunday (`0`), so the range `{raw}` matches only Sunday"),
            "*",
        )),
        Err(Problem::Message(message)) => Err(syntax(expr, span, message, field.syntax())),
        Err(Problem::Invalid) => {
            let message = format!("`{raw}` is not a valid {} entry", field.name());
            let help = misplaced_special(field, &s).unwrap_or_else(|| field.syntax());
            Err(syntax(expr, span, message, help))
        }
        Err(Problem::Name { message, help }) => Err(syntax(expr, span, message, help)),
    }
}

/// Help for `L`, `W` or `#` written in a field that does not take them.
fn misplaced_special(field: Field, s: &str) -> Option<String> {
    let is_name = |s: &str| {
        MONTHS.contains(&s)
            || MONTH_NAMES.contains(&s)
            || DAYS.contains(&s)
            || DAY_NAMES.contains(&s)
    };
    if is_name(s) {
        return None;
    }
    if s.contains('#') && field != Field::DayOfWeek {
        return Some(format!(
            "`#` belongs in day-of-week (`4#2` is the second Thursday), not in {}",
            field.name()
        ));
    }
    let has = |c: char| s.contains(c);
    if (has('L') || has('W')) && !matches!(field, Field::DayOfMonth | Field::DayOfWeek) {
        return Some(format!(
            "`L` and `W` belong in day-of-month (`L`, `LW`, `15W`) and `L` in day-of-week (`6L`), not in {}",
            field.name()
        ));
    }
    if has('W') && field == Field::DayOfWeek {
        return Some(
            "`W` belongs in day-of-month (`15W` is the weekday nearest the 15th)".to_owned(),
        );
    }
    None
}

/// `L`, `LW` and `nW` in day-of-month; `Ok(None)` when the entry is none of them.
fn parse_dom_special(
    expr: &str,
    span: &Range<usize>,
    s: &str,
) -> Result<Option<Entry>, FrequencyError> {
    let field = Field::DayOfMonth;
    match s {
        "L" => return Ok(Some(Entry::LastDay)),
        "LW" => return Ok(Some(Entry::LastWeekday)),
        "WL" => {
            return Err(with_fix(
                FrequencyErrorKind::Syntax,
                expr,
                span,
                "the last weekday of the month is written `LW`".to_owned(),
                "LW",
            ));
        }
        _ => {}
    }
    if s.starts_with('L') {
        return Err(syntax(
            expr,
            span,
            format!(
                "`{}` is Quartz syntax for an offset from the last day, which Cloud Assistant's agent does not read",
                &expr[span.clone()]
            ),
            "use `L` for the last day of the month or `LW` for its last weekday, or list the days"
                .to_owned(),
        ));
    }
    if let Some(day) = s.strip_suffix('W') {
        return match parse_value(field, day) {
            Ok(day) => Ok(Some(Entry::NearestWeekday(day))),
            Err(_) => Err(syntax(
                expr,
                span,
                format!(
                    "`{}` needs a single day 1–31 before `W`",
                    &expr[span.clone()]
                ),
                "write e.g. `15W` (the weekday nearest the 15th); `W` takes no ranges or lists"
                    .to_owned(),
            )),
        };
    }
    Ok(None)
}

/// `nL` and `n#k` in day-of-week; `Ok(None)` when the entry is neither.
fn parse_dow_special(
    expr: &str,
    span: &Range<usize>,
    s: &str,
) -> Result<Option<Entry>, FrequencyError> {
    let field = Field::DayOfWeek;
    let raw = &expr[span.clone()];
    if s == "L" {
        return Err(syntax(
            expr,
            span,
            "`L` alone in day-of-week (Saturday in Quartz) is not read by Cloud Assistant's agent".to_owned(),
            "write `6L` for the last Saturday of the month, or `L` in day-of-month for its last day".to_owned(),
        ));
    }
    if let Some((day, n)) = s.split_once('#') {
        let day = parse_value(field, day).map_err(|_| {
            syntax(
                expr,
                span,
                format!("`{raw}` needs a single weekday before `#`"),
                "write e.g. `4#2` or `THU#2` (the second Thursday)".to_owned(),
            )
        })?;
        return match n {
            "1" | "2" | "3" | "4" | "5" => Ok(Some(Entry::Nth {
                weekday: day,
                n: n.parse().expect("one digit 1-5"),
            })),
            _ => Err(syntax(
                expr,
                span,
                format!("`{raw}` asks for week `{n}` of the month, but `#` takes 1–5"),
                "write e.g. `4#2` (the second Thursday) or `5L` (the last Friday)".to_owned(),
            )),
        };
    }
    // A name may end in `L` only as a suffix: `FRIL` = last Friday.
    if let Some(day) = s.strip_suffix('L')
        && !DAY_NAMES.contains(&s)
        && !MONTH_NAMES.contains(&s)
        && !MONTHS.contains(&s)
    {
        return match parse_value(field, day) {
            Ok(day) => Ok(Some(Entry::LastOf(day))),
            Err(_) => Err(syntax(
                expr,
                span,
                format!("`{raw}` needs a single weekday before `L`"),
                "write e.g. `5L` or `FRIL` (the last Friday of the month)".to_owned(),
            )),
        };
    }
    Ok(None)
}

/// Why a run of numbers was refused.
enum Problem {
    /// The entry is not of any form the field takes.
    Invalid,
    /// A message naming the token; the help is the field's syntax.
    Message(String),
    /// An unknown or misplaced name, with its own help.
    Name {
        /// What is wrong.
        message: String,
        /// How to fix it.
        help: String,
    },
    /// `a-b` with `a > b`; `fix` is the two-range spelling when there is no step.
    Reversed {
        /// The replacement entry.
        fix: Option<String>,
    },
    /// `0-7` in day-of-week, which the agent reads as `0-0`.
    OnlySunday,
}

/// Parses `5`, `5-20`, `*/5`, `5/10` or `5-20/5` (upper-cased).
fn parse_values(field: Field, s: &str) -> Result<Entry, Problem> {
    let (base, step) = match s.split_once('/') {
        Some((base, step)) => (base, Some(parse_step(field, step)?)),
        None => (s, None),
    };
    let (min, max) = field.bounds();
    if base == "*" {
        return match step {
            Some(step) => Ok(Entry::Values {
                first: min,
                last: max,
                step,
                form: Form::EveryStep,
            }),
            None => Ok(Entry::Every),
        };
    }
    if let Some((a, b)) = base.split_once('-') {
        let (first, last) = (parse_value(field, a)?, parse_value(field, b)?);
        if field == Field::DayOfWeek && first == 0 && last == 0 && b == "7" && a != "7" && a != "07"
        {
            return Err(Problem::OnlySunday);
        }
        if first > last {
            let named = a.bytes().all(|c| c.is_ascii_alphabetic());
            let fix = step
                .is_none()
                .then(|| wrapped_range(field, first, last, named));
            return Err(Problem::Reversed { fix });
        }
        let form = if step.is_some() {
            Form::RangeStep
        } else {
            Form::Range
        };
        return Ok(Entry::Values {
            first,
            last,
            step: step.unwrap_or(1),
            form,
        });
    }
    let first = parse_value(field, base)?;
    Ok(match step {
        Some(step) => Entry::Values {
            first,
            last: max,
            step,
            form: Form::StartStep,
        },
        None => Entry::Values {
            first,
            last: first,
            step: 1,
            form: Form::Single,
        },
    })
}

/// `a-max,min-b` for a range that wraps around, or `*` when that covers everything.
fn wrapped_range(field: Field, first: u32, last: u32, named: bool) -> String {
    let (min, max) = field.bounds();
    if last + 1 >= first {
        return "*".to_owned();
    }
    let show = |v: u32| -> String {
        match (named, field) {
            (true, Field::DayOfWeek) => DAYS[v as usize].to_owned(),
            (true, Field::Month) => MONTHS[v as usize - 1].to_owned(),
            _ => v.to_string(),
        }
    };
    let part = |a: u32, b: u32| {
        if a == b {
            show(a)
        } else {
            format!("{}-{}", show(a), show(b))
        }
    };
    format!("{},{}", part(first, max), part(min, last))
}

/// Parses a step the way the agent does: its number table knows 0–59 (and `00`–`09`) and the
/// years 1970–2099; anything else reads as 0. The step must be 1 to the field's maximum.
fn parse_step(field: Field, step: &str) -> Result<u32, Problem> {
    let known = step.bytes().all(|b| b.is_ascii_digit())
        && ((1..=2).contains(&step.len())
            || (step.len() == 4 && ("1970"..="2099").contains(&step)));
    let value = if known {
        step.parse::<u32>().unwrap_or(0)
    } else {
        0
    };
    let max = field.bounds().1;
    if ((1..=59).contains(&value) || (1970..=2099).contains(&value)) && value <= max {
        return Ok(value);
    }
    let max_shown = if field == Field::Year { 59 } else { max };
    Err(Problem::Message(format!(
        "step `/{step}` in {} must be a number from 1 to {max_shown}",
        field.name()
    )))
}

/// Parses one value: a number (at most two digits, or four for a year) or a month or day name.
fn parse_value(field: Field, token: &str) -> Result<u32, Problem> {
    let (min, max) = (field.bounds().0, field.written_max());
    if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
        let digits_ok = if field == Field::Year {
            token.len() == 4
        } else {
            token.len() <= 2
        };
        let value = token.parse::<u32>().unwrap_or(u32::MAX);
        if !digits_ok || value < min || value > max {
            return Err(Problem::Message(format!(
                "`{token}` is out of range for {} ({min}–{max})",
                field.name()
            )));
        }
        return Ok(if field == Field::DayOfWeek && value == 7 {
            0
        } else {
            value
        });
    }
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(Problem::Invalid);
    }
    let lookup = |short: &[&str], long: &[&str]| {
        short
            .iter()
            .position(|n| *n == token)
            .or_else(|| long.iter().position(|n| *n == token))
    };
    let month = lookup(&MONTHS, &MONTH_NAMES);
    let day = lookup(&DAYS, &DAY_NAMES);
    match field {
        Field::Month => {
            if let Some(m) = month {
                return Ok(u32::try_from(m).expect("12 months") + 1);
            }
            if day.is_some() {
                return Err(Problem::Name {
                    message: format!("`{token}` is a day of the week, not a month"),
                    help:
                        "move it to the day-of-week field (the 6th), or write a month `JAN`–`DEC`"
                            .to_owned(),
                });
            }
            Err(unknown_name(token, "month", &MONTHS, &MONTH_NAMES))
        }
        Field::DayOfWeek => {
            if let Some(d) = day {
                return Ok(u32::try_from(d).expect("7 days"));
            }
            if month.is_some() {
                return Err(Problem::Name {
                    message: format!("`{token}` is a month, not a day of the week"),
                    help: "move it to the month field (the 5th), or write a day `SUN`–`SAT`"
                        .to_owned(),
                });
            }
            Err(unknown_name(token, "day", &DAYS, &DAY_NAMES))
        }
        _ => Err(Problem::Invalid),
    }
}

/// "unknown day name `TUES`", with the abbreviation it starts like.
fn unknown_name(token: &str, what: &str, short: &[&str], long: &[&str]) -> Problem {
    let guess = short
        .iter()
        .zip(long)
        .find(|(s, _)| token.len() >= 3 && token.starts_with(**s));
    let help = match guess {
        Some((s, l)) => format!("write `{s}` or `{l}`"),
        None => format!(
            "write one of {}",
            short
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Problem::Name {
        message: format!("unknown {what} name `{token}`"),
        help,
    }
}

/// Both day fields restricted: the agent matches either, Quartz refuses, the docs want `?`.
fn both_days_error(expr: &str, dom: &Range<usize>, dow: &Range<usize>) -> FrequencyError {
    let (d, w) = (&expr[dom.clone()], &expr[dow.clone()]);
    let by_month_day = replaced(expr, dow, "?");
    let by_week_day = replaced(expr, dom, "?");
    FrequencyError::new(
        FrequencyErrorKind::Ambiguous,
        expr,
        dom.start..dow.end,
        format!(
            "day-of-month `{d}` and day-of-week `{w}` are both set: Alibaba's documents want `?` in one of them, Quartz refuses the form, and the agent would run on days matching either"
        ),
        format!(
            "write `{by_month_day}` to run by day of month, or `{by_week_day}` to run by day of week"
        ),
    )
}

/// A 7th field that is neither a year nor a zone.
fn year_or_zone_error(
    expr: &str,
    token: &Range<usize>,
    zone_error: FrequencyError,
) -> FrequencyError {
    let text = &expr[token.clone()];
    let yearish = text
        .bytes()
        .all(|b| b.is_ascii_digit() || b"-,/*".contains(&b));
    if !yearish {
        return zone_error;
    }
    syntax(
        expr,
        token,
        format!(
            "the 7th field `{text}` is read as a time zone, because it is not a year in 1970–2099, and it is not a zone either"
        ),
        "the year field takes 1970–2099, e.g. `2025`, `2025-2026` or `2025/2`".to_owned(),
    )
}

/// A 5-field crontab line (optionally followed by a zone): say so and give the 6-field form.
fn crontab_error(
    expr: &str,
    fields: &[Range<usize>],
    zone: Option<&Range<usize>>,
) -> FrequencyError {
    let text = |r: &Range<usize>| &expr[r.clone()];
    let span = fields[0].start..fields[4].end;
    let [min, hour, dom, month, dow] = [0, 1, 2, 3, 4].map(|i| text(&fields[i]));
    let any = |s: &str| s == "*" || s == "?";
    let zone_suffix = zone.map(|z| format!(" {}", text(z))).unwrap_or_default();
    let mut message = format!("`{}` has 5 fields, but {SHAPE}", text(&span));
    if zone.is_some() {
        message = format!(
            "`{}` is a 5-field crontab line followed by a time zone, but {SHAPE}",
            text(&span)
        );
    }
    let candidate =
        |dom: &str, dow: &str| format!("0 {min} {hour} {dom} {month} {dow}{zone_suffix}");
    let help = if !any(dom) && !any(dow) {
        format!(
            "crontab has no seconds field and runs when either day field matches, which one Cloud Assistant expression cannot say; use two schedules: `{}` and `{}`",
            candidate(dom, "?"),
            candidate("?", dow)
        )
    } else {
        let fixed = if any(dow) {
            candidate(dom, "?")
        } else {
            candidate("?", dow)
        };
        match parse_cron(&fixed) {
            Ok(_) => format!(
                "crontab has no seconds field; write `{fixed}` (a leading `0` for the seconds, and `?` for the unused day field)"
            ),
            Err(_) => format!(
                "crontab has no seconds field: add one in front, e.g. `0 {}`",
                text(&span)
            ),
        }
    };
    FrequencyError::new(FrequencyErrorKind::Dialect, expr, span, message, help)
}

/// `@daily` and friends, which the agent's field count rejects before its macro table runs.
fn macro_error(expr: &str, toks: &[Range<usize>]) -> FrequencyError {
    let span = toks[0].clone();
    let name = expr[span.clone()].to_ascii_lowercase();
    let rest: String = toks[1..].iter().fold(String::new(), |mut acc, t| {
        let _ = write!(acc, " {}", &expr[t.clone()]);
        acc
    });
    let replacement = match name.as_str() {
        "@yearly" | "@annually" => Some("0 0 0 1 1 ?"),
        "@monthly" => Some("0 0 0 1 * ?"),
        "@weekly" => Some("0 0 0 ? * SUN"),
        "@daily" | "@midnight" => Some("0 0 0 * * ?"),
        "@hourly" => Some("0 0 * * * ?"),
        _ => None,
    };
    let message = format!(
        "`{}` is a crontab shorthand, which Cloud Assistant does not read",
        &expr[span.clone()]
    );
    match (replacement, name.as_str()) {
        (Some(fix), _) => {
            let help = format!("write `{fix}{rest}`");
            FrequencyError::new(FrequencyErrorKind::Dialect, expr, span, message, help)
                .with_replacement(fix)
        }
        (None, "@reboot") => FrequencyError::new(
            FrequencyErrorKind::Dialect,
            expr,
            span,
            message,
            "a Frequency cannot express \"at boot\"; Cloud Assistant runs commands at boot through the `NextRebootOnly` and `EveryReboot` repeat modes instead",
        ),
        (None, "@every") => {
            let every = toks.get(1).map_or("5m", |t| &expr[t.clone()]);
            FrequencyError::new(
                FrequencyErrorKind::Dialect,
                expr,
                toks[0].start..toks.last().map_or(span.end, |t| t.end),
                message,
                format!("for a fixed interval write `rate({every})` (units `s`, `m`, `h`, `d`)"),
            )
        }
        (None, _) => FrequencyError::new(
            FrequencyErrorKind::Dialect,
            expr,
            span,
            message,
            "write the six fields out, e.g. `0 0 0 * * ?` for every day at midnight",
        ),
    }
}

/// AWS `cron(min hour dom month dow year)`, with Quartz weekday numbers (1 = Sunday).
pub(crate) fn aws_cron_error(expr: &str, start: usize) -> FrequencyError {
    let span = start..expr.len();
    let inner = expr[start..]
        .trim_end()
        .strip_prefix("cron(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or("");
    let fields: Vec<&str> = inner.split_whitespace().collect();
    let message = format!(
        "`{}` is AWS cron syntax, which Cloud Assistant does not read",
        expr[span.clone()].trim_end()
    );
    let mut help = "write the Cloud Assistant form: six fields starting with seconds, without `cron(`, e.g. `0 0 12 * * ?`".to_owned();
    if fields.len() == 6 {
        // AWS numbers weekdays 1 = Sunday … 7 = Saturday; rewrite them as names.
        let dow: String = aws_weekdays(fields[4]);
        let year = if fields[5] == "*" {
            String::new()
        } else {
            format!(" {}", fields[5])
        };
        let fixed = format!(
            "0 {} {} {} {} {dow}{year}",
            fields[0], fields[1], fields[2], fields[3]
        );
        if parse_cron(&fixed).is_ok() {
            help = format!(
                "write `{fixed}`: a leading seconds field, no `cron(..)`, and day names because AWS counts `1` as Sunday"
            );
        }
    }
    FrequencyError::new(FrequencyErrorKind::Dialect, expr, span, message, help)
}

/// Rewrites AWS weekday numbers (1 = Sunday … 7 = Saturday) as names; `#n` counts stay.
fn aws_weekdays(field: &str) -> String {
    let mut out = String::new();
    let mut after_hash = false;
    for c in field.chars() {
        match c.to_digit(10) {
            Some(d @ 1..=7) if !after_hash => out.push_str(DAYS[d as usize - 1]),
            _ => out.push(c),
        }
        after_hash = c == '#';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `1W15W`: each member followed by a suffix.
    fn suffixed(bits: &Bits, suffix: &str) -> String {
        bits.iter()
            .map(|v| format!("{v}{suffix}"))
            .collect::<Vec<_>>()
            .concat()
    }

    /// Parses and describes the expression's sets, for table tests.
    fn shape(expr: &str) -> Result<String, String> {
        let parsed = parse_cron(expr).map_err(|e| e.message)?;
        let e = &parsed.expr;
        let list = |b: &Bits| {
            b.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let years = e
            .years
            .iter()
            .map(|y| (y + 1970).to_string())
            .collect::<Vec<_>>();
        let years = if years.len() == 130 {
            "*".to_owned()
        } else {
            years.join(",")
        };
        let dom = match &e.dom {
            None => "*".to_owned(),
            Some(d) => format!(
                "{}{}{}{}",
                list(&d.days),
                if d.last { "L" } else { "" },
                if d.last_weekday { "LW" } else { "" },
                suffixed(&d.nearest_weekday, "W")
            ),
        };
        let dow = match &e.dow {
            None => "*".to_owned(),
            Some(w) => format!(
                "{}{}{}",
                list(&w.days),
                suffixed(&w.last, "L"),
                w.nth
                    .iter()
                    .map(|v| format!("{}#{}", v % 7, v / 7 + 1))
                    .collect::<Vec<_>>()
                    .concat()
            ),
        };
        let zone = parsed
            .zone
            .map(|(z, _)| format!(" {}", z.name()))
            .unwrap_or_default();
        Ok(format!(
            "s={} m={} h={} dom={dom} mon={} dow={dow} y={years}{zone}",
            list(&e.seconds),
            list(&e.minutes),
            list(&e.hours),
            list(&e.months),
        ))
    }

    /// Every accepted form: one expression, the sets it means.
    #[test]
    fn accepted_forms() {
        let cases = [
            (
                "0 15 10 ? * *",
                "s=0 m=15 h=10 dom=* mon=1,2,3,4,5,6,7,8,9,10,11,12 dow=* y=*",
            ),
            (
                "0 15 10 * * ?",
                "s=0 m=15 h=10 dom=* mon=1,2,3,4,5,6,7,8,9,10,11,12 dow=* y=*",
            ),
            (
                "0 15 10 ? * ?",
                "s=0 m=15 h=10 dom=* mon=1,2,3,4,5,6,7,8,9,10,11,12 dow=* y=*",
            ),
            (
                "0 15 10 * * * *",
                "s=0 m=15 h=10 dom=* mon=1,2,3,4,5,6,7,8,9,10,11,12 dow=* y=*",
            ),
            (
                "0 0/30 9-17 * 1 ?",
                "s=0 m=0,30 h=9,10,11,12,13,14,15,16,17 dom=* mon=1 dow=* y=*",
            ),
            (
                "0 */20 * 1 1 ?",
                "s=0 m=0,20,40 h=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23 dom=1 mon=1 dow=* y=*",
            ),
            (
                "5,10 1-3/2 0 1 1 ?",
                "s=5,10 m=1,3 h=0 dom=1 mon=1 dow=* y=*",
            ),
            ("0 0 12 ? 1 WED", "s=0 m=0 h=12 dom=* mon=1 dow=3 y=*"),
            ("0 0 12 ? 1 wednesday", "s=0 m=0 h=12 dom=* mon=1 dow=3 y=*"),
            ("0 0 12 ? 1 MON", "s=0 m=0 h=12 dom=* mon=1 dow=1 y=*"),
            ("0 0 12 ? 1 1", "s=0 m=0 h=12 dom=* mon=1 dow=1 y=*"),
            ("0 0 12 ? 1 SUN", "s=0 m=0 h=12 dom=* mon=1 dow=0 y=*"),
            ("0 0 12 ? 1 0", "s=0 m=0 h=12 dom=* mon=1 dow=0 y=*"),
            ("0 0 12 ? 1 7", "s=0 m=0 h=12 dom=* mon=1 dow=0 y=*"),
            (
                "0 0 12 ? 1 MON-FRI",
                "s=0 m=0 h=12 dom=* mon=1 dow=1,2,3,4,5 y=*",
            ),
            ("0 0 12 ? 1 1-5/2", "s=0 m=0 h=12 dom=* mon=1 dow=1,3,5 y=*"),
            ("0 0 12 ? 1 SUN,SAT", "s=0 m=0 h=12 dom=* mon=1 dow=0,6 y=*"),
            ("0 0 12 1 JAN ?", "s=0 m=0 h=12 dom=1 mon=1 dow=* y=*"),
            (
                "0 0 12 1 jan-Mar ?",
                "s=0 m=0 h=12 dom=1 mon=1,2,3 dow=* y=*",
            ),
            ("0 0 12 1 december ?", "s=0 m=0 h=12 dom=1 mon=12 dow=* y=*"),
            ("0 0 12 1 */5 ?", "s=0 m=0 h=12 dom=1 mon=1,6,11 dow=* y=*"),
            ("00 05 09 01 01 ?", "s=0 m=5 h=9 dom=1 mon=1 dow=* y=*"),
            ("0 15 10 L 1 ?", "s=0 m=15 h=10 dom=L mon=1 dow=* y=*"),
            ("0 15 10 lw 1 ?", "s=0 m=15 h=10 dom=LW mon=1 dow=* y=*"),
            ("0 15 10 15W 1 ?", "s=0 m=15 h=10 dom=15W mon=1 dow=* y=*"),
            ("0 15 10 ? 1 6L", "s=0 m=15 h=10 dom=* mon=1 dow=6L y=*"),
            ("0 15 10 ? 1 FRIL", "s=0 m=15 h=10 dom=* mon=1 dow=5L y=*"),
            ("0 15 10 ? 1 7L", "s=0 m=15 h=10 dom=* mon=1 dow=0L y=*"),
            ("0 15 10 ? 1 6#3", "s=0 m=15 h=10 dom=* mon=1 dow=6#3 y=*"),
            ("0 15 10 ? 1 thu#2", "s=0 m=15 h=10 dom=* mon=1 dow=4#2 y=*"),
            (
                "0 15 10 ? 1 * 2025",
                "s=0 m=15 h=10 dom=* mon=1 dow=* y=2025",
            ),
            (
                "0 15 10 ? 1 * 2025-2027",
                "s=0 m=15 h=10 dom=* mon=1 dow=* y=2025,2026,2027",
            ),
            (
                "0 15 10 ? 1 * 2090/3",
                "s=0 m=15 h=10 dom=* mon=1 dow=* y=2090,2093,2096,2099",
            ),
            (
                "0 15 10 ? 1 * 2025,2030",
                "s=0 m=15 h=10 dom=* mon=1 dow=* y=2025,2030",
            ),
            ("0 15 10 ? 1 * *", "s=0 m=15 h=10 dom=* mon=1 dow=* y=*"),
            (
                "0 15 10 ? 1 * 2025 Asia/Shanghai",
                "s=0 m=15 h=10 dom=* mon=1 dow=* y=2025 Asia/Shanghai",
            ),
            (
                "0 15 10 ? 1 * Asia/Shanghai",
                "s=0 m=15 h=10 dom=* mon=1 dow=* y=* Asia/Shanghai",
            ),
            (
                "0 30 10 ? 1 * 2022 GMT+8:00",
                "s=0 m=30 h=10 dom=* mon=1 dow=* y=2022 GMT+8:00",
            ),
            (
                "0 0/5 14 * 10 ? 2090/2 UTC",
                "s=0 m=0,5,10,15,20,25,30,35,40,45,50,55 h=14 dom=* mon=10 dow=* y=2090,2092,2094,2096,2098 UTC",
            ),
            ("  0 0 1 1 1 ?  ", "s=0 m=0 h=1 dom=1 mon=1 dow=* y=*"),
        ];
        for (expr, expected) in cases {
            assert_eq!(shape(expr), Ok(expected.to_owned()), "{expr}");
        }
    }

    /// Every refused form: one expression, the message and the help.
    #[test]
    #[expect(clippy::too_many_lines, reason = "one table of cases")]
    fn refused_forms() {
        let cases = [
            // B09 item 1: a 5-field crontab line is not shifted into seconds.
            (
                "0 */12 * * *",
                "`0 */12 * * *` has 5 fields, but Cloud Assistant needs 6 or 7 (seconds minutes hours day-of-month month day-of-week [year]) optionally followed by a time zone",
                "crontab has no seconds field; write `0 0 */12 * * ?` (a leading `0` for the seconds, and `?` for the unused day field)",
            ),
            (
                "30 2 * * 1-5",
                "`30 2 * * 1-5` has 5 fields, but Cloud Assistant needs 6 or 7 (seconds minutes hours day-of-month month day-of-week [year]) optionally followed by a time zone",
                "crontab has no seconds field; write `0 30 2 ? * 1-5` (a leading `0` for the seconds, and `?` for the unused day field)",
            ),
            (
                "0 3 1 * 1",
                "`0 3 1 * 1` has 5 fields, but Cloud Assistant needs 6 or 7 (seconds minutes hours day-of-month month day-of-week [year]) optionally followed by a time zone",
                "crontab has no seconds field and runs when either day field matches, which one Cloud Assistant expression cannot say; use two schedules: `0 0 3 1 * ?` and `0 0 3 ? * 1`",
            ),
            (
                "0 */12 * * * Asia/Shanghai",
                "`0 */12 * * *` is a 5-field crontab line followed by a time zone, but Cloud Assistant needs 6 or 7 (seconds minutes hours day-of-month month day-of-week [year]) optionally followed by a time zone",
                "crontab has no seconds field; write `0 0 */12 * * ? Asia/Shanghai` (a leading `0` for the seconds, and `?` for the unused day field)",
            ),
            (
                "0 0 * *",
                "`0 0 * *` has 4 fields, but Cloud Assistant needs 6 or 7 (seconds minutes hours day-of-month month day-of-week [year]) optionally followed by a time zone",
                "write e.g. `0 0 3 * * ?` (03:00:00 every day) or `0 0 3 * * ? 2025 Asia/Shanghai`",
            ),
            (
                "0 0 3 * * ? 2025 Asia/Shanghai extra",
                "`0 0 3 * * ? 2025 Asia/Shanghai extra` has 9 fields, but Cloud Assistant needs 6 or 7 (seconds minutes hours day-of-month month day-of-week [year]) optionally followed by a time zone",
                "write e.g. `0 0 3 * * ?` (03:00:00 every day) or `0 0 3 * * ? 2025 Asia/Shanghai`",
            ),
            (
                "@daily",
                "`@daily` is a crontab shorthand, which Cloud Assistant does not read",
                "write `0 0 0 * * ?`",
            ),
            (
                "@weekly Asia/Shanghai",
                "`@weekly` is a crontab shorthand, which Cloud Assistant does not read",
                "write `0 0 0 ? * SUN Asia/Shanghai`",
            ),
            (
                "@reboot",
                "`@reboot` is a crontab shorthand, which Cloud Assistant does not read",
                "a Frequency cannot express \"at boot\"; Cloud Assistant runs commands at boot through the `NextRebootOnly` and `EveryReboot` repeat modes instead",
            ),
            (
                "@every 5m",
                "`@every` is a crontab shorthand, which Cloud Assistant does not read",
                "for a fixed interval write `rate(5m)` (units `s`, `m`, `h`, `d`)",
            ),
            // B09 item 3: a leading zero in the GMT hour names the token.
            (
                "0 0 9 * * ? GMT+08:00",
                "time zone `GMT+08:00` has a leading zero in the hour, which Cloud Assistant refuses",
                "write `GMT+8:00` (`0 0 9 * * ? GMT+8:00`)",
            ),
            (
                "0 0 9 * * ? 2025 Asia/Shanghia",
                "unknown time zone `Asia/Shanghia`",
                "did you mean `Asia/Shanghai`? (`0 0 9 * * ? 2025 Asia/Shanghai`)",
            ),
            (
                "0 0 9 * * ? 2100",
                "the 7th field `2100` is read as a time zone, because it is not a year in 1970–2099, and it is not a zone either",
                "the year field takes 1970–2099, e.g. `2025`, `2025-2026` or `2025/2`",
            ),
            (
                "0 0 9 * * ? 2100 UTC",
                "`2100` is out of range for year (1970–2099)",
                "year takes `*`, numbers 1970–2099, ranges `a-b`, lists `a,b` and steps `*/n`, `a/n`, `a-b/n`",
            ),
            // dom and dow both set.
            (
                "0 0 12 1 * MON",
                "day-of-month `1` and day-of-week `MON` are both set: Alibaba's documents want `?` in one of them, Quartz refuses the form, and the agent would run on days matching either",
                "write `0 0 12 1 * ?` to run by day of month, or `0 0 12 ? * MON` to run by day of week",
            ),
            (
                "0 0 12 L * 5L",
                "day-of-month `L` and day-of-week `5L` are both set: Alibaba's documents want `?` in one of them, Quartz refuses the form, and the agent would run on days matching either",
                "write `0 0 12 L * ?` to run by day of month, or `0 0 12 ? * 5L` to run by day of week",
            ),
            // `?` outside the day fields.
            (
                "? 0 12 * * ?",
                "`?` is only allowed in day-of-month and day-of-week, not in seconds",
                "write `* 0 12 * * ?`",
            ),
            (
                "0 0 12 * * ? ?",
                "`?` is only allowed in day-of-month and day-of-week, not in year",
                "write `0 0 12 * * ? *`",
            ),
            // Ranges the agent would read as empty.
            (
                "0 0 12 ? * 5-7",
                "in day-of-week `7` is Sunday (`0`), so the range `5-7` ends before it starts and matches no day",
                "write `0 0 12 ? * 5-6,0`",
            ),
            (
                "0 0 12 ? * FRI-SUN",
                "the range `FRI-SUN` in day-of-week ends before it starts, so it matches nothing (ranges do not wrap around)",
                "write `0 0 12 ? * FRI-SAT,SUN`",
            ),
            (
                "0 0 12 ? * MON-SUN",
                "the range `MON-SUN` in day-of-week ends before it starts, so it matches nothing (ranges do not wrap around)",
                "write `0 0 12 ? * *`",
            ),
            (
                "0 0 12 ? * 0-7",
                "in day-of-week `7` is Sunday (`0`), so the range `0-7` matches only Sunday",
                "write `0 0 12 ? * *`",
            ),
            (
                "0 0 22-2 * * ?",
                "the range `22-2` in hours ends before it starts, so it matches nothing (ranges do not wrap around)",
                "write `0 0 22-23,0-2 * * ?`",
            ),
            (
                "0 0 12 * NOV-FEB ?",
                "the range `NOV-FEB` in month ends before it starts, so it matches nothing (ranges do not wrap around)",
                "write `0 0 12 * NOV-DEC,JAN-FEB ?`",
            ),
            // Values and steps.
            (
                "0 60 12 * * ?",
                "`60` is out of range for minutes (0–59)",
                "minutes takes `*`, numbers 0–59, ranges `a-b`, lists `a,b` and steps `*/n`, `a/n`, `a-b/n`",
            ),
            (
                "0 0 24 * * ?",
                "`24` is out of range for hours (0–23)",
                "hours takes `*`, numbers 0–23, ranges `a-b`, lists `a,b` and steps `*/n`, `a/n`, `a-b/n`",
            ),
            (
                "0 0 12 0 * ?",
                "`0` is out of range for day-of-month (1–31)",
                "day-of-month takes `*`, numbers 1–31, `?`, `L` (last day), `LW` (last weekday) and `15W` (weekday nearest the 15th), ranges `a-b`, lists `a,b` and steps `*/n`, `a/n`, `a-b/n`",
            ),
            (
                "0 0 12 * 13 ?",
                "`13` is out of range for month (1–12)",
                "month takes `*`, numbers 1–12 or `JAN`–`DEC`, ranges `a-b`, lists `a,b` and steps `*/n`, `a/n`, `a-b/n`",
            ),
            (
                "0 0 12 ? * 8",
                "`8` is out of range for day-of-week (0–7)",
                "day-of-week takes `*`, numbers 0–7 or `SUN`–`SAT` (`0` and `7` are Sunday, `1` Monday), `?`, `6L` (last Saturday) and `4#2` (second Thursday), ranges `a-b`, lists `a,b` and steps `*/n`, `a/n`, `a-b/n`",
            ),
            (
                "0 005 12 * * ?",
                "`005` is out of range for minutes (0–59)",
                "minutes takes `*`, numbers 0–59, ranges `a-b`, lists `a,b` and steps `*/n`, `a/n`, `a-b/n`",
            ),
            (
                "0 */60 * * * ?",
                "step `/60` in minutes must be a number from 1 to 59",
                "minutes takes `*`, numbers 0–59, ranges `a-b`, lists `a,b` and steps `*/n`, `a/n`, `a-b/n`",
            ),
            (
                "0 0 */24 * * ?",
                "step `/24` in hours must be a number from 1 to 23",
                "hours takes `*`, numbers 0–23, ranges `a-b`, lists `a,b` and steps `*/n`, `a/n`, `a-b/n`",
            ),
            (
                "*/0 * * * * ?",
                "step `/0` in seconds must be a number from 1 to 59",
                "seconds takes `*`, numbers 0–59, ranges `a-b`, lists `a,b` and steps `*/n`, `a/n`, `a-b/n`",
            ),
            (
                "0 0 12 ? * */7",
                "step `/7` in day-of-week must be a number from 1 to 6",
                "day-of-week takes `*`, numbers 0–7 or `SUN`–`SAT` (`0` and `7` are Sunday, `1` Monday), `?`, `6L` (last Saturday) and `4#2` (second Thursday), ranges `a-b`, lists `a,b` and steps `*/n`, `a/n`, `a-b/n`",
            ),
            (
                "0 0 12 1,,2 * ?",
                "the day-of-month field `1,,2` has an empty entry",
                "remove the extra `,`",
            ),
            (
                "0 0 12 *,1 * ?",
                "`*` must stand alone in the day-of-month field, not in a list",
                "write `0 0 12 * * ?`",
            ),
            // Names.
            (
                "0 0 12 ? * TUES",
                "unknown day name `TUES`",
                "write `TUE` or `TUESDAY`",
            ),
            (
                "0 0 12 ? * JAN",
                "`JAN` is a month, not a day of the week",
                "move it to the month field (the 5th), or write a day `SUN`–`SAT`",
            ),
            (
                "0 0 12 * MON ?",
                "`MON` is a day of the week, not a month",
                "move it to the day-of-week field (the 6th), or write a month `JAN`–`DEC`",
            ),
            (
                "0 0 12 * SEPT ?",
                "unknown month name `SEPT`",
                "write `SEP` or `SEPTEMBER`",
            ),
            // `L`, `W` and `#` where they do not belong, and in lists.
            (
                "0 0 12 L-3 * ?",
                "`L-3` is Quartz syntax for an offset from the last day, which Cloud Assistant's agent does not read",
                "use `L` for the last day of the month or `LW` for its last weekday, or list the days",
            ),
            (
                "0 0 12 ? * L",
                "`L` alone in day-of-week (Saturday in Quartz) is not read by Cloud Assistant's agent",
                "write `6L` for the last Saturday of the month, or `L` in day-of-month for its last day",
            ),
            (
                "0 0 12 WL * ?",
                "the last weekday of the month is written `LW`",
                "write `0 0 12 LW * ?`",
            ),
            (
                "0 0 12 1-5W * ?",
                "`1-5W` needs a single day 1–31 before `W`",
                "write e.g. `15W` (the weekday nearest the 15th); `W` takes no ranges or lists",
            ),
            (
                "0 0 12 32W * ?",
                "`32W` needs a single day 1–31 before `W`",
                "write e.g. `15W` (the weekday nearest the 15th); `W` takes no ranges or lists",
            ),
            (
                "0 0 12 ? * 4#6",
                "`4#6` asks for week `6` of the month, but `#` takes 1–5",
                "write e.g. `4#2` (the second Thursday) or `5L` (the last Friday)",
            ),
            (
                "0 0 12 ? * 4#0",
                "`4#0` asks for week `0` of the month, but `#` takes 1–5",
                "write e.g. `4#2` (the second Thursday) or `5L` (the last Friday)",
            ),
            (
                "0 0 L * * ?",
                "`L` is not a valid hours entry",
                "`L` and `W` belong in day-of-month (`L`, `LW`, `15W`) and `L` in day-of-week (`6L`), not in hours",
            ),
            (
                "0 0 12 1#2 * ?",
                "`1#2` is not a valid day-of-month entry",
                "`#` belongs in day-of-week (`4#2` is the second Thursday), not in day-of-month",
            ),
            (
                "0 0 12 ? * 15W",
                "`15W` is not a valid day-of-week entry",
                "`W` belongs in day-of-month (`15W` is the weekday nearest the 15th)",
            ),
            (
                "0 0 12 1,L * ?",
                "`L` cannot be combined with other entries in day-of-month: Alibaba's documents forbid `L` in lists and Quartz, which they follow, also forbids `W` and `#` there, though the agent would take them",
                "use `L` as the whole day-of-month field, and schedule the other days with a second runbook",
            ),
            (
                "0 0 12 ? * 4#2,5#2",
                "`4#2` cannot be combined with other entries in day-of-week: Alibaba's documents forbid `L` in lists and Quartz, which they follow, also forbids `W` and `#` there, though the agent would take them",
                "use `4#2` as the whole day-of-week field, and schedule the other days with a second runbook",
            ),
            (
                "0 0 12 1W,15W * ?",
                "`1W` cannot be combined with other entries in day-of-month: Alibaba's documents forbid `L` in lists and Quartz, which they follow, also forbids `W` and `#` there, though the agent would take them",
                "use `1W` as the whole day-of-month field, and schedule the other days with a second runbook",
            ),
        ];
        for (expr, message, help) in cases {
            let error = parse_cron(expr).expect_err(expr);
            assert_eq!(
                (error.message.as_str(), error.help.as_str()),
                (message, help),
                "{expr}"
            );
        }
    }

    /// Spans point at the offending token, in bytes of the whole expression.
    #[test]
    fn error_spans() {
        let cases = [
            ("0 */12 * * *", 0..12, "0 */12 * * *"),
            ("0 0 9 * * ? GMT+08:00", 12..21, "GMT+08:00"),
            ("0 0 12 1 * MON", 7..14, "1 * MON"),
            ("0 60 12 * * ?", 2..4, "60"),
            ("0 0 12 1,L * ?", 9..10, "L"),
            ("0 0 12 ? * 5-7", 11..14, "5-7"),
            ("  @daily", 2..8, "@daily"),
        ];
        for (expr, span, token) in cases {
            let error = parse_cron(expr).expect_err(expr);
            assert_eq!((error.span, error.token.as_str()), (span, token), "{expr}");
        }
    }

    /// The 7th field decides year against zone as the agent's regex does.
    #[test]
    fn seventh_field_year_or_zone() {
        let cases = [
            ("*", true),
            ("?", true),
            ("*/2", true),
            ("2025", true),
            ("2025-2026", true),
            ("1999/2", true),
            ("2090,2091", true),
            ("Asia/Shanghai", false),
            ("GMT+8:00", false),
            ("UTC", false),
            ("2100", false),
            ("1969", false),
        ];
        for (token, year) in cases {
            assert_eq!(is_year_like(token), year, "{token}");
        }
    }

    #[test]
    fn notes_explain_numeric_weekdays() {
        let cases = [
            (
                "0 0 12 ? * 1-5",
                Some("day-of-week `1-5` means MON, TUE, WED, THU, FRI"),
            ),
            ("0 0 12 ? * 0,7", Some("day-of-week `0,7` means SUN")),
            (
                "0 0 12 ? * 6#3",
                Some("day-of-week `6#3` means the 3rd SAT"),
            ),
            ("0 0 12 ? * 5L", Some("day-of-week `5L` means the last FRI")),
            ("0 0 12 ? * MON-FRI", None),
            ("0 0 12 * * ?", None),
        ];
        for (expr, expected) in cases {
            let notes = parse_cron(expr).expect(expr).notes;
            let first = notes
                .first()
                .map(|n| n.split(':').next().unwrap_or_default().to_owned());
            assert_eq!(first.as_deref(), expected, "{expr}");
        }
    }

    #[test]
    fn aws_cron_gets_the_cloud_assistant_spelling() {
        let cases = [
            (
                "cron(0 12 * * ? *)",
                "write `0 0 12 * * ?`: a leading seconds field, no `cron(..)`, and day names because AWS counts `1` as Sunday",
            ),
            (
                "cron(15 10 ? * 2-6 2030)",
                "write `0 15 10 ? * MON-FRI 2030`: a leading seconds field, no `cron(..)`, and day names because AWS counts `1` as Sunday",
            ),
            (
                "cron(0 9 ? * 6#3 *)",
                "write `0 0 9 ? * FRI#3`: a leading seconds field, no `cron(..)`, and day names because AWS counts `1` as Sunday",
            ),
            (
                "cron(0 12 * *)",
                "write the Cloud Assistant form: six fields starting with seconds, without `cron(`, e.g. `0 0 12 * * ?`",
            ),
        ];
        for (expr, help) in cases {
            let error = aws_cron_error(expr, 0);
            assert_eq!(error.help, help, "{expr}");
            assert_eq!(error.kind, FrequencyErrorKind::Dialect);
        }
    }
}
