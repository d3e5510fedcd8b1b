//! [DescribeCloudAssistantStatus](https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describecloudassistantstatus):
//! whether the agent runs on each instance.

use serde::{Deserialize, Serialize};

use crate::cloud::action::{Action, Idempotency};
use crate::cloud::id::InstanceId;

/// Request (reference §4.10).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeCloudAssistantStatus {
    /// Up to 100 instances.
    #[serde(default, rename = "InstanceId", skip_serializing_if = "Vec::is_empty")]
    pub instance_ids: Vec<InstanceId>,
    /// `Windows`, `Linux` or `FreeBSD`.
    #[serde(default, rename = "OSType", skip_serializing_if = "Option::is_none")]
    pub os_type: Option<String>,
    /// ≤ 50; ignored with `InstanceId.N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_results: Option<u32>,
    /// Paging token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// Deprecated page number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_number: Option<u32>,
    /// Deprecated page size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
}

/// Response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeCloudAssistantStatusResponse {
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
    /// The statuses.
    pub instance_cloud_assistant_status_set: AssistantStatusSet,
}

/// `InstanceCloudAssistantStatusSet.InstanceCloudAssistantStatus[]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AssistantStatusSet {
    /// One entry per instance.
    #[serde(rename = "InstanceCloudAssistantStatus")]
    pub items: Vec<InstanceCloudAssistantStatus>,
}

/// The agent state of one instance.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceCloudAssistantStatus {
    /// Instance id.
    pub instance_id: InstanceId,
    /// The string `"true"` when a heartbeat was seen in the last two minutes.
    pub cloud_assistant_status: String,
    /// Agent version, empty when not installed.
    pub cloud_assistant_version: String,
    /// `Windows`, `Linux` or `FreeBSD`.
    #[serde(rename = "OSType")]
    pub os_type: String,
    /// Last heartbeat.
    pub last_heartbeat_time: String,
    /// Last invocation.
    pub last_invoked_time: String,
    /// Running tasks.
    pub active_task_count: i64,
    /// Completed tasks.
    pub invocation_count: i64,
    /// Session manager support.
    pub support_session_manager: bool,
}

impl InstanceCloudAssistantStatus {
    /// Whether the agent is up (`CloudAssistantStatus` is a string on the wire).
    pub fn is_running(&self) -> bool {
        self.cloud_assistant_status.eq_ignore_ascii_case("true")
    }
}

impl Action for DescribeCloudAssistantStatus {
    const NAME: &'static str = "DescribeCloudAssistantStatus";
    const IDEMPOTENCY: Idempotency = Idempotency::Read;
    type Response = DescribeCloudAssistantStatusResponse;
}
