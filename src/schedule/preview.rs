//! Previews: the next fire times of a [`Frequency`] in the zone they fire in and in UTC, with
//! warnings about DST changes and zone-less cron expressions.
//!
//! This module decides what happens at DST changes, once, for previews and for `validate`'s
//! interval check. A wall-clock time that a spring-forward change skips gets no run (as cron
//! and Quartz do, and as case B11 expects) and a warning. A wall-clock time that an autumn
//! change repeats gets one run, at the instant Cloud Assistant's agent picks: its cron library
//! (gorhill/cronexpr) matches wall-clock fields and builds each fire time with Go's
//! `time.Date`, which resolves a repeated time to one offset (see [`Zone::go_date`]). Nothing
//! here prints; [`render_text`] returns the text.

use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeDelta, Utc};

use crate::schedule::cron::CronExpr;
use crate::schedule::frequency::{Frequency, FrequencyKind, rfc3339};
use crate::schedule::wall_clock::WallClock;
use crate::schedule::zone::{LocalTime, Transition, Zone};

/// The most fire times one preview lists.
pub const MAX_PREVIEW: usize = 1000;

/// How many wall-clock candidates a preview may examine before giving up.
const CANDIDATE_BUDGET: usize = 200_000;

/// What to preview.
#[derive(Debug, Clone)]
pub struct PreviewOptions {
    /// How many fire times to list (at most [`MAX_PREVIEW`]).
    pub count: usize,
    /// List fire times strictly after this instant.
    pub from: DateTime<Utc>,
    /// The zone assumed for a cron expression that names none (from `--timezone` or the
    /// runbook's `schedule.timezone`); UTC when `None`. Also the display zone of `rate(..)`.
    pub default_zone: Option<Zone>,
    /// When the task was (or will be) created, which anchors `rate(..)`; `from` when `None`.
    pub created_at: Option<DateTime<Utc>>,
}

/// One fire time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FireTime {
    /// In the zone it fires in.
    pub local: DateTime<FixedOffset>,
    /// The same instant in UTC.
    pub utc: DateTime<Utc>,
}

/// The result of [`preview`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// The zone the times are shown in.
    pub zone: String,
    /// Whether that zone was assumed rather than written in the expression (a zone-less cron
    /// expression runs by each instance's own clock).
    pub zone_assumed: bool,
    /// The fire times, in order.
    pub times: Vec<FireTime>,
    /// Things the reader must know: DST changes, the assumed zone, remarks from parsing.
    pub warnings: Vec<String>,
    /// Why no preview could be computed, when it could not. The evaluator covers every form
    /// [`parse`](super::parse) accepts, so this is only set when the search budget runs out.
    pub unavailable: Option<String>,
}

/// How far [`cron_fire_times`] goes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Horizon {
    /// At most this many fire times.
    pub(crate) count: usize,
    /// No fire time after this instant.
    pub(crate) until: Option<DateTime<Utc>>,
}

/// A wall-clock time that a DST change skipped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Skipped {
    /// The local time that does not exist.
    local: NaiveDateTime,
    /// Where Go's `time.Date` would put it (what the agent may do instead of skipping).
    agent: DateTime<Utc>,
    /// Whether, after a run at `agent`, the agent's next computed run would not be later than
    /// it: its timer loop (`timer.go`) stops on a negative wait, so the task would stop firing.
    stalls: bool,
}

/// A wall-clock time that a DST change repeated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Repeated {
    /// The local time that happens twice.
    local: NaiveDateTime,
    /// Its first occurrence.
    first: DateTime<Utc>,
    /// Its second occurrence.
    second: DateTime<Utc>,
    /// The occurrence listed (the agent's).
    chosen: DateTime<Utc>,
}

/// Fire times of a cron expression in a zone, with the DST cases met on the way.
#[derive(Debug, Clone, Default)]
pub(crate) struct CronRun {
    /// The fire times, strictly after the start.
    pub(crate) times: Vec<DateTime<Utc>>,
    /// Skipped local times before the last fire time.
    skipped: Vec<Skipped>,
    /// Repeated local times among the fire times.
    repeated: Vec<Repeated>,
    /// Whether the schedule has no more runs (year range over, or never matching).
    ended: bool,
    /// Whether the candidate budget ran out.
    exhausted: bool,
}

