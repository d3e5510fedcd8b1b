//! Schedules on Cloud Assistant: the Timed invocations (RepeatMode `Period`) of scheduled
//! runbooks, found by their tags ([`discover`]), created from a plan ([`create`]), stopped
//! ([`remove`]), and their run history ([`history`]); and the reconciliation of what the cloud
//! has with what git has ([`diff`]), which is pure.
//!
//! Every request is built by `plan::calls`, so what runs is what `plan` showed. Nothing here
//! prints: `report::schedule` formats the results.

use std::collections::BTreeMap;

use crate::cloud::Client;
use crate::cloud::actions::{
    DescribeInvocationResults, DescribeInvocations, InvocationResult, StopInvocation, TagFilter,
};
use crate::cloud::error::{CallError, ErrorCode};
use crate::cloud::id::{CommandId, InstanceId, InvokeId};
use crate::cloud::status::InvocationStatus;
use crate::exec::step::client_token;
use crate::plan::calls::{
    self, MAX_INSTANCES_PER_INVOKE, TAG_HASH, TAG_RUNBOOK, TAG_SCHEDULE_SET, TAG_SPEC,
};
use crate::plan::model::{Plan, PlanScript, ScheduleMode};

/// The schedule set `run` puts a schedule in, and `schedule apply` uses without `--set`.
pub const DEFAULT_SET: &str = "default";

/// The most history records [`history`] reads for one task (ten pages).
pub const HISTORY_LIMIT: usize = 500;

/// One schedule on the cloud: the Timed invocations carrying one runbook name and schedule
/// set (more than one when its targets needed several InvokeCommand calls, or after a
/// duplicate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudSchedule {
    /// The runbook name (tag `ecs-runbook:runbook`).
    pub name: String,
    /// The schedule set (tag `ecs-runbook:schedule-set`).
    pub set: String,
    /// Its Timed invocations, oldest first.
    pub invocations: Vec<TimedInvocation>,
}

/// One Timed invocation of a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedInvocation {
    /// The task.
    pub invoke_id: InvokeId,
    /// Its command.
    pub command_id: CommandId,
    /// The runbook hash it was created from (tag `ecs-runbook:hash`).
    pub hash: String,
    /// The spec hash it was created from (tag `ecs-runbook:spec`).
    pub spec: String,
    /// The Frequency, as the cloud holds it.
    pub frequency: String,
    /// `CreationTime`, which anchors `rate(..)`.
    pub created: String,
    /// Aggregate status.
    pub status: InvocationStatus,
    /// Its instances.
    pub instances: Vec<InstanceId>,
}

impl CloudSchedule {
    /// The Frequency of its first invocation.
    pub fn frequency(&self) -> &str {
        self.invocations
            .first()
            .map_or("", |i| i.frequency.as_str())
    }

