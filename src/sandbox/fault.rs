//! Fault injection: what goes wrong, where, and the seeded decision of when.
//!
//! Action faults are decided per call by [`FaultPlan::decide`], a pure function of the seed,
//! the action name and how many calls of that action came before — so the n-th
//! `InvokeCommand` of a run always meets the same fault whatever the other actions do.
//! A queued `sequence` is consumed first; then the probabilities apply. The gateway applies
//! the decision: throttling, 5xx and `drop_before` happen before the action takes effect;
//! `drop_after` closes the connection after the action took effect (the case that makes a
//! `ClientToken` matter). Instance faults are read by the handlers and the runner.

use std::collections::HashMap;

use serde::Deserialize;

use crate::cloud::retry::Jitter;
use crate::sandbox::fleet::{Delay, FleetError};

/// Every injected fault of a sandbox.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Seed of the decisions; the same seed gives the same faults.
    pub seed: u64,
    /// Faults of API calls, per action or for every action (`action: "*"`).
    pub actions: Vec<ActionFaults>,
    /// Faults of instances.
    pub instances: Vec<InstanceFaults>,
}

/// Faults of one action (or all).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionFaults {
    /// Action name, or `*` for every action.
    pub action: String,
    /// Probability of `Throttling.User` (HTTP 400).
    pub throttle: f64,
    /// Probability of `ServiceUnavailable` (HTTP 503).
    pub unavailable: f64,
    /// Probability of `InternalError` (HTTP 500).
    pub internal_error: f64,
    /// Probability of closing the connection before the action takes effect.
    pub drop_before: f64,
    /// Probability of closing the connection after the action took effect.
    pub drop_after: f64,
    /// Added before every answer of this action.
    pub latency: Delay,
    /// Faults for the first calls, in order, before the probabilities apply.
    pub sequence: Vec<FaultKind>,
}

impl Default for ActionFaults {
    fn default() -> Self {
        Self {
            action: "*".to_owned(),
            throttle: 0.0,
            unavailable: 0.0,
            internal_error: 0.0,
            drop_before: 0.0,
            drop_after: 0.0,
            latency: Delay::default(),
            sequence: Vec::new(),
        }
    }
}

/// One injected outcome of an API call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// No fault (useful inside a `sequence`).
    Ok,
    /// `Throttling.User`, HTTP 400.
    Throttle,
    /// `ServiceUnavailable`, HTTP 503.
    Unavailable,
    /// `InternalError`, HTTP 500.
    InternalError,
    /// The TCP connection is closed before the action takes effect.
    DropBefore,
    /// The action takes effect, then the TCP connection is closed without an answer.
    DropAfter,
}

impl FaultKind {
    /// The name used in stats.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Throttle => "throttle",
            Self::Unavailable => "unavailable",
            Self::InternalError => "internal_error",
            Self::DropBefore => "drop_before",
            Self::DropAfter => "drop_after",
        }
    }
}

/// What goes wrong with an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentFault {
    /// The agent is down: `CloudAssistantStatus` is `"false"` and tasks end `Aborted` /
    /// `ClientNotRunning`.
    Down,
    /// The agent stopped answering but its last heartbeat is recent: status `"true"`, tasks
    /// end `Aborted` / `ClientNotResponse`.
    Unresponsive,
    /// The agent takes tasks and never reports back: they stay `Running` until stopped.
    Hang,
}

/// Faults of some instances.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InstanceFaults {
    /// The instances.
    pub instances: Vec<String>,
    /// Agent fault.
    pub agent: Option<AgentFault>,
    /// The instance stops this long after a task starts running on it (once): the script is
    /// killed, the record ends `Aborted` / `InstanceNotRunning` and the instance is `Stopped`.
    pub stop_after: Option<Delay>,
}

impl Faults {
    /// Checks probabilities and that every named instance exists.
    pub(crate) fn validate(&self, exists: impl Fn(&str) -> bool) -> Result<(), FleetError> {
        for rule in &self.actions {
            let parts = [
                rule.throttle,
                rule.unavailable,
                rule.internal_error,
                rule.drop_before,
                rule.drop_after,
            ];
            if parts.iter().any(|p| !(0.0..=1.0).contains(p)) || parts.iter().sum::<f64>() > 1.0 {
                return Err(FleetError::BadProbability(rule.action.clone()));
            }
        }
        for rule in &self.instances {
            if let Some(id) = rule.instances.iter().find(|id| !exists(id)) {
                return Err(FleetError::UnknownFaultInstance(id.clone()));
            }
        }
        Ok(())
    }

