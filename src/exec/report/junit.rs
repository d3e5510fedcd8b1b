//! The JUnit XML report (`--junit FILE.xml`): one test suite per step, one test case per step
//! and instance, the decoded output in `system-out`.
//!
//! CI systems read it as test results: a passed instance is a passed case, a failed one a
//! `failure` with the gate's reasons, and an instance of a skipped step (or one never
//! launched) a `skipped` case. Text is escaped for XML, and characters XML 1.0 cannot carry
//! (control bytes in program output) become U+FFFD.

use std::fmt::Write as _;

use crate::exec::event::StepStatus;
use crate::exec::gate::{InstanceResult, InstanceState};
use crate::exec::report::human;
use crate::exec::scheduler::{RunSummary, StepSummary};

/// Escapes text for XML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || matches!(c, '\u{FFFE}' | '\u{FFFF}') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Seconds between two API times (`yyyy-MM-ddTHH:mm:ssZ`), 0 when either is unknown.
fn seconds(result: &InstanceResult) -> f64 {
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    match (parse(&result.start_time), parse(&result.finish_time)) {
        (Some(a), Some(b)) => {
            let ms = (b - a).num_milliseconds().max(0);
            #[expect(
                clippy::cast_precision_loss,
                reason = "durations in milliseconds fit an f64 exactly"
            )]
            let secs = ms as f64 / 1000.0;
            secs
        }
        _ => 0.0,
    }
}

struct Counts {
    tests: usize,
    failures: usize,
    skipped: usize,
}

fn counts(step: &StepSummary) -> Counts {
    if step.status == StepStatus::Skipped {
        return Counts {
            tests: step.instances.len(),
            failures: 0,
            skipped: step.instances.len(),
        };
    }
    let skipped = step
        .results
        .iter()
        .filter(|r| r.state == InstanceState::NotLaunched)
        .count();
    Counts {
        tests: step.results.len(),
        failures: step.results.iter().filter(|r| !r.passed()).count() - skipped,
        skipped,
    }
}

/// The JUnit document of a run of `runbook`.
pub fn render(runbook: &str, summary: &RunSummary) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let all: Vec<Counts> = summary.steps.iter().map(counts).collect();
    let duration = (summary.finished_at - summary.started_at)
        .to_std()
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3}\">",
        escape(runbook),
        all.iter().map(|c| c.tests).sum::<usize>(),
        all.iter().map(|c| c.failures).sum::<usize>(),
        all.iter().map(|c| c.skipped).sum::<usize>(),
        duration.as_secs_f64()
    );
    for (step, counts) in summary.steps.iter().zip(&all) {
        let suite = if step.rollback {
            format!("{runbook}.rollback.{}", step.name)
        } else {
            format!("{runbook}.{}", step.name)
        };
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3}\">",
            escape(&suite),
            counts.tests,
            counts.failures,
            counts.skipped,
            step.duration.unwrap_or_default().as_secs_f64()
        );
        if step.status == StepStatus::Skipped {
            let reason = step
                .skip_reason
                .as_ref()
                .map_or_else(|| "skipped".to_owned(), ToString::to_string);
            for id in &step.instances {
                let _ = writeln!(
                    out,
                    "    <testcase classname=\"{}\" name=\"{}\" time=\"0.000\">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    escape(&suite),
                    escape(id.as_str()),
                    escape(&reason)
                );
            }
        }
        for result in &step.results {
            case(&mut out, &suite, result);
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn case(out: &mut String, suite: &str, result: &InstanceResult) {
    let _ = writeln!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
        escape(suite),
        escape(result.instance.as_str()),
        seconds(result)
    );
    let state = human::state_line(result);
    if result.state == InstanceState::NotLaunched {
        let _ = writeln!(out, "      <skipped message=\"{}\"/>", escape(&state));
    } else if !result.passed() {
        let details: Vec<String> = result.failures.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "      <failure message=\"{}\" type=\"{}\">{}</failure>",
            escape(&state),
            escape(&result.state.label()),
            escape(&details.join("\n"))
        );
    }
    let mut system_out = result.output.text.clone().unwrap_or_default();
    if result.output.truncated() {
        let _ = write!(
            system_out,
            "\n[Cloud Assistant dropped {} bytes of output]",
            result.output.dropped
        );
    }
    if !system_out.is_empty() {
        let _ = writeln!(
            out,
            "      <system-out>{}</system-out>",
            escape(&system_out)
        );
    }
    out.push_str("    </testcase>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_characters_xml_cannot_carry() {
        let cases = [
            ("a < b && c > d", "a &lt; b &amp;&amp; c &gt; d"),
            ("say \"hi\" 'there'", "say &quot;hi&quot; &apos;there&apos;"),
            ("tab\tnew\nline\r", "tab\tnew\nline\r"),
            ("bell\u{7} esc\u{1b}", "bell\u{fffd} esc\u{fffd}"),
            ("\u{5b89}\u{88c5}", "\u{5b89}\u{88c5}"),
        ];
        for (input, expected) in cases {
            assert_eq!(escape(input), expected, "{input:?}");
        }
    }
}
