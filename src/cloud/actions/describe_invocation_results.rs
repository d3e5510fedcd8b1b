//! [DescribeInvocationResults](https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describeinvocationresults):
//! per-instance records, including the history of scheduled tasks.

use serde::{Deserialize, Serialize};

use crate::cloud::action::{Action, Idempotency};
use crate::cloud::actions::Tags;
use crate::cloud::id::{CommandId, InstanceId, InvokeId};
use crate::cloud::status::InstanceInvocationStatus;

/// Request (reference §4.8).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInvocationResults {
    /// One task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoke_id: Option<InvokeId>,
    /// One instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<InstanceId>,
    /// One command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<CommandId>,
    /// Record status filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoke_record_status: Option<String>,
    /// Every run of a scheduled task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_history: Option<bool>,
    /// Encoding of `Output`; default Base64.
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
}

/// Response; note the singular `Invocation` that carries the paging fields.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeInvocationResultsResponse {
    /// Request id.
    pub request_id: String,
    /// The page.
    pub invocation: InvocationResultPage,
}

/// `Invocation` of `DescribeInvocationResults`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InvocationResultPage {
    /// Meaningless with token paging.
    pub total_count: i64,
    /// Page number.
    pub page_number: i64,
    /// Page size.
    pub page_size: i64,
    /// Empty on the last page.
    pub next_token: String,
    /// The records.
    pub invocation_results: InvocationResults,
}

/// `InvocationResults.InvocationResult[]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct InvocationResults {
    /// The records.
    #[serde(rename = "InvocationResult")]
    pub invocation_result: Vec<InvocationResult>,
}

/// One run of a task on one instance.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InvocationResult {
    /// Task id.
    pub invoke_id: InvokeId,
    /// Instance id.
    pub instance_id: InstanceId,
    /// Command id.
    pub command_id: CommandId,
    /// Per-instance status.
    pub invocation_status: InstanceInvocationStatus,
    /// Record status (reference §6.4).
    pub invoke_record_status: String,
    /// Exit code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// Error code.
    pub error_code: String,
    /// Error text.
    pub error_info: String,
    /// Output per `ContentEncoding`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Bytes of output cut off.
    pub dropped: i64,
    /// Runs so far.
    pub repeats: i32,
    /// Start time.
    pub start_time: String,
    /// Finish time (`FinishedTime` here, `FinishTime` in `DescribeInvocations`).
    pub finished_time: String,
    /// Stop time.
    pub stop_time: String,
    /// User.
    pub username: String,
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
    /// OSS status.
    pub oss_output_status: String,
    /// OSS URI.
    pub oss_output_uri: String,
    /// OSS error code.
    pub oss_output_error_code: String,
    /// OSS error text.
    pub oss_output_error_info: String,
    /// Tags.
    pub tags: Tags,
}

impl Action for DescribeInvocationResults {
    const NAME: &'static str = "DescribeInvocationResults";
    const IDEMPOTENCY: Idempotency = Idempotency::Read;
    type Response = DescribeInvocationResultsResponse;
}
