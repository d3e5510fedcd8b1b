//! Plan output: text for a terminal, Markdown for a pull-request comment, JSON (the saved
//! plan), and the DAG as Mermaid or DOT.
//!
//! These functions only format; the CLI decides where the text goes.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::count::Count;
use crate::plan::model::{Plan, PlanSchedule, PlanScript, PlanStep, PlannedCall, ScheduleMode};
use crate::plan::render;

/// The plan formats `plan --format` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// For a terminal.
    Text,
    /// For a pull-request comment, with a Mermaid graph.
    Markdown,
    /// The saved plan.
    Json,
    /// The DAG as a Mermaid flowchart.
    Mermaid,
    /// The DAG as Graphviz DOT.
    Dot,
}

/// Formats `plan`.
pub fn render(plan: &Plan, format: Format) -> String {
    match format {
        Format::Text => text(plan),
        Format::Markdown => markdown(plan),
        Format::Json => {
            let mut json = serde_json::to_string_pretty(plan).expect("plans always serialise");
            json.push('\n');
            json
        }
        Format::Mermaid => mermaid(plan),
        Format::Dot => dot(plan),
    }
}

fn targets_line(step: &PlanStep) -> String {
    let t = &step.targets;
    let mut parts = Vec::new();
    if !t.explicit.is_empty() {
        parts.push(join_ids(&t.explicit));
    }
    if !t.tags.is_empty() {
        let tags = t
            .tags
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        match &t.tag_matches {
            Some(m) if m.is_empty() => parts.push(format!("tags {tags} → no instance")),
            Some(m) => parts.push(format!("tags {tags} → {}", join_ids(m))),
            None => parts.push(format!("tags {tags} → resolved at run time")),
        }
    }
    match &t.instances {
        Some(all) => format!("{} ({})", parts.join("; "), Count(all.len(), "instance")),
        None => parts.join("; "),
    }
}

fn join_ids(ids: &[crate::cloud::id::InstanceId]) -> String {
    const SHOWN: usize = 10;
    let mut s = ids
        .iter()
        .take(SHOWN)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        let _ = write!(s, ", … {} more", ids.len() - SHOWN);
    }
    s
}

fn gate_line(step: &PlanStep) -> String {
    let g = &step.gate;
    let codes = g
        .exit_codes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" or ");
    let mut s = format!("exit code {codes}");
    if let Some(c) = &g.output_contains {
        let _ = write!(s, ", output contains {c:?}");
    }
    if let Some(m) = &g.output_matches {
        let _ = write!(s, ", output matches /{m}/");
    }
    let _ = write!(s, ", on {} of the instances", g.min_success);
    if step.retries > 0 {
        let _ = write!(
            s,
            "; failed instances retried {}",
            Count(step.retries as usize, "time")
        );
    }
    let _ = write!(s, "; on failure: {}", step.on_failure);
    s
}

/// The condition in words; `code` quotes the expression (as is for a terminal, a code span in
/// Markdown).
fn when_line(step: &PlanStep, code: fn(&str) -> String) -> Option<String> {
    let when = step.when.as_ref()?;
    Some(if render::uses_step_results(when) {
        let deps = step
            .depends_on
            .iter()
            .filter(|d| when.contains(d.as_str()))
            .map(|d| format!("`{d}`"))
            .collect::<Vec<_>>();
        let which = if deps.is_empty() {
            "earlier steps".to_owned()
        } else {
            deps.join(", ")
        };
        format!(
            "would run if its condition holds: {}; the condition depends on the results of {which}, which are known only at run time",
            code(when)
        )
    } else {
        format!("runs only if {}", code(when))
    })
}

fn as_is(text: &str) -> String {
    text.to_owned()
}

