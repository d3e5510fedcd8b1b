//! The `schedule` commands (`preview`, `apply`, `list`, `remove`) and what `run` does with a
//! scheduled runbook.
//!
//! `preview` is pure and starts no runtime. The others talk to the target through
//! `exec::timed`, which owns the cloud side; the texts come from `exec::report::schedule`.
//! Results go to stdout, warnings about the target to stderr.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use serde_json::Value;

use crate::cli::{
    ApplyArgs, ListArgs, OutputFormat, PreviewArgs, RemoveArgs, ScheduleArgs, ScheduleCommand,
};
use crate::cloud::id::RegionId;
use crate::error::{EXIT_OK, Error};
use crate::exec::report::schedule::{self as report, ListEntry};
use crate::exec::timed::{self, Change, CloudSchedule, DEFAULT_SET, Desired};
use crate::exec::{self, SecretValues};
use crate::plan::model::{Plan, PlanScript, ScheduleMode};
use crate::plan::{self as planning, BuildOptions};
use crate::runbook::{self, Runbook};
use crate::schedule::{self, ExpressionDiagnostic, PreviewOptions};

use super::{Target, clock, new_run_id, resolve_secrets, runbook_files, runtime, write_output};

/// Runs one `schedule` subcommand.
pub(super) fn command(args: &ScheduleArgs) -> Result<i32, Error> {
    match &args.command {
        ScheduleCommand::Preview(args) => preview(args),
        ScheduleCommand::Apply(args) => apply(args),
        ScheduleCommand::List(args) => list(args),
        ScheduleCommand::Remove(args) => remove(args),
    }
}

/// `schedule preview`: the next fire times of an expression, without any API call.
fn preview(args: &PreviewArgs) -> Result<i32, Error> {
    let expr = args.expr.as_str();
    let freq =
        schedule::parse(expr).map_err(|e| Error::from(ExpressionDiagnostic::new(expr, e)))?;
    let timeout = match &args.timeout {
        Some(text) => {
            Duration::from_secs(runbook::load::parse_duration(text).ok_or_else(|| {
                Error::usage(
                    format!("`--timeout {text}` is not a duration"),
                    Some(
                        "write seconds (`90`) or a duration such as `90s`, `10m`, `1h30m`"
                            .to_owned(),
                    ),
                )
            })?)
        }
        None => Duration::ZERO,
    };
    schedule::check(&freq, timeout).map_err(|e| ExpressionDiagnostic::new(expr, e))?;
    let default_zone = match &args.timezone {
        Some(tz) => Some(
            schedule::parse_zone(tz)
                .map_err(|e| Error::usage(format!("`--timezone`: {}", e.message), Some(e.help)))?,
        ),
        None => None,
    };
    let from = match &args.from {
        Some(text) => schedule::parse_time(text)
            .map_err(|message| Error::usage(format!("`--from`: {message}"), None))?,
        None => clock()?,
    };
    if args.count == 0 {
        return Err(Error::usage("`--count` must be at least 1", None));
    }
    let preview = schedule::preview(
        &freq,
        &PreviewOptions {
            count: args.count,
            from,
            default_zone,
            created_at: None,
        },
    );
    let text = match args.format {
        OutputFormat::Text => schedule::render_text(&preview),
        OutputFormat::Json => {
            let doc = serde_json::json!({
                "expression": expr,
                "from": rfc3339(from),
                "zone": preview.zone,
                "zone_assumed": preview.zone_assumed,
                "times": preview.times.iter().map(|t| serde_json::json!({
                    "local": t.local.to_rfc3339_opts(SecondsFormat::Secs, false),
                    "utc": rfc3339(t.utc),
                })).collect::<Vec<_>>(),
                "warnings": preview.warnings,
                "unavailable": preview.unavailable,
            });
            json_text(&doc)
        }
    };
    write_output(None, &text)?;
    Ok(EXIT_OK)
}

fn json_text(doc: &Value) -> String {
    let mut text = serde_json::to_string_pretty(doc).expect("JSON serialises");
    text.push('\n');
    text
}

/// Where a schedule command's results go: text lines written to stdout as they happen, or, with
/// `--format json`, one document printed at the end.
struct Results {
    format: OutputFormat,
}

impl Results {
    /// Writes a text result as it happens (nothing in JSON mode); a closed pipe is not an
    /// error worth reporting.
    fn text(&self, text: &str) {
        if self.format == OutputFormat::Text {
            let _ = write_output(None, text);
        }
    }

