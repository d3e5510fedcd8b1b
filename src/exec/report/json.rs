//! The JSON report (`--report FILE.json`, and `report.json` in the run directory).
//!
//! The schema is versioned by [`REPORT_VERSION`] and documented in README ("Reports"):
//! fields are only ever added within a version; renaming or removing one bumps it. Secret
//! values never appear: output is masked before it reaches a result.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cloud::id::{CommandId, InstanceId};
use crate::exec::event::{Drift, TargetIssue};
use crate::exec::gate::{InstanceResult, InstanceState};
use crate::exec::scheduler::{RunSummary, StepSummary};
use crate::exec::step::InvocationRecord;
use crate::plan::model::Plan;

/// The version of the report format.
pub const REPORT_VERSION: u32 = 1;

/// What the report says about the run beyond its summary.
#[derive(Debug, Clone)]
pub struct ReportContext<'a> {
    /// The plan that ran.
    pub plan: &'a Plan,
    /// The endpoint.
    pub endpoint: &'a str,
    /// The region.
    pub region: &'a str,
    /// Whether the sandbox was started inside the process.
    pub sandbox: bool,
    /// The process exit code the run ends with.
    pub exit_code: i32,
    /// The run directory, when one was written.
    pub run_dir: Option<String>,
}

/// The report document.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// [`REPORT_VERSION`].
    pub report_version: u32,
    /// The tool version.
    pub tool_version: String,
    /// Run id.
    pub run_id: String,
    /// Where the run directory is.
    pub run_dir: Option<String>,
    /// The runbook.
    pub runbook: ReportRunbook,
    /// The plan's integrity hash.
    pub plan_integrity: String,
    /// Endpoint.
    pub endpoint: String,
    /// Region.
    pub region: String,
    /// Whether the sandbox ran inside the process.
    pub sandbox: bool,
    /// Whether this continued an earlier run.
    pub resumed: bool,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339.
    pub finished_at: String,
    /// Milliseconds.
    pub duration_ms: u64,
    /// `succeeded`, `failed`, `preflight_failed`, `interrupted` or `api_error`.
    pub outcome: &'static str,
    /// The process exit code.
    pub exit_code: i32,
    /// The API error that stopped the run.
    pub error: Option<String>,
    /// Targets and their checks.
    pub preflight: ReportPreflight,
    /// Steps in plan order, then rollback steps that ran.
    pub steps: Vec<ReportStep>,
    /// API calls this process made, per action.
    pub api_calls: BTreeMap<String, ReportCalls>,
}

/// The runbook of a report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportRunbook {
    /// Name.
    pub name: String,
    /// Path as planned.
    pub path: String,
    /// SHA-256 of its bytes.
    pub hash: String,
}

/// Preflight in a report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportPreflight {
    /// Targets that cannot run commands (the run did not start).
    pub issues: Vec<TargetIssue>,
    /// Drift of a saved plan's targets.
    pub drift: Drift,
    /// Instances started by `--start-stopped`.
    pub started: Vec<InstanceId>,
    /// Instances given an agent by `--install-agent`.
    pub agent_installed: Vec<InstanceId>,
}

/// One step in a report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportStep {
    /// Name.
    pub name: String,
    /// Whether it is a rollback step.
    pub rollback: bool,
    /// `succeeded`, `failed`, `skipped` or `cancelled`.
    pub status: String,
    /// Why it was skipped.
    pub skip_reason: Option<String>,
    /// Whether it finished in an earlier run (resume) and was not run again.
    pub from_earlier_run: bool,
    /// Instances of the step.
    pub total: usize,
    /// Instances that passed.
    pub passed: usize,
    /// Instances required to pass.
    pub required: usize,
    /// Instances per tally group (`succeeded`, `failed`, `timed out`, …).
    pub tally: BTreeMap<String, usize>,
    /// Whether more instances failed than `max_errors` allows.
    pub error_budget_exceeded: bool,
    /// Milliseconds it ran in this process.
    pub duration_ms: Option<u64>,
    /// Commands created for it.
    pub command_ids: Vec<CommandId>,
    /// Its invocations.
    pub invocations: Vec<InvocationRecord>,
    /// Per instance, in target order.
    pub instances: Vec<ReportInstance>,
}

/// One instance in a report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportInstance {
    /// Instance id.
    pub instance_id: InstanceId,
    /// `success`, `failed`, `timed_out`, `stopped`, `aborted`, `invalid`, `error`,
    /// `no_record`, `not_launched` or `unknown`.
    pub state: String,
    /// The state in words (`failed (exit 3)`).
    pub state_label: String,
    /// Whether it passed the gate.
    pub passed: bool,
    /// Exit code.
    pub exit_code: Option<i64>,
    /// `ErrorCode`.
    pub error_code: String,
    /// `ErrorInfo`.
    pub error_info: String,
    /// Gate failures in words.
    pub failures: Vec<String>,
    /// Decoded output; `null` when the API gave none.
    pub output: Option<String>,
    /// Bytes Cloud Assistant cut off.
    pub output_dropped: i64,
    /// Whether the output was not valid text in its encoding.
    pub output_invalid_encoding: bool,
    /// Whether output checks ran on truncated output.
    pub checked_truncated: bool,
    /// `outputs` captures.
    pub captures: BTreeMap<String, String>,
    /// API start time.
    pub start_time: String,
    /// API finish time.
    pub finish_time: String,
}