/// The fire times of `expr` in `zone` strictly after `from`, within `horizon`.
pub(crate) fn cron_fire_times(
    expr: &CronExpr,
    zone: &Zone,
    from: DateTime<Utc>,
    horizon: Horizon,
) -> CronRun {
    let wall = WallClock::new(expr);
    let mut run = CronRun::default();
    let mut cursor = zone.to_local(from).naive_local();
    let past = |t: DateTime<Utc>| horizon.until.is_some_and(|until| t > until);
    for _ in 0..CANDIDATE_BUDGET {
        if run.times.len() >= horizon.count {
            return run;
        }
        let Some(next) = wall.next_after(cursor) else {
            run.ended = true;
            return run;
        };
        cursor = next;
        match zone.resolve(next) {
            LocalTime::Single(t) => {
                if past(t) {
                    return run;
                }
                if t > from {
                    run.times.push(t);
                }
            }
            LocalTime::Repeated(first, second) => {
                let agent = zone.go_date(next);
                let chosen = if agent == second { second } else { first };
                if past(chosen) {
                    return run;
                }
                if chosen > from {
                    run.times.push(chosen);
                    run.repeated.push(Repeated {
                        local: next,
                        first,
                        second,
                        chosen,
                    });
                }
            }
            LocalTime::Missing => {
                let agent = zone.go_date(next);
                if past(agent) {
                    return run;
                }
                if agent > from {
                    let then = wall.next_after(zone.to_local(agent).naive_local());
                    let stalls = then.is_some_and(|n| zone.go_date(n) <= agent);
                    run.skipped.push(Skipped {
                        local: next,
                        agent,
                        stalls,
                    });
                }
            }
        }
    }
    run.exhausted = true;
    run
}

/// The next fire times of `freq`, with warnings.
pub fn preview(freq: &Frequency, options: &PreviewOptions) -> Preview {
    let count = options.count.min(MAX_PREVIEW);
    let mut warnings = Vec::new();
    if options.count > MAX_PREVIEW {
        warnings.push(format!(
            "only the first {MAX_PREVIEW} fire times are listed"
        ));
    }
    let default = options.default_zone.clone();
    let mut unavailable = None;
    let (zone, zone_assumed, times): (Zone, bool, Vec<DateTime<Utc>>) = match freq.kind() {
        FrequencyKind::Rate(interval) => {
            let zone = default.unwrap_or_else(Zone::utc);
            let interval = TimeDelta::from_std(*interval).unwrap_or(TimeDelta::MAX);
            let created = options.created_at.unwrap_or(options.from);
            if options.created_at.is_none() {
                warnings.push(format!(
                    "`{}` counts from when the task is created, first run one interval later; the preview assumes creation at {}",
                    freq.as_str(),
                    rfc3339(created)
                ));
            }
            (
                zone,
                false,
                rate_times(created, interval, options.from, count),
            )
        }
        FrequencyKind::At(instant) => {
            let zone = freq.zone().cloned().unwrap_or_else(Zone::utc);
            let times = if *instant > options.from {
                vec![*instant]
            } else {
                Vec::new()
            };
            if times.is_empty() {
                warnings.push(format!(
                    "`{}` is at {}, not after {}, so it has no run left (Cloud Assistant refuses it as `AtExpressionExpired`)",
                    freq.as_str(),
                    rfc3339(*instant),
                    rfc3339(options.from)
                ));
            }
            (zone, false, times.into_iter().take(count).collect())
        }
        FrequencyKind::Cron(expr) => {
            let (zone, assumed) = cron_zone(freq, default, &mut warnings);
            let run = cron_fire_times(expr, &zone, options.from, Horizon { count, until: None });
            warnings.extend(dst_warnings(&zone, &run));
            if run.ended && run.times.len() < count {
                warnings.push(match run.times.last() {
                    Some(last) => format!("the schedule has no run after {}", rfc3339(*last)),
                    None => format!(
                        "the schedule has no run after {} (Cloud Assistant refuses it as `CronExpressionExpired`)",
                        rfc3339(options.from)
                    ),
                });
            }
            if run.exhausted {
                unavailable = Some(format!(
                    "the search stopped after {CANDIDATE_BUDGET} candidate times without finding {count} fire times"
                ));
            }
            (zone, assumed, run.times)
        }
    };
    warnings.extend(freq.notes().iter().cloned());
    Preview {
        zone: zone.name().to_owned(),
        zone_assumed,
        times: times
            .into_iter()
            .map(|utc| FireTime {
                local: zone.to_local(utc),
                utc,
            })
            .collect(),
        warnings,
        unavailable,
    }
}

