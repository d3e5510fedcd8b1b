//! `RunEvent`: everything a run reports.
//!
//! `exec` never prints; reporters and the journal consume these events. The scheduler sees
//! them in the order they happen and writes them to the journal at once; reporters get them
//! re-sequenced so that the same inputs give the same order (see
//! [`Sequencer`](crate::exec::sequencer::Sequencer)).

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

/// How far a cancellation has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cancel {
    /// Keep going.
    #[default]
    None,
    /// Launch nothing new; let running invocations finish (the first Ctrl-C).
    StopLaunching,
    /// Stop running invocations too (the second Ctrl-C).
    StopRunning,
}

/// Why the client sent StopInvocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopCause {
    /// The instances ran past the step's Timeout plus the grace period.
    Timeout,
    /// The second Ctrl-C.
    Cancel,
}

/// The settings of a run, journaled so that `resume` continues it the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSettings {
    /// Steps running at once.
    pub max_parallel: usize,
    /// Keep the commands the run created.
    pub keep_commands: bool,
    /// How long past a step's Timeout the client waits before it stops the invocation.
    pub timeout_grace_ms: u64,
    /// Start stopped targets before running.
    pub start_stopped: bool,
    /// Install Cloud Assistant where it is missing before running.
    pub install_agent: bool,
}

/// Why a target cannot run commands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "problem")]
pub enum TargetProblem {
    /// DescribeInstances does not know it (in this region).
    NotFound,
    /// Its status is not `Running`.
    NotRunning {
        /// The status it has.
        status: String,
    },
    /// DescribeCloudAssistantStatus does not report a running agent.
    NoAgent,
}

impl std::fmt::Display for TargetProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound => f.write_str("not found"),
            Self::NotRunning { status } => write!(f, "{status}, not Running"),
            Self::NoAgent => f.write_str("no running Cloud Assistant agent"),
        }
    }
}

/// One target that failed preflight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetIssue {
    /// The instance.
    pub instance: InstanceId,
    /// What is wrong with it.
    #[serde(flatten)]
    pub problem: TargetProblem,
}

/// How the instances of a saved plan changed since it was written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    /// Instances the plan's tags match now but did not then; the plan's list is kept, so they
    /// do not run.
    pub added: Vec<InstanceId>,
    /// Instances of the plan that no longer exist or no longer match its tags.
    pub removed: Vec<InstanceId>,
    /// Instances of the plan that were Running then and are not now.
    pub stopped: Vec<InstanceId>,
}

impl Drift {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.stopped.is_empty()
    }
}

/// One event of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum RunEvent {
    /// The run began (or was resumed).
    RunStarted {
        /// Run id.
        run_id: String,
        /// Runbook name.
        runbook: String,
        /// The endpoint calls go to.
        endpoint: String,
        /// The region calls name.
        region: String,
        /// Whether it runs against a sandbox started inside this process.
        sandbox: bool,
        /// Its settings.
        settings: RunSettings,
        /// Whether this continues an earlier run from its journal.
        resumed: bool,
    },
    /// The targets of a saved plan changed since it was written.
    TargetDrift {
        /// What changed.
        drift: Drift,
    },
    /// Preflight changed instances so that they can run commands.
    PreflightFix {
        /// `StartInstance` or `InstallCloudAssistant`.
        action: String,
        /// The instances.
        instances: Vec<InstanceId>,
    },
    /// Every target is Running with its agent up.
    PreflightPassed {
        /// Targets checked.
        instances: usize,
    },
    /// Targets cannot run commands; no command was run.
    PreflightFailed {
        /// The targets and what is wrong with each.
        issues: Vec<TargetIssue>,
    },
    /// A step began.
    StepStarted {
        /// Step name.
        step: String,
        /// Its instances.
        instances: usize,
        /// 0, then 1, 2, … for each `resume --retry-failed` or continuation with a new command.
        round: u32,
        /// The instances this round runs (all of them in round 0).
        to_run: Vec<InstanceId>,
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
        /// Which batch of the step (`w<wave>b<batch>`), the key of its ClientToken.
        batch: String,
    },
    /// A resumed run took up an invocation the journal knew, without invoking again.
    Reattached {
        /// Step name.
        step: String,
        /// The task.
        invoke_id: InvokeId,
        /// Its instances.
        instances: Vec<InstanceId>,
        /// Attempt.
        attempt: u32,
        /// Batch key.
        batch: String,
    },
    /// The client sent StopInvocation (in calls of at most 50 instances).
    StopSent {
        /// Step name.
        step: String,
        /// The task.
        invoke_id: InvokeId,
        /// The instances it asked to stop.
        instances: Vec<InstanceId>,
        /// Why.
        cause: StopCause,
    },
    /// One instance reached a final state (or will not be launched).
    InstanceFinished {
        /// Step name.
        step: String,
        /// The task; `None` for an instance that was never launched.
        invoke_id: Option<InvokeId>,
        /// The attempt it finished in (0, then retries).
        attempt: u32,
        /// The result.
        result: Box<InstanceResult>,
    },
    /// A step stopped launching because too many instances failed.
    ErrorBudgetExceeded {
        /// Step name.
        step: String,
        /// Failed instances so far.
        failed: usize,
        /// Failures the step tolerates (`max_errors`).
        budget: usize,
        /// Instances that were still running when it stopped launching; they run to the end.
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
        /// Instances of the step.
        total: usize,
        /// Instances required to pass.
        required: usize,
    },
    /// Ctrl-C: what the run does now.
    Cancelling {
        /// How far.
        level: Cancel,
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

impl RunEvent {
    /// The step an event belongs to, if it belongs to one.
    pub fn step(&self) -> Option<&str> {
        match self {
            Self::StepStarted { step, .. }
            | Self::CommandCreated { step, .. }
            | Self::Invoked { step, .. }
            | Self::Reattached { step, .. }
            | Self::StopSent { step, .. }
            | Self::InstanceFinished { step, .. }
            | Self::ErrorBudgetExceeded { step, .. }
            | Self::StepSkipped { step, .. }
            | Self::StepFinished { step, .. } => Some(step),
            _ => None,
        }
    }
}
