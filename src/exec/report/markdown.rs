//! The Markdown summary (`--summary FILE.md`), fit for a CI job summary: the outcome, the
//! step DAG as a Mermaid flowchart coloured by status, a table of steps, and each instance
//! that did not pass with its output.
//!
//! The graph is the plan's own ([`plan::display::mermaid`](crate::plan::display::mermaid)),
//! with a class per node added here.

use std::fmt::Write as _;

use crate::count::Count;
use crate::exec::event::StepStatus;
use crate::exec::gate;
use crate::exec::report::human;
use crate::exec::report::json;
use crate::exec::scheduler::RunSummary;
use crate::plan::display;
use crate::plan::model::Plan;

/// Mermaid class definitions, one per step status.
const CLASSES: &str = "  classDef succeeded fill:#d4edda,stroke:#28a745,color:#155724\n  classDef failed fill:#f8d7da,stroke:#dc3545,color:#721c24\n  classDef skipped fill:#e2e3e5,stroke:#6c757d,color:#383d41\n  classDef cancelled fill:#fff3cd,stroke:#ffc107,color:#856404\n";

fn class(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Succeeded => "succeeded",
        StepStatus::Failed => "failed",
        StepStatus::Skipped => "skipped",
        StepStatus::Cancelled => "cancelled",
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// A code fence longer than any run of backticks in `text`.
fn fence(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

/// The step graph of `plan` coloured by the statuses of `summary`.
pub fn mermaid(plan: &Plan, summary: &RunSummary) -> String {
    let mut out = display::mermaid(plan);
    out.push_str(CLASSES);
    for (i, step) in plan.steps.iter().enumerate() {
        if let Some(s) = summary
            .steps
            .iter()
            .find(|s| !s.rollback && s.name == step.name)
        {
            let _ = writeln!(out, "  class s{i} {}", class(s.status));
        }
    }
    out
}

/// The summary document.
pub fn render(plan: &Plan, summary: &RunSummary) -> String {
    let mut out = String::new();
    let (icon, word) = match json::outcome(summary) {
        "succeeded" => ("✅", "succeeded"),
        "interrupted" => ("⚠️", "was interrupted"),
        "preflight_failed" => ("❌", "failed preflight"),
        _ => ("❌", "failed"),
    };
    let duration = (summary.finished_at - summary.started_at)
        .to_std()
        .unwrap_or_default();
    let _ = writeln!(out, "## {icon} `{}` {word}\n", plan.runbook.name);
    let _ = writeln!(
        out,
        "Run `{}` · {} · {:.1} s\n",
        summary.run_id,
        Count(plan.steps.len(), "step"),
        duration.as_secs_f64()
    );
    if let Some(error) = &summary.api_error {
        let _ = writeln!(out, "**API error:** {}\n", cell(&error.to_string()));
    }
    if !summary.preflight.issues.is_empty() {
        let _ = writeln!(out, "**Preflight:** these targets cannot run commands:\n");
        for issue in &summary.preflight.issues {
            let _ = writeln!(out, "- `{}`: {}", issue.instance, issue.problem);
        }
        out.push('\n');
    }
    let _ = writeln!(out, "```mermaid\n{}```\n", mermaid(plan, summary));
    out.push_str("| step | status | passed | instances | duration |\n|---|---|---|---|---|\n");
    for step in &summary.steps {
        let name = if step.rollback {
            format!("`{}` (rollback)", step.name)
        } else {
            format!("`{}`", step.name)
        };
        let status = match (&step.status, &step.skip_reason) {
            (StepStatus::Skipped, Some(reason)) => reason.to_string(),
            (status, _) => human::status_word(*status).to_lowercase(),
        };
        let detail = if step.results.is_empty() {
            String::new()
        } else {
            gate::tally(&step.results)
        };
        let _ = writeln!(
            out,
            "| {name} | {} | {}/{} (needs {}) | {} | {} |",
            cell(&status),
            step.passed,
            step.instances.len(),
            step.required,
            cell(&detail),
            step.duration
                .map(|d| format!("{:.1} s", d.as_secs_f64()))
                .unwrap_or_default()
        );
    }
    let failures: Vec<_> = summary
        .steps
        .iter()
        .flat_map(|s| s.results.iter().map(move |r| (s, r)))
        .filter(|(_, r)| !r.passed() && r.state != gate::InstanceState::NotLaunched)
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "\n### Instances that did not pass\n");
        for (step, result) in failures {
            let _ = writeln!(
                out,
                "<details><summary><code>{}</code> on <code>{}</code>: {}</summary>\n",
                step.name,
                result.instance,
                super::junit::escape(&human::state_line(result))
            );
            for failure in &result.failures {
                let _ = writeln!(out, "- {failure}");
            }
            let text = result
                .output
                .text
                .as_deref()
                .unwrap_or("(output not available)");
            let fence = fence(text);
            let _ = writeln!(
                out,
                "\n{fence}text\n{}\n{fence}\n</details>\n",
                text.trim_end()
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_outgrow_backticks_in_the_output() {
        let cases = [("plain", "```"), ("a ``` b", "````"), ("`````", "``````")];
        for (text, expected) in cases {
            assert_eq!(fence(text), expected);
        }
    }
}
