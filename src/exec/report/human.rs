//! The terminal reporter in plain lines: one progress line per event (stderr), then the
//! results per step and per instance (stdout).
//!
//! It is what non-terminals, `NO_COLOR` and CI logs get; on a terminal the progress bars of
//! [`progress`](crate::exec::report::progress) print the same lines for run-level events.

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::count::Count;
use crate::exec::event::{Cancel, RunEvent, StepStatus, StopCause};
use crate::exec::gate::{self, InstanceResult, InstanceState};
use crate::exec::scheduler::{RunSummary, StepSummary};

fn ids(list: &[crate::cloud::id::InstanceId]) -> String {
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The progress line(s) of `event`, or `None` for events that only matter at the end.
pub fn line(event: &RunEvent) -> Option<String> {
    if event.step().is_some() {
        return Some(step_line(event));
    }
    let text = match event {
        RunEvent::RunStarted {
            run_id,
            runbook,
            endpoint,
            sandbox,
            resumed,
            ..
        } => {
            let place = if *sandbox {
                format!("in the built-in sandbox ({endpoint}), not on Alibaba Cloud")
            } else {
                format!("on {endpoint}")
            };
            if *resumed {
                format!("resuming run {run_id} of `{runbook}` {place}")
            } else {
                format!("running `{runbook}` {place}; run id {run_id}")
            }
        }
        RunEvent::TargetDrift { drift } => {
            let mut parts = Vec::new();
            if !drift.added.is_empty() {
                parts.push(format!(
                    "added {} (not run: the plan's list is kept)",
                    ids(&drift.added)
                ));
            }
            if !drift.removed.is_empty() {
                parts.push(format!("removed {}", ids(&drift.removed)));
            }
            if !drift.stopped.is_empty() {
                parts.push(format!("stopped {}", ids(&drift.stopped)));
            }
            format!(
                "targets changed since the plan was written: {}",
                parts.join("; ")
            )
        }
        RunEvent::PreflightFix { action, instances } => format!(
            "preflight: {action} on {}: {}",
            Count(instances.len(), "instance"),
            ids(instances)
        ),
        RunEvent::PreflightPassed { instances } => format!(
            "preflight: {} Running with Cloud Assistant",
            Count(*instances, "target")
        ),
        RunEvent::PreflightFailed { issues } => {
            let mut text = format!(
                "preflight failed: {} cannot run commands; no command was run",
                Count(issues.len(), "target")
            );
            for issue in issues {
                let _ = write!(text, "\n  {}: {}", issue.instance, issue.problem);
            }
            text
        }
        RunEvent::Cancelling { level } => match level {
            Cancel::None => return None,
            Cancel::StopLaunching => "interrupted: launching nothing new and waiting for running invocations; press Ctrl-C again to stop them".to_owned(),
            Cancel::StopRunning => "interrupted again: stopping running invocations".to_owned(),
        },
        RunEvent::CommandDeleted { command_id } => format!("deleted command {command_id}"),
        RunEvent::Warning { message } => format!("warning: {message}"),
        RunEvent::RunFinished { .. } => return None,
        _ => step_line(event),
    };
    Some(text)
}

/// The progress line of an event that belongs to a step.
fn step_line(event: &RunEvent) -> String {
    match event {
        RunEvent::StepStarted {
            step,
            instances,
            round,
            to_run,
        } => {
            if *round == 0 {
                format!("[{step}] starting on {}", Count(*instances, "instance"))
            } else {
                format!(
                    "[{step}] starting round {round} on {} of {}",
                    to_run.len(),
                    Count(*instances, "instance")
                )
            }
        }
        RunEvent::CommandCreated { step, command_id } => {
            format!("[{step}] created command {command_id}")
        }
        RunEvent::Invoked {
            step,
            invoke_id,
            instances,
            attempt,
            ..
        } => {
            let retry = if *attempt > 0 {
                format!(" (retry {attempt})")
            } else {
                String::new()
            };
            format!(
                "[{step}] invoked {invoke_id} on {}{retry}",
                Count(instances.len(), "instance")
            )
        }
        RunEvent::Reattached {
            step,
            invoke_id,
            instances,
            ..
        } => format!(
            "[{step}] took up {invoke_id} on {} from the journal, not invoked again",
            Count(instances.len(), "instance")
        ),
        RunEvent::StopSent {
            step,
            invoke_id,
            instances,
            cause,
        } => {
            let why = match cause {
                StopCause::Timeout => "past its timeout and the grace period",
                StopCause::Cancel => "interrupted",
            };
            format!(
                "[{step}] StopInvocation {invoke_id} on {} ({why})",
                Count(instances.len(), "instance")
            )
        }
        RunEvent::InstanceFinished { step, result, .. }
            if result.state == InstanceState::NotLaunched =>
        {
            format!("[{step}] {}: not launched", result.instance)
        }
        RunEvent::InstanceFinished { step, result, .. } => {
            let verdict = if result.passed() { "passed" } else { "FAILED" };
            format!(
                "[{step}] {}: {} — {verdict}",
                result.instance,
                state_line(result)
            )
        }
        RunEvent::ErrorBudgetExceeded {
            step,
            failed,
            budget,
            running,
            not_launched,
        } => format!(
            "[{step}] stopped launching after {} (max_errors {budget}): {} already running, {} not launched",
            Count(*failed, "failure"),
            Count(*running, "instance"),
            Count(*not_launched, "instance")
        ),
        RunEvent::StepSkipped { step, reason } => format!("[{step}] {reason}"),
        RunEvent::StepFinished {
            step,
            status,
            passed,
            total,
            required,
        } => format!(
            "[{step}] {}: {passed} of {total} passed (needed {required})",
            status_word(*status)
        ),
        other => format!("{other:?}"),
    }
}

/// Writes the progress line(s) of `event`.
pub fn progress(out: &mut dyn Write, event: &RunEvent) -> io::Result<()> {
    match line(event) {
        Some(text) => writeln!(out, "{text}"),
        None => Ok(()),
    }
}

/// The word for a step status in reports.
pub fn status_word(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Succeeded => "succeeded",
        StepStatus::Failed => "FAILED",
        StepStatus::Skipped => "skipped",
        StepStatus::Cancelled => "cancelled",
    }
}

