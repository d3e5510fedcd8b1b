//! The scheduler: the only owner of run state.
//!
//! It starts ready steps (dependencies done, condition true) up to `max_parallel`, renders
//! run-time templates from earlier results, applies failure policies, runs rollback steps,
//! cleans up the commands it created and forwards every [`RunEvent`]. Step tasks only send
//! events and return reports. One `tokio::select!` waits on step completions, step events and
//! cancellation.

use std::collections::BTreeMap;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::cloud::Client;
use crate::cloud::error::CallError;
use crate::cloud::id::CommandId;
use crate::exec::event::{RunEvent, SkipReason, StepStatus};
use crate::exec::gate::InstanceResult;
use crate::exec::step::{self, Cancel, PollConfig, StepContext, StepReport};
use crate::plan::calls;
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
    /// Steps running at once.
    pub max_parallel: usize,
    /// Keep the commands the run created.
    pub keep_commands: bool,
    /// Polling.
    pub poll: PollConfig,
    /// Whether the endpoint is the built-in sandbox.
    pub sandbox: bool,
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
    /// Per-instance results.
    pub results: Vec<InstanceResult>,
    /// Instances that passed.
    pub passed: usize,
    /// Instances required to pass.
    pub required: usize,
    /// Whether it is a rollback step.
    pub rollback: bool,
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Steps in plan order, then rollback steps that ran.
    pub steps: Vec<StepSummary>,
    /// Whether every step passed.
    pub success: bool,
    /// The API failure that stopped the run, if any.
    pub api_error: Option<CallError>,
    /// Whether Ctrl-C interrupted it.
    pub interrupted: bool,
}

#[derive(Debug, Clone)]
enum State {
    Pending,
    Running,
    Done(StepStatus),
}

/// Runs `plan`.
pub async fn run(
    client: &Client,
    plan: &Plan,
    secrets: &SecretValues,
    config: &RunConfig,
    events: &mpsc::UnboundedSender<RunEvent>,
    cancel: watch::Receiver<Cancel>,
) -> RunSummary {
    let _ = events.send(RunEvent::RunStarted {
        run_id: config.run_id.clone(),
        runbook: plan.runbook.name.clone(),
        endpoint: client.endpoint().to_owned(),
        sandbox: config.sandbox,
    });
    let mut scheduler = Scheduler {
        client,
        plan,
        secrets,
        config,
        events,
        cancel,
        states: vec![State::Pending; plan.steps.len()],
        reports: BTreeMap::new(),
        skipped: BTreeMap::new(),
        commands: Vec::new(),
        api_error: None,
        stop_launching: false,
        rollback_needed: false,
    };
    scheduler.run_main().await;
    let mut rollback_summaries = Vec::new();
    if scheduler.rollback_needed && scheduler.api_error.is_none() {
        rollback_summaries = scheduler.run_rollback().await;
    }
    scheduler.cleanup().await;

    let mut steps: Vec<StepSummary> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| scheduler.summary(i, s))
        .collect();
    steps.extend(rollback_summaries);
    let interrupted = *scheduler.cancel.borrow() != Cancel::None;
    let success = scheduler.api_error.is_none()
        && !interrupted
        && steps.iter().all(|s| {
            matches!(s.status, StepStatus::Succeeded)
                || matches!(s.skip_reason, Some(SkipReason::ConditionFalse { .. }))
        });
    let _ = events.send(RunEvent::RunFinished { success });
    RunSummary {
        steps,
        success,
        api_error: scheduler.api_error,
        interrupted,
    }
}

struct Scheduler<'a> {
    client: &'a Client,
    plan: &'a Plan,
    secrets: &'a SecretValues,
    config: &'a RunConfig,
    events: &'a mpsc::UnboundedSender<RunEvent>,
    cancel: watch::Receiver<Cancel>,
    states: Vec<State>,
    reports: BTreeMap<String, StepReport>,
    skipped: BTreeMap<String, SkipReason>,
    commands: Vec<CommandId>,
    api_error: Option<CallError>,
    stop_launching: bool,
    rollback_needed: bool,
}

