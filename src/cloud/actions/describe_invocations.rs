//! [DescribeInvocations](https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describeinvocations):
//! tasks with their per-instance states and aggregate status.

use serde::{Deserialize, Serialize};

use crate::cloud::action::{Action, Idempotency};
use crate::cloud::actions::{TagFilter, Tags};
use crate::cloud::id::{CommandId, InstanceId, InvokeId};
use crate::cloud::status::{InstanceInvocationStatus, InvocationStatus};

/// Request (reference §4.7).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInvocations {
    /// One task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoke_id: Option<InvokeId>,
    /// Tasks of one command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<CommandId>,
    /// Tasks of commands with this name; ignored with `InstanceId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_name: Option<String>,
    /// Tasks of commands of this type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_type: Option<String>,
    /// Tasks of one instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<InstanceId>,
    /// Filter on repeat mode; ignored with `InstanceId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_mode: Option<String>,
    /// Aggregate status filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoke_status: Option<String>,
    /// `true`: tasks that will run again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timed: Option<bool>,
    /// Return `Output`; needs `InvokeId` or `InstanceId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_output: Option<bool>,
    /// Encoding of content and output; default Base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    /// ≤ 50.
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
    /// Tag filters.
    #[serde(default, rename = "Tag", skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagFilter>,
}

/// Response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeInvocationsResponse {
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
    /// The tasks.
    pub invocations: Invocations,
}

/// `Invocations.Invocation[]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Invocations {
    /// The tasks.
    #[serde(rename = "Invocation")]
    pub invocation: Vec<Invocation>,
}

/// One task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Invocation {
    /// Task id.
    pub invoke_id: InvokeId,
    /// Command id.
    pub command_id: CommandId,
    /// Command name.
    pub command_name: String,
    /// Command type.
    pub command_type: String,
    /// Command description.
    pub command_description: String,
    /// Content per `ContentEncoding`.
    pub command_content: String,
    /// JSON text of the parameters, `{}` when none.
    pub parameters: String,
    /// Aggregate status (preferred).
    pub invocation_status: InvocationStatus,
    /// Legacy aggregate status.
    pub invoke_status: String,
    /// Repeat mode.
    pub repeat_mode: String,
    /// Schedule.
    pub frequency: String,
    /// Whether it will run again.
    pub timed: bool,
    /// Timeout in seconds.
    pub timeout: i64,
    /// Working directory.
    pub working_dir: String,
    /// User.
    pub username: String,
    /// Creation time.
    pub creation_time: String,
    /// Container id.
    pub container_id: String,
    /// Container name.
    pub container_name: String,
    /// Termination mode.
    pub termination_mode: String,
    /// Launcher.
    pub launcher: String,
    /// OSS delivery.
    pub oss_output_delivery: String,
    /// Tags.
    pub tags: Tags,
    /// Per-instance detail.
    pub invoke_instances: InvokeInstances,
}

/// `InvokeInstances.InvokeInstance[]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct InvokeInstances {
    /// One per instance.
    #[serde(rename = "InvokeInstance")]
    pub invoke_instance: Vec<InvokeInstance>,
}

/// The state of a task on one instance.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InvokeInstance {
    /// Instance id.
    pub instance_id: InstanceId,
    /// Per-instance status.
    pub invocation_status: InstanceInvocationStatus,
    /// Legacy per-instance status; ignored.
    pub instance_invoke_status: String,
    /// Exit code; absent while not finished in some responses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// Error code (reference §6.6).
    pub error_code: String,
    /// Error text.
    pub error_info: String,
    /// Only with `IncludeOutput=true`; absent means "not available", not empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Bytes of output cut off.
    pub dropped: i64,
    /// Runs so far.
    pub repeats: i32,
    /// Whether it will run again.
    pub timed: bool,
    /// Creation time.
    pub creation_time: String,
    /// Start time.
    pub start_time: String,
    /// Finish time.
    pub finish_time: String,
    /// Stop time.
    pub stop_time: String,
    /// Update time.
    pub update_time: String,
    /// OSS status.
    pub oss_output_status: String,
    /// OSS URI.
    pub oss_output_uri: String,
    /// OSS error code.
    pub oss_output_error_code: String,
    /// OSS error text.
    pub oss_output_error_info: String,
}

impl Action for DescribeInvocations {
    const NAME: &'static str = "DescribeInvocations";
    const IDEMPOTENCY: Idempotency = Idempotency::Read;
    type Response = DescribeInvocationsResponse;
}
