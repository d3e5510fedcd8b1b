//! Preflight: before anything changes, every target must exist, be `Running` and have its
//! Cloud Assistant agent up (the seed's steps 1 and 2); and a saved plan's targets are
//! compared with what the cloud says now (drift).
//!
//! The checks read the [`Inventory`] gathered when the run started (DescribeInstances and
//! DescribeCloudAssistantStatus), so they cost no extra call. Only the fixes the user asked
//! for write anything: `--start-stopped` (StartInstance, then wait for `Running`) and
//! `--install-agent` (InstallCloudAssistant, then wait for the agent). StartInstance carries no
//! ClientToken, so it is never repeated blindly: after a failure the status is read again, and
//! the call is sent again only while the instance is still `Stopped`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

use crate::cloud::Client;
use crate::cloud::actions::{InstallCloudAssistant, StartInstance};
use crate::cloud::error::CallError;
use crate::cloud::id::InstanceId;
use crate::cloud::retry::Backoff;
use crate::exec::event::{Drift, RunEvent, TargetIssue, TargetProblem};
use crate::exec::inventory;
use crate::plan::inventory::{Inventory, tag_key};
use crate::plan::model::Plan;

/// At most this many instances go into one InstallCloudAssistant (reference §10).
pub const MAX_INSTANCES_PER_INSTALL: usize = 50;

/// How long the fixes wait, by default, for instances to run and agents to answer.
pub const DEFAULT_FIX_WAIT: Duration = Duration::from_mins(5);

/// What preflight may do about targets that are not ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreflightOptions {
    /// StartInstance on stopped targets, then wait for `Running`.
    pub start_stopped: bool,
    /// InstallCloudAssistant where the agent is not running, then wait for it.
    pub install_agent: bool,
    /// How long to wait for either.
    pub wait: Duration,
}

/// What preflight found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preflight {
    /// Targets that still cannot run commands; non-empty means the run must not start.
    pub issues: Vec<TargetIssue>,
    /// Instances it started.
    pub started: Vec<InstanceId>,
    /// Instances it installed the agent on.
    pub installed: Vec<InstanceId>,
}

/// What is known of one target.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Known {
    status: Option<String>,
    agent: Option<bool>,
}

fn known(targets: &[InstanceId], inventory: &Inventory) -> BTreeMap<InstanceId, Known> {
    targets
        .iter()
        .map(|id| {
            let snap = inventory.instances.get(id);
            (
                id.clone(),
                Known {
                    status: snap.map(|s| s.status.clone()),
                    agent: snap.and_then(|s| s.agent),
                },
            )
        })
        .collect()
}

fn issues_of(known: &BTreeMap<InstanceId, Known>) -> Vec<TargetIssue> {
    known
        .iter()
        .filter_map(|(id, k)| {
            let problem = match (&k.status, k.agent) {
                (None, _) => TargetProblem::NotFound,
                (Some(status), _) if status != "Running" => TargetProblem::NotRunning {
                    status: status.clone(),
                },
                (Some(_), Some(true)) => return None,
                (Some(_), _) => TargetProblem::NoAgent,
            };
            Some(TargetIssue {
                instance: id.clone(),
                problem,
            })
        })
        .collect()
}

/// The targets of `targets` that cannot run commands, by what `inventory` says.
pub fn issues(targets: &[InstanceId], inventory: &Inventory) -> Vec<TargetIssue> {
    issues_of(&known(targets, inventory))
}

/// How a saved plan's targets changed: instances its tags match now but did not (added),
/// instances it had that are gone or no longer match (removed), and instances that were
/// `Running` when it was written and are not now (stopped).
pub fn drift(plan: &Plan, now: &Inventory) -> Drift {
    let mut added = BTreeSet::new();
    let mut removed = BTreeSet::new();
    for step in plan.steps.iter().chain(&plan.rollback) {
        let Some(then) = &step.targets.tag_matches else {
            continue;
        };
        let current: BTreeSet<&InstanceId> = now
            .tag_matches
            .get(&tag_key(&step.targets.tags))
            .map(|m| m.iter().collect())
            .unwrap_or_default();
        let then: BTreeSet<&InstanceId> = then.iter().collect();
        added.extend(current.difference(&then).map(|id| (*id).clone()));
        removed.extend(then.difference(&current).map(|id| (*id).clone()));
    }
    let mut stopped = BTreeSet::new();
    for snap in &plan.inventory {
        match now.instances.get(&snap.id) {
            None => {
                removed.insert(snap.id.clone());
            }
            Some(current) if snap.status == "Running" && current.status != "Running" => {
                stopped.insert(snap.id.clone());
            }
            Some(_) => {}
        }
    }
    Drift {
        added: added.into_iter().collect(),
        removed: removed.into_iter().collect(),
        stopped: stopped.into_iter().collect(),
    }
}

