//! The run directory and its journal: what `resume` needs to continue a run.
//!
//! `.ecs-runbook/runs/<run-id>/` holds `plan.json` (the plan the run executes), `journal.jsonl`
//! (one JSON object per line: `seq`, `at` and a [`RunEvent`], written as each event happens)
//! and `report.json` (written at the end). The journal is the run's write-ahead log: command
//! ids, invoke ids with their batch and attempt, per-instance results and step outcomes.
//! [`Replay`] folds it back into what each step had reached. Writing the report and choosing
//! the directory's place are the caller's; this module only knows the layout.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::cloud::id::{CommandId, InstanceId, InvokeId};
use crate::exec::event::{RunEvent, RunSettings, SkipReason, StepStatus};
use crate::exec::gate::InstanceResult;
use crate::exec::step::InvocationRecord;

/// Where run directories live, under the working directory.
pub const RUNS_DIR: &str = ".ecs-runbook/runs";

/// The files of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// Creates `<base>/.ecs-runbook/runs/<run_id>/`.
    pub fn create(base: &Path, run_id: &str) -> std::io::Result<Self> {
        let path = base.join(RUNS_DIR).join(run_id);
        std::fs::create_dir_all(&path)?;
        Ok(Self { path })
    }

    /// The directory of `run`: a run id under `<base>/.ecs-runbook/runs/`, or a path to a run
    /// directory. `None` when neither holds a journal.
    pub fn find(base: &Path, run: &str) -> Option<Self> {
        let candidates = [base.join(RUNS_DIR).join(run), PathBuf::from(run)];
        candidates
            .into_iter()
            .map(|path| Self { path })
            .find(|dir| dir.journal().is_file())
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `plan.json`.
    pub fn plan(&self) -> PathBuf {
        self.path.join("plan.json")
    }

    /// `journal.jsonl`.
    pub fn journal(&self) -> PathBuf {
        self.path.join("journal.jsonl")
    }

    /// `report.json`.
    pub fn report(&self) -> PathBuf {
        self.path.join("report.json")
    }
}

/// Appends events to `journal.jsonl`, one line each, written through at once.
#[derive(Debug)]
pub struct Journal {
    file: std::fs::File,
    seq: u64,
}

impl Journal {
    /// Opens the journal of `dir` for appending (creating it), continuing after `seq` lines.
    pub fn open(dir: &RunDir, seq: u64) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.journal())?;
        Ok(Self { file, seq })
    }

    /// Writes one event. Each line goes to the operating system in one `write`, so a process
    /// killed right after still leaves it on disk.
    pub fn record(&mut self, event: &RunEvent) -> std::io::Result<()> {
        self.seq += 1;
        let mut value = serde_json::to_value(event).expect("events serialise");
        if let Some(map) = value.as_object_mut() {
            map.insert("seq".to_owned(), self.seq.into());
            map.insert(
                "at".to_owned(),
                chrono::Utc::now()
                    .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                    .to_string()
                    .into(),
            );
        }
        let mut line = serde_json::to_vec(&value).expect("JSON values serialise");
        line.push(b'\n');
        self.file.write_all(&line)
    }
}

/// Why a journal cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The file could not be read.
    #[error("cannot read journal `{}`: {source}", path.display())]
    Read {
        /// The journal.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line other than the last does not parse (the last may be cut by a crash).
    #[error("journal `{}` line {line} is not a run event: {detail}", path.display())]
    Corrupt {
        /// The journal.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The parser's message.
        detail: String,
    },
    /// The journal has no `run_started` event.
    #[error("journal `{}` does not start a run", path.display())]
    NoStart {
        /// The journal.
        path: PathBuf,
    },
}

/// How the journal says a run started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// Run id.
    pub run_id: String,
    /// Endpoint.
    pub endpoint: String,
    /// Region.
    pub region: String,
    /// Whether it ran against a sandbox inside its own process.
    pub sandbox: bool,
    /// Its settings.
    pub settings: RunSettings,
}

