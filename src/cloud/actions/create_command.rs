//! [CreateCommand](https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-createcommand):
//! stores a script as a Cloud Assistant command.

use serde::{Deserialize, Serialize};

use crate::cloud::action::{Action, Idempotency};
use crate::cloud::actions::TagFilter;
use crate::cloud::id::CommandId;
use crate::cloud::status::{CommandType, ContentEncoding};

/// Request (reference §4.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateCommand {
    /// ≤ 128 characters.
    pub name: String,
    /// Script type.
    #[serde(rename = "Type")]
    pub command_type: CommandType,
    /// The script, Base64 unless `content_encoding` is `PlainText`.
    pub command_content: String,
    /// Defaults to `Base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<ContentEncoding>,
    /// ≤ 512 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Must exist on the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Seconds; the service default is 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Enables `{{name}}` parameters and built-ins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_parameter: Option<bool>,
    /// Bootstrap command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launcher: Option<String>,
    /// Idempotency token, ASCII ≤ 64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// Tags on the command.
    #[serde(default, rename = "Tag", skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagFilter>,
}

/// Response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateCommandResponse {
    /// Request id.
    pub request_id: String,
    /// The new command.
    pub command_id: CommandId,
}

impl Action for CreateCommand {
    const NAME: &'static str = "CreateCommand";
    const IDEMPOTENCY: Idempotency = Idempotency::TokenGuarded;
    type Response = CreateCommandResponse;

    fn client_token(&self) -> Option<&str> {
        self.client_token.as_deref()
    }
}
