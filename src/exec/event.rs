//! `RunEvent`: everything a run reports, in the order it happens.
//!
//! `exec` never prints; reporters and the journal consume these events. The scheduler emits
//! them from one task, so the same inputs give the same order.

use serde::{Deserialize, Serialize};

use crate::cloud::id::{CommandId, InstanceId, InvokeId};
use crate::exec::gate::InstanceResult;

/// Why a step did not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum SkipReason {
    /// A dependency failed (or was skipped) and the policy is `abort`.
    DependencyFailed {
        /// The dependency.
        step: String,
    },
    /// Its `when` condition rendered `false`.
    ConditionFalse {
        /// The condition as written.
        when: String,
    },
    /// The run stopped launching steps (a failure with `abort`, or Ctrl-C).
    RunStopped,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::DependencyFailed { step } => {
                write!(f, "skipped: dependency `{step}` did not succeed")
            }
            Self::ConditionFalse { when } => write!(f, "skipped: condition is false: {when}"),
            Self::RunStopped => f.write_str("skipped: the run stopped before it"),
        }
    }
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// The gate passed on enough instances.
    Succeeded,
    /// The gate failed.
    Failed,
    /// It did not run.
    Skipped,
    /// It was interrupted.
    Cancelled,
}

impl StepStatus {
    /// The word used in templates (`steps.x.status`) and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "success",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::Cancelled => "cancelled",
        }
    }
}

/// One event of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum RunEvent {
    /// The run began.
    RunStarted {
        /// Run id.
        run_id: String,
        /// Runbook name.
        runbook: String,
        /// The endpoint calls go to.
        endpoint: String,
        /// Whether it runs against the built-in sandbox.
        sandbox: bool,
    },
    /// A step began.
    StepStarted {
        /// Step name.
        step: String,
        /// Its instances.
        instances: usize,
    },
    /// A command was created.
    CommandCreated {
        /// Step name.
        step: String,
        /// The command.
        command_id: CommandId,
    },
    /// Instances were invoked.
    Invoked {
        /// Step name.
        step: String,
        /// The task.
        invoke_id: InvokeId,
        /// Its instances.
        instances: Vec<InstanceId>,
        /// 0 for the first attempt, then retries.
        attempt: u32,
    },
    /// One instance reached a final state.
    InstanceFinished {
        /// Step name.
        step: String,
        /// The task.
        invoke_id: InvokeId,
        /// The result.
        result: Box<InstanceResult>,
    },
    /// A step stopped launching because too many instances failed.
    ErrorBudgetExceeded {
        /// Step name.
        step: String,
        /// Failed instances so far.
        failed: usize,
        /// Instances that were still running when it stopped.
        running: usize,
        /// Instances never launched.
        not_launched: usize,
    },
    /// A step was skipped.
    StepSkipped {
        /// Step name.
        step: String,
        /// Why.
        reason: SkipReason,
    },
    /// A step ended.
    StepFinished {
        /// Step name.
        step: String,
        /// How.
        status: StepStatus,
        /// Instances that passed the gate.
        passed: usize,
        /// Instances that ran.
        total: usize,
        /// Instances required to pass.
        required: usize,
    },
    /// A command was deleted during cleanup.
    CommandDeleted {
        /// The command.
        command_id: CommandId,
    },
    /// Something worth telling that is not a failure.
    Warning {
        /// The text.
        message: String,
    },
    /// The run ended.
    RunFinished {
        /// Whether every step passed.
        success: bool,
    },
}
