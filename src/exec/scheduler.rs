//! The scheduler: the only owner of run state.
//!
//! It checks the targets first (drift of a saved plan, preflight and its fixes), then starts
//! ready steps (dependencies done, condition true) up to `max_parallel`, renders run-time
//! templates from earlier results, applies failure policies, runs rollback steps, cleans up
//! the commands the run created and emits every [`RunEvent`]. Step tasks only send events and
//! return reports. One `tokio::select!` waits on step events, step completions and
//! cancellation.
//!
//! Every event goes to the journal as it arrives, and to reporters through the
//! [`Sequencer`], so that their order depends on the plan and the outcomes only. A resumed
//! run starts from the journal's [`Replay`]: finished steps keep their results, a step that
//! was running continues its round (re-attaching its invocations by InvokeId and re-sending
//! unjournaled invokes with the same ClientToken), and failed steps run again only when asked.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::cloud::error::CallError;
use crate::cloud::id::{CommandId, InstanceId};
use crate::cloud::{CallStats, Client};
use crate::exec::event::{Cancel, Drift, RunEvent, RunSettings, SkipReason, StepStatus};
use crate::exec::gate::InstanceResult;
use crate::exec::journal::{Journal, Replay, StepRecord};
use crate::exec::preflight::{self, Preflight, PreflightOptions};
use crate::exec::sequencer::Sequencer;
use crate::exec::step::{
    self, InvocationRecord, PollConfig, StepContext, StepReport, StepResume, required_of,
};
use crate::plan::calls;
use crate::plan::inventory::{Inventory, tag_key};
use crate::plan::model::{Plan, PlanScript, PlanStep};
use crate::plan::render::{self, Rendered, Scope};

/// Secret values, read when the run starts.
#[derive(Clone, Default)]
pub struct SecretValues(pub BTreeMap<String, String>);

impl std::fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Run id: names the run directory and seeds every ClientToken.
    pub run_id: String,
    /// Settings (journaled).
    pub settings: RunSettings,
    /// Polling.
    pub poll: PollConfig,
    /// Whether the endpoint is a sandbox inside this process.
    pub sandbox: bool,
    /// How long preflight fixes wait for instances and agents.
    pub preflight_wait: Duration,
}

/// A resumed run: the journal so far, and whether failed steps run again.
#[derive(Debug, Clone, Copy)]
pub struct Resume<'a> {
    /// The journal, folded.
    pub replay: &'a Replay,
    /// Run failed steps again (their failed instances only).
    pub retry_failed: bool,
}

/// Everything a run reads.
#[derive(Debug, Clone, Copy)]
pub struct RunInput<'a> {
    /// The API client.
    pub client: &'a Client,
    /// The plan.
    pub plan: &'a Plan,
    /// What the cloud says about the targets now.
    pub inventory: &'a Inventory,
    /// Secret values.
    pub secrets: &'a SecretValues,
    /// Settings.
    pub config: &'a RunConfig,
    /// Set when resuming.
    pub resume: Option<Resume<'a>>,
    /// Compare the plan's targets with `inventory` and report drift (saved plans, resume).
    pub check_drift: bool,
}

/// Where a run's events go.
#[derive(Debug)]
pub struct RunOutputs {
    /// Reporters: events in sequenced order.
    pub events: mpsc::UnboundedSender<RunEvent>,
    /// Live views (a terminal's progress bars): events as they happen.
    pub live: Option<mpsc::UnboundedSender<RunEvent>>,
    /// The journal, written as events happen.
    pub journal: Option<Journal>,
}

/// The outcome of one step.
#[derive(Debug, Clone)]
pub struct StepSummary {
    /// Step name.
    pub name: String,
    /// How it ended.
    pub status: StepStatus,
    /// Why it was skipped.
    pub skip_reason: Option<SkipReason>,
    /// Per-instance results, in target order.
    pub results: Vec<InstanceResult>,
    /// Instances that passed.
    pub passed: usize,
    /// Instances required to pass.
    pub required: usize,
    /// Whether it is a rollback step.
    pub rollback: bool,
    /// Its instances, in target order (also for a step that did not run).
    pub instances: Vec<InstanceId>,
    /// Its invocations, every round.
    pub invocations: Vec<InvocationRecord>,
    /// The commands created for it.
    pub commands: Vec<CommandId>,
    /// How long it ran in this process.
    pub duration: Option<Duration>,
    /// Whether more instances failed than `max_errors` allows.
    pub budget_exceeded: bool,
    /// Whether it finished in an earlier run and was not run again.
    pub from_journal: bool,
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Run id.
    pub run_id: String,
    /// Steps in plan order, then rollback steps that ran.
    pub steps: Vec<StepSummary>,
    /// Whether every step passed.
    pub success: bool,
    /// The API failure that stopped the run, if any.
    pub api_error: Option<CallError>,
    /// Whether Ctrl-C interrupted it.
    pub interrupted: bool,
    /// What preflight found and fixed.
    pub preflight: Preflight,
    /// How a saved plan's targets changed.
    pub drift: Drift,
    /// When this process started the run.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// API calls made, per action, retries included.
    pub calls: CallStats,
    /// Why the journal could not be written, if it could not.
    pub journal_error: Option<String>,
    /// Whether this continued an earlier run.
    pub resumed: bool,
}