impl Scheduler<'_> {
    async fn run_main(&mut self) {
        let (step_tx, mut step_rx) = mpsc::unbounded_channel();
        let mut running: JoinSet<(usize, StepReport)> = JoinSet::new();
        loop {
            if !self.stop_launching && *self.cancel.borrow() == Cancel::None {
                self.launch_ready(&mut running, &step_tx);
            }
            if running.is_empty() {
                break;
            }
            let mut cancel = self.cancel.clone();
            tokio::select! {
                Some(event) = step_rx.recv() => self.forward(event),
                Some(joined) = running.join_next() => {
                    let (index, report) = joined.expect("step tasks do not panic");
                    while let Ok(event) = step_rx.try_recv() {
                        self.forward(event);
                    }
                    self.finish(index, report);
                }
                Ok(()) = cancel.changed() => {
                    if *cancel.borrow() != Cancel::None {
                        self.stop_launching = true;
                    }
                }
            }
        }
        while let Ok(event) = step_rx.try_recv() {
            self.forward(event);
        }
        // Plan order puts dependencies first, so a skip propagates down its chain.
        for (i, step) in self.plan.steps.iter().enumerate() {
            if matches!(self.states[i], State::Pending) {
                let reason = match self.dependencies(step) {
                    Deps::Blocked(dep) => SkipReason::DependencyFailed { step: dep },
                    Deps::Ready | Deps::Waiting => SkipReason::RunStopped,
                };
                self.skip(i, step, reason);
            }
        }
    }

    fn forward(&self, event: RunEvent) {
        let _ = self.events.send(event);
    }

    fn finish(&mut self, index: usize, report: StepReport) {
        let step = &self.plan.steps[index];
        if let Some(id) = &report.command_id {
            self.commands.push(id.clone());
        }
        if let Some(error) = &report.error {
            self.api_error.get_or_insert_with(|| error.clone());
            self.stop_launching = true;
        }
        if report.status == StepStatus::Failed {
            match step.on_failure.as_str() {
                "continue" => {}
                "rollback" => {
                    self.rollback_needed = true;
                    self.stop_launching = true;
                }
                _ => self.stop_launching = true,
            }
        }
        if report.status == StepStatus::Cancelled {
            self.stop_launching = true;
        }
        self.states[index] = State::Done(report.status);
        self.reports.insert(step.name.clone(), report);
    }

    /// Starts every ready step that fits under `max_parallel`, in plan order, and skips those
    /// whose dependencies failed.
    fn launch_ready(
        &mut self,
        running: &mut JoinSet<(usize, StepReport)>,
        step_tx: &mpsc::UnboundedSender<RunEvent>,
    ) {
        for index in 0..self.plan.steps.len() {
            if !matches!(self.states[index], State::Pending) {
                continue;
            }
            let step = &self.plan.steps[index];
            match self.dependencies(step) {
                Deps::Waiting => continue,
                Deps::Blocked(dep) => {
                    self.skip(index, step, SkipReason::DependencyFailed { step: dep });
                    continue;
                }
                Deps::Ready => {}
            }
            if running.len() >= self.config.max_parallel.max(1) {
                break;
            }
            match self.prepare(step) {
                Ok(Prepared::Skip(reason)) => self.skip(index, step, reason),
                Ok(Prepared::Run(content)) => {
                    let ctx = StepContext {
                        client: self.client.clone(),
                        runbook: self.plan.runbook.name.clone(),
                        run_id: self.config.run_id.clone(),
                        step: step.clone(),
                        instances: step.targets.instances.clone().unwrap_or_default(),
                        content,
                        secret_values: self.secrets.0.values().cloned().collect(),
                        poll: self.config.poll.clone(),
                        events: step_tx.clone(),
                        cancel: self.cancel.clone(),
                    };
                    self.states[index] = State::Running;
                    running.spawn(async move { (index, step::execute(ctx).await) });
                }
                Err(message) => {
                    let _ = self.events.send(RunEvent::Warning {
                        message: format!("step `{}`: {message}", step.name),
                    });
                    let _ = self.events.send(RunEvent::StepFinished {
                        step: step.name.clone(),
                        status: StepStatus::Failed,
                        passed: 0,
                        total: 0,
                        required: 0,
                    });
                    self.finish(
                        index,
                        StepReport {
                            status: StepStatus::Failed,
                            results: Vec::new(),
                            command_id: None,
                            passed: 0,
                            required: 0,
                            error: None,
                        },
                    );
                }
            }
        }
    }

    fn dependencies(&self, step: &PlanStep) -> Deps {
        for dep in &step.depends_on {
            let Some(i) = self.plan.steps.iter().position(|s| &s.name == dep) else {
                continue;
            };
            match &self.states[i] {
                State::Pending | State::Running => return Deps::Waiting,
                State::Done(StepStatus::Succeeded) => {}
                State::Done(StepStatus::Skipped)
                    if matches!(
                        self.skipped.get(dep),
                        Some(SkipReason::ConditionFalse { .. })
                    ) => {}
                State::Done(StepStatus::Failed) if self.plan.steps[i].on_failure == "continue" => {}
                State::Done(_) => return Deps::Blocked(dep.clone()),
            }
        }
        Deps::Ready
    }

    fn skip(&mut self, index: usize, step: &PlanStep, reason: SkipReason) {
        let _ = self.events.send(RunEvent::StepSkipped {
            step: step.name.clone(),
            reason: reason.clone(),
        });
        self.states[index] = State::Done(StepStatus::Skipped);
        self.skipped.insert(step.name.clone(), reason);
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
            .expose(|name| self.secrets.0.get(name).cloned())
            .ok_or_else(|| "a secret it uses has no value".to_owned())?;
        Ok(Prepared::Run(content))
    }

    /// The template scope at run time: vars, `runbook`, `step`, and the results so far.
    fn scope(&self, step: &PlanStep) -> Scope {
        let mut context = tera::Context::new();
        for (name, value) in &self.plan.vars {
            context.insert(name.as_str(), value);
        }
        context.insert("vars", &self.plan.vars);
        context.insert(
            "runbook",
            &serde_json::json!({
                "name": self.plan.runbook.name,
                "region": self.plan.region,
                "description": self.plan.runbook.description,
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
        for (name, report) in &self.reports {
            steps.insert(name.clone(), step_results(report));
        }
        for (name, reason) in &self.skipped {
            steps.insert(
                name.clone(),
                serde_json::json!({
                    "status": "skipped",
                    "reason": reason.to_string(),
                    "output": "",
                    "outputs": {},
                    "instances": {},
                }),
            );
        }
        context.insert("steps", &steps);
        Scope {
            context,
            secrets: self.secrets.0.keys().cloned().collect(),
            parameters: step.parameters.keys().cloned().collect(),
        }
    }

    async fn run_rollback(&mut self) -> Vec<StepSummary> {
        let mut out = Vec::new();
        let (step_tx, mut step_rx) = mpsc::unbounded_channel();
        for step in &self.plan.rollback {
            let content = match self.prepare(step) {
                Ok(Prepared::Run(content)) => content,
                Ok(Prepared::Skip(reason)) => {
                    let _ = self.events.send(RunEvent::StepSkipped {
                        step: step.name.clone(),
                        reason: reason.clone(),
                    });
                    out.push(StepSummary {
                        name: step.name.clone(),
                        status: StepStatus::Skipped,
                        skip_reason: Some(reason),
                        results: Vec::new(),
                        passed: 0,
                        required: 0,
                        rollback: true,
                    });
                    continue;
                }
                Err(message) => {
                    let _ = self.events.send(RunEvent::Warning {
                        message: format!("rollback step `{}`: {message}", step.name),
                    });
                    continue;
                }
            };
            let ctx = StepContext {
                client: self.client.clone(),
                runbook: self.plan.runbook.name.clone(),
                run_id: self.config.run_id.clone(),
                step: step.clone(),
                instances: step.targets.instances.clone().unwrap_or_default(),
                content,
                secret_values: self.secrets.0.values().cloned().collect(),
                poll: self.config.poll.clone(),
                events: step_tx.clone(),
                cancel: self.cancel.clone(),
            };
            let report = step::execute(ctx).await;
            while let Ok(event) = step_rx.try_recv() {
                self.forward(event);
            }
            if let Some(id) = &report.command_id {
                self.commands.push(id.clone());
            }
            out.push(StepSummary {
                name: step.name.clone(),
                status: report.status,
                skip_reason: None,
                passed: report.passed,
                required: report.required,
                results: report.results,
                rollback: true,
            });
        }
        out
    }

    /// Deletes the commands this run created, unless told to keep them.
    async fn cleanup(&mut self) {
        if self.config.keep_commands {
            return;
        }
        for command_id in std::mem::take(&mut self.commands) {
            match self
                .client
                .call(&calls::delete_command(command_id.clone()))
                .await
            {
                Ok(_) => {
                    let _ = self.events.send(RunEvent::CommandDeleted { command_id });
                }
                Err(error) => {
                    let _ = self.events.send(RunEvent::Warning {
                        message: format!("could not delete command `{command_id}`: {error}"),
                    });
                }
            }
        }
    }

    fn summary(&self, index: usize, step: &PlanStep) -> StepSummary {
        let status = match &self.states[index] {
            State::Done(status) => *status,
            State::Pending | State::Running => StepStatus::Skipped,
        };
        let report = self.reports.get(&step.name);
        StepSummary {
            name: step.name.clone(),
            status,
            skip_reason: self.skipped.get(&step.name).cloned(),
            results: report.map(|r| r.results.clone()).unwrap_or_default(),
            passed: report.map_or(0, |r| r.passed),
            required: report.map_or(0, |r| r.required),
            rollback: false,
        }
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
