//! The plan: the reviewable artefact `plan` prints and `run` executes.
//!
//! A plan is plain data. Saved as JSON it carries an integrity hash over its own content, the
//! runbook's hash and the tool version; `run --plan` refuses one whose hash does not match
//! (edited) or whose runbook has changed since. Secret values never enter a plan: rendered
//! scripts hold [`Segment::Secret`](crate::plan::render::Segment) markers instead.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cloud::id::InstanceId;
use crate::cloud::status::CommandType;
use crate::plan::render::Rendered;

/// The version of the saved-plan format.
pub const PLAN_VERSION: u32 = 1;

/// A complete plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// [`PLAN_VERSION`].
    pub plan_version: u32,
    /// The `ecs-runbook` version that built it.
    pub tool_version: String,
    /// The runbook it was built from.
    pub runbook: PlanRunbook,
    /// Region the calls go to, when known.
    pub region: Option<String>,
    /// Non-secret template variables, for scripts rendered at run time.
    pub vars: BTreeMap<String, serde_json::Value>,
    /// Secret variables: name → where the value is read from at run time.
    pub secrets: BTreeMap<String, SecretRef>,
    /// Whether targets were resolved and checked against the cloud (false with `--offline`).
    pub resolved: bool,
    /// What the instances looked like when the plan was built, for drift reports.
    pub inventory: Vec<InstanceSnapshot>,
    /// The steps in execution order.
    pub steps: Vec<PlanStep>,
    /// Rollback steps in order.
    pub rollback: Vec<PlanStep>,
    /// Steps that can run together, stage by stage.
    pub stages: Vec<Vec<String>>,
    /// The schedule of a scheduled runbook.
    pub schedule: Option<PlanSchedule>,
    /// Preflight warnings.
    pub warnings: Vec<String>,
    /// What could not be checked (offline plans).
    pub unchecked: Vec<String>,
    /// SHA-256 over the plan with this field empty.
    pub integrity: String,
}

/// The runbook a plan came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRunbook {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// The path it was read from.
    pub path: String,
    /// SHA-256 of its bytes.
    pub hash: String,
}

/// Where a secret is read from when the run starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SecretRef {
    /// An environment variable.
    Env(String),
    /// A file.
    File(String),
}

/// An instance as seen when the plan was built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceSnapshot {
    /// Id.
    pub id: InstanceId,
    /// Name.
    pub name: String,
    /// `Running`, `Stopped`, ….
    pub status: String,
    /// `linux` or `windows`.
    pub os: String,
    /// Whether the agent answered, when checked.
    pub agent: Option<bool>,
}

/// The schedule of a scheduled runbook, as planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSchedule {
    /// `schedule.frequency` as written in the runbook.
    pub written: String,
    /// The Frequency sent to Cloud Assistant: as written, followed by `schedule.timezone` when
    /// the expression names no zone.
    pub frequency: String,
    /// The zone the fire times are shown in.
    pub zone: String,
    /// Whether that zone is assumed rather than written: a cron expression without a zone
    /// runs by each instance's own clock.
    pub zone_assumed: bool,
    /// What `run` does with the runbook.
    pub mode: ScheduleMode,
    /// SHA-256 (hex, 16 digits) over what the schedule sends: the Frequency, the region and the
    /// step (script, targets, timeout, user). `schedule apply` replaces a schedule whose tag
    /// differs, so a fleet change behind a tag target reaches the cloud too.
    pub spec: String,
    /// The next fire times; empty when the plan was built without a clock.
    pub next: Vec<PlanFireTime>,
    /// Warnings about the schedule: DST changes, an assumed zone, settings the timer does not
    /// apply.
    pub warnings: Vec<String>,
}

/// What `run` does with a scheduled runbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleMode {
    /// One step: a Timed invocation (RepeatMode `Period`) that Cloud Assistant fires by itself.
    Timed,
    /// Several steps: Cloud Assistant's timer runs one command, so `run` refuses to schedule
    /// it and `run --once` runs it now.
    OnceOnly,
}