/// A Markdown code span holding `text`, whatever backticks it contains.
fn md_code(text: &str) -> String {
    let text = text.replace('\n', " ");
    let mut fence = "`".to_owned();
    while text.contains(fence.as_str()) {
        fence.push('`');
    }
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// Where and as whom a step runs, and for how long.
fn runs_line(step: &PlanStep, code: fn(&str) -> String) -> String {
    format!(
        "{} · dir {} · user {} · timeout {}s",
        step.command_type,
        step.working_dir
            .as_deref()
            .map_or_else(|| "(the instance's default)".to_owned(), code),
        step.username
            .as_deref()
            .map_or_else(|| "(the instance's default)".to_owned(), code),
        step.timeout_secs
    )
}

fn outputs_line(step: &PlanStep, code: fn(&str) -> String) -> Option<String> {
    if step.outputs.is_empty() {
        return None;
    }
    Some(
        step.outputs
            .iter()
            .map(|(k, v)| format!("{k} = {}", code(&format!("/{v}/"))))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

fn script_text(step: &PlanStep) -> (String, &'static str) {
    match &step.script {
        PlanScript::Rendered(r) => (r.masked(), "rendered"),
        PlanScript::Deferred(t) => (t.clone(), "template, rendered at run time"),
    }
}

fn call_line(call: &PlannedCall) -> String {
    let params = call
        .params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    format!("{} {params}", call.action)
}

/// The schedule block of the text plan: the Frequency sent, what `run` does, the next fire
/// times in their zone and in UTC, and the warnings.
fn schedule_text(out: &mut String, s: &PlanSchedule) {
    let written = if s.written == s.frequency {
        String::new()
    } else {
        format!(" (written `{}`, zone from `schedule.timezone`)", s.written)
    };
    let _ = writeln!(out, "  scheduled: `{}`{written}", s.frequency);
    let _ = writeln!(out, "    {}", mode_line(s.mode));
    if !s.next.is_empty() {
        let _ = writeln!(out, "    {}", times_heading(&s.zone, s.zone_assumed));
    }
    for t in &s.next {
        let _ = writeln!(out, "      {}  {}", t.local, t.utc);
    }
    for w in &s.warnings {
        let _ = writeln!(out, "    warning: {w}");
    }
}

/// The schedule block of the Markdown plan.
fn schedule_markdown(out: &mut String, s: &PlanSchedule) {
    let _ = writeln!(
        out,
        "**Scheduled** `{}` — {}",
        md_cell(&s.frequency),
        mode_line(s.mode)
    );
    let _ = writeln!(out);
    if !s.next.is_empty() {
        let assumed = if s.zone_assumed { " (assumed)" } else { "" };
        let _ = writeln!(out, "| next fire time in {}{assumed} | UTC |", s.zone);
        let _ = writeln!(out, "|---|---|");
        for t in &s.next {
            let _ = writeln!(out, "| {} | {} |", t.local, t.utc);
        }
        let _ = writeln!(out);
    }
    for w in &s.warnings {
        let _ = writeln!(out, "> warning: {}", md_cell(w));
    }
    if !s.warnings.is_empty() {
        let _ = writeln!(out);
    }
}

/// The heading of a list of fire times shown in `zone` and in UTC.
pub fn times_heading(zone: &str, assumed: bool) -> String {
    let assumed = if assumed { " (assumed)" } else { "" };
    format!("next fire times, in {zone}{assumed} and in UTC:")
}

/// What `run` does with a scheduled runbook, in words.
fn mode_line(mode: ScheduleMode) -> &'static str {
    match mode {
        ScheduleMode::Timed => {
            "`run` creates a Timed invocation (RepeatMode Period) that Cloud Assistant fires by itself; `run --once` runs it now instead"
        }
        ScheduleMode::OnceOnly => {
            "`run` refuses to schedule it (several steps); `run --once` runs it now"
        }
    }
}

fn text(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "plan for runbook `{}` ({})",
        plan.runbook.name, plan.runbook.path
    );
    if let Some(d) = &plan.runbook.description {
        let _ = writeln!(out, "  {d}");
    }
    let _ = writeln!(
        out,
        "  region {} · {} in {} · runbook sha256 {}",
        plan.region
            .as_deref()
            .unwrap_or("(from --region or the environment)"),
        Count(plan.steps.len(), "step"),
        Count(plan.stages.len(), "stage"),
        &plan.runbook.hash[..plan.runbook.hash.len().min(12)]
    );
    if let Some(s) = &plan.schedule {
        schedule_text(&mut out, s);
    }
    let by_name: HashMap<&str, &PlanStep> =
        plan.steps.iter().map(|s| (s.name.as_str(), s)).collect();
    for (i, stage) in plan.stages.iter().enumerate() {
        let _ = writeln!(out);
        let together = if stage.len() > 1 {
            " (these can run together)"
        } else {
            ""
        };
        let _ = writeln!(out, "stage {}{together}", i + 1);
        for name in stage {
            let step = by_name[name.as_str()];
            step_text(&mut out, step);
        }
    }
    if !plan.rollback.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "rollback (in order, when a step with on_failure: rollback fails)"
        );
        for step in &plan.rollback {
            step_text(&mut out, step);
        }
    }
    if !plan.warnings.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "warnings");
        for w in &plan.warnings {
            let _ = writeln!(out, "  - {w}");
        }
    }
    if !plan.unchecked.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "not checked");
        for w in &plan.unchecked {
            let _ = writeln!(out, "  - {w}");
        }
    }
    out
}