    /// Its invoke ids, comma-separated.
    pub fn invoke_ids(&self) -> String {
        self.invocations
            .iter()
            .map(|i| i.invoke_id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The runbook hash of its first invocation.
    pub fn hash(&self) -> &str {
        self.invocations.first().map_or("", |i| i.hash.as_str())
    }
}

/// Why a plan cannot become a Timed invocation, in words; `None` when it can.
pub fn refusal(plan: &Plan) -> Option<String> {
    let schedule = plan.schedule.as_ref()?;
    if schedule.mode == ScheduleMode::OnceOnly {
        return Some(format!(
            "runbook `{}` has {} steps, but Cloud Assistant's timer runs one command: the order and the gates between steps need ecs-runbook",
            plan.runbook.name,
            plan.steps.len()
        ));
    }
    let step = &plan.steps[0];
    if step.when.is_some() {
        return Some(format!(
            "step `{}` of scheduled runbook `{}` has `when`, which nothing evaluates at fire time on Cloud Assistant's timer",
            step.name, plan.runbook.name
        ));
    }
    if let PlanScript::Deferred(_) = step.script {
        return Some(format!(
            "the script of step `{}` uses step results, which a schedule does not have",
            step.name
        ));
    }
    None
}

/// Every Timed invocation carrying ecs-runbook's schedule tags (of one set, or of all), every
/// page, grouped into schedules sorted by set and name.
pub async fn discover(client: &Client, set: Option<&str>) -> Result<Vec<CloudSchedule>, CallError> {
    let mut tags = vec![TagFilter {
        key: TAG_RUNBOOK.to_owned(),
        value: None,
    }];
    if let Some(set) = set {
        tags.push(TagFilter {
            key: TAG_SCHEDULE_SET.to_owned(),
            value: Some(set.to_owned()),
        });
    }
    let mut found: BTreeMap<(String, String), Vec<TimedInvocation>> = BTreeMap::new();
    let mut next_token = None;
    loop {
        let page = client
            .call(&DescribeInvocations {
                timed: Some(true),
                tags: tags.clone(),
                max_results: Some(50),
                next_token: next_token.take(),
                ..DescribeInvocations::default()
            })
            .await?;
        for inv in page.invocations.invocation {
            let tag = |key: &str| {
                inv.tags
                    .tag
                    .iter()
                    .find(|t| t.tag_key == key)
                    .map(|t| t.tag_value.clone())
            };
            let (Some(name), Some(set)) = (tag(TAG_RUNBOOK), tag(TAG_SCHEDULE_SET)) else {
                // A one-time run's invocation is tagged with the runbook but has no set.
                continue;
            };
            found.entry((set, name)).or_default().push(TimedInvocation {
                hash: tag(TAG_HASH).unwrap_or_default(),
                spec: tag(TAG_SPEC).unwrap_or_default(),
                invoke_id: inv.invoke_id,
                command_id: inv.command_id,
                frequency: inv.frequency,
                created: inv.creation_time,
                status: inv.invocation_status,
                instances: inv
                    .invoke_instances
                    .invoke_instance
                    .into_iter()
                    .map(|i| i.instance_id)
                    .collect(),
            });
        }
        if page.next_token.is_empty() {
            break;
        }
        next_token = Some(page.next_token);
    }
    Ok(found
        .into_iter()
        .map(|((set, name), mut invocations)| {
            invocations.sort_by(|a, b| a.created.cmp(&b.created));
            CloudSchedule {
                name,
                set,
                invocations,
            }
        })
        .collect())
}

/// What [`create`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The kept command.
    pub command_id: CommandId,
    /// One Timed invocation per 100 instances.
    pub invoke_ids: Vec<InvokeId>,
}

/// Creates the schedule of a one-step scheduled plan in `set`: CreateCommand with `content`
/// (the script with its secrets), then one InvokeCommand with RepeatMode `Period` and the
/// planned Frequency per 100 instances. `seed` makes the ClientTokens unique to this attempt,
/// so retries of a call are safe and a later re-creation is not mistaken for one.
pub async fn create(
    client: &Client,
    plan: &Plan,
    content: &str,
    set: &str,
    seed: &str,
) -> Result<Created, CallError> {
    let schedule = plan.schedule.as_ref().expect("a scheduled plan");
    let step = &plan.steps[0];
    let tags = calls::schedule_tags(&plan.runbook.name, &plan.runbook.hash, &schedule.spec, set);
    // Several schedules are created under one seed: the token names the set and the runbook.
    let scope = format!("{set}/{}/{}", plan.runbook.name, step.name);
    let command_id = client
        .call(&calls::timed_create_command(
            &plan.runbook.name,
            step,
            content,
            tags.clone(),
            Some(client_token(seed, &scope, "create", 0)),
        ))
        .await?
        .command_id;
    let instances = step.targets.instances.clone().unwrap_or_default();
    let mut invoke_ids = Vec::new();
    for (b, batch) in instances.chunks(MAX_INSTANCES_PER_INVOKE).enumerate() {
        let request = calls::timed_invoke_command(
            step,
            command_id.clone(),
            batch,
            &schedule.frequency,
            tags.clone(),
            Some(client_token(seed, &scope, &format!("b{b}"), 0)),
        );
        invoke_ids.push(client.call(&request).await?.invoke_id);
    }
    Ok(Created {
        command_id,
        invoke_ids,
    })
}

/// Stops every Timed invocation of `schedule` (its current run finishes; no further run is
/// scheduled) and deletes its commands. A command already gone is not an error.
pub async fn remove(client: &Client, schedule: &CloudSchedule) -> Result<(), CallError> {
    for inv in &schedule.invocations {
        client
            .call(&StopInvocation {
                invoke_id: inv.invoke_id.clone(),
                instance_ids: Vec::new(),
            })
            .await?;
    }
    let mut deleted = Vec::new();
    for inv in &schedule.invocations {
        if deleted.contains(&inv.command_id) {
            continue;
        }
        match client
            .call(&calls::delete_command(inv.command_id.clone()))
            .await
        {
            Ok(_) => {}
            Err(e) if e.code() == Some(&ErrorCode::InvalidCmdIdNotFound) => {}
            Err(e) => return Err(e),
        }
        deleted.push(inv.command_id.clone());
    }
    Ok(())
}

/// Every run of a Timed invocation on every instance (DescribeInvocationResults with
/// `IncludeHistory=true`, every page up to [`HISTORY_LIMIT`] records), newest first.
pub async fn history(
    client: &Client,
    invoke_id: &InvokeId,
) -> Result<Vec<InvocationResult>, CallError> {
    let mut records = Vec::new();
    let mut next_token = None;
    loop {
        let page = client
            .call(&DescribeInvocationResults {
                invoke_id: Some(invoke_id.clone()),
                include_history: Some(true),
                content_encoding: Some("PlainText".to_owned()),
                max_results: Some(50),
                next_token: next_token.take(),
                ..DescribeInvocationResults::default()
            })
            .await?
            .invocation;
        records.extend(page.invocation_results.invocation_result);
        if page.next_token.is_empty() || records.len() >= HISTORY_LIMIT {
            break;
        }
        next_token = Some(page.next_token);
    }
    records.sort_by(|a, b| b.start_time.cmp(&a.start_time));
    Ok(records)
}

/// A scheduled runbook in git, planned: what its schedule should be on the cloud.
#[derive(Debug, Clone)]
pub struct Desired {
    /// The runbook's file.
    pub path: String,
    /// Its plan, built with its targets resolved.
    pub plan: Plan,
}

impl Desired {
    fn name(&self) -> &str {
        &self.plan.runbook.name
    }
}

/// Why a schedule on the cloud is replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplaceReason {
    /// The runbook file changed: old and new SHA-256.
    RunbookChanged {
        /// On the cloud.
        from: String,
        /// In git.
        to: String,
    },
    /// Same file, but what it sends changed: the targets behind a tag, or the region.
    SpecChanged,
    /// More Timed invocations than the targets need (a duplicate).
    Duplicated {
        /// Found.
        found: usize,
        /// Needed.
        needed: usize,
    },
}

