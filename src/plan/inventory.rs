//! What the cloud said about the targets: the input that makes `plan::build` pure.
//!
//! `exec::inventory` fills it with read-only calls (DescribeInstances, every page, and
//! DescribeCloudAssistantStatus); an offline plan has none.

use std::collections::BTreeMap;

use crate::cloud::id::InstanceId;
use crate::plan::model::InstanceSnapshot;

/// Instances and tag matches, as read from the API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Every instance seen, by id.
    pub instances: BTreeMap<InstanceId, InstanceSnapshot>,
    /// Instances matching each tag set, keyed by [`tag_key`], in API order.
    pub tag_matches: BTreeMap<String, Vec<InstanceId>>,
}

/// The key of a tag set in [`Inventory::tag_matches`]: `k=v` pairs, sorted, comma-joined.
pub fn tag_key(tags: &BTreeMap<String, String>) -> String {
    tags.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}
