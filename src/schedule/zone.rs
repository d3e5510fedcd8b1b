//! Time zones as Cloud Assistant writes them: IANA names, `UTC`/`GMT`, and `GMT±H:MM`.
//!
//! This module owns the zone grammar (the agent's `_parseLocation` in `cronscheduled.go`) and
//! the mapping between local wall-clock times and instants, including how Go's `time.Date`
//! resolves a local time that a DST change skips or repeats. Deciding what a preview shows at
//! such times is left to `preview`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use crate::schedule::error::{FrequencyError, FrequencyErrorKind};

/// A time zone named in a Frequency expression (or given as the default for previews).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// The zone as written (`Asia/Shanghai`, `GMT+8:00`, `UTC`).
    name: String,
    kind: ZoneKind,
}

/// How a [`Zone`] maps instants to local times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ZoneKind {
    /// `UTC` or `GMT`.
    Utc,
    /// `GMT±H:MM`: a fixed offset, never any DST.
    Fixed(FixedOffset),
    /// An IANA name from the tz database.
    Named(Tz),
}

/// Where a local wall-clock time falls in a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LocalTime {
    /// The local time happens once.
    Single(DateTime<Utc>),
    /// The local time happens twice (autumn overlap); the earlier instant comes first.
    Repeated(DateTime<Utc>, DateTime<Utc>),
    /// The local time never happens (spring-forward gap).
    Missing,
}

/// A change of UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transition {
    /// The first instant with the new offset.
    pub(crate) at: DateTime<Utc>,
    /// The offset before.
    pub(crate) before: FixedOffset,
    /// The offset from `at` on.
    pub(crate) after: FixedOffset,
}

impl Transition {
    /// The local wall-clock time just before the change (e.g. 02:00 when clocks jump to 03:00).
    pub(crate) fn local_before(&self) -> NaiveDateTime {
        self.at.with_timezone(&self.before).naive_local()
    }

    /// The local wall-clock time just after the change.
    pub(crate) fn local_after(&self) -> NaiveDateTime {
        self.at.with_timezone(&self.after).naive_local()
    }
}

impl Zone {
    /// Coordinated Universal Time, named `UTC`.
    pub fn utc() -> Self {
        Self {
            name: "UTC".to_owned(),
            kind: ZoneKind::Utc,
        }
    }

    /// The zone as written.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tz-database zone, when the zone is an IANA name.
    pub fn tz(&self) -> Option<Tz> {
        match self.kind {
            ZoneKind::Named(tz) => Some(tz),
            ZoneKind::Utc | ZoneKind::Fixed(_) => None,
        }
    }

    /// The UTC offset in force at `instant`.
    pub fn offset_at(&self, instant: DateTime<Utc>) -> FixedOffset {
        match self.kind {
            ZoneKind::Utc => Utc.fix(),
            ZoneKind::Fixed(offset) => offset,
            ZoneKind::Named(tz) => tz.offset_from_utc_datetime(&instant.naive_utc()).fix(),
        }
    }

    /// `instant` as a local time in this zone.
    pub fn to_local(&self, instant: DateTime<Utc>) -> DateTime<FixedOffset> {
        instant.with_timezone(&self.offset_at(instant))
    }

    /// Whether this zone ever changes its offset (only IANA names can).
    pub(crate) fn may_shift(&self) -> bool {
        matches!(self.kind, ZoneKind::Named(_))
    }

    /// Where the local wall-clock time `local` falls.
    pub(crate) fn resolve(&self, local: NaiveDateTime) -> LocalTime {
        let result = match self.kind {
            ZoneKind::Utc => return LocalTime::Single(Utc.from_utc_datetime(&local)),
            ZoneKind::Fixed(offset) => offset.from_local_datetime(&local).map(|t| t.to_utc()),
            ZoneKind::Named(tz) => tz.from_local_datetime(&local).map(|t| t.to_utc()),
        };
        match result {
            LocalResult::Single(t) => LocalTime::Single(t),
            LocalResult::Ambiguous(a, b) => LocalTime::Repeated(a.min(b), a.max(b)),
            LocalResult::None => LocalTime::Missing,
        }
    }

