//! [`parse_time`]: the `--from` instant of a preview, as RFC 3339 or as a local time in a zone.
//!
//! Only the reading of the flag lives here; the CLI decides what "now" is.

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::schedule::frequency::rfc3339;
use crate::schedule::zone::{LocalTime, Zone, parse_zone};

/// Reads an instant: RFC 3339 (`2025-03-07T12:00:00-05:00`, `2025-03-07T17:00:00Z`), or
/// `yyyy-MM-dd HH:mm:ss` (or with `T`) followed by an optional zone in the Frequency forms
/// (`2025-03-07 12:00:00 America/New_York`, `… GMT+8:00`); without a zone it is UTC, as in
/// `at(..)`. A local time that a DST change skips or repeats is refused.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.to_utc());
    }
    let usage = || {
        format!(
            "`{text}` is not a time: write RFC 3339 such as `2025-03-07T12:00:00-05:00`, or `2025-03-07 12:00:00 America/New_York`"
        )
    };
    let (local, zone) = match text.rsplit_once(' ') {
        Some((head, tail))
            if NaiveDateTime::parse_from_str(head.trim(), "%Y-%m-%d %H:%M:%S").is_ok()
                || NaiveDateTime::parse_from_str(head.trim(), "%Y-%m-%dT%H:%M:%S").is_ok() =>
        {
            (head.trim(), Some(tail))
        }
        _ => (text, None),
    };
    let local = NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| usage())?;
    let zone = match zone {
        Some(z) => parse_zone(z).map_err(|e| format!("{}; {}", e.message, e.help))?,
        None => Zone::utc(),
    };
    match zone.resolve(local) {
        LocalTime::Single(t) => Ok(t),
        LocalTime::Missing => Err(format!("`{text}` does not exist: a DST change skips it")),
        LocalTime::Repeated(a, b) => Err(format!(
            "`{text}` happens twice ({} and {}): write it in RFC 3339 with its offset",
            rfc3339(a),
            rfc3339(b)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_flag_forms() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("2025-03-07T12:00:00-05:00", Ok("2025-03-07T17:00:00Z")),
            ("2025-03-07T17:00:00Z", Ok("2025-03-07T17:00:00Z")),
            (
                "2025-03-07 12:00:00 America/New_York",
                Ok("2025-03-07T17:00:00Z"),
            ),
            ("2025-03-07T12:00:00 GMT+8:00", Ok("2025-03-07T04:00:00Z")),
            ("2025-03-07 12:00:00", Ok("2025-03-07T12:00:00Z")),
            (
                "2025-03-07 12:00:00 GMT+08:00",
                Err(
                    "time zone `GMT+08:00` has a leading zero in the hour, which Cloud Assistant refuses; write `GMT+8:00`",
                ),
            ),
            (
                "2025-03-09 02:30:00 America/New_York",
                Err("`2025-03-09 02:30:00 America/New_York` does not exist: a DST change skips it"),
            ),
            (
                "2025-11-02 01:30:00 America/New_York",
                Err(
                    "`2025-11-02 01:30:00 America/New_York` happens twice (2025-11-02T05:30:00Z and 2025-11-02T06:30:00Z): write it in RFC 3339 with its offset",
                ),
            ),
            (
                "yesterday",
                Err(
                    "`yesterday` is not a time: write RFC 3339 such as `2025-03-07T12:00:00-05:00`, or `2025-03-07 12:00:00 America/New_York`",
                ),
            ),
        ];
        for (text, expected) in cases {
            let got = parse_time(text).map(rfc3339);
            assert_eq!(
                got,
                expected.map(str::to_owned).map_err(str::to_owned),
                "{text}"
            );
        }
    }
}