/// The zone a cron expression is previewed in, and whether it was assumed; warns when the
/// instance clock decides or when the default is overridden by the expression's own zone.
fn cron_zone(freq: &Frequency, default: Option<Zone>, warnings: &mut Vec<String>) -> (Zone, bool) {
    match (freq.zone(), default) {
        (Some(zone), Some(default)) => {
            if zone.name() != default.name() {
                warnings.push(format!(
                    "the expression's own zone `{}` decides when it runs; the default zone `{}` is not used",
                    zone.name(),
                    default.name()
                ));
            }
            (zone.clone(), false)
        }
        (Some(zone), None) => (zone.clone(), false),
        (None, default) => {
            let how = if default.is_some() {
                "the default zone given"
            } else {
                "pass a default zone (e.g. `--timezone`) to preview another"
            };
            let zone = default.unwrap_or_else(Zone::utc);
            warnings.push(format!(
                "`{}` names no time zone, so each instance runs it by its own system clock; the preview assumes `{}` ({how}); add a zone such as `Asia/Shanghai` to the expression to pin it",
                freq.as_str(),
                zone.name()
            ));
            (zone, true)
        }
    }
}

/// `rate(..)` fire times: `created + k·interval` for k ≥ 1, strictly after `from` (the agent's
/// `start + (⌊elapsed/period⌋ + 1)·period`).
fn rate_times(
    created: DateTime<Utc>,
    interval: TimeDelta,
    from: DateTime<Utc>,
    count: usize,
) -> Vec<DateTime<Utc>> {
    let period = interval.num_seconds();
    if period <= 0 {
        return Vec::new();
    }
    let first_k = if from < created {
        1
    } else {
        (from - created).num_seconds() / period + 1
    };
    (0..)
        .map_while(|i: i64| {
            let k = first_k.checked_add(i)?;
            created.checked_add_signed(TimeDelta::seconds(period.checked_mul(k)?))
        })
        .take(count)
        .collect()
}

/// Local times as `02:30:00`, listed: "`02:00:00`, `02:15:00` and `02:30:00`", or a count.
fn list_times(times: &[NaiveDateTime]) -> String {
    let shown: Vec<String> = times
        .iter()
        .map(|t| format!("`{}`", t.format("%H:%M:%S")))
        .collect();
    match shown.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        many if many.len() <= 4 => {
            let (last, rest) = many.split_last().expect("not empty");
            format!("{} and {last}", rest.join(", "))
        }
        many => format!(
            "{} fire times from {} to {}",
            many.len(),
            many[0],
            many[many.len() - 1]
        ),
    }
}

/// How the clocks move, e.g. "clocks jump from 02:00 to 03:00".
fn clock_change(transition: Option<Transition>) -> String {
    transition.map_or_else(String::new, |t| {
        let verb = if t.after.local_minus_utc() > t.before.local_minus_utc() {
            "jump"
        } else {
            "go back"
        };
        format!(
            " (clocks {verb} from {} to {})",
            t.local_before().format("%H:%M"),
            t.local_after().format("%H:%M")
        )
    })
}