/// Checks `targets` and applies the fixes `options` allow; `emit` receives what it does.
pub async fn run(
    client: &Client,
    targets: &[InstanceId],
    inventory: &Inventory,
    options: PreflightOptions,
    emit: &mut (dyn FnMut(RunEvent) + Send),
) -> Result<Preflight, CallError> {
    let mut known = known(targets, inventory);
    let mut out = Preflight::default();
    if options.start_stopped {
        let stopped: Vec<InstanceId> = known
            .iter()
            .filter(|(_, k)| matches!(k.status.as_deref(), Some("Stopped" | "Starting")))
            .map(|(id, _)| id.clone())
            .collect();
        if !stopped.is_empty() {
            emit(RunEvent::PreflightFix {
                action: "StartInstance".to_owned(),
                instances: stopped.clone(),
            });
            start(client, &stopped, &mut known, options.wait).await?;
            let agents = inventory::agent_states(client, &stopped).await?;
            for (id, up) in agents {
                if let Some(k) = known.get_mut(&id) {
                    k.agent = Some(up);
                }
            }
            out.started = stopped;
        }
    }
    if options.install_agent {
        let missing: Vec<InstanceId> = known
            .iter()
            .filter(|(_, k)| k.status.as_deref() == Some("Running") && k.agent != Some(true))
            .map(|(id, _)| id.clone())
            .collect();
        if !missing.is_empty() {
            emit(RunEvent::PreflightFix {
                action: "InstallCloudAssistant".to_owned(),
                instances: missing.clone(),
            });
            for chunk in missing.chunks(MAX_INSTANCES_PER_INSTALL) {
                client
                    .call(&InstallCloudAssistant {
                        instance_ids: chunk.to_vec(),
                    })
                    .await?;
            }
            let mut pacer = Pacer::new(options.wait);
            loop {
                let agents = inventory::agent_states(client, &missing).await?;
                for (id, up) in &agents {
                    if let Some(k) = known.get_mut(id) {
                        k.agent = Some(*up);
                    }
                }
                let done = missing.iter().all(|id| agents.get(id) == Some(&true));
                if done || !pacer.pause().await {
                    break;
                }
            }
            out.installed = missing;
        }
    }
    out.issues = issues_of(&known);
    Ok(out)
}

/// Starts `ids` and waits for them to be `Running`.
async fn start(
    client: &Client,
    ids: &[InstanceId],
    known: &mut BTreeMap<InstanceId, Known>,
    wait: Duration,
) -> Result<(), CallError> {
    for id in ids {
        if known.get(id).and_then(|k| k.status.as_deref()) != Some("Stopped") {
            continue;
        }
        let mut delays = Backoff::new(
            Duration::from_millis(500),
            2.0,
            Duration::from_secs(10),
            None,
        );
        for tries_left in (0..5).rev() {
            let Err(error) = client
                .call(&StartInstance {
                    instance_id: id.clone(),
                })
                .await
            else {
                break;
            };
            // Without a ClientToken the outcome of a failed write is unknown: look first.
            let status = inventory::statuses(client, std::slice::from_ref(id)).await?;
            if status.get(id).is_none_or(|s| s != "Stopped") || tries_left == 0 {
                if status
                    .get(id)
                    .is_some_and(|s| s == "Starting" || s == "Running")
                {
                    break;
                }
                return Err(error);
            }
            tokio::time::sleep(delays.next().expect("backoff never ends")).await;
        }
    }
    let mut pacer = Pacer::new(wait);
    loop {
        let status = inventory::statuses(client, ids).await?;
        for (id, s) in &status {
            if let Some(k) = known.get_mut(id) {
                k.status = Some(s.clone());
            }
        }
        let done = ids
            .iter()
            .all(|id| status.get(id).is_some_and(|s| s == "Running"));
        if done || !pacer.pause().await {
            return Ok(());
        }
    }
}

/// Growing pauses between checks, until a deadline.
struct Pacer {
    deadline: Instant,
    delays: Backoff,
}

impl Pacer {
    fn new(limit: Duration) -> Self {
        Self {
            deadline: Instant::now() + limit,
            delays: Backoff::new(
                Duration::from_millis(500),
                1.5,
                Duration::from_secs(5),
                None,
            ),
        }
    }

    /// Sleeps before the next check; `false` once the deadline has passed.
    async fn pause(&mut self) -> bool {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let delay = self.delays.next().expect("backoff never ends");
        tokio::time::sleep(delay.min(left)).await;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::model::InstanceSnapshot;

    fn snap(id: &str, status: &str, agent: Option<bool>) -> (InstanceId, InstanceSnapshot) {
        (
            id.into(),
            InstanceSnapshot {
                id: id.into(),
                name: id.into(),
                status: status.into(),
                os: "linux".into(),
                agent,
            },
        )
    }

    #[test]
    fn lists_every_target_that_cannot_run_commands() {
        let inventory = Inventory {
            instances: [
                snap("i-ok", "Running", Some(true)),
                snap("i-stopped", "Stopped", Some(false)),
                snap("i-noagent", "Running", Some(false)),
                snap("i-unchecked", "Running", None),
            ]
            .into(),
            tag_matches: BTreeMap::new(),
        };
        let targets: Vec<InstanceId> = ["i-ok", "i-stopped", "i-noagent", "i-unchecked", "i-gone"]
            .map(InstanceId::from)
            .to_vec();
        let got: Vec<String> = issues(&targets, &inventory)
            .iter()
            .map(|i| format!("{}: {}", i.instance, i.problem))
            .collect();
        assert_eq!(
            got,
            [
                "i-gone: not found",
                "i-noagent: no running Cloud Assistant agent",
                "i-stopped: Stopped, not Running",
                "i-unchecked: no running Cloud Assistant agent",
            ]
        );
    }
}