/// One line of the reconciliation.
#[derive(Debug, Clone)]
pub enum Change {
    /// In git, not on the cloud.
    Create(Desired),
    /// On the cloud from another version.
    Replace {
        /// What git has.
        desired: Desired,
        /// What the cloud has.
        current: CloudSchedule,
        /// Why.
        reason: ReplaceReason,
    },
    /// On the cloud in this set, not in git (or no longer schedulable; `why` says).
    Remove {
        /// What the cloud has.
        current: CloudSchedule,
        /// Why.
        why: String,
    },
    /// The same on both sides.
    Keep {
        /// What git has.
        desired: Desired,
        /// What the cloud has.
        current: CloudSchedule,
    },
}

/// What `schedule apply` (or `run`) would do in one schedule set.
#[derive(Debug, Clone)]
pub struct Diff {
    /// The set.
    pub set: String,
    /// In name order: creations, replacements, removals and the unchanged.
    pub changes: Vec<Change>,
    /// Runbooks of this set also scheduled in another set (they fire once per set).
    pub elsewhere: Vec<(String, String)>,
}

impl Diff {
    /// Whether applying it changes anything on the cloud.
    pub fn is_empty(&self) -> bool {
        self.changes
            .iter()
            .all(|c| matches!(c, Change::Keep { .. }))
    }
}