/// What one step had reached, by its latest round.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepRecord {
    /// Whether it started at all.
    pub started: bool,
    /// Its latest round.
    pub round: u32,
    /// The instances that round runs.
    pub to_run: Vec<InstanceId>,
    /// How the latest round ended; `None` while it had not.
    pub status: Option<StepStatus>,
    /// Why it was skipped, when it was.
    pub skipped: Option<SkipReason>,
    /// The latest round's command, while it exists.
    pub command: Option<CommandId>,
    /// Whether the latest round's command was deleted (after Ctrl-C, or at the end).
    pub command_deleted: bool,
    /// The latest round's invocations by (batch key, attempt).
    pub invocations: BTreeMap<(String, u32), InvokeId>,
    /// Every invocation of every round.
    pub history: Vec<InvocationRecord>,
    /// The latest result per instance.
    pub results: BTreeMap<InstanceId, InstanceResult>,
}

/// The journal folded into the state of each step.
#[derive(Debug, Clone)]
pub struct Replay {
    /// How the run started.
    pub started: Started,
    /// Per step, by name.
    pub steps: BTreeMap<String, StepRecord>,
    /// Commands created and not deleted, in creation order.
    pub commands: Vec<CommandId>,
    /// How the last `run_finished` said it ended; `None` when it never finished.
    pub finished: Option<bool>,
    /// Lines read, for continuing the sequence numbers.
    pub lines: u64,
}

