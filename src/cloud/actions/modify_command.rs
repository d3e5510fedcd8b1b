//! [ModifyCommand](https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-modifycommand):
//! changes a command's name, description, working directory, timeout or launcher.

use serde::{Deserialize, Serialize};

use crate::cloud::action::{Action, Idempotency};
use crate::cloud::id::CommandId;

/// Request (reference §4.2). The type cannot change, and `CommandContent` is deprecated (the
/// service accepts and ignores it), so neither is here.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyCommand {
    /// The command to change.
    pub command_id: CommandId,
    /// ≤ 128 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// ≤ 512 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// ≤ 200 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// ≤ 1 KB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launcher: Option<String>,
}

/// Response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ModifyCommandResponse {
    /// Request id.
    pub request_id: String,
}

impl Action for ModifyCommand {
    const NAME: &'static str = "ModifyCommand";
    // It sets fields to given values: repeating it leaves the same command.
    const IDEMPOTENCY: Idempotency = Idempotency::Read;
    type Response = ModifyCommandResponse;
}
