//! The schedule reports: the reconciliation `schedule apply` prints before it acts, what it
//! (or `run`) created and removed, and `schedule list`, as text and as JSON records (their
//! shapes are in the README); the commands decide where they go.

use std::fmt::Write as _;

use serde_json::{Value, json};

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
            format!(
                "~ replace  `{}` ({}): {}",
                desired.plan.runbook.name,
                current.invoke_ids(),
                replace_reason(reason)
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

/// Why a schedule is replaced, in words.
fn replace_reason(reason: &ReplaceReason) -> String {
    match reason {
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
    }
}

/// The commands of a schedule's Timed invocations, each once.
fn command_ids(schedule: &CloudSchedule) -> Vec<&str> {
    let mut commands: Vec<&str> = schedule
        .invocations
        .iter()
        .map(|i| i.command_id.as_str())
        .collect();
    commands.dedup();
    commands
}

/// The Timed invocations and commands of a schedule on the cloud, as JSON.
fn current_json(schedule: &CloudSchedule) -> Value {
    let commands = command_ids(schedule);
    json!({
        "set": schedule.set,
        "frequency": schedule.frequency(),
        "hash": schedule.hash(),
        "invoke_ids": schedule.invocations.iter().map(|i| i.invoke_id.as_str()).collect::<Vec<_>>(),
        "command_ids": commands,
    })
}

/// One change of the reconciliation as JSON: `change` (`create`, `replace`, `remove`,
/// `keep`), `name`, `path` and `frequency` (from git, `null` for a removal), `reason`, and
/// `current` (what the cloud has, `null` for a creation). `created` is filled in by
/// [`created_json`] once the change is made.
pub fn change_json(change: &Change) -> Value {
    let (kind, desired, current, reason) = match change {
        Change::Create(d) => ("create", Some(d), None, None),
        Change::Replace {
            desired,
            current,
            reason,
        } => (
            "replace",
            Some(desired),
            Some(current),
            Some(replace_reason(reason)),
        ),
        Change::Remove { current, why } => ("remove", None, Some(current), Some(why.clone())),
        Change::Keep { desired, current } => ("keep", Some(desired), Some(current), None),
    };
    json!({
        "change": kind,
        "name": crate::exec::timed::change_name(change),
        "path": desired.map(|d| d.path.as_str()),
        "frequency": desired.and_then(|d| d.plan.schedule.as_ref()).map(|s| s.frequency.as_str()),
        "reason": reason,
        "current": current.map(current_json),
        "created": Value::Null,
    })
}

/// The reconciliation as one JSON document: `set`, `endpoint`, `region`, the `changes` (see
/// [`change_json`]) and `elsewhere` (`[{name, set}]`); the caller adds `applied` and `notes`.
pub fn diff_json(diff: &Diff, endpoint: &str, region: &str) -> Value {
    json!({
        "set": diff.set,
        "endpoint": endpoint,
        "region": region,
        "changes": diff.changes.iter().map(change_json).collect::<Vec<_>>(),
        "elsewhere": diff.elsewhere.iter().map(|(name, set)| json!({"name": name, "set": set})).collect::<Vec<_>>(),
    })
}

/// What creating one schedule made, as JSON: `command_id`, `invoke_ids`, `next`
/// (`[{local, utc}]`).
pub fn created_json(created: &Created, next: &[PlanFireTime]) -> Value {
    json!({
        "command_id": created.command_id.as_str(),
        "invoke_ids": created.invoke_ids.iter().map(crate::cloud::id::InvokeId::as_str).collect::<Vec<_>>(),
        "next": next.iter().map(|t| json!({"local": t.local, "utc": t.utc})).collect::<Vec<_>>(),
    })
}

/// One schedule that `schedule remove` stops (or would stop), as JSON: `name`, `set`,
/// `invoke_ids`, `command_ids`, `removed`.
pub fn removed_json(schedule: &CloudSchedule, removed: bool) -> Value {
    let current = current_json(schedule);
    json!({
        "name": schedule.name,
        "set": schedule.set,
        "invoke_ids": current["invoke_ids"],
        "command_ids": current["command_ids"],
        "removed": removed,
    })
}

/// `schedule list` as JSON records, one per schedule: `name`, `set`, `frequency`, `hash`,
/// `invocations` (`[{invoke_id, command_id, status, instances, created}]`), `zone`,
/// `zone_assumed`, `next` (`[{local, utc}]`, `null` when the Frequency does not parse),
/// `warnings`, and the last `results` runs, newest first, in `runs` (`[{start_time,
/// instance_id, status, exit_code, error_code}]`) with `run_count` of all. No output: `list`
/// reads the cloud, not the runbooks, so it cannot know which secrets a script printed.
pub fn list_json(entries: &[ListEntry], results: usize) -> Vec<Value> {
    entries
        .iter()
        .map(|entry| {
            let s = &entry.schedule;
            let preview = entry.preview.as_ref();
            json!({
                "name": s.name,
                "set": s.set,
                "frequency": s.frequency(),
                "hash": s.hash(),
                "invocations": s.invocations.iter().map(|inv| json!({
                    "invoke_id": inv.invoke_id.as_str(),
                    "command_id": inv.command_id.as_str(),
                    "status": inv.status.to_string(),
                    "instances": inv.instances.iter().map(crate::cloud::id::InstanceId::as_str).collect::<Vec<_>>(),
                    "created": inv.created,
                })).collect::<Vec<_>>(),
                "zone": preview.map(|p| p.zone.as_str()),
                "zone_assumed": preview.map(|p| p.zone_assumed),
                "next": preview.map(|p| p.times.iter().map(|t| json!({
                    "local": t.local.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
                    "utc": t.utc.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                })).collect::<Vec<_>>()),
                "warnings": preview.map_or(&[][..], |p| p.warnings.as_slice()),
                "run_count": entry.results.len(),
                "runs": entry.results.iter().take(results).map(|r| json!({
                    "start_time": r.start_time,
                    "instance_id": r.instance_id.as_str(),
                    "status": r.invocation_status.to_string(),
                    "exit_code": r.exit_code,
                    "error_code": r.error_code,
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
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
    let commands = command_ids(schedule);
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
        let _ = writeln!(
            out,
            "    {}  {}  {}{exit}{error}",
            r.start_time, r.instance_id, r.invocation_status
        );
    }
}