/// One instance's state with its exit code and ErrorCode: ErrorInfo.
pub fn state_line(result: &InstanceResult) -> String {
    let mut s = result.state.label();
    if let Some(code) = result.exit_code
        && !s.contains("exit")
        && !matches!(result.state, InstanceState::TimedOut)
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

/// `line` with every control character but tab shown as U+FFFD, so what an instance printed
/// cannot move the cursor, retitle or clear the terminal, or rewrite lines above it.
fn printable(line: &str) -> std::borrow::Cow<'_, str> {
    if line.chars().any(|c| c.is_control() && c != '\t') {
        line.chars()
            .map(|c| {
                if c.is_control() && c != '\t' {
                    '\u{FFFD}'
                } else {
                    c
                }
            })
            .collect::<String>()
            .into()
    } else {
        line.into()
    }
}

/// Writes the results of the run: per step its status, then per instance its state, exit
/// code, gate failures and decoded output.
pub fn summary(out: &mut dyn Write, summary: &RunSummary) -> io::Result<()> {
    for issue in &summary.preflight.issues {
        writeln!(out, "target {}: {}", issue.instance, issue.problem)?;
    }
    for step in &summary.steps {
        step_summary(out, step)?;
    }
    let failed = summary
        .steps
        .iter()
        .filter(|s| !s.rollback && matches!(s.status, StepStatus::Failed))
        .count();
    if summary.success {
        let main = summary.steps.iter().filter(|s| !s.rollback);
        let skipped = main
            .clone()
            .filter(|s| matches!(s.status, StepStatus::Skipped))
            .count();
        let passed = main.count() - skipped;
        if skipped == 0 {
            writeln!(out, "run succeeded: {} passed", Count(passed, "step"))?;
        } else {
            writeln!(
                out,
                "run succeeded: {} passed, {skipped} skipped",
                Count(passed, "step")
            )?;
        }
    } else if summary.preflight_failed() {
        writeln!(
            out,
            "run failed: preflight: {} cannot run commands (see `--start-stopped` and `--install-agent`)",
            Count(summary.preflight.issues.len(), "target")
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
    if let (StepStatus::Skipped, Some(reason)) = (&step.status, &step.skip_reason) {
        return writeln!(out, "{kind} `{}`: {reason}", step.name);
    }
    let mut head = format!(
        "{kind} `{}`: {} ({} of {} passed, {} required)",
        step.name,
        status_word(step.status),
        step.passed,
        Count(step.results.len(), "instance"),
        step.required
    );
    if step.passed < step.results.len() {
        let _ = write!(head, ": {}", gate::tally(&step.results));
    }
    if step.from_journal {
        head.push_str(" [finished in an earlier run]");
    }
    writeln!(out, "{head}")?;
    if step.budget_exceeded {
        writeln!(
            out,
            "  error budget exceeded: more instances failed than `max_errors` allows"
        )?;
    }
    for result in &step.results {
        writeln!(out, "  {}: {}", result.instance, state_line(result))?;
        for failure in &result.failures {
            if !matches!(failure, gate::GateFailure::State { .. }) {
                writeln!(out, "    gate: {failure}")?;
            }
        }
        if result.checked_truncated {
            writeln!(out, "    note: output checks ran on truncated output")?;
        }
        match &result.output.text {
            None if result.state == InstanceState::NotLaunched => {}
            None => writeln!(out, "    (output not available)")?,
            Some(text) if text.is_empty() => writeln!(out, "    (no output)")?,
            Some(text) => {
                for line in text.lines() {
                    writeln!(out, "    | {}", printable(line))?;
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

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn instance_output_cannot_drive_the_terminal() {
        assert_eq!(printable("plain\ttext"), "plain\ttext");
        assert_eq!(
            printable("a\u{1b}]0;pwned\u{7}b\u{1b}[2Jc\r"),
            "a\u{fffd}]0;pwned\u{fffd}b\u{fffd}[2Jc\u{fffd}"
        );
    }
}
