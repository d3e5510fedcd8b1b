//! [DeleteCommand](https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-deletecommand):
//! removes a command.

use serde::{Deserialize, Serialize};

use crate::cloud::action::{Action, Idempotency};
use crate::cloud::id::CommandId;

/// Request (reference §4.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteCommand {
    /// The command to delete.
    pub command_id: CommandId,
}

/// Response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteCommandResponse {
    /// Request id.
    pub request_id: String,
}

impl Action for DeleteCommand {
    const NAME: &'static str = "DeleteCommand";
    // Deleting twice only answers `InvalidCmdId.NotFound`, which callers treat as done.
    const IDEMPOTENCY: Idempotency = Idempotency::Read;
    type Response = DeleteCommandResponse;
}
