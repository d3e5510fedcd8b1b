//! Shapes shared by several actions: tags and the doubly wrapped lists of responses.

use serde::{Deserialize, Serialize};

/// A tag filter or label in a request: `Tag.N.Key` / `Tag.N.Value`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagFilter {
    /// Tag key.
    pub key: String,
    /// Tag value; absent matches any value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// A tag in a response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Tag {
    /// Tag key.
    pub tag_key: String,
    /// Tag value.
    pub tag_value: String,
}

/// `Tags.Tag[]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Tags {
    /// The tags.
    #[serde(rename = "Tag")]
    pub tag: Vec<Tag>,
}

/// `ParameterNames.ParameterName[]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ParameterNames {
    /// The names.
    #[serde(rename = "ParameterName")]
    pub parameter_name: Vec<String>,
}
