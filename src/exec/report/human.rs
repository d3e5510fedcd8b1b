//! The terminal reporter: progress lines as events arrive (stderr), then the results per step
//! and per instance (stdout).

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::count::Count;
use crate::exec::event::{RunEvent, StepStatus};
use crate::exec::gate::InstanceResult;
use crate::exec::scheduler::{RunSummary, StepSummary};

/// Writes one progress line for `event`, or nothing for events that only matter at the end.
pub fn progress(out: &mut dyn Write, event: &RunEvent) -> io::Result<()> {
    match event {
        RunEvent::RunStarted {
            run_id,
            runbook,
            endpoint,
            sandbox,
        } => {
            let place = if *sandbox {
                format!("in the built-in sandbox ({endpoint}), not on Alibaba Cloud")
            } else {
                format!("on {endpoint}")
            };
            writeln!(out, "running `{runbook}` {place}; run id {run_id}")
        }
        RunEvent::StepStarted { step, instances } => {
            writeln!(
                out,
                "[{step}] starting on {}",
                Count(*instances, "instance")
            )
        }
        RunEvent::CommandCreated { step, command_id } => {
            writeln!(out, "[{step}] created command {command_id}")
        }
        RunEvent::Invoked {
            step,
            invoke_id,
            instances,
            attempt,
        } => {
            let retry = if *attempt > 0 {
                format!(" (retry {attempt})")
            } else {
                String::new()
            };
            writeln!(
                out,
                "[{step}] invoked {invoke_id} on {}{retry}",
                Count(instances.len(), "instance")
            )
        }
        RunEvent::InstanceFinished { step, result, .. } => {
            let verdict = if result.passed() { "passed" } else { "FAILED" };
            writeln!(
                out,
                "[{step}] {}: {} — {verdict}",
                result.instance,
                state_line(result)
            )
        }
        RunEvent::ErrorBudgetExceeded {
            step,
            failed,
            running,
            not_launched,
        } => writeln!(
            out,
            "[{step}] stopped launching after {}: {} still running, {} not launched",
            Count(*failed, "failure"),
            running,
            Count(*not_launched, "instance")
        ),
        RunEvent::StepSkipped { step, reason } => writeln!(out, "[{step}] {reason}"),
        RunEvent::StepFinished {
            step,
            status,
            passed,
            total,
            required,
        } => writeln!(
            out,
            "[{step}] {}: {passed} of {total} passed (needed {required})",
            status_word(*status)
        ),
        RunEvent::CommandDeleted { command_id } => writeln!(out, "deleted command {command_id}"),
        RunEvent::Warning { message } => writeln!(out, "warning: {message}"),
        RunEvent::RunFinished { .. } => Ok(()),
    }
}

fn status_word(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Succeeded => "succeeded",
        StepStatus::Failed => "FAILED",
        StepStatus::Skipped => "skipped",
        StepStatus::Cancelled => "cancelled",
    }
}

fn state_line(result: &InstanceResult) -> String {
    let mut s = result.state.label();
    if let Some(code) = result.exit_code
        && !s.contains("exit")
    {
        let _ = write!(s, ", exit {code}");
    }
    if !result.error_code.is_empty() {
        let _ = write!(s, ", {}", result.error_code);
        if !result.error_info.is_empty() {
            let _ = write!(s, ": {}", result.error_info);
        }
    }
    s
}

/// Writes the results of the run: per step its status, then per instance its state, exit
/// code, gate failures and decoded output.
pub fn summary(out: &mut dyn Write, summary: &RunSummary) -> io::Result<()> {
    for step in &summary.steps {
        step_summary(out, step)?;
    }
    let failed = summary
        .steps
        .iter()
        .filter(|s| matches!(s.status, StepStatus::Failed))
        .count();
    if summary.success {
        writeln!(
            out,
            "run succeeded: {} passed",
            Count(summary.steps.len(), "step")
        )?;
    } else if summary.interrupted {
        writeln!(out, "run interrupted")?;
    } else if let Some(error) = &summary.api_error {
        writeln!(out, "run failed: {error}")?;
    } else {
        writeln!(out, "run failed: {} failed", Count(failed, "step"))?;
    }
    Ok(())
}

fn step_summary(out: &mut dyn Write, step: &StepSummary) -> io::Result<()> {
    let kind = if step.rollback {
        "rollback step"
    } else {
        "step"
    };
    match (&step.status, &step.skip_reason) {
        (StepStatus::Skipped, Some(reason)) => {
            return writeln!(out, "{kind} `{}`: {reason}", step.name);
        }
        (status, _) => writeln!(
            out,
            "{kind} `{}`: {} ({} of {} passed, {} required)",
            step.name,
            status_word(*status),
            step.passed,
            Count(step.results.len(), "instance"),
            step.required
        )?,
    }
    for result in &step.results {
        writeln!(out, "  {}: {}", result.instance, state_line(result))?;
        for failure in &result.failures {
            writeln!(out, "    gate: {failure}")?;
        }
        if result.checked_truncated {
            writeln!(out, "    note: output checks ran on truncated output")?;
        }
        match &result.output.text {
            None => writeln!(out, "    (output not available)")?,
            Some(text) if text.is_empty() => writeln!(out, "    (no output)")?,
            Some(text) => {
                for line in text.lines() {
                    writeln!(out, "    | {line}")?;
                }
            }
        }
        if result.output.truncated() {
            writeln!(
                out,
                "    warning: Cloud Assistant dropped {} of output",
                Count(usize::try_from(result.output.dropped).unwrap_or(0), "byte")
            )?;
        }
        if result.output.invalid_encoding {
            writeln!(
                out,
                "    warning: output is not valid UTF-8 (shown lossily); set `output_encoding` on the step"
            )?;
        }
    }
    Ok(())
}