    /// The instant Go's `time.Date(.., loc)` returns for `local`, which is how the agent's
    /// cron library (gorhill/cronexpr) turns each matching wall-clock time into a fire time.
    ///
    /// Go looks up the offset in force at `local` read as if it were UTC, and, when `local`
    /// minus that offset falls outside the period of that offset, the offset in force at that
    /// instant instead (`time.go`, `func Date`). Both steps are the same lookup, so the result
    /// is `local - offset(local - offset(local))`. For a time that exists once this is that
    /// time; for a skipped or repeated one it is one particular instant near it.
    pub(crate) fn go_date(&self, local: NaiveDateTime) -> DateTime<Utc> {
        let as_utc = |naive: NaiveDateTime| Utc.from_utc_datetime(&naive);
        let first = self.offset_at(as_utc(local)).local_minus_utc();
        let guess = local - TimeDelta::seconds(i64::from(first));
        let offset = self.offset_at(as_utc(guess)).local_minus_utc();
        as_utc(local - TimeDelta::seconds(i64::from(offset)))
    }

    /// The offset change nearest to the local time `local`, searched within 16 hours either
    /// side (wider than any UTC offset, so a skipped or repeated `local` is always covered).
    pub(crate) fn transition_near(&self, local: NaiveDateTime) -> Option<Transition> {
        if !self.may_shift() {
            return None;
        }
        let centre = local.and_utc().timestamp();
        let offset =
            |secs: i64| DateTime::from_timestamp(secs, 0).map(|instant| self.offset_at(instant));
        let (mut lo, mut hi) = (centre - 16 * 3600, centre + 16 * 3600);
        let (before, after) = (offset(lo)?, offset(hi)?);
        if before == after {
            return None;
        }
        // Invariant: offset(lo) == before, offset(hi) != before.
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if offset(mid)? == before {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(Transition {
            at: DateTime::from_timestamp(hi, 0)?,
            before,
            after: offset(hi)?,
        })
    }
}

impl From<Tz> for Zone {
    fn from(tz: Tz) -> Self {
        Self {
            name: tz.name().to_owned(),
            kind: ZoneKind::Named(tz),
        }
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// The forms a zone may take, for help lines.
const ZONE_FORMS: &str =
    "write an IANA name such as `Asia/Shanghai`, `UTC`, or an offset such as `GMT+8:00`";

/// Parses a time-zone suffix the way the agent does; spans are relative to `text`.
///
/// Accepted, as the agent accepts them: a name containing `/` that the tz database knows,
/// exactly `UTC` or `GMT`, and `GMT±H:MM` with an hour of 0–14 written without a leading
/// zero. Everything else is refused with the nearest accepted spelling.
pub fn parse_zone(text: &str) -> Result<Zone, FrequencyError> {
    let refuse = |message: String, help: String, replacement: Option<String>| {
        let mut error =
            FrequencyError::new(FrequencyErrorKind::Zone, text, 0..text.len(), message, help);
        error.replacement = replacement;
        error
    };
    if text == "UTC" || text == "GMT" {
        return Ok(Zone {
            name: text.to_owned(),
            kind: ZoneKind::Utc,
        });
    }
    if text.contains('/') {
        if let Ok(tz) = Tz::from_str(text) {
            return Ok(Zone {
                name: text.to_owned(),
                kind: ZoneKind::Named(tz),
            });
        }
        let message = format!("unknown time zone `{text}`");
        return Err(match did_you_mean(text) {
            Some(name) => refuse(
                message,
                format!("did you mean `{name}`?"),
                Some(name.to_owned()),
            ),
            None => refuse(message, ZONE_FORMS.to_owned(), None),
        });
    }
    if text.contains(['+', '-']) {
        return parse_gmt_offset(text).map_err(|(message, replacement)| match replacement {
            Some(fix) => refuse(message, format!("write `{fix}`"), Some(fix)),
            None => refuse(message, ZONE_FORMS.to_owned(), None),
        });
    }
    let upper = text.to_ascii_uppercase();
    if matches!(
        upper.as_str(),
        "UTC" | "GMT" | "Z" | "UCT" | "ZULU" | "UNIVERSAL"
    ) {
        return Err(refuse(
            format!("time zone `{text}` is not a name Cloud Assistant reads"),
            "write `UTC`".to_owned(),
            Some("UTC".to_owned()),
        ));
    }
    // A city name on its own, or a legacy name without `/` (`CET`, `Japan`): the agent only
    // loads names containing `/`.
    let message = format!(
        "time zone `{text}` is not one Cloud Assistant reads: it takes IANA names with a `/`, `UTC`, `GMT` and `GMT±H:MM`"
    );
    Err(match city_named(text) {
        Some(name) => refuse(
            message,
            format!("did you mean `{name}`?"),
            Some(name.to_owned()),
        ),
        None => refuse(message, ZONE_FORMS.to_owned(), None),
    })
}

/// Parses `GMT±H:MM`; on failure returns the message and, when the intent is clear, the
/// corrected spelling.
fn parse_gmt_offset(text: &str) -> Result<Zone, (String, Option<String>)> {
    let generic = || {
        (
            format!("time zone `{text}` is not a `GMT±H:MM` offset"),
            None,
        )
    };
    let (prefix, rest) = match text.get(..3) {
        Some(p) if p.eq_ignore_ascii_case("gmt") || p.eq_ignore_ascii_case("utc") => {
            (p, &text[3..])
        }
        _ => ("", text),
    };
    let mut chars = rest.chars();
    let Some(sign @ ('+' | '-')) = chars.next() else {
        return Err(generic());
    };
    let body = chars.as_str();
    let (hours, minutes) = match body.split_once(':') {
        Some((h, m)) => (h, m),
        None if body.len() == 4 => body.split_at(2),
        None => (body, "00"),
    };
    let digits = |s: &str, max_len: usize| {
        (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i32>().ok())
            .flatten()
    };
    let (Some(h), Some(m)) = (digits(hours, 2), digits(minutes, 2)) else {
        return Err(generic());
    };
    if h > 14 || m > 59 {
        return Err((
            format!(
                "offset `{text}` is out of range: Cloud Assistant reads hours 0–14 and minutes 00–59"
            ),
            None,
        ));
    }
    let canonical = format!("GMT{sign}{h}:{m:02}");
    if canonical == text {
        let seconds = (h * 3600 + m * 60) * if sign == '-' { -1 } else { 1 };
        let offset = FixedOffset::east_opt(seconds).expect("|offset| < 15 h is a valid offset");
        return Ok(Zone {
            name: text.to_owned(),
            kind: ZoneKind::Fixed(offset),
        });
    }
    let message = if prefix == "GMT"
        && minutes.len() == 2
        && hours.len() == 2
        && hours.starts_with('0')
    {
        format!("time zone `{text}` has a leading zero in the hour, which Cloud Assistant refuses")
    } else {
        format!(
            "time zone `{text}` is not written the way Cloud Assistant reads offsets (`GMT±H:MM`)"
        )
    };
    Err((message, Some(canonical)))
}

/// The tz-database name closest to an unknown `name` that contains `/`: the same name in
/// another case, else the nearest by edit distance (at most 3 edits).
fn did_you_mean(name: &str) -> Option<&'static str> {
    let names = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name());
    if let Some(same) = names.clone().find(|n| n.eq_ignore_ascii_case(name)) {
        return Some(same);
    }
    let lower = name.to_ascii_lowercase();
    names
        .map(|n| (edit_distance(&lower, &n.to_ascii_lowercase()), n))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, n)| n)
}