impl RunSummary {
    /// Whether preflight stopped the run before anything changed.
    pub fn preflight_failed(&self) -> bool {
        !self.preflight.issues.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Running,
    Done(StepStatus),
}

/// What a step runs when it starts.
#[derive(Debug, Clone, Default)]
struct Round {
    number: u32,
    to_run: Vec<InstanceId>,
    carried: Vec<InstanceResult>,
    resume: StepResume,
}

/// One step of the run, main or rollback.
#[derive(Debug)]
struct Slot<'p> {
    step: &'p PlanStep,
    rollback: bool,
    instances: Vec<InstanceId>,
    state: State,
    report: Option<StepReport>,
    skip: Option<SkipReason>,
    round: Round,
    history: Vec<InvocationRecord>,
    commands: Vec<CommandId>,
    started: Option<Instant>,
    duration: Option<Duration>,
    from_journal: bool,
}

/// A step's instances: the plan's resolved list, or (for an offline plan) its explicit ids
/// and what its tags match now.
fn instances_of(step: &PlanStep, inventory: &Inventory) -> Vec<InstanceId> {
    if let Some(instances) = &step.targets.instances {
        return instances.clone();
    }
    let mut seen = BTreeSet::new();
    let matches = inventory
        .tag_matches
        .get(&tag_key(&step.targets.tags))
        .cloned()
        .unwrap_or_default();
    step.targets
        .explicit
        .iter()
        .chain(&matches)
        .filter(|id| seen.insert((*id).clone()))
        .cloned()
        .collect()
}

impl<'p> Slot<'p> {
    fn new(step: &'p PlanStep, rollback: bool, instances: Vec<InstanceId>) -> Self {
        Self {
            step,
            rollback,
            round: Round {
                to_run: instances.clone(),
                ..Round::default()
            },
            instances,
            state: State::Pending,
            report: None,
            skip: None,
            history: Vec::new(),
            commands: Vec::new(),
            started: None,
            duration: None,
            from_journal: false,
        }
    }

    /// Takes up what the journal says of this step. `crashed` says the last process ended
    /// without finishing the run, so a round it left open can be continued as it was.
    fn resume(&mut self, record: &StepRecord, retry_failed: bool, crashed: bool) {
        self.history.clone_from(&record.history);
        if !record.started {
            return;
        }
        match record.status {
            Some(status @ (StepStatus::Succeeded | StepStatus::Failed))
                if status == StepStatus::Succeeded || !retry_failed =>
            {
                let results: Vec<InstanceResult> = self
                    .instances
                    .iter()
                    .map(|id| {
                        record
                            .results
                            .get(id)
                            .cloned()
                            .unwrap_or_else(|| InstanceResult::not_launched(id.clone()))
                    })
                    .collect();
                let passed = results.iter().filter(|r| r.passed()).count();
                self.state = State::Done(status);
                self.from_journal = true;
                self.report = Some(StepReport {
                    status,
                    passed,
                    required: required_of(self.step, self.instances.len()),
                    results,
                    command_id: None,
                    error: None,
                    budget_exceeded: false,
                    invocations: record.history.clone(),
                });
            }
            None if crashed && (record.command.is_some() || !record.command_deleted) => {
                // The round was cut short: continue it with the same ClientTokens, taking up
                // its journaled invocations by InvokeId. Without a journaled command the
                // process may have died after CreateCommand took effect and before its line
                // was written: the same token then gets that command back instead of a second
                // one that nobody would delete.
                self.round = Round {
                    number: record.round,
                    to_run: record.to_run.clone(),
                    carried: record
                        .results
                        .values()
                        .filter(|r| !record.to_run.contains(&r.instance))
                        .cloned()
                        .collect(),
                    resume: StepResume {
                        command: record.command.clone(),
                        invocations: record.invocations.clone(),
                    },
                };
                if let Some(id) = &record.command {
                    self.commands.push(id.clone());
                }
            }
            _ => {
                // A new round with a new command, for the instances without a kept outcome:
                // passed ones always, failed ones unless `--retry-failed`.
                let keep: BTreeMap<InstanceId, InstanceResult> = record
                    .results
                    .iter()
                    .filter(|(_, r)| r.state.is_outcome() && (r.passed() || !retry_failed))
                    .map(|(id, r)| (id.clone(), r.clone()))
                    .collect();
                self.round = Round {
                    number: record.round + 1,
                    to_run: self
                        .instances
                        .iter()
                        .filter(|id| !keep.contains_key(*id))
                        .cloned()
                        .collect(),
                    carried: keep.into_values().collect(),
                    resume: StepResume::default(),
                };
            }
        }
    }
}

