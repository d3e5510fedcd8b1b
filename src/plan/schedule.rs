//! The schedule of a scheduled runbook in its plan: the Frequency sent, its next fire times
//! with their warnings, what `run` does with the runbook, and, for a one-step runbook, the
//! calls of its Timed invocation in place of a one-time run's.
//!
//! Pure and synchronous: "now" comes from [`BuildOptions`](crate::plan::BuildOptions), and
//! creating the Timed invocation is `exec::timed`'s job.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use crate::cloud::id::CommandId;
use crate::cloud::wire;
use crate::count::Count;
use crate::plan::build::unresolved_invoke;
use crate::plan::calls::{self, MAX_INSTANCES_PER_INVOKE};
use crate::plan::model::{
    Plan, PlanFireTime, PlanSchedule, PlanStep, PlannedCall, ScheduleMode, hex,
};
use crate::runbook::model::Runbook;
use crate::schedule::{self, PreviewOptions};

/// How many fire times a plan lists.
pub const PREVIEW_COUNT: usize = 5;

/// What a plan shows for the schedule set before `run` or `schedule apply` picks one.
pub const SET_PLACEHOLDER: &str = "<schedule set: `default`, or `schedule apply --set`>";

/// Fills `plan.schedule` for a scheduled runbook and, for a one-step one, replaces the step's
/// calls with those of its Timed invocation.
pub(crate) fn attach(runbook: &Runbook, plan: &mut Plan, now: Option<DateTime<Utc>>) {
    let Some(written) = &runbook.schedule else {
        return;
    };
    let freq = schedule::parse(&written.sent).expect("the loader checked the Frequency");
    let default_zone = written
        .timezone
        .as_ref()
        .and_then(|tz| schedule::parse_zone(&tz.value).ok());
    let mode = if plan.steps.len() == 1 {
        ScheduleMode::Timed
    } else {
        ScheduleMode::OnceOnly
    };
    let spec = spec_hash(&written.sent, plan.region.as_deref(), &plan.steps);
    let mut warnings = Vec::new();
    let (zone, zone_assumed, next) = if let Some(now) = now {
        let preview = schedule::preview(
            &freq,
            &PreviewOptions {
                count: PREVIEW_COUNT,
                from: now,
                default_zone,
                created_at: None,
            },
        );
        let next = fire_times(&preview);
        warnings.extend(preview.warnings);
        warnings.extend(preview.unavailable.map(|u| format!("no preview: {u}")));
        (preview.zone, preview.zone_assumed, next)
    } else {
        let zone = freq
            .zone()
            .or(default_zone.as_ref())
            .map_or_else(|| "UTC".to_owned(), |z| z.name().to_owned());
        warnings.push("fire times not computed: the plan was built without a clock".to_owned());
        (zone, freq.zone().is_none(), Vec::new())
    };
    match mode {
        ScheduleMode::Timed => {
            warnings.extend(timer_warnings(runbook, &plan.steps[0]));
            let tags = calls::schedule_tags(
                &plan.runbook.name,
                &plan.runbook.hash,
                &spec,
                SET_PLACEHOLDER,
            );
            let step = &mut plan.steps[0];
            step.calls = timed_calls(&plan.runbook.name, step, &written.sent, &tags);
        }
        ScheduleMode::OnceOnly => warnings.push(format!(
            "`run` does not schedule this runbook: Cloud Assistant's timer runs one command, and its {} need ecs-runbook between them for their order and gates; `run --once` runs it now (call that from cron, CI or a systemd timer at these times), or merge the steps into one",
            Count(plan.steps.len(), "step")
        )),
    }
    plan.schedule = Some(PlanSchedule {
        written: written.frequency.value.clone(),
        frequency: written.sent.clone(),
        zone,
        zone_assumed,
        mode,
        spec,
        next,
        warnings,
    });
}

/// A preview's fire times as a plan lists them.
fn fire_times(preview: &schedule::Preview) -> Vec<PlanFireTime> {
    preview
        .times
        .iter()
        .map(|t| PlanFireTime {
            local: t.local.to_rfc3339_opts(SecondsFormat::Secs, false),
            utc: t.utc.to_rfc3339_opts(SecondsFormat::Secs, true),
        })
        .collect()
}

