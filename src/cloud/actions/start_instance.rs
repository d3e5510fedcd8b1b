//! [StartInstance](https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-startinstance):
//! starts a stopped instance.

use serde::{Deserialize, Serialize};

use crate::cloud::action::{Action, Idempotency};
use crate::cloud::id::InstanceId;

/// Request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartInstance {
    /// The instance.
    pub instance_id: InstanceId,
}

/// Response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StartInstanceResponse {
    /// Request id.
    pub request_id: String,
}

impl Action for StartInstance {
    const NAME: &'static str = "StartInstance";
    const IDEMPOTENCY: Idempotency = Idempotency::Write;
    type Response = StartInstanceResponse;
}