fn step_text(out: &mut String, step: &PlanStep) {
    let _ = writeln!(out, "  step `{}`: {}", step.name, runs_line(step, as_is));
    if !step.depends_on.is_empty() {
        let _ = writeln!(out, "    after: {}", step.depends_on.join(", "));
    }
    if let Some(w) = when_line(step, as_is) {
        let _ = writeln!(out, "    when: {w}");
    }
    let _ = writeln!(out, "    targets: {}", targets_line(step));
    let _ = writeln!(out, "    rate control: {}", step.rate_control.worst_case);
    let _ = writeln!(out, "    gate: {}", gate_line(step));
    if let Some(outputs) = outputs_line(step, as_is) {
        let _ = writeln!(out, "    outputs: {outputs}");
    }
    let (script, kind) = script_text(step);
    let _ = writeln!(out, "    script ({kind}):");
    for line in script.lines() {
        let _ = writeln!(out, "      | {line}");
    }
    let _ = writeln!(out, "    calls:");
    for call in &step.calls {
        let _ = writeln!(out, "      {}", call_line(call));
    }
}

/// A fence no line of `text` can close: backticks, one longer than the longest run of
/// backticks in it (at least three). A script is shown whole and never as Markdown or HTML.
fn code_fence(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat((longest + 1).max(3))
}

/// Free text (a description) for Markdown with HTML escaped, so a `<!--` or a `<details>`
/// cannot hide what follows from a reviewer; Markdown itself (`code`, *emphasis*) stays.
fn md_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            _ => out.push(c),
        }
    }
    out
}

fn markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### Plan: `{}`", plan.runbook.name);
    let _ = writeln!(out);
    if let Some(d) = &plan.runbook.description {
        let _ = writeln!(out, "{}", md_text(d));
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "{} in {} · region `{}` · runbook `{}` (sha256 `{}`)",
        Count(plan.steps.len(), "step"),
        Count(plan.stages.len(), "stage"),
        plan.region.as_deref().unwrap_or("unset"),
        plan.runbook.path,
        &plan.runbook.hash[..plan.runbook.hash.len().min(12)]
    );
    let _ = writeln!(out);
    if let Some(s) = &plan.schedule {
        schedule_markdown(&mut out, s);
    }
    let _ = writeln!(out, "```mermaid");
    out.push_str(&mermaid(plan));
    let _ = writeln!(out, "```");
    let _ = writeln!(out);
    let _ = writeln!(out, "| stage | step | targets | type | timeout | gate |");
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for step in &plan.steps {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {}s | {} |",
            step.stage + 1,
            step.name,
            md_cell(&targets_line(step)),
            step.command_type,
            step.timeout_secs,
            md_cell(&gate_line(step))
        );
    }
    for step in plan.steps.iter().chain(&plan.rollback) {
        md_step(&mut out, step);
    }
    if !plan.warnings.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "**Warnings**");
        let _ = writeln!(out);
        for w in &plan.warnings {
            let _ = writeln!(out, "- {}", md_cell(w));
        }
    }
    if !plan.unchecked.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "**Not checked**");
        let _ = writeln!(out);
        for w in &plan.unchecked {
            let _ = writeln!(out, "- {}", md_cell(w));
        }
    }
    out
}

