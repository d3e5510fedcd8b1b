//! The schedule reports: the reconciliation `schedule apply` prints before it acts, what it
//! (or `run`) created and removed, and `schedule list`. Text only; the commands decide where
//! it goes.

use std::fmt::Write as _;

use crate::cloud::actions::InvocationResult;
use crate::count::Count;
use crate::exec::timed::{Change, CloudSchedule, Created, Diff, ReplaceReason};
use crate::plan::display::times_heading;
use crate::plan::model::{Plan, PlanFireTime};
use crate::schedule::Preview;

/// The first 12 digits of a hash, as plans show it.
fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

/// The instance count of a plan's only step, in words.
fn instances(plan: &Plan) -> String {
    plan.steps
        .first()
        .and_then(|s| s.targets.instances.as_ref())
        .map_or_else(
            || "its tag targets".to_owned(),
            |i| Count(i.len(), "instance").to_string(),
        )
}

/// The reconciliation, one line per schedule, with a summary line first.
pub fn diff_text(diff: &Diff, place: &str) -> String {
    let count = |f: fn(&Change) -> bool| diff.changes.iter().filter(|c| f(c)).count();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "schedule set `{}` on {place}: {} to create, {} to replace, {} to remove, {} unchanged",
        diff.set,
        count(|c| matches!(c, Change::Create(_))),
        count(|c| matches!(c, Change::Replace { .. })),
        count(|c| matches!(c, Change::Remove { .. })),
        count(|c| matches!(c, Change::Keep { .. })),
    );
    for change in &diff.changes {
        let _ = writeln!(out, "  {}", change_line(change));
    }
    for (name, set) in &diff.elsewhere {
        let _ = writeln!(
            out,
            "  note: `{name}` is also scheduled in set `{set}`, so it fires once for each set"
        );
    }
    out
}

/// One line of the reconciliation.
fn change_line(change: &Change) -> String {
    match change {
        Change::Create(d) => {
            let frequency = d
                .plan
                .schedule
                .as_ref()
                .map_or("", |s| s.frequency.as_str());
            format!(
                "+ create   `{}`: `{frequency}` on {} ({})",
                d.plan.runbook.name,
                instances(&d.plan),
                d.path
            )
        }
        Change::Replace {
            desired,
            current,
            reason,
        } => {
            let why = match reason {
                ReplaceReason::RunbookChanged { from, to } => format!(
                    "the runbook changed (sha256 {} → {})",
                    short(from),
                    short(to)
                ),
                ReplaceReason::SpecChanged => {
                    "what it sends changed (targets, region or Frequency)".to_owned()
                }
                ReplaceReason::Duplicated { found, needed } => format!(
                    "{} on the cloud where its targets need {needed}",
                    Count(*found, "Timed invocation")
                ),
            };
            format!(
                "~ replace  `{}` ({}): {why}",
                desired.plan.runbook.name,
                current.invoke_ids()
            )
        }
        Change::Remove { current, why } => format!(
            "- remove   `{}` ({}): {why}",
            current.name,
            current.invoke_ids()
        ),
        Change::Keep { current, .. } => format!(
            "= keep     `{}` ({}): unchanged",
            current.name,
            current.invoke_ids()
        ),
    }
}

/// What creating one schedule made, with its next fire times.
pub fn created_text(plan: &Plan, created: &Created, next: &[PlanFireTime]) -> String {
    let mut out = String::new();
    let ids: Vec<&str> = created
        .invoke_ids
        .iter()
        .map(crate::cloud::id::InvokeId::as_str)
        .collect();
    let _ = writeln!(
        out,
        "scheduled `{}`: command {}, Timed invocation {} on {}",
        plan.runbook.name,
        created.command_id,
        ids.join(", "),
        instances(plan)
    );
    if let Some(s) = &plan.schedule {
        let _ = writeln!(
            out,
            "  Frequency `{}`; {}",
            s.frequency,
            times_heading(&s.zone, s.zone_assumed)
        );
        for t in next {
            let _ = writeln!(out, "    {}  {}", t.local, t.utc);
        }
    }
    out
}

/// What removing one schedule stopped and deleted.
pub fn removed_text(schedule: &CloudSchedule) -> String {
    let mut commands: Vec<&str> = schedule
        .invocations
        .iter()
        .map(|i| i.command_id.as_str())
        .collect();
    commands.dedup();
    format!(
        "removed `{}` from set `{}`: stopped {}, deleted command {}\n",
        schedule.name,
        schedule.set,
        schedule.invoke_ids(),
        commands.join(", ")
    )
}

/// One schedule of `schedule list`: what the cloud has, its next fire times and its last runs.
#[derive(Debug, Clone)]
pub struct ListEntry {
    /// The schedule.
    pub schedule: CloudSchedule,
    /// Its next fire times; `None` when the cloud's Frequency does not parse.
    pub preview: Option<Preview>,
    /// Every run recorded, newest first.
    pub results: Vec<InvocationResult>,
}

/// `schedule list`: each schedule with its invocations, next fire times and the last
/// `results` runs.
pub fn list_text(entries: &[ListEntry], results: usize, place: &str) -> String {
    let mut out = String::new();
    if entries.is_empty() {
        let _ = writeln!(out, "no schedules on {place}");
        return out;
    }
    for (i, entry) in entries.iter().enumerate() {
        if i > 0 {
            let _ = writeln!(out);
        }
        list_entry(&mut out, entry, results);
    }
    out
}

fn list_entry(out: &mut String, entry: &ListEntry, results: usize) {
    let s = &entry.schedule;
    let _ = writeln!(
        out,
        "schedule `{}` in set `{}` · `{}` · runbook sha256 {}",
        s.name,
        s.set,
        s.frequency(),
        short(s.hash())
    );
    for inv in &s.invocations {
        let _ = writeln!(
            out,
            "  {} (command {}) · {} · {} · created {}",
            inv.invoke_id,
            inv.command_id,
            inv.status,
            Count(inv.instances.len(), "instance"),
            inv.created
        );
    }
    match &entry.preview {
        Some(p) => {
            if p.times.is_empty() {
                let _ = writeln!(out, "  no fire time left");
            } else {
                let _ = writeln!(out, "  {}", times_heading(&p.zone, p.zone_assumed));
            }
            for t in &p.times {
                let _ = writeln!(
                    out,
                    "    {}  {}",
                    t.local.format("%Y-%m-%dT%H:%M:%S%:z"),
                    t.utc.format("%Y-%m-%dT%H:%M:%SZ")
                );
            }
            for w in &p.warnings {
                let _ = writeln!(out, "  warning: {w}");
            }
        }
        None => {
            let _ = writeln!(out, "  next fire times: the Frequency does not parse");
        }
    }
    if entry.results.is_empty() {
        let _ = writeln!(out, "  no runs yet");
        return;
    }
    let _ = writeln!(
        out,
        "  last runs ({} of {}):",
        results.min(entry.results.len()),
        entry.results.len()
    );
    for r in entry.results.iter().take(results) {
        let exit = r
            .exit_code
            .map_or_else(String::new, |c| format!(" · exit {c}"));
        let error = if r.error_code.is_empty() {
            String::new()
        } else {
            format!(" · {}", r.error_code)
        };
        let output = r
            .output
            .as_deref()
            .and_then(|o| o.lines().rev().find(|l| !l.trim().is_empty()))
            .map(|l| format!(" | {}", l.chars().take(80).collect::<String>()))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "    {}  {}  {}{exit}{error}{output}",
            r.start_time, r.instance_id, r.invocation_status
        );
    }
}
