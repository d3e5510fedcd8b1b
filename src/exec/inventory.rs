//! Reads what the cloud knows about a runbook's targets, with read-only calls only.
//!
//! Tags are resolved with DescribeInstances over every page (never trusting `TotalCount`,
//! case B03); explicit ids are looked up 100 at a time; the agent state comes from
//! DescribeCloudAssistantStatus. The result feeds the pure `plan::build`, the drift report of
//! a saved plan and preflight.

use std::collections::{BTreeMap, BTreeSet};

use crate::cloud::Client;
use crate::cloud::actions::{DescribeCloudAssistantStatus, DescribeInstances, Instance, TagFilter};
use crate::cloud::error::CallError;
use crate::cloud::id::InstanceId;
use crate::plan::inventory::{Inventory, tag_key};
use crate::plan::model::{InstanceSnapshot, Plan};
use crate::runbook::model::Runbook;

/// DescribeInstances page size (its maximum).
pub const INSTANCES_PAGE_SIZE: u32 = 100;

/// Fetches the inventory of every step's targets.
pub async fn fetch(client: &Client, runbook: &Runbook) -> Result<Inventory, CallError> {
    let steps = runbook.steps.iter().chain(&runbook.rollback);
    let tag_sets: BTreeSet<BTreeMap<String, String>> = steps
        .clone()
        .map(|s| s.targets.tags.clone())
        .filter(|t| !t.is_empty())
        .collect();
    let ids: BTreeSet<InstanceId> = steps
        .flat_map(|s| s.targets.instances.iter().map(|i| i.value.clone()))
        .collect();
    fetch_targets(client, &tag_sets, &ids).await
}

/// Fetches what the cloud says now about a saved plan's targets: its tag sets again, and every
/// instance it names or had resolved, so that drift (added, removed, stopped) can be told.
pub async fn fetch_plan(client: &Client, plan: &Plan) -> Result<Inventory, CallError> {
    let steps = plan.steps.iter().chain(&plan.rollback);
    let tag_sets: BTreeSet<BTreeMap<String, String>> = steps
        .clone()
        .map(|s| s.targets.tags.clone())
        .filter(|t| !t.is_empty())
        .collect();
    let ids: BTreeSet<InstanceId> = steps
        .flat_map(|s| {
            s.targets
                .explicit
                .iter()
                .chain(s.targets.instances.iter().flatten())
                .cloned()
        })
        .chain(plan.inventory.iter().map(|i| i.id.clone()))
        .collect();
    fetch_targets(client, &tag_sets, &ids).await
}

/// Resolves each tag set with DescribeInstances (every page), looks up the ids not seen that
/// way 100 at a time, and reads the agent state of every instance found.
async fn fetch_targets(
    client: &Client,
    tag_sets: &BTreeSet<BTreeMap<String, String>>,
    ids: &BTreeSet<InstanceId>,
) -> Result<Inventory, CallError> {
    let mut inventory = Inventory::default();
    for tags in tag_sets {
        let filters: Vec<TagFilter> = tags
            .iter()
            .map(|(k, v)| TagFilter {
                key: k.clone(),
                value: Some(v.clone()),
            })
            .collect();
        let found = describe_all(
            client,
            DescribeInstances {
                tags: filters,
                ..DescribeInstances::default()
            },
        )
        .await?;
        let matched = found.iter().map(|i| i.instance_id.clone()).collect();
        for instance in found {
            inventory
                .instances
                .insert(instance.instance_id.clone(), snapshot(&instance));
        }
        inventory.tag_matches.insert(tag_key(tags), matched);
    }
    let explicit: Vec<InstanceId> = ids
        .iter()
        .filter(|id| !inventory.instances.contains_key(*id))
        .cloned()
        .collect();
    for instance in describe_ids(client, &explicit).await? {
        inventory
            .instances
            .insert(instance.instance_id.clone(), snapshot(&instance));
    }
    let all: Vec<InstanceId> = inventory.instances.keys().cloned().collect();
    let agents = agent_states(client, &all).await?;
    for (id, up) in agents {
        if let Some(snap) = inventory.instances.get_mut(&id) {
            snap.agent = Some(up);
        }
    }
    Ok(inventory)
}

/// Whether the agent runs on each of `ids`, from DescribeCloudAssistantStatus (100 a call).
pub async fn agent_states(
    client: &Client,
    ids: &[InstanceId],
) -> Result<BTreeMap<InstanceId, bool>, CallError> {
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(100) {
        let mut next_token = None;
        loop {
            let response = client
                .call(&DescribeCloudAssistantStatus {
                    instance_ids: chunk.to_vec(),
                    next_token: next_token.clone(),
                    ..DescribeCloudAssistantStatus::default()
                })
                .await?;
            for status in &response.instance_cloud_assistant_status_set.items {
                out.insert(status.instance_id.clone(), status.is_running());
            }
            match response.next_token.as_str() {
                "" => break,
                token if next_token.as_deref() == Some(token) => break,
                token => next_token = Some(token.to_owned()),
            }
        }
    }
    Ok(out)
}

/// The status of each of `ids`, from DescribeInstances (100 ids a query, every page).
pub async fn statuses(
    client: &Client,
    ids: &[InstanceId],
) -> Result<BTreeMap<InstanceId, String>, CallError> {
    Ok(describe_ids(client, ids)
        .await?
        .into_iter()
        .map(|i| (i.instance_id, i.status.to_string()))
        .collect())
}

/// DescribeInstances of `ids`, 100 ids a query, every page.
async fn describe_ids(client: &Client, ids: &[InstanceId]) -> Result<Vec<Instance>, CallError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(100) {
        let names: Vec<&str> = chunk.iter().map(InstanceId::as_str).collect();
        out.extend(
            describe_all(
                client,
                DescribeInstances {
                    instance_ids: Some(serde_json::to_string(&names).expect("strings serialise")),
                    ..DescribeInstances::default()
                },
            )
            .await?,
        );
    }
    Ok(out)
}

/// Every page of a DescribeInstances query.
async fn describe_all(
    client: &Client,
    request: DescribeInstances,
) -> Result<Vec<Instance>, CallError> {
    let mut out = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let response = client
            .call(&DescribeInstances {
                max_results: Some(INSTANCES_PAGE_SIZE),
                next_token: next_token.clone(),
                ..request.clone()
            })
            .await?;
        out.extend(response.instances.instance);
        match response.next_token.as_str() {
            "" => return Ok(out),
            token if next_token.as_deref() == Some(token) => return Ok(out),
            token => next_token = Some(token.to_owned()),
        }
    }
}

fn snapshot(instance: &Instance) -> InstanceSnapshot {
    InstanceSnapshot {
        id: instance.instance_id.clone(),
        name: instance.instance_name.clone(),
        status: instance.status.to_string(),
        os: instance.os_type.to_ascii_lowercase(),
        agent: None,
    }
}