/// Runs `plan`: preflight, the steps, rollback, cleanup.
pub async fn run(
    input: &RunInput<'_>,
    outputs: RunOutputs,
    cancel: watch::Receiver<Cancel>,
) -> RunSummary {
    let plan = input.plan;
    let mut slots: Vec<Slot<'_>> = plan
        .steps
        .iter()
        .map(|s| Slot::new(s, false, instances_of(s, input.inventory)))
        .chain(
            plan.rollback
                .iter()
                .map(|s| Slot::new(s, true, instances_of(s, input.inventory))),
        )
        .collect();
    let mut resumed_commands = Vec::new();
    if let Some(resume) = input.resume {
        for slot in &mut slots {
            if let Some(record) = resume.replay.steps.get(&slot.step.name) {
                slot.resume(
                    record,
                    resume.retry_failed,
                    resume.replay.finished.is_none(),
                );
            }
        }
        resumed_commands.clone_from(&resume.replay.commands);
    }
    let mut scheduler = Scheduler {
        input,
        sequencer: Sequencer::new(slots.len()),
        slots,
        events: outputs.events,
        live: outputs.live,
        journal: outputs.journal,
        journal_error: None,
        cancel,
        cancel_seen: Cancel::None,
        resumed_commands,
        api_error: None,
        stop_launching: false,
        rollback_needed: false,
    };
    let started_at = Utc::now();
    scheduler.start();
    let (preflight, drift) = scheduler.preflight().await;
    if preflight.issues.is_empty() && scheduler.api_error.is_none() {
        scheduler.run_main().await;
        if scheduler.rollback_needed
            && scheduler.api_error.is_none()
            && *scheduler.cancel.borrow() == Cancel::None
        {
            scheduler.run_rollback().await;
        }
    } else {
        scheduler.skip_all_pending(&SkipReason::RunStopped);
    }
    scheduler.close_rollback_slots();
    scheduler.cleanup().await;
    scheduler.finish(preflight, drift, started_at)
}

struct Scheduler<'a, 'p> {
    input: &'a RunInput<'p>,
    slots: Vec<Slot<'p>>,
    sequencer: Sequencer,
    events: mpsc::UnboundedSender<RunEvent>,
    live: Option<mpsc::UnboundedSender<RunEvent>>,
    journal: Option<Journal>,
    journal_error: Option<String>,
    cancel: watch::Receiver<Cancel>,
    cancel_seen: Cancel,
    resumed_commands: Vec<CommandId>,
    api_error: Option<CallError>,
    stop_launching: bool,
    rollback_needed: bool,
}

impl Scheduler<'_, '_> {
    /// Records an event and passes it on: at once to the journal and live views, through the
    /// sequencer to reporters. `slot` is the step it belongs to, `None` for run-level events.
    fn emit(&mut self, slot: Option<usize>, event: RunEvent) {
        if let Some(journal) = &mut self.journal
            && let Err(error) = journal.record(&event)
            && self.journal_error.is_none()
        {
            let message = format!(
                "the journal cannot be written ({error}); `resume` will not be able to continue this run"
            );
            self.journal_error = Some(error.to_string());
            let _ = self.events.send(RunEvent::Warning { message });
        }
        if let Some(live) = &self.live {
            let _ = live.send(event.clone());
        }
        let released = match slot {
            Some(i) => self.sequencer.push(i, event),
            None => vec![event],
        };
        for event in released {
            let _ = self.events.send(event);
        }
    }

    /// Marks a slot's events complete in the sequencer.
    fn complete(&mut self, slot: usize) {
        for event in self.sequencer.complete(slot) {
            let _ = self.events.send(event);
        }
    }

