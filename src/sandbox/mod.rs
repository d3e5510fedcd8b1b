//! The sandbox: a local Cloud Assistant that speaks the signed RPC API and runs scripts on
//! simulated instances on this machine.
//!
//! Scripts run as real processes of the current user: the sandbox stands in for the cloud, it
//! is not an isolation boundary. `server` is the entry point (`start`); `router` routes,
//! `gateway` authenticates, `handlers` act, `state` remembers, `task` and `runner` run.

mod error;
mod fault;
mod fleet;
mod format;
mod gateway;
mod handlers;
mod paging;
mod router;
mod runner;
mod server;
mod state;
mod task;
#[cfg(test)]
mod tests;

pub use fault::{ActionFaults, AgentFault, FaultKind, Faults, InstanceFaults};
pub use fleet::{
    AgentSpec, DEFAULT_AGENT_VERSION, DEFAULT_INSTANCE_IDS, DEFAULT_REGION, Delay, Execution,
    Fleet, FleetError, FleetLimits, GenerateRule, InstanceSpec, Os, Simulation,
};
pub use server::{RunningSandbox, SandboxConfig, StartError, start};
pub use state::{DEFAULT_DIRS, ExecutionCount, Limits, Stats, Timing};
