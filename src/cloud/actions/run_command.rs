//! [RunCommand](https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-runcommand):
//! creates and invokes a command in one call.

use serde::{Deserialize, Serialize};

use crate::cloud::action::{Action, Idempotency};
use crate::cloud::actions::TagFilter;
use crate::cloud::id::{CommandId, InstanceId, InvokeId};
use crate::cloud::status::{CommandType, ContentEncoding, RepeatMode};

/// Request (reference §4.6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunCommand {
    /// Script type.
    #[serde(rename = "Type")]
    pub command_type: CommandType,
    /// The script; **`PlainText`** unless `content_encoding` says `Base64`.
    pub command_content: String,
    /// Defaults to `PlainText` here (`CreateCommand` defaults to Base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<ContentEncoding>,
    /// ≤ 128 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// ≤ 512 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Seconds; service default 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Enables parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_parameter: Option<bool>,
    /// Keep the command after the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_command: Option<bool>,
    /// 1 to 100 instances.
    #[serde(default, rename = "InstanceId", skip_serializing_if = "Vec::is_empty")]
    pub instance_ids: Vec<InstanceId>,
    /// Selects instances by tag.
    #[serde(default, rename = "ResourceTag", skip_serializing_if = "Vec::is_empty")]
    pub resource_tags: Vec<TagFilter>,
    /// Repeat mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_mode: Option<RepeatMode>,
    /// Schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency: Option<String>,
    /// Deprecated; no effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timed: Option<bool>,
    /// JSON object of parameter values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<String>,
    /// Existing OS user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `Process` or `ProcessTree`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_mode: Option<String>,
    /// Bootstrap command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launcher: Option<String>,
    /// Container to run in (accepted and shown; the sandbox runs on the instance itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// Container to run in, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// Idempotency token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// Tags of the task.
    #[serde(default, rename = "Tag", skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagFilter>,
}

/// Response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RunCommandResponse {
    /// Request id.
    pub request_id: String,
    /// The command, returned even when not kept.
    pub command_id: CommandId,
    /// The task.
    pub invoke_id: InvokeId,
}

impl Action for RunCommand {
    const NAME: &'static str = "RunCommand";
    const IDEMPOTENCY: Idempotency = Idempotency::TokenGuarded;
    type Response = RunCommandResponse;

    fn client_token(&self) -> Option<&str> {
        self.client_token.as_deref()
    }
}