/// Attempts and retries of one action.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ReportCalls {
    /// Requests sent, retries included.
    pub attempts: u64,
    /// Of those, retries.
    pub retries: u64,
}

/// The `outcome` word of a run.
pub fn outcome(summary: &RunSummary) -> &'static str {
    if summary.success {
        "succeeded"
    } else if summary.preflight_failed() {
        "preflight_failed"
    } else if summary.interrupted {
        "interrupted"
    } else if summary.api_error.is_some() {
        "api_error"
    } else {
        "failed"
    }
}

fn state_key(state: &InstanceState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.get("state").and_then(|s| s.as_str()).map(str::to_owned))
        .unwrap_or_default()
}

fn instance(result: &InstanceResult) -> ReportInstance {
    ReportInstance {
        instance_id: result.instance.clone(),
        state: state_key(&result.state),
        state_label: result.state.label(),
        passed: result.passed(),
        exit_code: result.exit_code,
        error_code: result.error_code.clone(),
        error_info: result.error_info.clone(),
        failures: result.failures.iter().map(ToString::to_string).collect(),
        output: result.output.text.clone(),
        output_dropped: result.output.dropped,
        output_invalid_encoding: result.output.invalid_encoding,
        checked_truncated: result.checked_truncated,
        captures: result.captures.clone(),
        start_time: result.start_time.clone(),
        finish_time: result.finish_time.clone(),
    }
}

fn step(summary: &StepSummary) -> ReportStep {
    let mut tally = BTreeMap::new();
    for result in &summary.results {
        *tally.entry(result.tally()).or_insert(0) += 1;
    }
    ReportStep {
        name: summary.name.clone(),
        rollback: summary.rollback,
        status: serde_json::to_value(summary.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        skip_reason: summary.skip_reason.as_ref().map(ToString::to_string),
        from_earlier_run: summary.from_journal,
        total: summary.instances.len(),
        passed: summary.passed,
        required: summary.required,
        tally,
        error_budget_exceeded: summary.budget_exceeded,
        duration_ms: summary
            .duration
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        command_ids: summary.commands.clone(),
        invocations: summary.invocations.clone(),
        instances: summary.results.iter().map(instance).collect(),
    }
}

/// Builds the report of a run.
pub fn report(summary: &RunSummary, context: &ReportContext<'_>) -> Report {
    let duration = (summary.finished_at - summary.started_at)
        .to_std()
        .unwrap_or_default();
    Report {
        report_version: REPORT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        run_id: summary.run_id.clone(),
        run_dir: context.run_dir.clone(),
        runbook: ReportRunbook {
            name: context.plan.runbook.name.clone(),
            path: context.plan.runbook.path.clone(),
            hash: context.plan.runbook.hash.clone(),
        },
        plan_integrity: context.plan.integrity.clone(),
        endpoint: context.endpoint.to_owned(),
        region: context.region.to_owned(),
        sandbox: context.sandbox,
        resumed: summary.resumed,
        started_at: summary.started_at.to_rfc3339(),
        finished_at: summary.finished_at.to_rfc3339(),
        duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        outcome: outcome(summary),
        exit_code: context.exit_code,
        error: summary.api_error.as_ref().map(ToString::to_string),
        preflight: ReportPreflight {
            issues: summary.preflight.issues.clone(),
            drift: summary.drift.clone(),
            started: summary.preflight.started.clone(),
            agent_installed: summary.preflight.installed.clone(),
        },
        steps: summary.steps.iter().map(step).collect(),
        api_calls: summary
            .calls
            .attempts
            .iter()
            .map(|(action, attempts)| {
                (
                    (*action).to_owned(),
                    ReportCalls {
                        attempts: *attempts,
                        retries: summary.calls.retries.get(action).copied().unwrap_or(0),
                    },
                )
            })
            .collect(),
    }
}

/// The report as pretty JSON with a final newline.
pub fn render(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report).expect("reports serialise");
    text.push('\n');
    text
}

/// Writes the report as [`render`] does, straight into `out`: a fleet's report is never held
/// as one string beside the results it is made of.
pub fn write_to(report: &Report, out: impl std::io::Write) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(out);
    serde_json::to_writer_pretty(&mut out, report)?;
    out.write_all(b"\n")?;
    out.flush()
}