/// The tz-database name whose last part is `city` (`Shanghai` → `Asia/Shanghai`).
fn city_named(city: &str) -> Option<&'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).find(|n| {
        n.rsplit('/')
            .next()
            .is_some_and(|last| n.contains('/') && last.eq_ignore_ascii_case(city))
    })
}

/// Levenshtein distance over bytes (zone names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut row = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            row[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(row[j] + 1);
        }
        prev = row;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn naive(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("test time")
    }

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

    /// One zone per line: the text and the name/offset it parses to, or the error's message
    /// and help.
    #[test]
    #[expect(clippy::too_many_lines, reason = "one table of cases")]
    fn zone_forms() {
        let cases: &[Case] = &[
            ("Asia/Shanghai", Ok("Asia/Shanghai +08:00")),
            ("America/New_York", Ok("America/New_York -05:00")),
            ("Etc/GMT+8", Ok("Etc/GMT+8 -08:00")),
            ("UTC", Ok("UTC +00:00")),
            ("GMT", Ok("GMT +00:00")),
            ("GMT+8:00", Ok("GMT+8:00 +08:00")),
            ("GMT-7:00", Ok("GMT-7:00 -07:00")),
            ("GMT+5:45", Ok("GMT+5:45 +05:45")),
            ("GMT+14:00", Ok("GMT+14:00 +14:00")),
            ("GMT+0:00", Ok("GMT+0:00 +00:00")),
            (
                "GMT+08:00",
                Err((
                    "time zone `GMT+08:00` has a leading zero in the hour, which Cloud Assistant refuses",
                    "write `GMT+8:00`",
                )),
            ),
            (
                "GMT+8",
                Err((
                    "time zone `GMT+8` is not written the way Cloud Assistant reads offsets (`GMT±H:MM`)",
                    "write `GMT+8:00`",
                )),
            ),
            (
                "UTC+8",
                Err((
                    "time zone `UTC+8` is not written the way Cloud Assistant reads offsets (`GMT±H:MM`)",
                    "write `GMT+8:00`",
                )),
            ),
            (
                "+0800",
                Err((
                    "time zone `+0800` is not written the way Cloud Assistant reads offsets (`GMT±H:MM`)",
                    "write `GMT+8:00`",
                )),
            ),
            (
                "gmt-3:30",
                Err((
                    "time zone `gmt-3:30` is not written the way Cloud Assistant reads offsets (`GMT±H:MM`)",
                    "write `GMT-3:30`",
                )),
            ),
            (
                "GMT+15:00",
                Err((
                    "offset `GMT+15:00` is out of range: Cloud Assistant reads hours 0–14 and minutes 00–59",
                    ZONE_FORMS,
                )),
            ),
            (
                "GMT+x",
                Err(("time zone `GMT+x` is not a `GMT±H:MM` offset", ZONE_FORMS)),
            ),
            (
                "Asia/Shanghia",
                Err((
                    "unknown time zone `Asia/Shanghia`",
                    "did you mean `Asia/Shanghai`?",
                )),
            ),
            (
                "asia/shanghai",
                Err((
                    "unknown time zone `asia/shanghai`",
                    "did you mean `Asia/Shanghai`?",
                )),
            ),
            (
                "Mars/Olympus_Mons",
                Err(("unknown time zone `Mars/Olympus_Mons`", ZONE_FORMS)),
            ),
            (
                "utc",
                Err((
                    "time zone `utc` is not a name Cloud Assistant reads",
                    "write `UTC`",
                )),
            ),
            (
                "Shanghai",
                Err((
                    "time zone `Shanghai` is not one Cloud Assistant reads: it takes IANA names with a `/`, `UTC`, `GMT` and `GMT±H:MM`",
                    "did you mean `Asia/Shanghai`?",
                )),
            ),
            (
                "CET",
                Err((
                    "time zone `CET` is not one Cloud Assistant reads: it takes IANA names with a `/`, `UTC`, `GMT` and `GMT±H:MM`",
                    ZONE_FORMS,
                )),
            ),
        ];
        let winter = utc("2025-01-15T00:00:00Z");
        for (text, expected) in cases {
            let got = parse_zone(text)
                .map(|z| format!("{} {}", z.name(), z.offset_at(winter)))
                .map_err(|e| (e.message, e.help));
            let expected = expected
                .map(str::to_owned)
                .map_err(|(m, h)| (m.to_owned(), h.to_owned()));
            assert_eq!(got, expected, "{text}");
        }
    }

    #[test]
    fn zone_error_span_and_replacement() {
        let e = parse_zone("GMT+08:00").expect_err("leading zero");
        assert_eq!(
            (e.span, e.token.as_str(), e.replacement.as_deref()),
            (0..9, "GMT+08:00", Some("GMT+8:00"))
        );
    }

    /// Go's `time.Date` for skipped and repeated local times, worked by hand from `time.go`:
    /// west of UTC it picks the offset after a gap and the first pass of an overlap, east of
    /// UTC the offset before a gap and the second pass.
    #[test]
    fn go_date_matches_go_normalisation() {
        let ny = Zone::from(Tz::America__New_York);
        let berlin = Zone::from(Tz::Europe__Berlin);
        let london = Zone::from(Tz::Europe__London);
        let cases = [
            (&ny, "2025-03-09 02:30:00", "2025-03-09T06:30:00+00:00"),
            (&ny, "2025-11-02 01:30:00", "2025-11-02T05:30:00+00:00"),
            (&ny, "2025-07-01 12:00:00", "2025-07-01T16:00:00+00:00"),
            (&berlin, "2025-03-30 02:30:00", "2025-03-30T01:30:00+00:00"),
            (&berlin, "2025-10-26 02:30:00", "2025-10-26T01:30:00+00:00"),
            (&london, "2025-03-30 01:30:00", "2025-03-30T01:30:00+00:00"),
            (&london, "2025-10-26 01:30:00", "2025-10-26T01:30:00+00:00"),
        ];
        for (zone, local, expected) in cases {
            assert_eq!(
                zone.go_date(naive(local)).to_rfc3339(),
                expected,
                "{} {local}",
                zone.name()
            );
        }
    }

    #[test]
    fn resolve_and_transitions() {
        let ny = Zone::from(Tz::America__New_York);
        assert_eq!(ny.resolve(naive("2025-03-09 02:30:00")), LocalTime::Missing);
        assert_eq!(
            ny.resolve(naive("2025-11-02 01:30:00")),
            LocalTime::Repeated(utc("2025-11-02T05:30:00Z"), utc("2025-11-02T06:30:00Z"))
        );
        let spring = ny
            .transition_near(naive("2025-03-09 02:30:00"))
            .expect("spring change");
        assert_eq!(spring.at, utc("2025-03-09T07:00:00Z"));
        assert_eq!(
            (
                spring.local_before().to_string(),
                spring.local_after().to_string()
            ),
            (
                "2025-03-09 02:00:00".to_owned(),
                "2025-03-09 03:00:00".to_owned()
            )
        );
        let autumn = ny
            .transition_near(naive("2025-11-02 01:30:00"))
            .expect("autumn change");
        assert_eq!(autumn.at, utc("2025-11-02T06:00:00Z"));
        assert_eq!(autumn.local_after().to_string(), "2025-11-02 01:00:00");
        assert_eq!(
            Zone::utc().transition_near(naive("2025-03-09 02:30:00")),
            None
        );
        let shanghai = parse_zone("Asia/Shanghai").expect("zone");
        assert_eq!(
            shanghai.transition_near(NaiveDate::from_ymd_opt(2025, 3, 9).expect("date").into()),
            None
        );
    }
}
