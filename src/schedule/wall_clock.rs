//! Wall-clock matches of a cron expression: the local date-times its fields select, before a
//! time zone turns them into instants (that, and DST, is `preview`'s job).
//!
//! Two engines produce the same sequence. The `cron` crate evaluates every expression without
//! `L`, `W` or `#`; it is handed a rewritten expression, never the user's text, because it
//! numbers weekdays 1 = Sunday … 7 = Saturday (the agent: 0/7 = Sunday, 1 = Monday), ANDs the
//! two day fields (the agent ORs them) and rejects a time-zone suffix. The dialect evaluator
//! here covers the whole dialect, following the agent's gorhill/cronexpr day rules
//! (`calculateActualDaysOfMonth`, `workdayOfMonth`). Tests check that both agree.
//!
//! The crate is run in UTC on naive times, so it never skips or repeats a local time itself:
//! what happens at DST changes is decided in one place, `preview`.

use std::str::FromStr;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc, Weekday};

use crate::schedule::cron::{CronExpr, DAYS, DomSpec, DowSpec, Entry, FIRST_YEAR, Form, LAST_YEAR};

/// A source of wall-clock matches for one expression.
pub(crate) struct WallClock<'a> {
    expr: &'a CronExpr,
    engine: Engine,
}

/// Which evaluator a [`WallClock`] uses.
enum Engine {
    /// The `cron` crate, for expressions it can express.
    Crate(Box<cron::Schedule>),
    /// The dialect evaluator in this module.
    Dialect,
}

impl<'a> WallClock<'a> {
    /// The `cron` crate where it applies, the dialect evaluator otherwise.
    pub(crate) fn new(expr: &'a CronExpr) -> Self {
        let engine = crate_schedule(expr).map_or(Engine::Dialect, |s| Engine::Crate(Box::new(s)));
        Self { expr, engine }
    }

    /// Always the dialect evaluator.
    #[cfg(test)]
    pub(crate) fn dialect(expr: &'a CronExpr) -> Self {
        Self {
            expr,
            engine: Engine::Dialect,
        }
    }

    /// Whether the `cron` crate evaluates this expression.
    #[cfg(test)]
    pub(crate) fn uses_crate(&self) -> bool {
        matches!(self.engine, Engine::Crate(_))
    }

    /// The first wall-clock time strictly after `after` (to the second) that the expression
    /// selects, up to the end of 2099.
    pub(crate) fn next_after(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let after = after.with_nanosecond(0).unwrap_or(after);
        let next = match &self.engine {
            Engine::Crate(schedule) => schedule
                .after(&Utc.from_utc_datetime(&after))
                .next()
                .map(|t| t.naive_utc()),
            Engine::Dialect => self.expr.next_after(after),
        };
        next.filter(|t| t.year() <= LAST_YEAR)
    }
}