/// Compares the scheduled runbooks in git with the schedules on the cloud, within `set`:
/// a runbook without a schedule is created, one whose runbook hash or spec hash differs (or
/// that has more invocations than its targets need) is replaced, and, with `prune`, a schedule
/// of the set whose runbook is not in `desired` is removed, with `unschedulable` giving the
/// reason for runbooks that are still in git but cannot be scheduled any more.
pub fn diff(
    desired: Vec<Desired>,
    cloud: &[CloudSchedule],
    set: &str,
    prune: bool,
    unschedulable: &BTreeMap<String, String>,
) -> Diff {
    let in_set: BTreeMap<&str, &CloudSchedule> = cloud
        .iter()
        .filter(|s| s.set == set)
        .map(|s| (s.name.as_str(), s))
        .collect();
    let mut changes = Vec::new();
    let mut elsewhere = Vec::new();
    let mut wanted = std::collections::BTreeSet::new();
    for d in desired {
        wanted.insert(d.name().to_owned());
        for other in cloud.iter().filter(|s| s.name == d.name() && s.set != set) {
            elsewhere.push((other.name.clone(), other.set.clone()));
        }
        let Some(current) = in_set.get(d.name()) else {
            changes.push(Change::Create(d));
            continue;
        };
        let spec = d.plan.schedule.as_ref().map_or("", |s| s.spec.as_str());
        let needed = d
            .plan
            .steps
            .first()
            .and_then(|s| s.targets.instances.as_ref())
            .map_or(1, |i| i.len().div_ceil(MAX_INSTANCES_PER_INVOKE).max(1));
        let reason = if let Some(old) = current
            .invocations
            .iter()
            .find(|i| i.hash != d.plan.runbook.hash)
        {
            Some(ReplaceReason::RunbookChanged {
                from: old.hash.clone(),
                to: d.plan.runbook.hash.clone(),
            })
        } else if current.invocations.iter().any(|i| i.spec != spec) {
            Some(ReplaceReason::SpecChanged)
        } else if current.invocations.len() > needed {
            Some(ReplaceReason::Duplicated {
                found: current.invocations.len(),
                needed,
            })
        } else {
            None
        };
        let current = (*current).clone();
        changes.push(match reason {
            Some(reason) => Change::Replace {
                desired: d,
                current,
                reason,
            },
            None => Change::Keep {
                desired: d,
                current,
            },
        });
    }
    if prune {
        for (name, current) in &in_set {
            if wanted.contains(*name) {
                continue;
            }
            let why = unschedulable.get(*name).cloned().unwrap_or_else(|| {
                format!("no scheduled runbook named `{name}` in the given paths")
            });
            changes.push(Change::Remove {
                current: (*current).clone(),
                why,
            });
        }
    }
    changes.sort_by(|a, b| change_name(a).cmp(change_name(b)));
    Diff {
        set: set.to_owned(),
        changes,
        elsewhere,
    }
}

