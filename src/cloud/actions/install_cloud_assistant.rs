//! [InstallCloudAssistant](https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-installcloudassistant):
//! installs the agent on up to 50 instances.

use serde::{Deserialize, Serialize};

use crate::cloud::action::{Action, Idempotency};
use crate::cloud::id::InstanceId;

/// Request (reference §4.11).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstallCloudAssistant {
    /// 1 to 50 instances.
    #[serde(rename = "InstanceId")]
    pub instance_ids: Vec<InstanceId>,
}

/// Response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstallCloudAssistantResponse {
    /// Request id.
    pub request_id: String,
}

impl Action for InstallCloudAssistant {
    const NAME: &'static str = "InstallCloudAssistant";
    // Installing on an instance that has the agent is harmless.
    const IDEMPOTENCY: Idempotency = Idempotency::Read;
    type Response = InstallCloudAssistantResponse;
}
