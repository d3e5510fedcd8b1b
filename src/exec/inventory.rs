//! Reads what the cloud knows about a runbook's targets, with read-only calls only.
//!
//! Tags are resolved with DescribeInstances over every page (never trusting `TotalCount`,
//! case B03); explicit ids are looked up 100 at a time; the agent state comes from
//! DescribeCloudAssistantStatus. The result feeds the pure `plan::build`.

use std::collections::{BTreeMap, BTreeSet};

use crate::cloud::Client;
use crate::cloud::actions::{DescribeCloudAssistantStatus, DescribeInstances, Instance, TagFilter};
use crate::cloud::error::CallError;
use crate::cloud::id::InstanceId;
use crate::plan::inventory::{Inventory, tag_key};
use crate::plan::model::InstanceSnapshot;
use crate::runbook::model::Runbook;

/// DescribeInstances page size (its maximum).
pub const INSTANCES_PAGE_SIZE: u32 = 100;

/// Fetches the inventory of every step's targets.
pub async fn fetch(client: &Client, runbook: &Runbook) -> Result<Inventory, CallError> {
    let mut inventory = Inventory::default();
    let steps = runbook.steps.iter().chain(&runbook.rollback);
    let tag_sets: BTreeSet<BTreeMap<String, String>> = steps
        .clone()
        .map(|s| s.targets.tags.clone())
        .filter(|t| !t.is_empty())
        .collect();
    for tags in &tag_sets {
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
        let ids = found.iter().map(|i| i.instance_id.clone()).collect();
        for instance in found {
            inventory
                .instances
                .insert(instance.instance_id.clone(), snapshot(&instance));
        }
        inventory.tag_matches.insert(tag_key(tags), ids);
    }
    let explicit: Vec<InstanceId> = steps
        .flat_map(|s| s.targets.instances.iter().map(|i| i.value.clone()))
        .filter(|id| !inventory.instances.contains_key(id))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    for chunk in explicit.chunks(100) {
        let ids: Vec<&str> = chunk.iter().map(InstanceId::as_str).collect();
        let found = describe_all(
            client,
            DescribeInstances {
                instance_ids: Some(serde_json::to_string(&ids).expect("strings serialise")),
                ..DescribeInstances::default()
            },
        )
        .await?;
        for instance in found {
            inventory
                .instances
                .insert(instance.instance_id.clone(), snapshot(&instance));
        }
    }
    let all: Vec<InstanceId> = inventory.instances.keys().cloned().collect();
    for chunk in all.chunks(100) {
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
                if let Some(snap) = inventory.instances.get_mut(&status.instance_id) {
                    snap.agent = Some(status.is_running());
                }
            }
            match response.next_token.as_str() {
                "" => break,
                token if next_token.as_deref() == Some(token) => break,
                token => next_token = Some(token.to_owned()),
            }
        }
    }
    Ok(inventory)
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