/// The runbook name a change is about.
pub fn change_name(change: &Change) -> &str {
    match change {
        Change::Create(d)
        | Change::Replace { desired: d, .. }
        | Change::Keep { desired: d, .. } => d.name(),
        Change::Remove { current, .. } => &current.name,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::plan::{BuildOptions, build};
    use crate::runbook::{VarOverrides, load_str};

    /// The plan of a one-step scheduled runbook `name` on the given instances.
    fn desired(name: &str, script: &str, instances: &str) -> Desired {
        let text = format!(
            "version: 1\nname: {name}\ntargets: {{instances: [{instances}]}}\nschedule: {{frequency: 'rate(1h)'}}\nsteps:\n  - name: a\n    script: {script}\n"
        );
        let runbook =
            load_str(Path::new("r.yaml"), &text, &VarOverrides::new()).expect("a valid runbook");
        Desired {
            path: "r.yaml".to_owned(),
            plan: build(&runbook, &BuildOptions::default()).expect("a plan"),
        }
    }

    /// A schedule on the cloud with one invocation per `(hash, spec)`.
    fn cloud(name: &str, set: &str, tags: &[(&str, &str)]) -> CloudSchedule {
        CloudSchedule {
            name: name.to_owned(),
            set: set.to_owned(),
            invocations: tags
                .iter()
                .enumerate()
                .map(|(i, (hash, spec))| TimedInvocation {
                    invoke_id: InvokeId::new(format!("t-{name}{i}")),
                    command_id: CommandId::new(format!("c-{name}")),
                    hash: (*hash).to_owned(),
                    spec: (*spec).to_owned(),
                    frequency: "rate(1h)".to_owned(),
                    created: "2030-01-01T00:00:00Z".to_owned(),
                    status: InvocationStatus::Scheduled,
                    instances: Vec::new(),
                })
                .collect(),
        }
    }

    /// One line per change: `create a`, `replace a: <reason>`, `remove a: <why>`, `keep a`.
    fn lines(diff: &Diff) -> Vec<String> {
        diff.changes
            .iter()
            .map(|c| match c {
                Change::Create(d) => format!("create {}", d.name()),
                Change::Replace {
                    desired, reason, ..
                } => {
                    format!("replace {}: {reason:?}", desired.name())
                }
                Change::Remove { current, why } => format!("remove {}: {why}", current.name),
                Change::Keep { desired, .. } => format!("keep {}", desired.name()),
            })
            .collect()
    }

    #[test]
    fn reconciliation() {
        let a = desired("a", "echo a", "i-abc");
        let (hash, spec) = (
            a.plan.runbook.hash.clone(),
            a.plan.schedule.as_ref().expect("scheduled").spec.clone(),
        );
        let (hash, spec) = (hash.as_str(), spec.as_str());
        let none = BTreeMap::new();
        let cases: Vec<(Vec<CloudSchedule>, bool, Vec<&str>)> = vec![
            (vec![], true, vec!["create a"]),
            (
                vec![cloud("a", "default", &[(hash, spec)])],
                true,
                vec!["keep a"],
            ),
            (
                vec![cloud("a", "default", &[("0ld", spec)])],
                true,
                vec!["replace a: RunbookChanged { from: \"0ld\", to: \"HASH\" }"],
            ),
            (
                vec![cloud("a", "default", &[(hash, "0ld")])],
                true,
                vec!["replace a: SpecChanged"],
            ),
            (
                vec![cloud("a", "default", &[(hash, spec), (hash, spec)])],
                true,
                vec!["replace a: Duplicated { found: 2, needed: 1 }"],
            ),
            (
                vec![
                    cloud("a", "default", &[(hash, spec)]),
                    cloud("gone", "default", &[(hash, spec)]),
                ],
                true,
                vec![
                    "keep a",
                    "remove gone: no scheduled runbook named `gone` in the given paths",
                ],
            ),
            // Without pruning (`run`), and in another set, nothing is removed.
            (
                vec![cloud("gone", "default", &[(hash, spec)])],
                false,
                vec!["create a"],
            ),
            (
                vec![cloud("gone", "other", &[(hash, spec)])],
                true,
                vec!["create a"],
            ),
        ];
        for (cloud_side, prune, expected) in cases {
            let diff = diff(vec![a.clone()], &cloud_side, DEFAULT_SET, prune, &none);
            let expected: Vec<String> = expected.iter().map(|l| l.replace("HASH", hash)).collect();
            assert_eq!(lines(&diff), expected, "{cloud_side:?}");
        }
    }

    #[test]
    fn reasons_and_notes() {
        let a = desired("a", "echo a", "i-abc");
        let hash = a.plan.runbook.hash.clone();
        let spec = a.plan.schedule.as_ref().expect("scheduled").spec.clone();
        let why = BTreeMap::from([("b".to_owned(), "it cannot be scheduled any more".to_owned())]);
        let cloud_side = vec![
            cloud("a", "other", &[(&hash, &spec)]),
            cloud("b", "default", &[(&hash, &spec)]),
        ];
        let diff = diff(vec![a], &cloud_side, DEFAULT_SET, true, &why);
        assert_eq!(
            lines(&diff),
            ["create a", "remove b: it cannot be scheduled any more"]
        );
        assert_eq!(diff.elsewhere, [("a".to_owned(), "other".to_owned())]);
        assert!(!diff.is_empty());
    }

    #[test]
    fn a_spec_change_follows_the_targets() {
        let one = desired("a", "echo a", "i-abc");
        let two = desired("a", "echo a", "i-abc, i-def");
        let spec = |d: &Desired| d.plan.schedule.as_ref().expect("scheduled").spec.clone();
        assert_ne!(spec(&one), spec(&two));
        assert_eq!(spec(&one), spec(&desired("a", "echo a", "i-abc")));
    }

    #[test]
    fn refusals() {
        let a = desired("a", "echo a", "i-abc");
        assert_eq!(refusal(&a.plan), None);
        let text = "version: 1\nname: w\ntargets: {instances: [i-abc]}\nschedule: {frequency: 'rate(1h)'}\nsteps:\n  - name: a\n    script: x\n    when: '{{ true }}'\n";
        let runbook = load_str(Path::new("w.yaml"), text, &VarOverrides::new()).expect("valid");
        let plan = build(&runbook, &BuildOptions::default()).expect("a plan");
        assert_eq!(
            refusal(&plan).as_deref(),
            Some(
                "step `a` of scheduled runbook `w` has `when`, which nothing evaluates at fire time on Cloud Assistant's timer"
            )
        );
    }
}
