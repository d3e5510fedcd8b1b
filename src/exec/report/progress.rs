//! The terminal reporter on a TTY: one indicatif bar per step (instances done, failed,
//! running), with run-level lines printed above the bars.
//!
//! It reads events as they happen (the live stream), so parallel steps move together; plain
//! lines ([`human`]) are what everything else gets.

use std::collections::{BTreeMap, BTreeSet};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cloud::id::InstanceId;
use crate::exec::event::RunEvent;
use crate::exec::report::human;

/// The counts of one step's bar.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Tally {
    launched: BTreeSet<InstanceId>,
    finished: BTreeMap<InstanceId, bool>,
}

impl Tally {
    fn done(&self) -> usize {
        self.finished.len()
    }

    fn failed(&self) -> usize {
        self.finished.values().filter(|passed| !**passed).count()
    }

    fn running(&self) -> usize {
        self.launched
            .iter()
            .filter(|id| !self.finished.contains_key(*id))
            .count()
    }

    fn message(&self) -> String {
        format!(
            "{} passed, {} failed, {} running",
            self.done() - self.failed(),
            self.failed(),
            self.running()
        )
    }
}

/// Progress bars for a run.
#[derive(Debug)]
pub struct Bars {
    multi: MultiProgress,
    steps: BTreeMap<String, (ProgressBar, Tally)>,
}

impl Bars {
    /// Bars drawn to stderr.
    pub fn stderr() -> Self {
        Self::new(ProgressDrawTarget::stderr())
    }

    /// Bars drawn to `target` (hidden in tests).
    pub fn new(target: ProgressDrawTarget) -> Self {
        Self {
            multi: MultiProgress::with_draw_target(target),
            steps: BTreeMap::new(),
        }
    }

    fn bar(&mut self, step: &str, total: u64) -> &mut (ProgressBar, Tally) {
        let multi = &self.multi;
        self.steps.entry(step.to_owned()).or_insert_with(|| {
            let bar = multi.add(ProgressBar::new(total));
            bar.set_style(
                ProgressStyle::with_template("{prefix:>20} [{bar:30}] {pos}/{len} {msg}")
                    .expect("the template is valid")
                    .progress_chars("=> "),
            );
            bar.set_prefix(step.to_owned());
            (bar, Tally::default())
        })
    }

    /// Updates the bars for `event`.
    pub fn on(&mut self, event: &RunEvent) {
        match event {
            RunEvent::StepStarted {
                step, instances, ..
            } => {
                let total = *instances as u64;
                let (bar, tally) = self.bar(step, total);
                bar.set_length(total);
                bar.set_message(tally.message());
            }
            RunEvent::Invoked {
                step, instances, ..
            }
            | RunEvent::Reattached {
                step, instances, ..
            } => {
                let (bar, tally) = self.bar(step, 0);
                for id in instances {
                    tally.launched.insert(id.clone());
                    tally.finished.remove(id);
                }
                bar.set_position(tally.done() as u64);
                bar.set_message(tally.message());
            }
            RunEvent::InstanceFinished { step, result, .. } => {
                let (bar, tally) = self.bar(step, 0);
                tally
                    .finished
                    .insert(result.instance.clone(), result.passed());
                bar.set_position(tally.done() as u64);
                bar.set_message(tally.message());
            }
            RunEvent::StepFinished { step, status, .. } => {
                let (bar, tally) = self.bar(step, 0);
                let message = format!("{}: {}", human::status_word(*status), tally.message());
                bar.finish_with_message(message);
            }
            RunEvent::StepSkipped { step, reason } => {
                let (bar, _) = self.bar(step, 0);
                bar.finish_with_message(reason.to_string());
            }
            other => {
                if let Some(line) = human::line(other) {
                    let _ = self.multi.println(line);
                }
            }
        }
    }

    /// The message of a step's bar, for tests.
    pub fn message(&self, step: &str) -> Option<String> {
        self.steps.get(step).map(|(bar, _)| bar.message())
    }

    /// Leaves the bars as they are drawn.
    pub fn finish(&self) {
        for (bar, _) in self.steps.values() {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::event::StepStatus;
    use crate::exec::gate::InstanceResult;

    fn finished(step: &str, id: &str, passed: bool) -> RunEvent {
        let mut result = InstanceResult::not_launched(id.into());
        if passed {
            result.failures.clear();
        }
        RunEvent::InstanceFinished {
            step: step.into(),
            invoke_id: None,
            attempt: 0,
            result: Box::new(result),
        }
    }

    #[test]
    fn bars_count_done_failed_and_running_per_step() {
        let mut bars = Bars::new(ProgressDrawTarget::hidden());
        let ids: Vec<InstanceId> = ["i-1", "i-2", "i-3"].map(InstanceId::from).to_vec();
        bars.on(&RunEvent::StepStarted {
            step: "a".into(),
            instances: 3,
            round: 0,
            to_run: ids.clone(),
        });
        bars.on(&RunEvent::Invoked {
            step: "a".into(),
            invoke_id: "t-1".into(),
            instances: ids,
            attempt: 0,
            batch: "w0b0".into(),
        });
        assert_eq!(bars.message("a").unwrap(), "0 passed, 0 failed, 3 running");
        bars.on(&finished("a", "i-1", true));
        bars.on(&finished("a", "i-2", false));
        assert_eq!(bars.message("a").unwrap(), "1 passed, 1 failed, 1 running");
        // A retry of the failed instance runs it again.
        bars.on(&RunEvent::Invoked {
            step: "a".into(),
            invoke_id: "t-2".into(),
            instances: vec!["i-2".into()],
            attempt: 1,
            batch: "w0b0".into(),
        });
        assert_eq!(bars.message("a").unwrap(), "1 passed, 0 failed, 2 running");
        bars.on(&RunEvent::StepFinished {
            step: "a".into(),
            status: StepStatus::Failed,
            passed: 1,
            total: 3,
            required: 3,
        });
        assert!(bars.message("a").unwrap().starts_with("FAILED: "));
        bars.finish();
    }
}