    fn start(&mut self) {
        let input = self.input;
        let config = input.config;
        self.emit(
            None,
            RunEvent::RunStarted {
                run_id: config.run_id.clone(),
                runbook: input.plan.runbook.name.clone(),
                endpoint: input.client.endpoint().to_owned(),
                region: input.client.region().to_string(),
                sandbox: config.sandbox,
                settings: config.settings.clone(),
                resumed: input.resume.is_some(),
            },
        );
        for warning in &input.plan.warnings {
            self.emit(
                None,
                RunEvent::Warning {
                    message: format!("plan: {warning}"),
                },
            );
        }
        if !input.plan.resolved {
            self.emit(
                None,
                RunEvent::Warning {
                    message: "the plan was made offline: its tags were resolved now".to_owned(),
                },
            );
        }
        // Steps a resumed run does not run again are complete from the start.
        for i in 0..self.slots.len() {
            if self.slots[i].from_journal {
                self.complete(i);
            }
        }
        // A failure a resumed run keeps still applies its policy.
        for i in 0..self.slots.len() {
            if self.slots[i].state == State::Done(StepStatus::Failed) && !self.slots[i].rollback {
                self.apply_policy(i);
            }
        }
    }

    /// Drift of a saved plan, then preflight on every target still to run.
    async fn preflight(&mut self) -> (Preflight, Drift) {
        let input = self.input;
        let drift = if input.check_drift {
            preflight::drift(input.plan, input.inventory)
        } else {
            Drift::default()
        };
        if !drift.is_empty() {
            self.emit(
                None,
                RunEvent::TargetDrift {
                    drift: drift.clone(),
                },
            );
        }
        let targets: Vec<InstanceId> = self
            .slots
            .iter()
            .filter(|s| s.state == State::Pending)
            .flat_map(|s| s.round.to_run.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let settings = &input.config.settings;
        let options = PreflightOptions {
            start_stopped: settings.start_stopped,
            install_agent: settings.install_agent,
            wait: input.config.preflight_wait,
        };
        let result = preflight::run(
            input.client,
            &targets,
            input.inventory,
            options,
            &mut |event| self.emit(None, event),
        )
        .await;
        match result {
            Ok(preflight) => {
                let event = if preflight.issues.is_empty() {
                    RunEvent::PreflightPassed {
                        instances: targets.len(),
                    }
                } else {
                    RunEvent::PreflightFailed {
                        issues: preflight.issues.clone(),
                    }
                };
                self.emit(None, event);
                (preflight, drift)
            }
            Err(error) => {
                self.api_error = Some(error);
                (Preflight::default(), drift)
            }
        }
    }

    async fn run_main(&mut self) {
        let (step_tx, mut step_rx) = mpsc::unbounded_channel::<(usize, RunEvent)>();
        let mut running: JoinSet<(usize, StepReport)> = JoinSet::new();
        let main = self.slots.iter().filter(|s| !s.rollback).count();
        loop {
            if !self.stop_launching && *self.cancel.borrow() == Cancel::None {
                self.launch_ready(main, &mut running, &step_tx);
            }
            if running.is_empty() {
                break;
            }
            let mut cancel = self.cancel.clone();
            tokio::select! {
                Some((slot, event)) = step_rx.recv() => self.emit(Some(slot), event),
                Some(joined) = running.join_next() => {
                    let (index, report) = joined.expect("step tasks do not panic");
                    while let Ok((slot, event)) = step_rx.try_recv() {
                        self.emit(Some(slot), event);
                    }
                    self.finish_step(index, report);
                }
                Ok(()) = cancel.changed() => self.note_cancel(),
            }
        }
        while let Ok((slot, event)) = step_rx.try_recv() {
            self.emit(Some(slot), event);
        }
        self.note_cancel();
        // Plan order puts dependencies first, so a skip propagates down its chain.
        for i in 0..main {
            if self.slots[i].state == State::Pending {
                let reason = match self.dependencies(i) {
                    Deps::Blocked(dep) => SkipReason::DependencyFailed { step: dep },
                    Deps::Ready | Deps::Waiting => SkipReason::RunStopped,
                };
                self.skip(i, reason);
            }
        }
    }

    fn note_cancel(&mut self) {
        let level = *self.cancel.borrow();
        if level > self.cancel_seen {
            self.cancel_seen = level;
            self.stop_launching = true;
            self.emit(None, RunEvent::Cancelling { level });
        }
    }

    fn apply_policy(&mut self, index: usize) {
        match self.slots[index].step.on_failure.as_str() {
            "continue" => {}
            "rollback" => {
                self.rollback_needed = true;
                self.stop_launching = true;
            }
            _ => self.stop_launching = true,
        }
    }

    fn finish_step(&mut self, index: usize, report: StepReport) {
        let slot = &mut self.slots[index];
        slot.duration = slot.started.map(|s| s.elapsed());
        if let Some(id) = &report.command_id
            && !slot.commands.contains(id)
        {
            slot.commands.push(id.clone());
        }
        if let Some(error) = &report.error {
            self.api_error.get_or_insert_with(|| error.clone());
            self.stop_launching = true;
        }
        let status = report.status;
        slot.state = State::Done(status);
        slot.report = Some(report);
        if status == StepStatus::Failed && !slot.rollback {
            self.apply_policy(index);
        }
        if status == StepStatus::Cancelled {
            self.stop_launching = true;
        }
        self.complete(index);
    }

    /// Starts every ready main step that fits under `max_parallel`, in plan order, and skips
    /// those whose dependencies failed.
    fn launch_ready(
        &mut self,
        main: usize,
        running: &mut JoinSet<(usize, StepReport)>,
        step_tx: &mpsc::UnboundedSender<(usize, RunEvent)>,
    ) {
        for index in 0..main {
            if self.slots[index].state != State::Pending {
                continue;
            }
            match self.dependencies(index) {
                Deps::Waiting => continue,
                Deps::Blocked(dep) => {
                    self.skip(index, SkipReason::DependencyFailed { step: dep });
                    continue;
                }
                Deps::Ready => {}
            }
            if running.len() >= self.input.config.settings.max_parallel.max(1) {
                break;
            }
            if let Some(ctx) = self.context(index, step_tx) {
                self.slots[index].state = State::Running;
                self.slots[index].started = Some(Instant::now());
                running.spawn(async move { (index, step::execute(ctx).await) });
            }
        }
    }

    /// The context of a step ready to start, or `None` when it was skipped or failed here.
    fn context(
        &mut self,
        index: usize,
        step_tx: &mpsc::UnboundedSender<(usize, RunEvent)>,
    ) -> Option<StepContext> {
        let step = self.slots[index].step;
        match self.prepare(step) {
            Ok(Prepared::Skip(reason)) => {
                self.skip(index, reason);
                None
            }
            Ok(Prepared::Run(content)) => {
                let input = self.input;
                let slot = &self.slots[index];
                Some(StepContext {
                    client: input.client.clone(),
                    runbook: input.plan.runbook.name.clone(),
                    run_id: input.config.run_id.clone(),
                    slot: index,
                    step: step.clone(),
                    instances: slot.instances.clone(),
                    to_run: slot.round.to_run.clone(),
                    carried: slot.round.carried.clone(),
                    round: slot.round.number,
                    resume: slot.round.resume.clone(),
                    content,
                    secret_values: input.secrets.0.values().cloned().collect(),
                    poll: input.config.poll.clone(),
                    timeout_grace: Duration::from_millis(input.config.settings.timeout_grace_ms),
                    events: step_tx.clone(),
                    cancel: self.cancel.clone(),
                })
            }
            Err(message) => {
                let total = self.slots[index].instances.len();
                let required = required_of(step, total);
                self.emit(
                    Some(index),
                    RunEvent::Warning {
                        message: format!("step `{}`: {message}", step.name),
                    },
                );
                self.emit(
                    Some(index),
                    RunEvent::StepFinished {
                        step: step.name.clone(),
                        status: StepStatus::Failed,
                        passed: 0,
                        total,
                        required,
                    },
                );
                self.finish_step(index, StepReport::failed_early(required));
                None
            }
        }
    }

    fn dependencies(&self, index: usize) -> Deps {
        for dep in &self.slots[index].step.depends_on {
            let Some(i) = self
                .slots
                .iter()
                .position(|s| !s.rollback && &s.step.name == dep)
                .or_else(|| self.slots.iter().position(|s| &s.step.name == dep))
            else {
                continue;
            };
            let other = &self.slots[i];
            match other.state {
                State::Pending | State::Running => return Deps::Waiting,
                State::Done(StepStatus::Succeeded) => {}
                State::Done(StepStatus::Skipped)
                    if matches!(other.skip, Some(SkipReason::ConditionFalse { .. })) => {}
                State::Done(StepStatus::Failed) if other.step.on_failure == "continue" => {}
                State::Done(_) => return Deps::Blocked(dep.clone()),
            }
        }
        Deps::Ready
    }

    fn skip(&mut self, index: usize, reason: SkipReason) {
        let name = self.slots[index].step.name.clone();
        self.emit(
            Some(index),
            RunEvent::StepSkipped {
                step: name,
                reason: reason.clone(),
            },
        );
        let slot = &mut self.slots[index];
        slot.state = State::Done(StepStatus::Skipped);
        slot.skip = Some(reason);
        self.complete(index);
    }

    fn skip_all_pending(&mut self, reason: &SkipReason) {
        for i in 0..self.slots.len() {
            if self.slots[i].state == State::Pending && !self.slots[i].rollback {
                self.skip(i, reason.clone());
            }
        }
    }

    /// Rollback steps that did not run have no events; let the sequencer pass what follows.
    fn close_rollback_slots(&mut self) {
        for i in 0..self.slots.len() {
            if self.slots[i].rollback && self.slots[i].state == State::Pending {
                self.complete(i);
            }
        }
    }

    /// Evaluates `when` and renders the script with earlier results and secrets.
    fn prepare(&self, step: &PlanStep) -> Result<Prepared, String> {
        let scope = self.scope(step);
        if let Some(when) = &step.when {
            let rendered = render::render(when, &scope)
                .map_err(|errors| describe_errors(&errors))?
                .masked();
            match rendered.trim() {
                "true" => {}
                "false" | "" => {
                    return Ok(Prepared::Skip(SkipReason::ConditionFalse {
                        when: when.clone(),
                    }));
                }
                other => {
                    return Err(format!(
                        "`when` must render to `true` or `false`, not `{other}`"
                    ));
                }
            }
        }
        let rendered: Rendered = match &step.script {
            PlanScript::Rendered(r) => r.clone(),
            PlanScript::Deferred(template) => {
                render::render(template, &scope).map_err(|errors| describe_errors(&errors))?
            }
        };
        let content = rendered
            .expose(|name| self.input.secrets.0.get(name).cloned())
            .ok_or_else(|| "a secret it uses has no value".to_owned())?;
        Ok(Prepared::Run(content))
    }

    /// The template scope at run time: vars, `runbook`, `step`, and the results so far.
    fn scope(&self, step: &PlanStep) -> Scope {
        let plan = self.input.plan;
        let mut context = tera::Context::new();
        for (name, value) in &plan.vars {
            context.insert(name.as_str(), value);
        }
        context.insert("vars", &plan.vars);
        context.insert(
            "runbook",
            &serde_json::json!({
                "name": plan.runbook.name,
                "region": plan.region,
                "description": plan.runbook.description,
            }),
        );
        context.insert(
            "step",
            &serde_json::json!({
                "name": step.name,
                "type": step.command_type.as_str(),
                "timeout": step.timeout_secs,
                "working_dir": step.working_dir,
                "username": step.username,
            }),
        );
        let mut steps = serde_json::Map::new();
        for slot in &self.slots {
            if let Some(report) = &slot.report {
                steps.insert(slot.step.name.clone(), step_results(report));
            } else if let Some(reason) = &slot.skip {
                steps.insert(
                    slot.step.name.clone(),
                    serde_json::json!({
                        "status": "skipped",
                        "reason": reason.to_string(),
                        "output": "",
                        "outputs": {},
                        "instances": {},
                    }),
                );
            }
        }
        context.insert("steps", &steps);
        Scope {
            context,
            secrets: self.input.secrets.0.keys().cloned().collect(),
            parameters: step.parameters.keys().cloned().collect(),
        }
    }

    /// Runs the rollback steps in order, each after the one before.
    async fn run_rollback(&mut self) {
        let (step_tx, mut step_rx) = mpsc::unbounded_channel::<(usize, RunEvent)>();
        for index in 0..self.slots.len() {
            if !self.slots[index].rollback || self.slots[index].state != State::Pending {
                continue;
            }
            if *self.cancel.borrow() != Cancel::None || self.api_error.is_some() {
                break;
            }
            let Some(ctx) = self.context(index, &step_tx) else {
                continue;
            };
            self.slots[index].state = State::Running;
            self.slots[index].started = Some(Instant::now());
            let mut task = tokio::spawn(step::execute(ctx));
            let report = loop {
                tokio::select! {
                    Some((slot, event)) = step_rx.recv() => self.emit(Some(slot), event),
                    joined = &mut task => break joined.expect("step tasks do not panic"),
                }
            };
            while let Ok((slot, event)) = step_rx.try_recv() {
                self.emit(Some(slot), event);
            }
            self.finish_step(index, report);
        }
    }

    /// Deletes the commands this run created (and those a resumed run inherited), unless told
    /// to keep them: also after a failure or Ctrl-C.
    async fn cleanup(&mut self) {
        let mut commands: Vec<CommandId> = std::mem::take(&mut self.resumed_commands);
        for slot in &self.slots {
            for id in &slot.commands {
                if !commands.contains(id) {
                    commands.push(id.clone());
                }
            }
        }
        if self.input.config.settings.keep_commands {
            return;
        }
        let client = self.input.client;
        for command_id in commands {
            match client
                .call(&calls::delete_command(command_id.clone()))
                .await
            {
                Ok(_) => self.emit(None, RunEvent::CommandDeleted { command_id }),
                // Gone already (a retried delete, or removed by hand): the goal is met.
                Err(CallError::Api(api))
                    if api.code == crate::cloud::error::ErrorCode::InvalidCmdIdNotFound =>
                {
                    self.emit(None, RunEvent::CommandDeleted { command_id });
                }
                Err(error) => self.emit(
                    None,
                    RunEvent::Warning {
                        message: format!("could not delete command `{command_id}`: {error}"),
                    },
                ),
            }
        }
    }

    fn finish(
        mut self,
        preflight: Preflight,
        drift: Drift,
        started_at: DateTime<Utc>,
    ) -> RunSummary {
        let interrupted = *self.cancel.borrow() != Cancel::None;
        let steps: Vec<StepSummary> = self
            .slots
            .iter()
            .filter(|s| !s.rollback || s.state != State::Pending)
            .map(summary_of)
            .collect();
        let success = self.api_error.is_none()
            && !interrupted
            && preflight.issues.is_empty()
            && steps.iter().filter(|s| !s.rollback).all(|s| {
                matches!(s.status, StepStatus::Succeeded)
                    || matches!(s.skip_reason, Some(SkipReason::ConditionFalse { .. }))
            });
        self.emit(None, RunEvent::RunFinished { success });
        RunSummary {
            run_id: self.input.config.run_id.clone(),
            steps,
            success,
            api_error: self.api_error,
            interrupted,
            preflight,
            drift,
            started_at,
            finished_at: Utc::now(),
            calls: self.input.client.stats(),
            journal_error: self.journal_error,
            resumed: self.input.resume.is_some(),
        }
    }
}

fn summary_of(slot: &Slot<'_>) -> StepSummary {
    let status = match slot.state {
        State::Done(status) => status,
        State::Pending | State::Running => StepStatus::Skipped,
    };
    let report = slot.report.as_ref();
    let mut invocations = slot.history.clone();
    for record in report.map(|r| r.invocations.as_slice()).unwrap_or_default() {
        if !invocations.iter().any(|i| i.invoke_id == record.invoke_id) {
            invocations.push(record.clone());
        }
    }
    StepSummary {
        name: slot.step.name.clone(),
        status,
        skip_reason: slot.skip.clone(),
        results: report.map(|r| r.results.clone()).unwrap_or_default(),
        passed: report.map_or(0, |r| r.passed),
        required: report.map_or_else(
            || required_of(slot.step, slot.instances.len()),
            |r| r.required,
        ),
        rollback: slot.rollback,
        instances: slot.instances.clone(),
        invocations,
        commands: slot.commands.clone(),
        duration: slot.duration,
        budget_exceeded: report.is_some_and(|r| r.budget_exceeded),
        from_journal: slot.from_journal,
    }
}

enum Deps {
    Waiting,
    Ready,
    Blocked(String),
}

enum Prepared {
    Run(String),
    Skip(SkipReason),
}

fn describe_errors(errors: &[render::TemplateError]) -> String {
    errors
        .iter()
        .map(|e| e.kind.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// `steps.<name>` for templates: status, `output` and `outputs` of the first instance,
/// and every instance by id.
fn step_results(report: &StepReport) -> serde_json::Value {
    let first = report.results.first();
    let instances: serde_json::Map<String, serde_json::Value> = report
        .results
        .iter()
        .map(|r| {
            (
                r.instance.to_string(),
                serde_json::json!({
                    "status": r.state.label(),
                    "passed": r.passed(),
                    "exit_code": r.exit_code,
                    "output": r.output.text.clone().unwrap_or_default(),
                    "outputs": r.captures,
                }),
            )
        })
        .collect();
    serde_json::json!({
        "status": report.status.as_str(),
        "output": first.and_then(|r| r.output.text.clone()).unwrap_or_default(),
        "outputs": first.map(|r| r.captures.clone()).unwrap_or_default(),
        "passed": report.passed,
        "instances": instances,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::gate::{GateFailure, InstanceState};
    use crate::plan::BuildOptions;

    fn step() -> PlanStep {
        let runbook = crate::runbook::load_str(
            std::path::Path::new("r.yaml"),
            "version: 1\nname: r\ntargets: {instances: [i-1, i-2, i-3]}\nsteps:\n  - name: a\n    script: echo a\n",
            &crate::runbook::VarOverrides::new(),
        )
        .unwrap();
        crate::plan::build(&runbook, &BuildOptions::default())
            .unwrap()
            .steps
            .remove(0)
    }

    fn result(id: &str, state: InstanceState) -> InstanceResult {
        let mut r = InstanceResult::not_launched(id.into());
        r.failures = match &state {
            InstanceState::Success => Vec::new(),
            other => vec![GateFailure::State {
                state: other.clone(),
            }],
        };
        r.state = state;
        r
    }

    fn record(status: Option<StepStatus>, command: bool) -> StepRecord {
        StepRecord {
            started: true,
            round: 2,
            to_run: vec!["i-2".into(), "i-3".into()],
            status,
            command: command.then(|| "c-1".into()),
            command_deleted: !command,
            invocations: [(("w0b0".to_owned(), 0), "t-1".into())].into(),
            results: [
                ("i-1".into(), result("i-1", InstanceState::Success)),
                (
                    "i-2".into(),
                    result("i-2", InstanceState::Failed { exit_code: Some(1) }),
                ),
                ("i-3".into(), result("i-3", InstanceState::Stopped)),
            ]
            .into(),
            ..StepRecord::default()
        }
    }

    /// A crash between CreateCommand and its journal line: the round goes on with the same
    /// ClientToken (so the command already created is the one used and deleted), not a new
    /// round with a second command.
    #[test]
    fn a_crash_before_the_command_was_journaled_continues_the_round() {
        let step = step();
        let mut slot = Slot::new(
            &step,
            false,
            ["i-1", "i-2", "i-3"].map(InstanceId::from).to_vec(),
        );
        let record = StepRecord {
            command_deleted: false,
            invocations: BTreeMap::new(),
            ..record(None, false)
        };
        slot.resume(&record, false, true);
        assert_eq!(slot.round.number, 2);
        assert!(slot.round.resume.command.is_none());
        let to_run: Vec<&str> = slot.round.to_run.iter().map(InstanceId::as_str).collect();
        assert_eq!(to_run, ["i-2", "i-3"]);
    }

    /// What a resumed run does with a step, by what the journal says of it: (status, command
    /// alive, retry failed, crashed) → (state, round, to run, carried, re-attached).
    #[test]
    #[expect(
        clippy::too_many_lines,
        reason = "a table of cases, one per line before rustfmt"
    )]
    fn resume_rounds() {
        type Case = (
            Option<StepStatus>,
            bool,
            bool,
            bool,
            (State, u32, &'static [&'static str], usize, bool),
        );
        let done = |s| State::Done(s);
        let cases: [Case; 7] = [
            // Finished steps are not run again.
            (
                Some(StepStatus::Succeeded),
                false,
                true,
                false,
                (
                    done(StepStatus::Succeeded),
                    0,
                    &["i-1", "i-2", "i-3"],
                    0,
                    false,
                ),
            ),
            (
                Some(StepStatus::Failed),
                false,
                false,
                false,
                (
                    done(StepStatus::Failed),
                    0,
                    &["i-1", "i-2", "i-3"],
                    0,
                    false,
                ),
            ),
            // A crash mid-round continues that round, with its instances and invocations.
            (
                None,
                true,
                false,
                true,
                (State::Pending, 2, &["i-2", "i-3"], 1, true),
            ),
            // Without the command (cleaned up after Ctrl-C): a new round on what has no outcome.
            (
                Some(StepStatus::Cancelled),
                false,
                false,
                false,
                (State::Pending, 3, &["i-3"], 2, false),
            ),
            (
                None,
                true,
                false,
                false,
                (State::Pending, 3, &["i-3"], 2, false),
            ),
            // `--retry-failed`: a new round on everything that did not pass.
            (
                Some(StepStatus::Failed),
                false,
                true,
                false,
                (State::Pending, 3, &["i-2", "i-3"], 1, false),
            ),
            (
                Some(StepStatus::Cancelled),
                true,
                true,
                true,
                (State::Pending, 3, &["i-2", "i-3"], 1, false),
            ),
        ];
        let step = step();
        for (status, command, retry, crashed, expected) in cases {
            let mut slot = Slot::new(
                &step,
                false,
                ["i-1", "i-2", "i-3"].map(InstanceId::from).to_vec(),
            );
            slot.resume(&record(status, command), retry, crashed);
            let to_run: Vec<&str> = slot.round.to_run.iter().map(InstanceId::as_str).collect();
            let got = (
                slot.state,
                slot.round.number,
                to_run,
                slot.round.carried.len(),
                slot.round.resume.command.is_some(),
            );
            let want = (
                expected.0,
                expected.1,
                expected.2.to_vec(),
                expected.3,
                expected.4,
            );
            let label = format!("{status:?} command={command} retry={retry} crashed={crashed}");
            if matches!(expected.0, State::Done(_)) {
                assert_eq!((got.0, slot.from_journal), (want.0, true), "{label}");
            } else {
                assert_eq!(got, want, "{label}");
            }
        }
    }
}