/// One warning per DST change met: skipped times, then repeated ones, in order.
fn dst_warnings(zone: &Zone, run: &CronRun) -> Vec<String> {
    let mut warnings = Vec::new();
    let name = zone.name();
    for group in group_by_change(zone, &run.skipped, |s| s.local) {
        let locals: Vec<NaiveDateTime> = group.iter().map(|s| s.local).collect();
        let (first, transition) = (group[0], zone.transition_near(group[0].local));
        let plural = locals.len() > 1;
        let (verb, them) = if plural {
            ("do", "them")
        } else {
            ("does", "it")
        };
        let tail = if plural {
            "they get no run"
        } else {
            "it gets no run"
        };
        let agent_local = zone.to_local(first.agent).format("%Y-%m-%dT%H:%M:%S%:z");
        let agent_at = if plural {
            format!(
                "where Go's `time.Date` puts the missing times, from {agent_local} ({})",
                rfc3339(first.agent)
            )
        } else {
            format!(
                "at {agent_local} ({}), where Go's `time.Date` puts the missing time",
                rfc3339(first.agent)
            )
        };
        let stall = if group.iter().any(|s| s.stalls) {
            ", and then stop firing on that instance, because its next computed run is already past"
        } else {
            ""
        };
        let safe = transition.map_or_else(String::new, |t| {
            format!(
                "; to be safe, schedule outside {}–{} local time or use `UTC`",
                t.local_before().min(t.local_after()).format("%H:%M"),
                t.local_before().max(t.local_after()).format("%H:%M")
            )
        });
        warnings.push(format!(
            "{} {verb} not exist on {} in `{name}`{}, so {tail} that day; Cloud Assistant's agent may not skip {them} but run {agent_at}{stall} (derived from its library's source, unconfirmed){safe}",
            list_times(&locals),
            first.local.format("%Y-%m-%d"),
            clock_change(transition),
        ));
    }
    for group in group_by_change(zone, &run.repeated, |r| r.local) {
        let locals: Vec<NaiveDateTime> = group.iter().map(|r| r.local).collect();
        let first = group[0];
        let pass = if first.chosen == first.first {
            "first"
        } else {
            "second"
        };
        let offset = zone.offset_at(first.chosen);
        let other = if first.chosen == first.first {
            first.second
        } else {
            first.first
        };
        let expect = if group.len() == 1 {
            format!(
                "happens twice on {} in `{name}`{}: at {} ({}) and at {} ({}); expect one run, at {} ({offset}), as listed",
                first.local.format("%Y-%m-%d"),
                clock_change(zone.transition_near(first.local)),
                rfc3339(first.first),
                zone.offset_at(first.first),
                rfc3339(first.second),
                zone.offset_at(first.second),
                rfc3339(first.chosen),
            )
        } else {
            format!(
                "happen twice on {} in `{name}`{}; expect one run each, in the {pass} pass ({offset}), as listed, and none in the other ({})",
                first.local.format("%Y-%m-%d"),
                clock_change(zone.transition_near(first.local)),
                zone.offset_at(other),
            )
        };
        warnings.push(format!(
            "{} {expect}: Cloud Assistant's agent matches each wall-clock time once and Go's `time.Date` picks the {pass} pass (derived from its library's source, unconfirmed); a scheduler that runs both, like the `cron` crate, would run twice",
            list_times(&locals),
        ));
    }
    warnings
}