    /// Writes the JSON document (nothing in text mode).
    fn json(&self, doc: &Value) {
        if self.format == OutputFormat::Json {
            let _ = write_output(None, &json_text(doc));
        }
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What `run` checks before any API call: the runbook's templates (by planning it offline),
/// and that a scheduled plan can become a Timed invocation unless `--once` runs it now.
pub(super) fn check_run(
    runbook: Option<&Runbook>,
    saved: Option<&Plan>,
    once: bool,
) -> Result<(), Error> {
    let offline = match runbook {
        Some(runbook) => Some(planning::build(runbook, &BuildOptions::default())?),
        None => None,
    };
    let Some(plan) = offline.as_ref().or(saved) else {
        return Ok(());
    };
    if once || plan.schedule.is_none() {
        return Ok(());
    }
    let Some(why) = timed::refusal(plan) else {
        return Ok(());
    };
    let help = if plan.schedule.as_ref().map(|s| s.mode) == Some(ScheduleMode::OnceOnly) {
        "run it now with `ecs-runbook run --once` (from cron, CI or a systemd timer at its fire \
         times), merge the steps into one so Cloud Assistant's timer can run it, or split it into \
         one-step scheduled runbooks (they then run independently, with no order or gates \
         between them)"
    } else {
        "remove `when` to schedule it, or run it now with `ecs-runbook run --once`"
    };
    Err(Error::usage(
        format!("cannot schedule: {why}"),
        Some(help.to_owned()),
    ))
}

/// Where the calls go, for the reports, with a warning when that is an in-process sandbox.
fn place(target: &Target) -> String {
    if target.sandbox.is_some() {
        eprintln!(
            "warning: this is the in-process sandbox, which stops when this command ends, and its schedules with it; start `ecs-runbook sandbox` and pass `--endpoint` to watch a schedule fire"
        );
    }
    format!("{} ({})", target.client.endpoint(), target.client.region())
}

/// Refuses a schedule with no run left after now, as Cloud Assistant would.
fn check_future(plan: &Plan, now: DateTime<Utc>) -> Result<(), Error> {
    let Some(s) = &plan.schedule else {
        return Ok(());
    };
    let freq = schedule::parse(&s.frequency).expect("a planned Frequency parses");
    let timeout = Duration::from_secs(plan.steps.iter().map(|s| s.timeout_secs).max().unwrap_or(0));
    schedule::validate(&freq, timeout, now).map_err(|e| {
        Error::usage(
            format!("cannot schedule `{}`: {}", plan.runbook.name, e.message),
            Some(e.help),
        )
    })
}

/// The script of a scheduled plan's step, with its secrets.
fn content(plan: &Plan, secrets: &SecretValues) -> Result<String, Error> {
    match &plan.steps[0].script {
        PlanScript::Rendered(rendered) => rendered
            .expose(|name| secrets.0.get(name).cloned())
            .ok_or_else(|| Error::usage("a secret the script uses has no value", None)),
        PlanScript::Deferred(_) => {
            Err(Error::usage(timed::refusal(plan).unwrap_or_default(), None))
        }
    }
}

/// `run` of a one-step scheduled runbook: its Timed invocation in the set `default`, created,
/// replaced when the runbook changed, or left alone when it is already there; never waited
/// for. The target is shut down at the end.
pub(super) async fn run_timed(
    target: Target,
    plan: &Plan,
    secrets: &SecretValues,
    format: OutputFormat,
) -> Result<i32, Error> {
    let outcome = create_timed(&target, plan, secrets, &Results { format }).await;
    target.shutdown().await;
    outcome
}

async fn create_timed(
    target: &Target,
    plan: &Plan,
    secrets: &SecretValues,
    out: &Results,
) -> Result<i32, Error> {
    let now = clock()?;
    check_future(plan, now)?;
    // A saved plan's own list of fire times may be past by now.
    let next = plan
        .schedule
        .as_ref()
        .map(|s| planning::schedule::next_fire_times(s, now))
        .unwrap_or_default();
    let content = content(plan, secrets)?;
    let place = place(target);
    let cloud = timed::discover(&target.client, Some(DEFAULT_SET)).await?;
    let desired = Desired {
        path: plan.runbook.path.clone(),
        plan: plan.clone(),
    };
    let diff = timed::diff(vec![desired], &cloud, DEFAULT_SET, false, &BTreeMap::new());
    let seed = new_run_id();
    let mut doc = report::diff_json(
        &diff,
        target.client.endpoint(),
        target.client.region().as_str(),
    );
    for (i, change) in diff.changes.iter().enumerate() {
        match change {
            Change::Keep { current, .. } => {
                out.text(&format!(
                    "`{}` is already scheduled from this runbook on {place} ({}); nothing changed\n",
                    current.name,
                    current.invoke_ids()
                ));
            }
            Change::Replace { current, .. } => {
                timed::remove(&target.client, current).await?;
                out.text(&report::removed_text(current));
                let created =
                    timed::create(&target.client, plan, &content, DEFAULT_SET, &seed).await?;
                out.text(&report::created_text(plan, &created, &next));
                doc["changes"][i]["created"] = report::created_json(&created, &next);
            }
            Change::Create(_) => {
                let created =
                    timed::create(&target.client, plan, &content, DEFAULT_SET, &seed).await?;
                out.text(&report::created_text(plan, &created, &next));
                doc["changes"][i]["created"] = report::created_json(&created, &next);
            }
            Change::Remove { .. } => unreachable!("`run` does not prune"),
        }
    }
    for (name, set) in &diff.elsewhere {
        eprintln!("note: `{name}` is also scheduled in set `{set}`, so it fires once for each set");
    }
    doc["applied"] = Value::Bool(true);
    doc["notes"] = Value::Array(Vec::new());
    out.json(&doc);
    Ok(EXIT_OK)
}

/// The scheduled runbooks under `paths`, loaded; every file must load.
fn load_all(paths: &[std::path::PathBuf]) -> Result<Vec<Runbook>, Error> {
    let mut out = Vec::new();
    for file in runbook_files(paths, false)? {
        out.push(runbook::load(&file)?);
    }
    Ok(out)
}

/// The region `apply` works in: `--region`, else the one the runbooks name (they must agree),
/// else the environment's. With `--region`, runbooks naming another region are left out.
fn apply_region(args: &ApplyArgs, runbooks: &[Runbook]) -> Result<Option<RegionId>, Error> {
    if let Some(region) = &args.target.region {
        return Ok(Some(RegionId::new(region.clone())));
    }
    let named: BTreeSet<String> = runbooks
        .iter()
        .filter(|r| r.schedule.is_some())
        .filter_map(|r| r.region.as_ref().map(ToString::to_string))
        .collect();
    if named.len() > 1 {
        return Err(Error::usage(
            format!(
                "the scheduled runbooks name {} regions ({}); a schedule set lives in one region",
                named.len(),
                named
                    .iter()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some("apply one region at a time with `--region`".to_owned()),
        ));
    }
    Ok(named.into_iter().next().map(RegionId::new))
}

/// `schedule apply`: the diff between the cloud's schedules of the set and the scheduled
/// runbooks under the paths; with `--yes`, the changes.
fn apply(args: &ApplyArgs) -> Result<i32, Error> {
    let runbooks = load_all(&args.paths)?;
    let region = apply_region(args, &runbooks)?;
    let now = clock()?;
    let rt = runtime();
    rt.block_on(async {
        let target = Target::connect(&args.target, region.as_ref()).await?;
        let outcome = apply_on(args, &target, &runbooks, now).await;
        target.shutdown().await;
        outcome
    })
}

/// What the runbooks under the paths ask `apply` for: the schedules wanted, the runbooks that
/// cannot be scheduled (by name, with why), and notes for the reader.
#[derive(Default)]
struct Wanted {
    desired: Vec<Desired>,
    unschedulable: BTreeMap<String, String>,
    notes: Vec<String>,
}

/// Plans the scheduled runbooks of `apply` against the target.
async fn wanted(
    target: &Target,
    runbooks: &[Runbook],
    now: DateTime<Utc>,
) -> Result<Wanted, Error> {
    let region = target.client.region().to_string();
    let Wanted {
        mut desired,
        mut unschedulable,
        mut notes,
    } = Wanted::default();
    let mut names = BTreeMap::new();
    for rb in runbooks {
        let name = rb.name.to_string();
        let path = rb.source.path.display().to_string();
        if rb.region.as_ref().is_some_and(|r| r.to_string() != region) {
            notes.push(format!(
                "left out: `{name}` ({path}) is for region `{}`",
                rb.region.as_ref().expect("checked")
            ));
            continue;
        }
        if rb.schedule.is_none() {
            unschedulable.insert(name, "the runbook has no `schedule` any more".to_owned());
            continue;
        }
        if let Some(first) = names.insert(name.clone(), path.clone()) {
            return Err(Error::usage(
                format!("two scheduled runbooks are named `{name}`: `{first}` and `{path}`"),
                Some("a schedule is known by its runbook's name; rename one".to_owned()),
            ));
        }
        let inventory = exec::inventory::fetch(&target.client, rb).await?;
        let plan = planning::build(
            rb,
            &BuildOptions {
                inventory: Some(inventory),
                now: Some(now),
            },
        )?;
        if plan.schedule.as_ref().map(|s| s.mode) == Some(ScheduleMode::OnceOnly) {
            let why = timed::refusal(&plan).unwrap_or_default();
            notes.push(format!(
                "not scheduled: {why}; run it with `ecs-runbook run --once` from cron or CI"
            ));
            unschedulable.insert(name, format!("it cannot be scheduled any more: {why}"));
            continue;
        }
        if let Some(why) = timed::refusal(&plan) {
            return Err(Error::usage(format!("cannot schedule: {why}"), None));
        }
        check_future(&plan, now)?;
        desired.push(Desired { path, plan });
    }
    Ok(Wanted {
        desired,
        unschedulable,
        notes,
    })
}

async fn apply_on(
    args: &ApplyArgs,
    target: &Target,
    runbooks: &[Runbook],
    now: DateTime<Utc>,
) -> Result<i32, Error> {
    let Wanted {
        desired,
        unschedulable,
        notes,
    } = wanted(target, runbooks, now).await?;
    let out = Results {
        format: args.format,
    };
    let place = place(target);
    let cloud = timed::discover(&target.client, None).await?;
    let diff = timed::diff(desired, &cloud, &args.set, true, &unschedulable);
    out.text(&report::diff_text(&diff, &place));
    for note in &notes {
        out.text(&format!("  note: {note}\n"));
    }
    let mut doc = report::diff_json(
        &diff,
        target.client.endpoint(),
        target.client.region().as_str(),
    );
    doc["notes"] = serde_json::json!(notes);
    doc["applied"] = Value::Bool(false);
    if diff.is_empty() {
        out.text("nothing to change\n");
        out.json(&doc);
        return Ok(EXIT_OK);
    }
    if !args.yes {
        out.text("nothing changed: pass `--yes` to make these changes\n");
        out.json(&doc);
        return Ok(EXIT_OK);
    }
    // Every secret is read before the first change, so a missing one changes nothing.
    let mut contents = BTreeMap::new();
    for change in &diff.changes {
        if let Change::Create(d) | Change::Replace { desired: d, .. } = change {
            let base = Path::new(&d.path)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let secrets = resolve_secrets(&d.plan, &base)?;
            contents.insert(d.plan.runbook.name.clone(), content(&d.plan, &secrets)?);
        }
    }
    let seed = new_run_id();
    let creating = Creating {
        target,
        contents: &contents,
        set: &args.set,
        seed: &seed,
        out: &out,
    };
    for (i, change) in diff.changes.iter().enumerate() {
        match change {
            Change::Keep { .. } => {}
            Change::Remove { current, .. } => {
                timed::remove(&target.client, current).await?;
                out.text(&report::removed_text(current));
            }
            Change::Replace {
                desired, current, ..
            } => {
                timed::remove(&target.client, current).await?;
                out.text(&report::removed_text(current));
                doc["changes"][i]["created"] = creating.create(desired).await?;
            }
            Change::Create(desired) => {
                doc["changes"][i]["created"] = creating.create(desired).await?;
            }
        }
    }
    doc["applied"] = Value::Bool(true);
    out.json(&doc);
    Ok(EXIT_OK)
}

/// What `apply` needs to create one schedule.
struct Creating<'a> {
    target: &'a Target,
    contents: &'a BTreeMap<String, String>,
    set: &'a str,
    seed: &'a str,
    out: &'a Results,
}

impl Creating<'_> {
    /// Creates the schedule of `desired`; returns what was created, as JSON.
    async fn create(&self, desired: &Desired) -> Result<Value, Error> {
        let content = &self.contents[&desired.plan.runbook.name];
        let created = timed::create(
            &self.target.client,
            &desired.plan,
            content,
            self.set,
            self.seed,
        )
        .await?;
        let next = desired
            .plan
            .schedule
            .as_ref()
            .map_or_else(Vec::new, |s| s.next.clone());
        self.out
            .text(&report::created_text(&desired.plan, &created, &next));
        Ok(report::created_json(&created, &next))
    }
}

/// `schedule list`: every schedule (of a set, or all), its next fire times and its last runs.
fn list(args: &ListArgs) -> Result<i32, Error> {
    let now = clock()?;
    let rt = runtime();
    rt.block_on(async {
        let target = Target::connect(&args.target, None).await?;
        let outcome = list_on(args, &target, now).await;
        target.shutdown().await;
        outcome
    })
}

async fn list_on(args: &ListArgs, target: &Target, now: DateTime<Utc>) -> Result<i32, Error> {
    let default_zone = match &args.timezone {
        Some(tz) => Some(
            schedule::parse_zone(tz)
                .map_err(|e| Error::usage(format!("`--timezone`: {}", e.message), Some(e.help)))?,
        ),
        None => None,
    };
    let place = place(target);
    let schedules = timed::discover(&target.client, args.set.as_deref()).await?;
    let mut entries = Vec::new();
    for s in schedules {
        let created = s
            .invocations
            .first()
            .and_then(|i| DateTime::parse_from_rfc3339(&i.created).ok())
            .map(|t| t.to_utc());
        let preview = schedule::parse(s.frequency()).ok().map(|freq| {
            schedule::preview(
                &freq,
                &PreviewOptions {
                    count: args.count,
                    from: now,
                    default_zone: default_zone.clone(),
                    created_at: created,
                },
            )
        });
        let mut results = Vec::new();
        for inv in &s.invocations {
            results.extend(timed::history(&target.client, &inv.invoke_id).await?);
        }
        results.sort_by(|a, b| b.start_time.cmp(&a.start_time));
        entries.push(ListEntry {
            schedule: s,
            preview,
            results,
        });
    }
    let out = Results {
        format: args.format,
    };
    out.text(&report::list_text(&entries, args.results, &place));
    out.json(&serde_json::json!({
        "endpoint": target.client.endpoint(),
        "region": target.client.region().as_str(),
        "schedules": report::list_json(&entries, args.results),
    }));
    Ok(EXIT_OK)
}

/// `schedule remove NAME`: what would be stopped; with `--yes`, stopped and deleted.
fn remove(args: &RemoveArgs) -> Result<i32, Error> {
    let rt = runtime();
    rt.block_on(async {
        let target = Target::connect(&args.target, None).await?;
        let outcome = remove_on(args, &target).await;
        target.shutdown().await;
        outcome
    })
}

async fn remove_on(args: &RemoveArgs, target: &Target) -> Result<i32, Error> {
    let place = place(target);
    let found: Vec<CloudSchedule> = timed::discover(&target.client, args.set.as_deref())
        .await?
        .into_iter()
        .filter(|s| s.name == args.name)
        .collect();
    let schedule = match found.as_slice() {
        [] => {
            return Err(Error::usage(
                format!("no schedule named `{}` on {place}", args.name),
                Some("`ecs-runbook schedule list` shows the schedules".to_owned()),
            ));
        }
        [one] => one,
        many => {
            return Err(Error::usage(
                format!(
                    "`{}` is scheduled in {} sets: {}",
                    args.name,
                    many.len(),
                    many.iter()
                        .map(|s| format!("`{}`", s.set))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Some("pick one with `--set`".to_owned()),
            ));
        }
    };
    let out = Results {
        format: args.format,
    };
    let json = |removed: bool| {
        let mut doc = report::removed_json(schedule, removed);
        doc["endpoint"] = target.client.endpoint().into();
        doc["region"] = target.client.region().as_str().into();
        doc
    };
    if !args.yes {
        out.text(&format!(
            "would stop `{}` in set `{}` on {place}: {}; nothing changed: pass `--yes` to remove it\n",
            schedule.name,
            schedule.set,
            schedule.invoke_ids()
        ));
        out.json(&json(false));
        return Ok(EXIT_OK);
    }
    timed::remove(&target.client, schedule).await?;
    out.text(&report::removed_text(schedule));
    out.json(&json(true));
    Ok(EXIT_OK)
}
