//! [StopInvocation](https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-stopinvocation):
//! stops a task on some or all of its instances.

use serde::{Deserialize, Serialize};

use crate::cloud::action::{Action, Idempotency};
use crate::cloud::id::{InstanceId, InvokeId};

/// Request (reference §4.9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StopInvocation {
    /// The task.
    pub invoke_id: InvokeId,
    /// At most 50; empty means every instance of the task.
    #[serde(default, rename = "InstanceId", skip_serializing_if = "Vec::is_empty")]
    pub instance_ids: Vec<InstanceId>,
}

/// Response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StopInvocationResponse {
    /// Request id.
    pub request_id: String,
}

impl Action for StopInvocation {
    const NAME: &'static str = "StopInvocation";
    // Stopping twice has the same effect as stopping once.
    const IDEMPOTENCY: Idempotency = Idempotency::Read;
    type Response = StopInvocationResponse;
}
