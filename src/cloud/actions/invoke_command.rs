//! [InvokeCommand](https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-invokecommand):
//! runs a command on up to 100 instances.

use serde::{Deserialize, Serialize};

use crate::cloud::action::{Action, Idempotency};
use crate::cloud::actions::TagFilter;
use crate::cloud::id::{CommandId, InstanceId, InvokeId};
use crate::cloud::status::RepeatMode;

/// Request (reference §4.5).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvokeCommand {
    /// The command to run.
    pub command_id: CommandId,
    /// 1 to 100 instances; or use `resource_tags`.
    #[serde(default, rename = "InstanceId", skip_serializing_if = "Vec::is_empty")]
    pub instance_ids: Vec<InstanceId>,
    /// Selects instances by tag instead of by id.
    #[serde(default, rename = "ResourceTag", skip_serializing_if = "Vec::is_empty")]
    pub resource_tags: Vec<TagFilter>,
    /// `Once` unless a `Frequency` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_mode: Option<RepeatMode>,
    /// Schedule expression (reference §7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency: Option<String>,
    /// Deprecated; no effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timed: Option<bool>,
    /// JSON object of parameter values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<String>,
    /// Seconds, ≥ 10; this task only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// This task only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Existing OS user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `Process` or `ProcessTree`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_mode: Option<String>,
    /// Container to run in (accepted and shown; the sandbox runs on the instance itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// Container to run in, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// Idempotency token, ASCII ≤ 64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// Tags of the task.
    #[serde(default, rename = "Tag", skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagFilter>,
}

/// Response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InvokeCommandResponse {
    /// Request id.
    pub request_id: String,
    /// The new task.
    pub invoke_id: InvokeId,
}

impl Action for InvokeCommand {
    const NAME: &'static str = "InvokeCommand";
    const IDEMPOTENCY: Idempotency = Idempotency::TokenGuarded;
    type Response = InvokeCommandResponse;

    fn client_token(&self) -> Option<&str> {
        self.client_token.as_deref()
    }
}