    /// The agent fault of an instance, if any.
    pub(crate) fn agent_fault(&self, instance: &str) -> Option<AgentFault> {
        self.instances
            .iter()
            .filter(|r| r.instances.iter().any(|i| i == instance))
            .find_map(|r| r.agent)
    }

    /// The stop-after fault of an instance, if any.
    pub(crate) fn stop_after(&self, instance: &str) -> Option<Delay> {
        self.instances
            .iter()
            .filter(|r| r.instances.iter().any(|i| i == instance))
            .find_map(|r| r.stop_after)
    }
}

/// The decided fault of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    /// Extra latency before answering.
    pub(crate) latency: std::time::Duration,
    /// The fault, `None` for a normal call.
    pub(crate) fault: Option<FaultKind>,
    /// How many calls of the action came before this one.
    pub(crate) call: u64,
}

/// Decides action faults; keeps the per-action call counters.
#[derive(Debug, Default)]
pub(crate) struct FaultPlan {
    faults: Faults,
    calls: HashMap<String, u64>,
}

impl FaultPlan {
    /// A plan over `faults`.
    pub(crate) fn new(faults: Faults) -> Self {
        Self {
            faults,
            calls: HashMap::new(),
        }
    }

    /// Decides the fault of the next call of `action`.
    pub(crate) fn decide(&mut self, action: &str) -> Decision {
        let n = {
            let counter = self.calls.entry(action.to_owned()).or_default();
            let n = *counter;
            *counter += 1;
            n
        };
        let rule = self
            .faults
            .actions
            .iter()
            .find(|r| r.action == action)
            .or_else(|| self.faults.actions.iter().find(|r| r.action == "*"));
        let Some(rule) = rule else {
            return Decision {
                latency: std::time::Duration::ZERO,
                fault: None,
                call: n,
            };
        };
        let latency = rule.latency.0;
        let queued = usize::try_from(n).ok().and_then(|i| rule.sequence.get(i));
        let fault = match queued {
            Some(FaultKind::Ok) => None,
            Some(kind) => Some(*kind),
            None => {
                let draw = draw(self.faults.seed, action, n);
                let mut edge = 0.0;
                [
                    (rule.throttle, FaultKind::Throttle),
                    (rule.unavailable, FaultKind::Unavailable),
                    (rule.internal_error, FaultKind::InternalError),
                    (rule.drop_before, FaultKind::DropBefore),
                    (rule.drop_after, FaultKind::DropAfter),
                ]
                .into_iter()
                .find_map(|(p, kind)| {
                    edge += p;
                    (draw < edge).then_some(kind)
                })
            }
        };
        Decision {
            latency,
            fault,
            call: n,
        }
    }
}

/// A uniform draw in `[0, 1)` from (seed, action, n).
fn draw(seed: u64, action: &str, n: u64) -> f64 {
    // FNV-1a over the action name keeps the draw independent of other actions' traffic.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in action.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    Jitter::seeded(seed ^ hash ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)).fraction()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(rule: ActionFaults, seed: u64) -> FaultPlan {
        FaultPlan::new(Faults {
            seed,
            actions: vec![rule],
            instances: Vec::new(),
        })
    }

    #[test]
    fn sequence_comes_first_then_probabilities() {
        let mut p = plan(
            ActionFaults {
                action: "InvokeCommand".into(),
                sequence: vec![FaultKind::Throttle, FaultKind::Ok, FaultKind::DropAfter],
                ..ActionFaults::default()
            },
            1,
        );
        let got: Vec<Option<FaultKind>> = (0..5).map(|_| p.decide("InvokeCommand").fault).collect();
        assert_eq!(
            got,
            [
                Some(FaultKind::Throttle),
                None,
                Some(FaultKind::DropAfter),
                None,
                None
            ]
        );
        // Other actions are untouched by a rule for one action.
        assert_eq!(p.decide("DescribeInvocations").fault, None);
    }

    #[test]
    fn decisions_repeat_per_seed_and_follow_the_rates() {
        let rule = ActionFaults {
            throttle: 0.25,
            unavailable: 0.25,
            ..ActionFaults::default()
        };
        let run = |seed| {
            let mut p = plan(rule.clone(), seed);
            (0..400)
                .map(|_| p.decide("DescribeInvocations").fault)
                .collect::<Vec<_>>()
        };
        let a = run(42);
        assert_eq!(a, run(42));
        assert_ne!(a, run(43));
        let throttled = a
            .iter()
            .filter(|f| **f == Some(FaultKind::Throttle))
            .count();
        let unavailable = a
            .iter()
            .filter(|f| **f == Some(FaultKind::Unavailable))
            .count();
        assert!((60..140).contains(&throttled), "{throttled}");
        assert!((60..140).contains(&unavailable), "{unavailable}");
    }
}