impl Replay {
    /// Reads and folds a journal.
    pub fn load(path: &Path) -> Result<Self, JournalError> {
        let text = std::fs::read_to_string(path).map_err(|source| JournalError::Read {
            path: path.to_owned(),
            source,
        })?;
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let mut events = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            match serde_json::from_str::<RunEvent>(line) {
                Ok(event) => events.push(event),
                // A crash can cut the last line short; everything before it is intact.
                Err(_) if i + 1 == lines.len() => {}
                Err(e) => {
                    return Err(JournalError::Corrupt {
                        path: path.to_owned(),
                        line: i + 1,
                        detail: e.to_string(),
                    });
                }
            }
        }
        let mut replay = Self::fold(&events).ok_or_else(|| JournalError::NoStart {
            path: path.to_owned(),
        })?;
        replay.lines = lines.len() as u64;
        Ok(replay)
    }

    /// Folds events in journal order; `None` without a `run_started`.
    #[expect(
        clippy::too_many_lines,
        reason = "one short arm per kind of event, in the order of `RunEvent`"
    )]
    pub fn fold(events: &[RunEvent]) -> Option<Self> {
        let mut started = None;
        let mut steps: BTreeMap<String, StepRecord> = BTreeMap::new();
        let mut commands: Vec<CommandId> = Vec::new();
        let mut finished = None;
        for event in events {
            match event {
                RunEvent::RunStarted {
                    run_id,
                    endpoint,
                    region,
                    sandbox,
                    settings,
                    resumed,
                    ..
                } => {
                    if !resumed || started.is_none() {
                        started = Some(Started {
                            run_id: run_id.clone(),
                            endpoint: endpoint.clone(),
                            region: region.clone(),
                            sandbox: *sandbox,
                            settings: settings.clone(),
                        });
                    }
                    finished = None;
                }
                RunEvent::StepStarted {
                    step,
                    round,
                    to_run,
                    ..
                } => {
                    let record = steps.entry(step.clone()).or_default();
                    if !record.started || record.round != *round {
                        record.command = None;
                        record.command_deleted = false;
                        record.invocations.clear();
                    }
                    record.started = true;
                    record.round = *round;
                    record.to_run.clone_from(to_run);
                    record.status = None;
                    record.skipped = None;
                }
                RunEvent::CommandCreated { step, command_id } => {
                    let record = steps.entry(step.clone()).or_default();
                    record.command = Some(command_id.clone());
                    record.command_deleted = false;
                    commands.push(command_id.clone());
                }
                RunEvent::Invoked {
                    step,
                    invoke_id,
                    instances,
                    attempt,
                    batch,
                }
                | RunEvent::Reattached {
                    step,
                    invoke_id,
                    instances,
                    attempt,
                    batch,
                } => {
                    let record = steps.entry(step.clone()).or_default();
                    record
                        .invocations
                        .insert((batch.clone(), *attempt), invoke_id.clone());
                    if !record.history.iter().any(|h| &h.invoke_id == invoke_id) {
                        record.history.push(InvocationRecord {
                            invoke_id: invoke_id.clone(),
                            batch: batch.clone(),
                            attempt: *attempt,
                            instances: instances.clone(),
                        });
                    }
                }
                RunEvent::InstanceFinished { step, result, .. } => {
                    steps
                        .entry(step.clone())
                        .or_default()
                        .results
                        .insert(result.instance.clone(), (**result).clone());
                }
                RunEvent::StepFinished { step, status, .. } => {
                    steps.entry(step.clone()).or_default().status = Some(*status);
                }
                RunEvent::StepSkipped { step, reason } => {
                    let record = steps.entry(step.clone()).or_default();
                    record.status = Some(StepStatus::Skipped);
                    record.skipped = Some(reason.clone());
                }
                RunEvent::CommandDeleted { command_id } => {
                    commands.retain(|c| c != command_id);
                    for record in steps.values_mut() {
                        if record.command.as_ref() == Some(command_id) {
                            record.command = None;
                            record.command_deleted = true;
                        }
                    }
                }
                RunEvent::RunFinished { success } => finished = Some(*success),
                _ => {}
            }
        }
        Some(Self {
            started: started?,
            steps,
            commands,
            finished,
            lines: events.len() as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::event::Cancel;

    fn settings() -> RunSettings {
        RunSettings {
            max_parallel: 4,
            keep_commands: false,
            timeout_grace_ms: 30_000,
            start_stopped: false,
            install_agent: false,
        }
    }

    fn started(resumed: bool) -> RunEvent {
        RunEvent::RunStarted {
            run_id: "r1".into(),
            runbook: "rb".into(),
            endpoint: "http://127.0.0.1:1".into(),
            region: "cn-hangzhou".into(),
            sandbox: false,
            settings: settings(),
            resumed,
        }
    }

    fn step_started(round: u32) -> RunEvent {
        RunEvent::StepStarted {
            step: "a".into(),
            instances: 2,
            round,
            to_run: vec!["i-1".into(), "i-2".into()],
        }
    }

    fn invoked(id: &str, batch: &str) -> RunEvent {
        RunEvent::Invoked {
            step: "a".into(),
            invoke_id: id.into(),
            instances: vec!["i-1".into()],
            attempt: 0,
            batch: batch.into(),
        }
    }

    #[test]
    fn folds_commands_invocations_and_outcomes() {
        let events = [
            started(false),
            step_started(0),
            RunEvent::CommandCreated {
                step: "a".into(),
                command_id: "c-1".into(),
            },
            invoked("t-1", "w0b0"),
            RunEvent::Cancelling {
                level: Cancel::StopLaunching,
            },
        ];
        let replay = Replay::fold(&events).unwrap();
        let a = &replay.steps["a"];
        assert!(a.started);
        assert_eq!(a.status, None);
        assert_eq!(a.command, Some("c-1".into()));
        assert_eq!(a.invocations[&("w0b0".into(), 0)], InvokeId::from("t-1"));
        assert_eq!(replay.commands, [CommandId::from("c-1")]);
        assert_eq!(replay.finished, None);

        // Cleanup deletes the command; a resumed run starts round 1 and forgets round 0's
        // invocations, but keeps the history.
        let mut more = events.to_vec();
        more.push(RunEvent::CommandDeleted {
            command_id: "c-1".into(),
        });
        more.push(RunEvent::RunFinished { success: false });
        more.push(started(true));
        more.push(step_started(1));
        let replay = Replay::fold(&more).unwrap();
        let a = &replay.steps["a"];
        assert_eq!(a.round, 1);
        assert_eq!(a.command, None);
        assert!(a.invocations.is_empty());
        assert_eq!(a.history.len(), 1);
        assert!(replay.commands.is_empty());
        assert_eq!(replay.finished, None);
        assert_eq!(replay.started.run_id, "r1");
    }

    #[test]
    fn a_cut_last_line_is_ignored_and_lines_are_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path(), "r1").unwrap();
        let mut journal = Journal::open(&run, 0).unwrap();
        journal.record(&started(false)).unwrap();
        journal.record(&step_started(0)).unwrap();
        drop(journal);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(run.journal())
            .unwrap();
        file.write_all(b"{\"event\":\"invoked\",\"st").unwrap();
        let replay = Replay::load(&run.journal()).unwrap();
        assert!(replay.steps["a"].started);
        assert_eq!(replay.lines, 3);
        assert_eq!(RunDir::find(dir.path(), "r1"), Some(run.clone()));
        assert_eq!(RunDir::find(dir.path(), "nope"), None);
        let text = std::fs::read_to_string(run.journal()).unwrap();
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["seq"], 1);
        assert_eq!(first["event"], "run_started");
    }
}