/// Groups items by the DST change they are near, keeping order.
fn group_by_change<T: Copy>(
    zone: &Zone,
    items: &[T],
    local: impl Fn(&T) -> NaiveDateTime,
) -> Vec<Vec<T>> {
    let mut groups: Vec<(Option<DateTime<Utc>>, Vec<T>)> = Vec::new();
    for item in items {
        let key = zone.transition_near(local(item)).map(|t| t.at);
        match groups.last_mut() {
            Some((k, group)) if *k == key => group.push(*item),
            _ => groups.push((key, vec![*item])),
        }
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

/// The preview as text: one line per fire time (local time, zone, UTC), then the warnings.
pub fn render_text(preview: &Preview) -> String {
    let mut out = String::new();
    if let Some(reason) = &preview.unavailable {
        let _ = writeln!(out, "preview unavailable: {reason}");
    }
    if preview.times.is_empty() && preview.unavailable.is_none() {
        let _ = writeln!(out, "no fire times");
    }
    let zone = if preview.zone_assumed {
        format!("{} (assumed)", preview.zone)
    } else {
        preview.zone.clone()
    };
    for time in &preview.times {
        let _ = writeln!(
            out,
            "{}  {zone}  {}",
            time.local.format("%Y-%m-%dT%H:%M:%S%:z"),
            rfc3339(time.utc)
        );
    }
    for warning in &preview.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono_tz::Tz;

    use super::*;
    use crate::schedule::frequency::parse;
    use crate::schedule::zone::parse_zone;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test instant")
            .to_utc()
    }

    fn options(from: &str, count: usize) -> PreviewOptions {
        PreviewOptions {
            count,
            from: utc(from),
            default_zone: None,
            created_at: None,
        }
    }

    /// The listed times as `local = utc` text.
    fn times(p: &Preview) -> Vec<String> {
        p.times
            .iter()
            .map(|t| format!("{} = {}", t.local.to_rfc3339(), rfc3339(t.utc)))
            .collect()
    }

    fn run(expr: &str, opts: &PreviewOptions) -> Preview {
        preview(&parse(expr).expect(expr), opts)
    }

    /// B09 item 2: `0 0 */12 * * ? Asia/Shanghai`, evaluated in its zone, after a fixed start
    /// (exclusive).
    #[test]
    fn b09_cron_with_zone_suffix() {
        let p = run(
            "0 0 */12 * * ? Asia/Shanghai",
            &options("2025-06-01T00:00:00+08:00", 3),
        );
        assert_eq!(
            times(&p),
            [
                "2025-06-01T12:00:00+08:00 = 2025-06-01T04:00:00Z",
                "2025-06-02T00:00:00+08:00 = 2025-06-01T16:00:00Z",
                "2025-06-02T12:00:00+08:00 = 2025-06-02T04:00:00Z",
            ]
        );
        assert_eq!(
            (
                p.zone.as_str(),
                p.zone_assumed,
                p.warnings.len(),
                p.unavailable
            ),
            ("Asia/Shanghai", false, 0, None)
        );
    }

    /// B09: a valid expression the `cron` crate cannot read is previewed by the dialect
    /// evaluator, not refused.
    #[test]
    fn b09_special_characters_are_previewed() {
        let p = run("0 15 10 ? * 6L", &options("2025-01-01T00:00:00Z", 2));
        assert_eq!(
            times(&p),
            [
                "2025-01-25T10:15:00+00:00 = 2025-01-25T10:15:00Z",
                "2025-02-22T10:15:00+00:00 = 2025-02-22T10:15:00Z"
            ]
        );
        assert_eq!(p.unavailable, None);
    }

    /// B11, spring: 02:30 does not exist on 2025-03-09 in New York; no run that day.
    #[test]
    fn b11_spring_gap_new_york() {
        let p = run(
            "0 30 2 * * ? America/New_York",
            &options("2025-03-07T12:00:00-05:00", 3),
        );
        assert_eq!(
            times(&p),
            [
                "2025-03-08T02:30:00-05:00 = 2025-03-08T07:30:00Z",
                "2025-03-10T02:30:00-04:00 = 2025-03-10T06:30:00Z",
                "2025-03-11T02:30:00-04:00 = 2025-03-11T06:30:00Z",
            ]
        );
        assert_eq!(
            p.warnings,
            [
                "`02:30:00` does not exist on 2025-03-09 in `America/New_York` (clocks jump from 02:00 to 03:00), so it gets no run that day; Cloud Assistant's agent may not skip it but run at 2025-03-09T01:30:00-05:00 (2025-03-09T06:30:00Z), where Go's `time.Date` puts the missing time, and then stop firing on that instance, because its next computed run is already past (derived from its library's source, unconfirmed); to be safe, schedule outside 02:00–03:00 local time or use `UTC`",
            ]
        );
    }

    /// B11, autumn: 01:30 happens twice on 2025-11-02 in New York; one run, at −04:00.
    #[test]
    fn b11_autumn_overlap_new_york() {
        let p = run(
            "0 30 1 * * ? America/New_York",
            &options("2025-11-01T12:00:00-04:00", 2),
        );
        assert_eq!(
            times(&p),
            [
                "2025-11-02T01:30:00-04:00 = 2025-11-02T05:30:00Z",
                "2025-11-03T01:30:00-05:00 = 2025-11-03T06:30:00Z",
            ]
        );
        assert_eq!(
            p.warnings,
            [
                "`01:30:00` happens twice on 2025-11-02 in `America/New_York` (clocks go back from 02:00 to 01:00): at 2025-11-02T05:30:00Z (-04:00) and at 2025-11-02T06:30:00Z (-05:00); expect one run, at 2025-11-02T05:30:00Z (-04:00), as listed: Cloud Assistant's agent matches each wall-clock time once and Go's `time.Date` picks the first pass (derived from its library's source, unconfirmed); a scheduler that runs both, like the `cron` crate, would run twice",
            ]
        );
    }

    /// B11, no zone: the zone assumed is stated, and the instance clock is said to decide.
    #[test]
    fn b11_cron_without_zone() {
        let p = run("0 30 2 * * ?", &options("2025-03-07T12:00:00Z", 1));
        assert_eq!((p.zone.as_str(), p.zone_assumed), ("UTC", true));
        assert_eq!(
            times(&p),
            ["2025-03-08T02:30:00+00:00 = 2025-03-08T02:30:00Z"]
        );
        assert_eq!(
            p.warnings,
            [
                "`0 30 2 * * ?` names no time zone, so each instance runs it by its own system clock; the preview assumes `UTC` (pass a default zone (e.g. `--timezone`) to preview another); add a zone such as `Asia/Shanghai` to the expression to pin it",
            ]
        );
        let mut with_default = options("2025-03-07T12:00:00Z", 1);
        with_default.default_zone = Some(Zone::from(Tz::America__New_York));
        let p = preview(&parse("0 30 2 * * ?").expect("valid"), &with_default);
        assert_eq!(
            (p.zone.as_str(), p.zone_assumed),
            ("America/New_York", true)
        );
        assert_eq!(
            times(&p),
            ["2025-03-08T02:30:00-05:00 = 2025-03-08T07:30:00Z"]
        );
        assert!(
            p.warnings[0]
                .contains("the preview assumes `America/New_York` (the default zone given)"),
            "{:?}",
            p.warnings
        );
    }

    /// DST in a second zone, Berlin (east of UTC): the gap and the overlap.
    #[test]
    fn dst_europe_berlin() {
        let p = run(
            "0 30 2 * * ? Europe/Berlin",
            &options("2025-03-29T12:00:00+01:00", 2),
        );
        assert_eq!(
            times(&p),
            [
                "2025-03-31T02:30:00+02:00 = 2025-03-31T00:30:00Z",
                "2025-04-01T02:30:00+02:00 = 2025-04-01T00:30:00Z",
            ]
        );
        assert_eq!(
            p.warnings,
            [
                "`02:30:00` does not exist on 2025-03-30 in `Europe/Berlin` (clocks jump from 02:00 to 03:00), so it gets no run that day; Cloud Assistant's agent may not skip it but run at 2025-03-30T03:30:00+02:00 (2025-03-30T01:30:00Z), where Go's `time.Date` puts the missing time (derived from its library's source, unconfirmed); to be safe, schedule outside 02:00–03:00 local time or use `UTC`",
            ]
        );
        // Autumn: Go's `time.Date` picks the second pass east of UTC.
        let p = run(
            "0 30 2 * * ? Europe/Berlin",
            &options("2025-10-25T12:00:00+02:00", 2),
        );
        assert_eq!(
            times(&p),
            [
                "2025-10-26T02:30:00+01:00 = 2025-10-26T01:30:00Z",
                "2025-10-27T02:30:00+01:00 = 2025-10-27T01:30:00Z",
            ]
        );
        assert_eq!(
            p.warnings,
            [
                "`02:30:00` happens twice on 2025-10-26 in `Europe/Berlin` (clocks go back from 03:00 to 02:00): at 2025-10-26T00:30:00Z (+02:00) and at 2025-10-26T01:30:00Z (+01:00); expect one run, at 2025-10-26T01:30:00Z (+01:00), as listed: Cloud Assistant's agent matches each wall-clock time once and Go's `time.Date` picks the second pass (derived from its library's source, unconfirmed); a scheduler that runs both, like the `cron` crate, would run twice",
            ]
        );
    }

    /// A frequent schedule across both changes: the gap's times are grouped in one warning,
    /// and the repeated hour is run once.
    #[test]
    fn dst_frequent_schedule() {
        let p = run(
            "0 0/20 1-3 * * ? America/New_York",
            &options("2025-03-09T00:00:00-05:00", 6),
        );
        assert_eq!(
            times(&p),
            [
                "2025-03-09T01:00:00-05:00 = 2025-03-09T06:00:00Z",
                "2025-03-09T01:20:00-05:00 = 2025-03-09T06:20:00Z",
                "2025-03-09T01:40:00-05:00 = 2025-03-09T06:40:00Z",
                "2025-03-09T03:00:00-04:00 = 2025-03-09T07:00:00Z",
                "2025-03-09T03:20:00-04:00 = 2025-03-09T07:20:00Z",
                "2025-03-09T03:40:00-04:00 = 2025-03-09T07:40:00Z",
            ]
        );
        assert!(p.warnings[0].starts_with("`02:00:00`, `02:20:00` and `02:40:00` do not exist on 2025-03-09 in `America/New_York` (clocks jump from 02:00 to 03:00), so they get no run that day; Cloud Assistant's agent may not skip them but run where Go's `time.Date` puts the missing times, from 2025-03-09T01:00:00-05:00 (2025-03-09T06:00:00Z)"), "{:?}", p.warnings);
        let p = run(
            "0 0/20 1-2 * * ? America/New_York",
            &options("2025-11-02T00:00:00-04:00", 5),
        );
        assert_eq!(
            times(&p),
            [
                "2025-11-02T01:00:00-04:00 = 2025-11-02T05:00:00Z",
                "2025-11-02T01:20:00-04:00 = 2025-11-02T05:20:00Z",
                "2025-11-02T01:40:00-04:00 = 2025-11-02T05:40:00Z",
                "2025-11-02T02:00:00-05:00 = 2025-11-02T07:00:00Z",
                "2025-11-02T02:20:00-05:00 = 2025-11-02T07:20:00Z",
            ]
        );
        assert!(p.warnings[0].starts_with("`01:00:00`, `01:20:00` and `01:40:00` happen twice on 2025-11-02 in `America/New_York` (clocks go back from 02:00 to 01:00); expect one run each, in the first pass (-04:00), as listed, and none in the other (-05:00)"), "{:?}", p.warnings);
    }

    /// Zones without DST never warn; a GMT offset is shown as written.
    #[test]
    fn fixed_offset_zone() {
        let p = run("0 0 3 * * ? GMT+8:00", &options("2025-03-08T12:00:00Z", 2));
        assert_eq!(
            times(&p),
            [
                "2025-03-09T03:00:00+08:00 = 2025-03-08T19:00:00Z",
                "2025-03-10T03:00:00+08:00 = 2025-03-09T19:00:00Z"
            ]
        );
        assert_eq!((p.zone.as_str(), p.warnings.len()), ("GMT+8:00", 0));
    }

    /// Rate: a fixed grid from creation, first run one interval later, strictly after `from`.
    #[test]
    fn rate_grid() {
        let cases: &[(&str, &str, Option<&str>, &[&str])] = &[
            (
                "rate(5m)",
                "2025-06-01T00:00:00Z",
                Some("2025-06-01T00:00:00Z"),
                &["2025-06-01T00:05:00Z", "2025-06-01T00:10:00Z"],
            ),
            (
                "rate(5m)",
                "2025-06-01T00:07:00Z",
                Some("2025-06-01T00:00:00Z"),
                &["2025-06-01T00:10:00Z", "2025-06-01T00:15:00Z"],
            ),
            (
                "rate(5m)",
                "2025-06-01T00:10:00Z",
                Some("2025-06-01T00:00:00Z"),
                &["2025-06-01T00:15:00Z", "2025-06-01T00:20:00Z"],
            ),
            (
                "rate(1d)",
                "2025-05-01T00:00:00Z",
                Some("2025-06-01T08:00:00Z"),
                &["2025-06-02T08:00:00Z", "2025-06-03T08:00:00Z"],
            ),
            (
                "rate(90s)",
                "2025-06-01T00:00:00Z",
                None,
                &["2025-06-01T00:01:30Z", "2025-06-01T00:03:00Z"],
            ),
        ];
        for (expr, from, created, expected) in cases {
            let mut opts = options(from, 2);
            opts.created_at = created.map(utc);
            let p = run(expr, &opts);
            let got: Vec<String> = p.times.iter().map(|t| rfc3339(t.utc)).collect();
            assert_eq!(got, *expected, "{expr} from {from}");
            assert_eq!(
                p.warnings.len(),
                usize::from(created.is_none()),
                "{expr}: {:?}",
                p.warnings
            );
        }
    }

    #[test]
    fn at_and_ended_schedules() {
        let p = run(
            "at(2025-06-01 03:00:00 Asia/Shanghai)",
            &options("2025-05-01T00:00:00Z", 5),
        );
        assert_eq!(
            times(&p),
            ["2025-06-01T03:00:00+08:00 = 2025-05-31T19:00:00Z"]
        );
        let p = run(
            "at(2025-06-01 03:00:00)",
            &options("2025-07-01T00:00:00Z", 5),
        );
        assert_eq!(p.times, []);
        assert_eq!(
            p.warnings[0],
            "`at(2025-06-01 03:00:00)` is at 2025-06-01T03:00:00Z, not after 2025-07-01T00:00:00Z, so it has no run left (Cloud Assistant refuses it as `AtExpressionExpired`)"
        );
        let p = run(
            "0 0 0 1 1 ? 2026-2027 UTC",
            &options("2025-07-01T00:00:00Z", 5),
        );
        assert_eq!(p.times.len(), 2);
        assert_eq!(
            p.warnings,
            ["the schedule has no run after 2027-01-01T00:00:00Z"]
        );
        let p = run("0 0 0 1 1 ? 2024 UTC", &options("2025-07-01T00:00:00Z", 5));
        assert_eq!(
            p.warnings,
            [
                "the schedule has no run after 2025-07-01T00:00:00Z (Cloud Assistant refuses it as `CronExpressionExpired`)"
            ]
        );
    }

    #[test]
    fn zone_and_parse_remarks() {
        let mut opts = options("2025-06-01T00:00:00Z", 1);
        opts.default_zone = Some(parse_zone("Europe/Berlin").expect("zone"));
        let p = run("0 0 3 ? * 1 Asia/Shanghai", &opts);
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
        assert_eq!(
            p.warnings[0],
            "the expression's own zone `Asia/Shanghai` decides when it runs; the default zone `Europe/Berlin` is not used"
        );
        assert!(
            p.warnings[1].starts_with("day-of-week `1` means MON:"),
            "{:?}",
            p.warnings
        );
    }

    #[test]
    fn rendered_text() {
        let p = run(
            "0 30 2 * * ? America/New_York",
            &options("2025-03-07T12:00:00-05:00", 3),
        );
        let text = render_text(&p);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            &lines[..3],
            [
                "2025-03-08T02:30:00-05:00  America/New_York  2025-03-08T07:30:00Z",
                "2025-03-10T02:30:00-04:00  America/New_York  2025-03-10T06:30:00Z",
                "2025-03-11T02:30:00-04:00  America/New_York  2025-03-11T06:30:00Z",
            ]
        );
        assert!(
            lines[3].starts_with("warning: `02:30:00` does not exist on 2025-03-09"),
            "{text}"
        );
        assert_eq!(lines.len(), 4);
        let p = run("0 0 3 * * ?", &options("2025-03-07T12:00:00Z", 1));
        assert!(render_text(&p).starts_with(
            "2025-03-08T03:00:00+00:00  UTC (assumed)  2025-03-08T03:00:00Z\nwarning: "
        ));
        let p = run(
            "at(2025-06-01 03:00:00 UTC)",
            &options("2025-07-01T00:00:00Z", 1),
        );
        assert!(render_text(&p).starts_with("no fire times\nwarning: "));
    }

    /// Previews cross-checked against the `cron` crate evaluating in the zone itself, where
    /// no DST change intervenes (the crate lists both passes of a repeated time).
    #[test]
    fn preview_matches_cron_crate_in_zone() {
        use std::str::FromStr;
        let cases = [
            (
                "0 0 */12 * * ?",
                Tz::Asia__Shanghai,
                "2025-06-01T00:00:00+08:00",
            ),
            (
                "0 30 2 * * ?",
                Tz::America__New_York,
                "2025-03-07T12:00:00-05:00",
            ),
            (
                "0 15 9-17 ? * MON-FRI",
                Tz::Europe__Berlin,
                "2025-03-28T00:00:00+01:00",
            ),
            (
                "0 0 12 1,15 * ?",
                Tz::Asia__Shanghai,
                "2025-01-01T00:00:00+08:00",
            ),
        ];
        for (expr, tz, from) in cases {
            let mut opts = options(from, 10);
            opts.default_zone = Some(Zone::from(tz));
            let ours: Vec<DateTime<Utc>> = run(expr, &opts).times.iter().map(|t| t.utc).collect();
            let theirs: Vec<DateTime<Utc>> = cron::Schedule::from_str(expr)
                .expect("the crate reads it")
                .after(&utc(from).with_timezone(&tz))
                .take(10)
                .map(|t| t.to_utc())
                .collect();
            assert_eq!(ours, theirs, "{expr} in {tz}");
        }
    }
}
