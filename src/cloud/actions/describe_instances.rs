//! [DescribeInstances](https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describeinstances):
//! the subset used to resolve targets and check their status.

use serde::{Deserialize, Serialize};

use crate::cloud::action::{Action, Idempotency};
use crate::cloud::actions::{TagFilter, Tags};
use crate::cloud::id::InstanceId;
use crate::cloud::status::InstanceStatus;

/// Request (reference §4.12).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInstances {
    /// A JSON array of at most 100 ids, e.g. `["i-a","i-b"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_ids: Option<String>,
    /// Filter on status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Filter on name, `*` wildcards allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_name: Option<String>,
    /// Tag filters, all must match.
    #[serde(default, rename = "Tag", skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagFilter>,
    /// 10 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_results: Option<u32>,
    /// Paging token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// Deprecated page number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_number: Option<u32>,
    /// Deprecated page size, ≤ 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
}

/// Response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeInstancesResponse {
    /// Request id.
    pub request_id: String,
    /// Meaningless with token paging.
    pub total_count: i64,
    /// Page number.
    pub page_number: i64,
    /// Page size.
    pub page_size: i64,
    /// Empty on the last page.
    pub next_token: String,
    /// The instances.
    pub instances: Instances,
}

/// `Instances.Instance[]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Instances {
    /// The instances.
    #[serde(rename = "Instance")]
    pub instance: Vec<Instance>,
}

/// One instance.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Instance {
    /// Instance id.
    pub instance_id: InstanceId,
    /// Name.
    pub instance_name: String,
    /// Host name.
    pub host_name: String,
    /// Status.
    pub status: InstanceStatus,
    /// `linux` or `windows`.
    #[serde(rename = "OSType")]
    pub os_type: String,
    /// OS name.
    #[serde(rename = "OSName")]
    pub os_name: String,
    /// Region.
    pub region_id: String,
    /// Zone.
    pub zone_id: String,
    /// Instance type.
    pub instance_type: String,
    /// Resource group.
    pub resource_group_id: String,
    /// VPC attributes.
    pub vpc_attributes: VpcAttributes,
    /// Public addresses.
    pub public_ip_address: IpAddresses,
    /// Tags.
    pub tags: Tags,
}

/// `VpcAttributes`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VpcAttributes {
    /// VPC.
    pub vpc_id: String,
    /// vSwitch.
    #[serde(rename = "VSwitchId")]
    pub vswitch_id: String,
    /// Private addresses.
    pub private_ip_address: IpAddresses,
}

/// `*.IpAddress[]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct IpAddresses {
    /// The addresses.
    #[serde(rename = "IpAddress")]
    pub ip_address: Vec<String>,
}

impl Action for DescribeInstances {
    const NAME: &'static str = "DescribeInstances";
    const IDEMPOTENCY: Idempotency = Idempotency::Read;
    type Response = DescribeInstancesResponse;
}