/// One step's details, folded, for a pull-request comment.
fn md_step(out: &mut String, step: &PlanStep) {
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "<details><summary>step <code>{}</code></summary>",
        step.name
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "- runs: {}", runs_line(step, md_code));
    if !step.depends_on.is_empty() {
        let after: Vec<String> = step.depends_on.iter().map(|d| md_code(d)).collect();
        let _ = writeln!(out, "- after: {}", after.join(", "));
    }
    if let Some(w) = when_line(step, md_code) {
        let _ = writeln!(out, "- when: {w}");
    }
    let _ = writeln!(out, "- targets: {}", targets_line(step));
    let _ = writeln!(out, "- rate control: {}", step.rate_control.worst_case);
    let _ = writeln!(out, "- gate: {}", gate_line(step));
    if let Some(outputs) = outputs_line(step, md_code) {
        let _ = writeln!(out, "- outputs: {outputs}");
    }
    let (script, kind) = script_text(step);
    let _ = writeln!(out, "- script ({kind}):");
    let _ = writeln!(out);
    let fence = code_fence(&script);
    let lang = match step.command_type.as_str() {
        "RunPowerShellScript" => "powershell",
        "RunBatScript" => "bat",
        _ => "sh",
    };
    let _ = writeln!(out, "{fence}{lang}");
    out.push_str(&script);
    if !script.ends_with('\n') {
        out.push('\n');
    }
    let _ = writeln!(out, "{fence}");
    let _ = writeln!(out);
    let _ = writeln!(out, "- calls:");
    for call in &step.calls {
        let _ = writeln!(out, "  - {}", md_code(&call_line(call)));
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "</details>");
}

fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The DAG as a Mermaid flowchart; node ids are `s<index>` so any step name is safe.
pub fn mermaid(plan: &Plan) -> String {
    let mut out = String::from("graph TD\n");
    let index: HashMap<&str, usize> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    for (i, step) in plan.steps.iter().enumerate() {
        let _ = writeln!(out, "  s{i}[\"{}\"]", step.name.replace('"', "#quot;"));
    }
    for (i, step) in plan.steps.iter().enumerate() {
        for dep in &step.depends_on {
            if let Some(d) = index.get(dep.as_str()) {
                let _ = writeln!(out, "  s{d} --> s{i}");
            }
        }
    }
    out
}

/// The DAG as Graphviz DOT.
pub fn dot(plan: &Plan) -> String {
    let mut out = format!(
        "digraph \"{}\" {{\n  rankdir=TB;\n  node [shape=box];\n",
        plan.runbook.name
    );
    for step in &plan.steps {
        let _ = writeln!(out, "  \"{}\";", step.name);
    }
    for step in &plan.steps {
        for dep in &step.depends_on {
            let _ = writeln!(out, "  \"{dep}\" -> \"{}\";", step.name);
        }
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::{code_fence, md_text};

    #[test]
    fn a_script_cannot_close_its_fence_and_a_description_cannot_hide_the_plan() {
        assert_eq!(code_fence("echo hi"), "```");
        assert_eq!(code_fence("a ``` b"), "````");
        assert_eq!(code_fence("~~~~~~~~\n<!-- x -->"), "```");
        assert_eq!(code_fence("``````"), "```````");
        assert_eq!(
            md_text("Routine <!-- & <script>"),
            "Routine &lt;!-- &amp; &lt;script&gt;"
        );
        assert_eq!(md_text("a *b* `c`"), "a *b* `c`");
    }
}