/// The next [`PREVIEW_COUNT`] fire times of a planned schedule after `now`, for a plan saved
/// earlier (its own list may be past). `rate(..)` counts from `now`, as if created then.
pub fn next_fire_times(planned: &PlanSchedule, now: DateTime<Utc>) -> Vec<PlanFireTime> {
    let Ok(freq) = schedule::parse(&planned.frequency) else {
        return Vec::new();
    };
    let preview = schedule::preview(
        &freq,
        &PreviewOptions {
            count: PREVIEW_COUNT,
            from: now,
            default_zone: schedule::parse_zone(&planned.zone).ok(),
            created_at: None,
        },
    );
    fire_times(&preview)
}

/// The [`PlanSchedule::spec`] hash: what the schedule sends, without the planned calls (which
/// carry the hash themselves).
pub fn spec_hash(frequency: &str, region: Option<&str>, steps: &[PlanStep]) -> String {
    let steps: Vec<PlanStep> = steps
        .iter()
        .map(|s| PlanStep {
            calls: Vec::new(),
            ..s.clone()
        })
        .collect();
    let doc = serde_json::json!({"frequency": frequency, "region": region, "steps": steps});
    let bytes = serde_json::to_vec(&doc).expect("a plan step serialises");
    hex(&Sha256::digest(&bytes))[..16].to_owned()
}

/// The settings of a one-step runbook that Cloud Assistant's timer does not apply: each fire
/// runs the command on every instance and records its exit code, nothing more.
fn timer_warnings(runbook: &Runbook, step: &PlanStep) -> Vec<String> {
    let mut unused = Vec::new();
    if step.when.is_some() {
        unused.push("`when`");
    }
    if step.retries > 0 {
        unused.push("`retries`");
    }
    if step.rate_control.concurrency.is_some() || step.rate_control.max_errors.is_some() {
        unused.push("`rate_control`");
    }
    if step.gate.output_contains.is_some() || step.gate.output_matches.is_some() {
        unused.push("the gate's output checks");
    }
    if step.gate.min_success != "100%" {
        unused.push("`success.min_success`");
    }
    if !step.outputs.is_empty() {
        unused.push("`outputs`");
    }
    if !runbook.rollback.is_empty() || step.on_failure != "abort" {
        unused.push("`on_failure` and `rollback`");
    }
    let mut warnings = Vec::new();
    if !unused.is_empty() {
        warnings.push(format!(
            "Cloud Assistant's timer runs the step on every instance at each fire time and records each run's exit code; it does not apply {} (`schedule list` shows the results)",
            join_and(&unused)
        ));
    }
    if step.when.is_some() {
        warnings.push(
            "`run` refuses to schedule a step with `when`: nothing evaluates it at fire time"
                .to_owned(),
        );
    }
    warnings
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The calls `run` makes for a schedule: CreateCommand (kept) and one InvokeCommand with
/// RepeatMode `Period` per 100 instances, all tagged; no DeleteCommand. The script parameter
/// is the one the one-time plan showed (masked, or a placeholder).
fn timed_calls(
    runbook: &str,
    step: &PlanStep,
    frequency: &str,
    tags: &[crate::cloud::actions::TagFilter],
) -> Vec<PlannedCall> {
    let content = step
        .calls
        .iter()
        .find(|c| c.action == "CreateCommand")
        .and_then(|c| c.params.get("CommandContent").cloned())
        .unwrap_or_default();
    let mut create = wire::to_params(&calls::timed_create_command(
        runbook,
        step,
        "",
        tags.to_vec(),
        Some("<derived from the schedule>".to_owned()),
    ));
    create.insert("CommandContent".to_owned(), content);
    let mut out = vec![PlannedCall {
        action: "CreateCommand".to_owned(),
        params: create,
    }];
    let command_id = CommandId::new("<from CreateCommand>");
    let invoke = |instances: &[_]| -> BTreeMap<String, String> {
        wire::to_params(&calls::timed_invoke_command(
            step,
            command_id.clone(),
            instances,
            frequency,
            tags.to_vec(),
            Some("<derived from the schedule and batch>".to_owned()),
        ))
    };
    if let Some(instances) = &step.targets.instances {
        for batch in instances.chunks(MAX_INSTANCES_PER_INVOKE) {
            out.push(PlannedCall {
                action: "InvokeCommand".to_owned(),
                params: invoke(batch),
            });
        }
    } else {
        out.push(unresolved_invoke(invoke(&[])));
    }
    out
}