/// One fire time of a plan's schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFireTime {
    /// RFC 3339 in the zone it fires in.
    pub local: String,
    /// RFC 3339 in UTC.
    pub utc: String,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanStep {
    /// Step name.
    pub name: String,
    /// 0-based stage: steps of one stage can run together.
    pub stage: usize,
    /// Names of the steps it depends on.
    pub depends_on: Vec<String>,
    /// Script type.
    pub command_type: CommandType,
    /// Working directory, when set.
    pub working_dir: Option<String>,
    /// OS user, when set.
    pub username: Option<String>,
    /// Timeout sent to the API, in seconds.
    pub timeout_secs: u64,
    /// Targets.
    pub targets: PlanTargets,
    /// How the instances are spread over invocations.
    pub rate_control: PlanRateControl,
    /// The gate.
    pub gate: PlanGate,
    /// Condition, a Tera expression evaluated at run time.
    pub when: Option<String>,
    /// Re-invocations of failed instances.
    pub retries: u32,
    /// `abort`, `continue` or `rollback`.
    pub on_failure: String,
    /// Output captures: name → regex.
    pub outputs: BTreeMap<String, String>,
    /// Cloud Assistant parameters: name → value.
    pub parameters: BTreeMap<String, String>,
    /// Encoding of non-UTF-8 output.
    pub output_encoding: Option<String>,
    /// Whether `{{…}}` parameters and built-ins are enabled on the command.
    pub enable_parameter: bool,
    /// The script, rendered or deferred.
    pub script: PlanScript,
    /// The API calls `run` makes for this step, for review.
    pub calls: Vec<PlannedCall>,
}

/// A step's script in a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PlanScript {
    /// Rendered at plan time.
    Rendered(Rendered),
    /// Uses earlier steps' results; rendered at run time from this template.
    Deferred(String),
}

/// The instances of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanTargets {
    /// Ids given explicitly.
    pub explicit: Vec<InstanceId>,
    /// Tags that must all match.
    pub tags: BTreeMap<String, String>,
    /// What the tags matched, when resolved.
    pub tag_matches: Option<Vec<InstanceId>>,
    /// The union, in order: explicit first, then tag matches; `None` until tags are resolved.
    pub instances: Option<Vec<InstanceId>>,
}

/// The rate control of a step, in numbers and in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRateControl {
    /// As written (`10`, `25%`), or `None` for all at once.
    pub concurrency: Option<String>,
    /// As written, or `None` for 0.
    pub max_errors: Option<String>,
    /// Instances per wave, when the target count is known.
    pub wave_size: Option<usize>,
    /// Failed instances tolerated, when the target count is known.
    pub error_budget: Option<usize>,
    /// The worst case in plain words.
    pub worst_case: String,
}

/// The gate of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanGate {
    /// Exit codes that pass.
    pub exit_codes: Vec<i64>,
    /// Required text.
    pub output_contains: Option<String>,
    /// Required regex.
    pub output_matches: Option<String>,
    /// Quorum as written (`100%`, `2`).
    pub min_success: String,
}

/// One API call, as `run` will send it (the signature and common parameters aside).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedCall {
    /// The action.
    pub action: String,
    /// Its parameters; secrets masked, and values only known at run time in angle brackets.
    pub params: BTreeMap<String, String>,
}

impl Plan {
    /// Computes the integrity hash: SHA-256 of the JSON of the plan with `integrity` empty.
    pub fn compute_integrity(&self) -> String {
        let mut copy = self.clone();
        copy.integrity = String::new();
        let bytes = serde_json::to_vec(&copy).expect("plans always serialise");
        hex(&Sha256::digest(&bytes))
    }

    /// Sets the integrity hash.
    pub fn seal(&mut self) {
        self.integrity = self.compute_integrity();
    }

    /// Whether the integrity hash matches the content.
    pub fn is_intact(&self) -> bool {
        self.integrity == self.compute_integrity()
    }

    /// The step with `name`, main steps first.
    pub fn step(&self, name: &str) -> Option<&PlanStep> {
        self.steps
            .iter()
            .chain(&self.rollback)
            .find(|s| s.name == name)
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
