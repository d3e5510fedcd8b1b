//! [DescribeCommands](https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describecommands):
//! lists commands.

use serde::{Deserialize, Serialize};

use crate::cloud::action::{Action, Idempotency};
use crate::cloud::actions::{ParameterNames, TagFilter, Tags};
use crate::cloud::id::CommandId;

/// Request (reference §4.4).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeCommands {
    /// One command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<CommandId>,
    /// Name, `*` wildcards allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description, `*` wildcards allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Command type.
    #[serde(default, rename = "Type", skip_serializing_if = "Option::is_none")]
    pub command_type: Option<String>,
    /// Empty for own commands; `AlibabaCloud` (or a sub-provider) for public ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Encoding of `CommandContent` in the response.
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
pub struct DescribeCommandsResponse {
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
    /// The commands.
    pub commands: Commands,
}

/// `Commands.Command[]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Commands {
    /// The commands.
    #[serde(rename = "Command")]
    pub command: Vec<Command>,
}

/// One command.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Command {
    /// Command id.
    pub command_id: CommandId,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Type.
    #[serde(rename = "Type")]
    pub command_type: String,
    /// Content per the request's `ContentEncoding`.
    pub command_content: String,
    /// Working directory.
    pub working_dir: String,
    /// Timeout in seconds.
    pub timeout: i64,
    /// Whether parameters are enabled.
    pub enable_parameter: bool,
    /// Launcher.
    pub launcher: String,
    /// Creation time.
    pub creation_time: String,
    /// Tasks created from it.
    pub invoke_times: i32,
    /// Resource group.
    pub resource_group_id: String,
    /// Public commands only.
    pub category: String,
    /// Public commands only.
    pub provider: String,
    /// Public commands only.
    pub version: i32,
    /// Public commands only.
    pub latest: bool,
    /// Parameter names parsed from the content.
    pub parameter_names: ParameterNames,
    /// Definitions of the parameters (public commands; empty for own ones).
    pub parameter_definitions: ParameterDefinitions,
    /// Tags.
    pub tags: Tags,
}

/// `ParameterDefinitions.ParameterDefinition[]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ParameterDefinitions {
    /// The definitions.
    #[serde(rename = "ParameterDefinition")]
    pub parameter_definition: Vec<ParameterDefinition>,
}

/// One parameter definition of a public command.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ParameterDefinition {
    /// Name.
    pub parameter_name: String,
    /// Description.
    pub description: String,
    /// Default value.
    pub default_value: String,
    /// Pattern the value must match.
    pub pattern_regex: String,
    /// Whether a value is required.
    pub required: bool,
    /// `PossibleValues.PossibleValue[]`.
    pub possible_values: PossibleValues,
}

/// `PossibleValues.PossibleValue[]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PossibleValues {
    /// The values.
    #[serde(rename = "PossibleValue")]
    pub possible_value: Vec<String>,
}

impl Action for DescribeCommands {
    const NAME: &'static str = "DescribeCommands";
    const IDEMPOTENCY: Idempotency = Idempotency::Read;
    type Response = DescribeCommandsResponse;
}
