//! One file per API action: a request struct, a response struct and the `Action` trait.

mod common;
mod create_command;
mod delete_command;
mod describe_cloud_assistant_status;
mod describe_commands;
mod describe_instances;
mod describe_invocation_results;
mod describe_invocations;
mod install_cloud_assistant;
mod invoke_command;
mod modify_command;
mod run_command;
mod start_instance;
mod stop_invocation;

pub use common::{ParameterNames, Tag, TagFilter, Tags};
pub use create_command::{CreateCommand, CreateCommandResponse};
pub use delete_command::{DeleteCommand, DeleteCommandResponse};
pub use describe_cloud_assistant_status::{
    AssistantStatusSet, DescribeCloudAssistantStatus, DescribeCloudAssistantStatusResponse,
    InstanceCloudAssistantStatus,
};
pub use describe_commands::{
    Command, Commands, DescribeCommands, DescribeCommandsResponse, ParameterDefinition,
    ParameterDefinitions, PossibleValues,
};
pub use describe_instances::{
    DescribeInstances, DescribeInstancesResponse, Instance, Instances, IpAddresses, VpcAttributes,
};
pub use describe_invocation_results::{
    DescribeInvocationResults, DescribeInvocationResultsResponse, InvocationResult,
    InvocationResultPage, InvocationResults,
};
pub use describe_invocations::{
    DescribeInvocations, DescribeInvocationsResponse, Invocation, Invocations, InvokeInstance,
    InvokeInstances,
};
pub use install_cloud_assistant::{InstallCloudAssistant, InstallCloudAssistantResponse};
pub use invoke_command::{InvokeCommand, InvokeCommandResponse};
pub use modify_command::{ModifyCommand, ModifyCommandResponse};
pub use run_command::{RunCommand, RunCommandResponse};
pub use start_instance::{StartInstance, StartInstanceResponse};
pub use stop_invocation::{StopInvocation, StopInvocationResponse};