/// The expression rewritten for the `cron` crate, or `None` when the crate cannot evaluate it
/// the way the agent does (`L`, `W`, `#`, or both day fields restricted).
pub(crate) fn crate_expression(expr: &CronExpr) -> Option<String> {
    if expr.uses_special_days() || (expr.dom.is_some() && expr.dow.is_some()) {
        return None;
    }
    let field = |entries: &[Entry]| -> String {
        entries
            .iter()
            .map(|entry| match *entry {
                Entry::Values {
                    first,
                    last,
                    step,
                    form,
                } => match form {
                    Form::Single => first.to_string(),
                    Form::Range => format!("{first}-{last}"),
                    Form::EveryStep => format!("*/{step}"),
                    Form::StartStep => format!("{first}/{step}"),
                    Form::RangeStep => format!("{first}-{last}/{step}"),
                },
                _ => "*".to_owned(),
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    // Weekdays go over as names: the crate's numbers are Quartz's (1 = Sunday).
    let dow = match &expr.dow {
        None => "*".to_owned(),
        Some(spec) => spec
            .days
            .iter()
            .map(|d| DAYS[d as usize])
            .collect::<Vec<_>>()
            .join(","),
    };
    let e = &expr.entries;
    Some(format!(
        "{} {} {} {} {} {dow} {}",
        field(&e[0]),
        field(&e[1]),
        field(&e[2]),
        field(&e[3]),
        field(&e[4]),
        field(&e[6]),
    ))
}

/// The `cron` crate's schedule for the rewritten expression.
pub(crate) fn crate_schedule(expr: &CronExpr) -> Option<cron::Schedule> {
    cron::Schedule::from_str(&crate_expression(expr)?).ok()
}

/// The number of days in a month.
fn days_in_month(year: i32, month: u32) -> u32 {
    let (y, m) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|d| d.pred_opt())
        .map_or(31, |d| d.day())
}

/// The weekday nearest `day` within the month, as the agent's `workdayOfMonth`: a Saturday
/// moves to Friday (to Monday the 3rd if it is the 1st), a Sunday to Monday (to Friday if it is
/// the last day).
fn nearest_weekday(year: i32, month: u32, day: u32, last: u32) -> u32 {
    match NaiveDate::from_ymd_opt(year, month, day).map(|d| d.weekday()) {
        Some(Weekday::Sat) if day > 1 => day - 1,
        Some(Weekday::Sat) => day + 2,
        Some(Weekday::Sun) if day < last => day + 1,
        Some(Weekday::Sun) => day - 2,
        _ => day,
    }
}

impl DomSpec {
    /// Whether `date` is selected by the day-of-month field.
    fn matches(&self, date: NaiveDate) -> bool {
        let (year, month, day) = (date.year(), date.month(), date.day());
        let last = days_in_month(year, month);
        (self.last && day == last)
            || (self.last_weekday && day == nearest_weekday(year, month, last, last))
            || self.days.contains(day)
            // Days past the end of the month are ignored, as the agent does (`31W` in April).
            || self
                .nearest_weekday
                .iter()
                .any(|v| v <= last && nearest_weekday(year, month, v, last) == day)
    }
}

impl DowSpec {
    /// Whether `date` is selected by the day-of-week field.
    fn matches(&self, date: NaiveDate) -> bool {
        let weekday = date.weekday().num_days_from_sunday();
        let day = date.day();
        let week = (day - 1) / 7;
        self.days.contains(weekday)
            || (self.last.contains(weekday) && day + 7 > days_in_month(date.year(), date.month()))
            || self.nth.contains(week * 7 + weekday)
    }
}

impl CronExpr {
    /// Whether the day fields select `date` (the agent's rule: either field when both are set).
    pub(crate) fn matches_date(&self, date: NaiveDate) -> bool {
        match (&self.dom, &self.dow) {
            (None, None) => true,
            (Some(dom), None) => dom.matches(date),
            (None, Some(dow)) => dow.matches(date),
            (Some(dom), Some(dow)) => dom.matches(date) || dow.matches(date),
        }
    }

    /// The first selected time of day strictly after `floor` (or the first of the day).
    fn next_time(&self, floor: Option<NaiveTime>) -> Option<NaiveTime> {
        let (h0, m0, s0) = (
            self.hours.first()?,
            self.minutes.first()?,
            self.seconds.first()?,
        );
        let Some(floor) = floor else {
            return NaiveTime::from_hms_opt(h0, m0, s0);
        };
        let (h, m, s) = (floor.hour(), floor.minute(), floor.second());
        if self.hours.contains(h)
            && self.minutes.contains(m)
            && let Some(next_s) = self.seconds.next_from(s + 1).filter(|&v| v < 60)
        {
            return NaiveTime::from_hms_opt(h, m, next_s);
        }
        if self.hours.contains(h)
            && let Some(next_m) = self.minutes.next_from(m + 1).filter(|&v| v < 60)
        {
            return NaiveTime::from_hms_opt(h, next_m, s0);
        }
        let next_h = self.hours.next_from(h + 1).filter(|&v| v < 24)?;
        NaiveTime::from_hms_opt(next_h, m0, s0)
    }

    /// The dialect evaluator: the first selected wall-clock time strictly after `after`.
    pub(crate) fn next_after(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut date = after.date();
        let mut floor = Some(after.time());
        loop {
            let year = date.year();
            if year > LAST_YEAR {
                return None;
            }
            let index = u32::try_from(year - FIRST_YEAR).ok();
            if index.is_none_or(|y| !self.years.contains(y)) {
                let next = self.years.next_from(index.map_or(0, |y| y + 1))?;
                date = NaiveDate::from_ymd_opt(FIRST_YEAR + i32::try_from(next).ok()?, 1, 1)?;
                floor = None;
                continue;
            }
            if !self.months.contains(date.month()) {
                date = match self.months.next_from(date.month() + 1).filter(|&m| m <= 12) {
                    Some(month) => NaiveDate::from_ymd_opt(year, month, 1)?,
                    None => NaiveDate::from_ymd_opt(year + 1, 1, 1)?,
                };
                floor = None;
                continue;
            }
            if self.matches_date(date)
                && let Some(time) = self.next_time(floor)
            {
                return Some(date.and_time(time));
            }
            date = date.succ_opt()?;
            floor = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::cron::parse_cron;

    fn naive(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("test time")
    }

    /// The next `n` wall-clock matches after `from`, as text.
    fn matches(wall: &WallClock<'_>, from: &str, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut cursor = naive(from);
        while out.len() < n {
            let Some(next) = wall.next_after(cursor) else {
                break;
            };
            out.push(next.format("%Y-%m-%d %a %H:%M:%S").to_string());
            cursor = next;
        }
        out
    }

    fn dialect(expr: &str, from: &str, n: usize) -> Vec<String> {
        let parsed = parse_cron(expr).expect(expr).expr;
        matches(&WallClock::dialect(&parsed), from, n)
    }

    /// Each special character, at month edges: one expression and start, the matches.
    #[test]
    #[expect(clippy::too_many_lines, reason = "one table of cases")]
    fn special_days() {
        let cases: &[(&str, &str, &[&str])] = &[
            // `L`: the last day, in 31-, 30-, 28- and 29-day months.
            (
                "0 0 12 L * ?",
                "2024-01-01 00:00:00",
                &[
                    "2024-01-31 Wed 12:00:00",
                    "2024-02-29 Thu 12:00:00",
                    "2024-03-31 Sun 12:00:00",
                    "2024-04-30 Tue 12:00:00",
                ],
            ),
            (
                "0 0 12 L 2 ?",
                "2025-01-01 00:00:00",
                &["2025-02-28 Fri 12:00:00", "2026-02-28 Sat 12:00:00"],
            ),
            // `LW`: the last weekday; 2025-05-31 is a Saturday, 2025-08-31 a Sunday.
            (
                "0 0 12 LW * ?",
                "2025-05-01 00:00:00",
                &[
                    "2025-05-30 Fri 12:00:00",
                    "2025-06-30 Mon 12:00:00",
                    "2025-07-31 Thu 12:00:00",
                    "2025-08-29 Fri 12:00:00",
                ],
            ),
            // `15W`: 2025-03-15 is a Saturday (→ Fri 14th), 2025-06-15 a Sunday (→ Mon 16th).
            (
                "0 0 12 15W * ?",
                "2025-03-01 00:00:00",
                &[
                    "2025-03-14 Fri 12:00:00",
                    "2025-04-15 Tue 12:00:00",
                    "2025-05-15 Thu 12:00:00",
                    "2025-06-16 Mon 12:00:00",
                ],
            ),
            // `1W` on a Saturday the 1st (2025-03-01) moves forward to Monday the 3rd, not back
            // into February; 2025-06-01 is a Sunday → Monday the 2nd.
            (
                "0 0 12 1W * ?",
                "2025-02-15 00:00:00",
                &[
                    "2025-03-03 Mon 12:00:00",
                    "2025-04-01 Tue 12:00:00",
                    "2025-05-01 Thu 12:00:00",
                    "2025-06-02 Mon 12:00:00",
                ],
            ),
            // `31W` is skipped in 30-day months (the agent ignores days past the end);
            // 2025-08-31 is a Sunday, the last day → Friday the 29th.
            (
                "0 0 12 31W * ?",
                "2025-06-01 00:00:00",
                &[
                    "2025-07-31 Thu 12:00:00",
                    "2025-08-29 Fri 12:00:00",
                    "2025-10-31 Fri 12:00:00",
                    "2025-12-31 Wed 12:00:00",
                ],
            ),
            // `30W` never fires in February.
            (
                "0 0 12 30W 1-3 ?",
                "2025-01-01 00:00:00",
                &[
                    "2025-01-30 Thu 12:00:00",
                    "2025-03-31 Mon 12:00:00",
                    "2026-01-30 Fri 12:00:00",
                ],
            ),
            // `6L`: the last Saturday; `7L` the last Sunday.
            (
                "0 0 12 ? * 6L",
                "2025-01-01 00:00:00",
                &[
                    "2025-01-25 Sat 12:00:00",
                    "2025-02-22 Sat 12:00:00",
                    "2025-03-29 Sat 12:00:00",
                ],
            ),
            (
                "0 0 12 ? * 7L",
                "2025-01-01 00:00:00",
                &[
                    "2025-01-26 Sun 12:00:00",
                    "2025-02-23 Sun 12:00:00",
                    "2025-03-30 Sun 12:00:00",
                ],
            ),
            // `4#2`: the second Thursday; `1#5` the fifth Monday, only in months that have one.
            (
                "0 0 12 ? * 4#2",
                "2025-01-01 00:00:00",
                &[
                    "2025-01-09 Thu 12:00:00",
                    "2025-02-13 Thu 12:00:00",
                    "2025-03-13 Thu 12:00:00",
                ],
            ),
            (
                "0 0 12 ? * MON#5",
                "2025-01-01 00:00:00",
                &[
                    "2025-03-31 Mon 12:00:00",
                    "2025-06-30 Mon 12:00:00",
                    "2025-09-29 Mon 12:00:00",
                ],
            ),
            (
                "0 0 12 ? * 0#1",
                "2025-01-01 00:00:00",
                &["2025-01-05 Sun 12:00:00", "2025-02-02 Sun 12:00:00"],
            ),
            // `?` and `*` in the day fields; lists, ranges and steps within a day.
            (
                "0 15 10 ? * *",
                "2025-01-01 10:15:00",
                &["2025-01-02 Thu 10:15:00", "2025-01-03 Fri 10:15:00"],
            ),
            (
                "0 0/30 9-10 * * ?",
                "2025-01-01 09:10:00",
                &[
                    "2025-01-01 Wed 09:30:00",
                    "2025-01-01 Wed 10:00:00",
                    "2025-01-01 Wed 10:30:00",
                    "2025-01-02 Thu 09:00:00",
                ],
            ),
            (
                "10,40 59 23 31 12 ?",
                "2025-12-31 23:59:10",
                &["2025-12-31 Wed 23:59:40", "2026-12-31 Thu 23:59:10"],
            ),
            (
                "*/20 * * * * ?",
                "2025-01-01 00:00:00",
                &[
                    "2025-01-01 Wed 00:00:20",
                    "2025-01-01 Wed 00:00:40",
                    "2025-01-01 Wed 00:01:00",
                ],
            ),
            // Years: one, a range, a step, and the end of the agent's range.
            (
                "0 0 0 1 1 ? 2027",
                "2025-06-01 00:00:00",
                &["2027-01-01 Fri 00:00:00"],
            ),
            (
                "0 0 0 1 1 ? 2025-2026",
                "2024-06-01 00:00:00",
                &["2025-01-01 Wed 00:00:00", "2026-01-01 Thu 00:00:00"],
            ),
            (
                "0 0 0 1 1 ? 2025/2",
                "2025-06-01 00:00:00",
                &["2027-01-01 Fri 00:00:00", "2029-01-01 Mon 00:00:00"],
            ),
            ("0 0 0 1 1 ? 2024", "2025-06-01 00:00:00", &[]),
            (
                "0 0 0 31 12 ?",
                "2098-06-01 00:00:00",
                &["2098-12-31 Wed 00:00:00", "2099-12-31 Thu 00:00:00"],
            ),
            // February 30th never exists.
            ("0 0 0 30 2 ?", "2025-01-01 00:00:00", &[]),
        ];
        for (expr, from, expected) in cases {
            assert_eq!(
                dialect(expr, from, expected.len().max(1)),
                *expected,
                "{expr} after {from}"
            );
        }
    }

    /// Names and numbers mean the same days: `MON` = `1`, `SUN` = `0` = `7`, `JAN` = `1`.
    #[test]
    fn names_against_numbers() {
        let pairs = [
            ("0 0 12 ? * MON", "0 0 12 ? * 1"),
            ("0 0 12 ? * monday", "0 0 12 ? * 1"),
            ("0 0 12 ? * SUN", "0 0 12 ? * 0"),
            ("0 0 12 ? * SUN", "0 0 12 ? * 7"),
            ("0 0 12 ? * SAT", "0 0 12 ? * 6"),
            ("0 0 12 ? * MON-FRI", "0 0 12 ? * 1-5"),
            ("0 0 12 ? * THU#2", "0 0 12 ? * 4#2"),
            ("0 0 12 ? * FRIL", "0 0 12 ? * 5L"),
            ("0 0 12 1 JAN ?", "0 0 12 1 1 ?"),
            ("0 0 12 1 JAN-MAR ?", "0 0 12 1 1-3 ?"),
            ("0 0 12 1 december ?", "0 0 12 1 12 ?"),
        ];
        for (named, numbered) in pairs {
            let from = "2025-01-01 00:00:00";
            assert_eq!(
                dialect(named, from, 6),
                dialect(numbered, from, 6),
                "{named} vs {numbered}"
            );
        }
        // And `1` is Monday, not Sunday as in Quartz: 2025-01-06 is the first Monday.
        assert_eq!(
            dialect("0 0 12 ? * 1", "2025-01-01 00:00:00", 1),
            ["2025-01-06 Mon 12:00:00"]
        );
    }

    /// The `cron` crate's own conventions, pinned: its `1` is Sunday, it ANDs the day fields,
    /// and it refuses a time-zone suffix. These are why it never sees the user's text.
    #[test]
    fn cron_crate_conventions() {
        let after = Utc
            .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
            .single()
            .expect("instant");
        let first = |expr: &str| {
            cron::Schedule::from_str(expr)
                .map(|s| {
                    s.after(&after)
                        .next()
                        .map(|t| t.format("%Y-%m-%d %a").to_string())
                })
                .map_err(|_| ())
        };
        assert_eq!(first("0 0 12 ? * 1"), Ok(Some("2025-01-05 Sun".to_owned())));
        assert_eq!(first("0 0 12 ? * 2"), Ok(Some("2025-01-06 Mon".to_owned())));
        assert_eq!(
            first("0 0 12 ? * MON"),
            Ok(Some("2025-01-06 Mon".to_owned()))
        );
        assert!(first("0 0 12 ? * 0").is_err(), "the crate has no weekday 0");
        assert_eq!(
            first("0 0 12 13 * FRI"),
            Ok(Some("2025-06-13 Fri".to_owned())),
            "AND of the day fields"
        );
        assert!(first("0 0 12 * * ? Asia/Shanghai").is_err());
        assert!(first("0 0 12 L * ?").is_err());
        assert!(first("0 0 12 ? * 6#3").is_err());
        assert!(
            first("0 */12 * * *").is_err(),
            "B09: the crate refuses 5 fields too"
        );
    }

    /// The rewritten expression handed to the crate.
    #[test]
    fn crate_rewrite() {
        let cases = [
            ("0 0 12 ? * 1-5", Some("0 0 12 * * MON,TUE,WED,THU,FRI *")),
            ("0 0 12 ? * 0,7", Some("0 0 12 * * SUN *")),
            (
                "*/15 0-30/10 9-17 1,15 JAN/3 ? 2025",
                Some("*/15 0-30/10 9-17 1,15 1/3 * 2025"),
            ),
            ("0 0 12 L * ?", None),
            ("0 0 12 ? * 6#3", None),
        ];
        for (expr, expected) in cases {
            let parsed = parse_cron(expr).expect(expr).expr;
            assert_eq!(crate_expression(&parsed).as_deref(), expected, "{expr}");
            assert_eq!(
                WallClock::new(&parsed).uses_crate(),
                expected.is_some(),
                "{expr}"
            );
        }
    }

    /// Both engines give the same matches wherever both apply: a fixed table, then a seeded
    /// sweep over generated expressions.
    #[test]
    fn engines_agree() {
        let table = [
            "0 0 12 ? * 1-5",
            "0 0 12 ? * SUN,SAT",
            "*/7 */13 */5 * * ?",
            "0 30 2 * * ?",
            "0 0 0 29 2 ?",
            "0 0 0 31 * ?",
            "15 10 8-18/3 ? * MON,WED,FRI",
            "0 0 12 1,15 JAN-JUN ? 2025-2027",
            "0 0 0 1 1 ? 2025/3",
        ];
        for expr in table {
            compare(expr);
        }
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..300 {
            let (s, m, h) = (rng.field(0, 59), rng.field(0, 59), rng.field(0, 23));
            let month = rng.field(1, 12);
            let (dom, dow) = if rng.pick(2) == 0 {
                (rng.field(1, 31), "?".to_owned())
            } else {
                ("?".to_owned(), rng.field(0, 6))
            };
            let year = if rng.pick(3) == 0 {
                format!(" {}", 2025 + rng.pick(5))
            } else {
                String::new()
            };
            compare(&format!("{s} {m} {h} {dom} {month} {dow}{year}"));
        }
    }

    /// A xorshift generator: a fixed seed keeps the sweep reproducible.
    struct Rng(u64);

    impl Rng {
        fn pick(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }

        /// A random field entry within `min..=max`: `*`, a value, a range, a step or a list.
        fn field(&mut self, min: u64, max: u64) -> String {
            let a = min + self.pick(max - min + 1);
            let b = a + self.pick(max - a + 1);
            match self.pick(6) {
                0 => "*".to_owned(),
                1 => a.to_string(),
                2 => format!("{a}-{b}"),
                3 => format!("*/{}", 1 + self.pick(max.min(59))),
                4 => format!("{a}/{}", 1 + self.pick(max.min(59))),
                _ => format!("{a},{b}"),
            }
        }
    }

    fn compare(expr: &str) {
        let Ok(parsed) = parse_cron(expr) else { return };
        let parsed = parsed.expr;
        let crate_wall = WallClock::new(&parsed);
        assert!(crate_wall.uses_crate(), "{expr}");
        for from in [
            "2025-01-31 23:59:59",
            "2025-02-28 12:00:00",
            "2025-12-31 23:00:00",
        ] {
            assert_eq!(
                matches(&crate_wall, from, 25),
                matches(&WallClock::dialect(&parsed), from, 25),
                "{expr} after {from}"
            );
        }
    }
}
