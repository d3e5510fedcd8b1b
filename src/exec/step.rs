//! One step from start to finish: CreateCommand, InvokeCommand in waves of batches, polling
//! every invocation of a wave until its instances are final, reading the results, gating,
//! retries of the failed instances and the error budget.
//!
//! A step task shares no state: it reads its [`StepContext`], sends [`RunEvent`]s tagged with
//! its slot and returns a [`StepReport`] to the scheduler, which owns the run. Every write
//! carries a ClientToken derived from the run id, the step, its round, batch and attempt, so
//! a request retried after a broken connection, or re-sent by a resumed run, is never
//! executed twice.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::cloud::Client;
use crate::cloud::actions::{
    DescribeInvocationResults, DescribeInvocations, InvocationResult, StopInvocation,
};
use crate::cloud::error::CallError;
use crate::cloud::id::{CommandId, InstanceId, InvokeId};
use crate::cloud::retry::{Backoff, Jitter};
use crate::cloud::status::InstanceInvocationStatus;
use crate::exec::event::{Cancel, RunEvent, StepStatus, StopCause};
use crate::exec::gate::{self, InstanceResult, InstanceState, Output};
use crate::plan::calls;
use crate::plan::model::{PlanStep, hex};
use crate::runbook::model::Amount;

/// How long past a step's Timeout the client keeps waiting, by default, before it stops the
/// invocation itself: the agent needs a moment to report a kill, and the service to record it.
pub const DEFAULT_TIMEOUT_GRACE: Duration = Duration::from_secs(30);

/// At most this many instances go into one StopInvocation (reference §10).
pub const MAX_INSTANCES_PER_STOP: usize = 50;

/// Page size of DescribeInvocationResults (the maximum, reference §10).
pub const RESULTS_PAGE_SIZE: u32 = 50;

/// How to poll.
#[derive(Debug, Clone)]
pub struct PollConfig {
    /// First delay between polls.
    pub initial: Duration,
    /// Growth per poll.
    pub factor: f64,
    /// Longest delay between polls.
    pub cap: Duration,
    /// Jitter seed; `None` draws one.
    pub seed: Option<u64>,
}

impl Default for PollConfig {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(250),
            factor: 1.5,
            cap: Duration::from_secs(5),
            seed: None,
        }
    }
}

/// What a resumed run already knows about the round it continues.
#[derive(Debug, Clone, Default)]
pub struct StepResume {
    /// The round's command, still existing.
    pub command: Option<CommandId>,
    /// Invocations by (batch key, attempt).
    pub invocations: BTreeMap<(String, u32), InvokeId>,
}

/// Everything one step needs.
#[derive(Debug, Clone)]
pub struct StepContext {
    /// The API client.
    pub client: Client,
    /// Runbook name, for command names and tags.
    pub runbook: String,
    /// Run id, for ClientTokens and tags.
    pub run_id: String,
    /// The step's slot in the run (its plan position; rollback steps follow the main ones).
    pub slot: usize,
    /// The step.
    pub step: PlanStep,
    /// All its instances, in target order.
    pub instances: Vec<InstanceId>,
    /// The instances this round runs (all of them, unless a resumed run keeps some results).
    pub to_run: Vec<InstanceId>,
    /// Results kept from an earlier round.
    pub carried: Vec<InstanceResult>,
    /// 0, then one more for every round a resumed run starts with a new command.
    pub round: u32,
    /// What a resumed run knows of this round.
    pub resume: StepResume,
    /// The script to send, secrets filled in.
    pub content: String,
    /// Secret values to mask in output echoed back.
    pub secret_values: Vec<String>,
    /// Polling.
    pub poll: PollConfig,
    /// How long past the Timeout to wait before StopInvocation.
    pub timeout_grace: Duration,
    /// Where events go, tagged with the slot.
    pub events: mpsc::UnboundedSender<(usize, RunEvent)>,
    /// Cancellation.
    pub cancel: watch::Receiver<Cancel>,
}

/// One invocation of a step, for reports and the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvocationRecord {
    /// The task.
    pub invoke_id: InvokeId,
    /// Batch key.
    pub batch: String,
    /// Attempt (0, then retries).
    pub attempt: u32,
    /// Its instances.
    pub instances: Vec<InstanceId>,
}

/// What a step did.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// How it ended.
    pub status: StepStatus,
    /// Per-instance results, in target order.
    pub results: Vec<InstanceResult>,
    /// The command of this round, for cleanup.
    pub command_id: Option<CommandId>,
    /// Instances that passed.
    pub passed: usize,
    /// Instances required to pass.
    pub required: usize,
    /// The API failure that ended it, if any.
    pub error: Option<CallError>,
    /// Whether more instances failed than `max_errors` allows.
    pub budget_exceeded: bool,
    /// Its invocations, in the order they were made.
    pub invocations: Vec<InvocationRecord>,
}

impl StepReport {
    /// A report for a step that failed before it reached the API.
    pub fn failed_early(required: usize) -> Self {
        Self {
            status: StepStatus::Failed,
            results: Vec::new(),
            command_id: None,
            passed: 0,
            required,
            error: None,
            budget_exceeded: false,
            invocations: Vec::new(),
        }
    }
}

/// The ClientToken of one write: derived from the run, step, batch and attempt, so a retried
/// request reuses it and a resumed run never invokes the same batch twice.
pub fn client_token(run_id: &str, step: &str, batch: &str, attempt: u32) -> String {
    let digest = Sha256::digest(format!("{run_id}/{step}/{batch}/{attempt}").as_bytes());
    format!("rb-{}", &hex(&digest)[..40])
}

/// An amount from a plan; plans are integrity-checked, so a bad one means "all".
fn amount(text: &str) -> Amount {
    Amount::parse(text).unwrap_or(Amount::Percent(100))
}

/// Instances that must pass out of `total`.
pub fn required_of(step: &PlanStep, total: usize) -> usize {
    calls::required(amount(&step.gate.min_success), total)
}

/// Failed instances `step` tolerates out of `total` (see [`calls::error_budget`]).
pub fn budget_of(step: &PlanStep, total: usize) -> usize {
    calls::error_budget(
        step.rate_control.max_errors.as_deref().map(amount),
        amount(&step.gate.min_success),
        total,
    )
}

/// Runs one step.
pub async fn execute(ctx: StepContext) -> StepReport {
    let total = ctx.instances.len();
    let required = required_of(&ctx.step, total);
    let _ = ctx.events.send((
        ctx.slot,
        RunEvent::StepStarted {
            step: ctx.step.name.clone(),
            instances: total,
            round: ctx.round,
            to_run: ctx.to_run.clone(),
        },
    ));
    let carried_failed = ctx.carried.iter().filter(|r| !r.passed()).count();
    let mut run = StepRun {
        results: ctx
            .carried
            .iter()
            .map(|r| (r.instance.clone(), r.clone()))
            .collect(),
        failed: carried_failed,
        budget: budget_of(&ctx.step, total),
        budget_exceeded: false,
        launched: 0,
        command_id: None,
        invocations: Vec::new(),
        ctx: &ctx,
    };
    let error = run.run().await.err();
    let budget_exceeded = run.budget_exceeded;
    let command_id = run.command_id.take();
    let invocations = std::mem::take(&mut run.invocations);
    let mut by_id = std::mem::take(&mut run.results);
    let mut results = Vec::with_capacity(total);
    for id in &ctx.instances {
        let result = by_id.remove(id).unwrap_or_else(|| {
            let result = InstanceResult::not_launched(id.clone());
            let _ = ctx.events.send((
                ctx.slot,
                RunEvent::InstanceFinished {
                    step: ctx.step.name.clone(),
                    invoke_id: None,
                    attempt: 0,
                    result: Box::new(result.clone()),
                },
            ));
            result
        });
        results.push(result);
    }
    let passed = results.iter().filter(|r| r.passed()).count();
    let cancel = *ctx.cancel.borrow();
    let interrupted = cancel != Cancel::None
        && results.iter().any(|r| {
            r.state == InstanceState::NotLaunched
                || (cancel == Cancel::StopRunning && r.state == InstanceState::Stopped)
        });
    let status = if error.is_some() {
        StepStatus::Failed
    } else if interrupted {
        StepStatus::Cancelled
    } else if budget_exceeded {
        StepStatus::Failed
    } else if passed >= required {
        StepStatus::Succeeded
    } else {
        StepStatus::Failed
    };
    let _ = ctx.events.send((
        ctx.slot,
        RunEvent::StepFinished {
            step: ctx.step.name.clone(),
            status,
            passed,
            total,
            required,
        },
    ));
    StepReport {
        status,
        results,
        command_id,
        passed,
        required,
        error,
        budget_exceeded,
        invocations,
    }
}

/// One invocation being waited for.
struct Waiting {
    invoke_id: InvokeId,
    instances: Vec<InstanceId>,
    deadline: Instant,
    /// Instances not final at the last poll.
    pending: Vec<InstanceId>,
    /// When StopInvocation was sent, and why.
    stopped: Option<(Instant, StopCause)>,
    /// Instances stopped because they ran past the deadline.
    timed_out: BTreeSet<InstanceId>,
}

/// The mutable state of one step's execution.
struct StepRun<'a> {
    ctx: &'a StepContext,
    results: BTreeMap<InstanceId, InstanceResult>,
    failed: usize,
    budget: usize,
    budget_exceeded: bool,
    launched: usize,
    command_id: Option<CommandId>,
    invocations: Vec<InvocationRecord>,
}

impl StepRun<'_> {
    fn emit(&self, event: RunEvent) {
        let _ = self.ctx.events.send((self.ctx.slot, event));
    }

    fn cancelled(&self) -> bool {
        *self.ctx.cancel.borrow() != Cancel::None
    }

    /// Whether `more` failures on top of those counted trip the error budget. Without an
    /// explicit `max_errors` the budget is what `min_success` allows, and it only matters
    /// while there is something left to launch (otherwise the gate decides alone).
    fn over_budget(&self, more: usize) -> bool {
        let explicit = self.ctx.step.rate_control.max_errors.is_some();
        self.failed + more > self.budget && (explicit || self.launched < self.ctx.to_run.len())
    }

    fn token(&self, batch: &str, attempt: u32) -> String {
        client_token(
            &self.ctx.run_id,
            &self.ctx.step.name,
            &format!("r{}/{batch}", self.ctx.round),
            attempt,
        )
    }

    async fn run(&mut self) -> Result<(), CallError> {
        let ctx = self.ctx;
        let step = &ctx.step;
        if ctx.to_run.is_empty() {
            return Ok(());
        }
        let command_id = if let Some(id) = &ctx.resume.command {
            id.clone()
        } else {
            let create = calls::create_command(
                &ctx.runbook,
                step,
                &ctx.content,
                &ctx.run_id,
                Some(self.token("create", 0)),
            );
            let id = ctx.client.call(&create).await?.command_id;
            self.emit(RunEvent::CommandCreated {
                step: step.name.clone(),
                command_id: id.clone(),
            });
            id
        };
        self.command_id = Some(command_id.clone());
        let total = ctx.instances.len();
        let wave_size = step
            .rate_control
            .concurrency
            .as_deref()
            .map_or(total, |c| amount(c).of(total))
            .max(1);
        let waves = calls::waves(&ctx.to_run, wave_size);
        for (w, wave) in waves.iter().enumerate() {
            if self.cancelled() || self.budget_exceeded {
                break;
            }
            let batches: Vec<(String, Vec<InstanceId>)> = wave
                .iter()
                .enumerate()
                .map(|(b, ids)| (format!("w{w}b{b}"), ids.to_vec()))
                .collect();
            let mut results = self
                .attempt(&command_id, &batches, 0, step.retries == 0)
                .await?;
            for attempt in 1..=step.retries {
                let failed: Vec<InstanceId> = results
                    .values()
                    .filter(|r| !r.passed())
                    .map(|r| r.instance.clone())
                    .collect();
                if failed.is_empty() || self.cancelled() {
                    break;
                }
                let mut cancel = ctx.cancel.clone();
                tokio::select! {
                    () = tokio::time::sleep(retry_delay(attempt)) => {}
                    _ = cancel.changed() => {}
                }
                if self.cancelled() {
                    break;
                }
                let batches: Vec<(String, Vec<InstanceId>)> = failed
                    .chunks(calls::MAX_INSTANCES_PER_INVOKE)
                    .enumerate()
                    .map(|(b, ids)| (format!("w{w}b{b}"), ids.to_vec()))
                    .collect();
                let retried = self
                    .attempt(&command_id, &batches, attempt, attempt == step.retries)
                    .await?;
                results.extend(retried);
            }
            self.failed += results.values().filter(|r| !r.passed()).count();
            self.results.extend(results);
            if self.over_budget(0) && !self.budget_exceeded {
                self.budget_exceeded = true;
                self.emit(RunEvent::ErrorBudgetExceeded {
                    step: step.name.clone(),
                    failed: self.failed,
                    budget: self.budget,
                    running: 0,
                    not_launched: ctx.to_run.len() - self.launched,
                });
            }
        }
        Ok(())
    }

    /// Invokes (or re-attaches) each batch, waits for all of them, reads and gates the
    /// results. `last` says whether failures now are final (no retry follows), so that the
    /// error budget may be checked while the wave runs.
    async fn attempt(
        &mut self,
        command_id: &CommandId,
        batches: &[(String, Vec<InstanceId>)],
        attempt: u32,
        last: bool,
    ) -> Result<BTreeMap<InstanceId, InstanceResult>, CallError> {
        let ctx = self.ctx;
        let step = &ctx.step;
        let mut waiting = Vec::with_capacity(batches.len());
        for (batch, instances) in batches {
            if self.cancelled() {
                break;
            }
            let known = ctx.resume.invocations.get(&(batch.clone(), attempt));
            let invoke_id = if let Some(id) = known {
                self.emit(RunEvent::Reattached {
                    step: step.name.clone(),
                    invoke_id: id.clone(),
                    instances: instances.clone(),
                    attempt,
                    batch: batch.clone(),
                });
                id.clone()
            } else {
                let invoke = calls::invoke_command(
                    step,
                    command_id.clone(),
                    instances,
                    Some(self.token(batch, attempt)),
                );
                let id = ctx.client.call(&invoke).await?.invoke_id;
                self.emit(RunEvent::Invoked {
                    step: step.name.clone(),
                    invoke_id: id.clone(),
                    instances: instances.clone(),
                    attempt,
                    batch: batch.clone(),
                });
                id
            };
            if attempt == 0 {
                self.launched += instances.len();
            }
            self.invocations.push(InvocationRecord {
                invoke_id: invoke_id.clone(),
                batch: batch.clone(),
                attempt,
                instances: instances.clone(),
            });
            waiting.push(Waiting {
                invoke_id,
                instances: instances.clone(),
                deadline: Instant::now()
                    + Duration::from_secs(step.timeout_secs)
                    + ctx.timeout_grace,
                pending: instances.clone(),
                stopped: None,
                timed_out: BTreeSet::new(),
            });
        }
        self.wait(&mut waiting, last).await?;
        let mut out = BTreeMap::new();
        for inv in &waiting {
            let records = read_results(ctx, &inv.invoke_id).await?;
            for id in &inv.instances {
                let result = self.result_of(id, records.get(id), inv);
                self.emit(RunEvent::InstanceFinished {
                    step: step.name.clone(),
                    invoke_id: Some(inv.invoke_id.clone()),
                    attempt,
                    result: Box::new(result.clone()),
                });
                out.insert(id.clone(), result);
            }
        }
        Ok(out)
    }

    fn result_of(
        &self,
        id: &InstanceId,
        record: Option<&InvocationResult>,
        inv: &Waiting,
    ) -> InstanceResult {
        let timed_out = inv.timed_out.contains(id);
        let state = match record {
            Some(r) => {
                let state = InstanceState::from_status(&r.invocation_status, r.exit_code);
                let ran_out = matches!(
                    state,
                    InstanceState::Stopped | InstanceState::Unknown { .. }
                );
                if timed_out && (ran_out || !r.invocation_status.is_final()) {
                    InstanceState::TimedOut
                } else if !r.invocation_status.is_final() {
                    // Stopped by the second Ctrl-C, and the service never confirmed it.
                    InstanceState::Stopped
                } else {
                    state
                }
            }
            None if timed_out => InstanceState::TimedOut,
            None => InstanceState::NoRecord,
        };
        make_result(self.ctx, id, state, record)
    }

    /// Polls DescribeInvocations with backoff until every instance of every invocation is
    /// final. Past an invocation's deadline, or on the second Ctrl-C, it stops the remaining
    /// instances (at most 50 per call) and waits one more grace period for them to stop.
    async fn wait(&mut self, waiting: &mut [Waiting], last: bool) -> Result<(), CallError> {
        let ctx = self.ctx;
        let poll = &ctx.poll;
        let jitter = poll.seed.map_or_else(Jitter::from_entropy, Jitter::seeded);
        let mut delays = Backoff::new(poll.initial, poll.factor, poll.cap, Some(jitter));
        let mut cancel = ctx.cancel.clone();
        let accepted = &ctx.step.gate.exit_codes;
        loop {
            let mut failed_now = 0;
            for inv in waiting.iter_mut().filter(|w| !w.pending.is_empty()) {
                let states = poll_states(ctx, &inv.invoke_id).await?;
                inv.pending
                    .retain(|id| states.get(id).is_none_or(|(status, _)| !status.is_final()));
                failed_now += inv
                    .instances
                    .iter()
                    .filter_map(|id| states.get(id))
                    .filter(|(status, code)| {
                        status.is_final()
                            && !(matches!(
                                status,
                                InstanceInvocationStatus::Success
                                    | InstanceInvocationStatus::Failed
                            ) && accepted.contains(&code.unwrap_or(0)))
                    })
                    .count();
            }
            let running: usize = waiting.iter().map(|w| w.pending.len()).sum();
            if running == 0 {
                return Ok(());
            }
            if last
                && !self.budget_exceeded
                && *cancel.borrow() != Cancel::StopRunning
                && self.over_budget(failed_now)
            {
                self.budget_exceeded = true;
                self.emit(RunEvent::ErrorBudgetExceeded {
                    step: ctx.step.name.clone(),
                    failed: self.failed + failed_now,
                    budget: self.budget,
                    running,
                    not_launched: ctx.to_run.len() - self.launched,
                });
            }
            let now = Instant::now();
            let hard = *cancel.borrow() == Cancel::StopRunning;
            for inv in waiting
                .iter_mut()
                .filter(|w| !w.pending.is_empty() && w.stopped.is_none())
            {
                let cause = if now >= inv.deadline {
                    inv.timed_out.extend(inv.pending.iter().cloned());
                    StopCause::Timeout
                } else if hard {
                    StopCause::Cancel
                } else {
                    continue;
                };
                for chunk in inv.pending.chunks(MAX_INSTANCES_PER_STOP) {
                    ctx.client
                        .call(&StopInvocation {
                            invoke_id: inv.invoke_id.clone(),
                            instance_ids: chunk.to_vec(),
                        })
                        .await?;
                }
                self.emit(RunEvent::StopSent {
                    step: ctx.step.name.clone(),
                    invoke_id: inv.invoke_id.clone(),
                    instances: inv.pending.clone(),
                    cause,
                });
                inv.stopped = Some((Instant::now(), cause));
            }
            let open: Vec<&Waiting> = waiting.iter().filter(|w| !w.pending.is_empty()).collect();
            if open.iter().all(|w| {
                w.stopped
                    .is_some_and(|(at, _)| Instant::now() >= at + ctx.timeout_grace)
            }) {
                // The service never confirmed the stops; report what is known.
                return Ok(());
            }
            let wake = open
                .iter()
                .map(|w| match w.stopped {
                    Some((at, _)) => at + ctx.timeout_grace,
                    None => w.deadline,
                })
                .min()
                .unwrap_or(now);
            let delay = delays.next().expect("backoff never ends");
            let sleep = delay.min(wake.saturating_duration_since(Instant::now()));
            tokio::select! {
                () = tokio::time::sleep(sleep) => {}
                _ = cancel.changed() => {}
            }
        }
    }
}

/// Backoff between retries of failed instances: 2 s, 4 s, 8 s, … at most 60 s.
fn retry_delay(attempt: u32) -> Duration {
    Duration::from_secs(2u64.saturating_pow(attempt).min(60))
}

/// The per-instance states of a task, from DescribeInvocations.
async fn poll_states(
    ctx: &StepContext,
    invoke_id: &InvokeId,
) -> Result<BTreeMap<InstanceId, (InstanceInvocationStatus, Option<i64>)>, CallError> {
    let response = ctx
        .client
        .call(&DescribeInvocations {
            invoke_id: Some(invoke_id.clone()),
            include_output: Some(false),
            max_results: Some(1),
            ..DescribeInvocations::default()
        })
        .await?;
    Ok(response
        .invocations
        .invocation
        .into_iter()
        .find(|i| &i.invoke_id == invoke_id)
        .map(|i| {
            i.invoke_instances
                .invoke_instance
                .into_iter()
                .map(|ii| (ii.instance_id, (ii.invocation_status, ii.exit_code)))
                .collect()
        })
        .unwrap_or_default())
}

/// Reads every page of DescribeInvocationResults for a task.
async fn read_results(
    ctx: &StepContext,
    invoke_id: &InvokeId,
) -> Result<BTreeMap<InstanceId, InvocationResult>, CallError> {
    let mut out = BTreeMap::new();
    let mut next_token: Option<String> = None;
    loop {
        let response = ctx
            .client
            .call(&DescribeInvocationResults {
                invoke_id: Some(invoke_id.clone()),
                max_results: Some(RESULTS_PAGE_SIZE),
                next_token: next_token.clone(),
                ..DescribeInvocationResults::default()
            })
            .await?;
        let page = response.invocation;
        for record in page.invocation_results.invocation_result {
            out.insert(record.instance_id.clone(), record);
        }
        // The last page has an empty NextToken; never rely on TotalCount (case B03).
        match page.next_token.as_str() {
            "" => return Ok(out),
            token if next_token.as_deref() == Some(token) => return Ok(out),
            token => next_token = Some(token.to_owned()),
        }
    }
}

fn make_result(
    ctx: &StepContext,
    instance: &InstanceId,
    state: InstanceState,
    record: Option<&InvocationResult>,
) -> InstanceResult {
    let encoding = ctx
        .step
        .output_encoding
        .as_deref()
        .and_then(|label| encoding_rs::Encoding::for_label(label.as_bytes()));
    let mut output = match record {
        Some(r) => Output::decode(r.output.as_deref(), r.dropped, encoding),
        None => Output::default(),
    };
    if let Some(text) = &mut output.text {
        *text = crate::exec::mask::mask(text, &ctx.secret_values);
    }
    let exit_code = record.and_then(|r| r.exit_code);
    let (failures, checked_truncated) = gate::check(&ctx.step.gate, &state, exit_code, &output);
    let captures = output
        .text
        .as_deref()
        .map(|text| capture_outputs(&ctx.step.outputs, text))
        .unwrap_or_default();
    InstanceResult {
        instance: instance.clone(),
        state,
        exit_code,
        error_code: record.map(|r| r.error_code.clone()).unwrap_or_default(),
        error_info: record.map(|r| r.error_info.clone()).unwrap_or_default(),
        output,
        captures,
        failures,
        checked_truncated,
        start_time: record.map(|r| r.start_time.clone()).unwrap_or_default(),
        finish_time: record.map(|r| r.finished_time.clone()).unwrap_or_default(),
    }
}

/// Applies the step's `outputs` regexes: the first capture group, or the whole match.
fn capture_outputs(outputs: &BTreeMap<String, String>, text: &str) -> BTreeMap<String, String> {
    outputs
        .iter()
        .filter_map(|(name, pattern)| {
            let re = regex::Regex::new(pattern).ok()?;
            let caps = re.captures(text)?;
            let m = caps.get(1).or_else(|| caps.get(0))?;
            Some((name.clone(), m.as_str().to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_tokens_are_stable_ascii_and_short() {
        let a = client_token("run-1", "patch", "r0/w0b0", 0);
        assert_eq!(a, client_token("run-1", "patch", "r0/w0b0", 0));
        assert_ne!(a, client_token("run-1", "patch", "r0/w0b0", 1));
        assert_ne!(a, client_token("run-1", "patch", "r0/w0b1", 0));
        assert_ne!(a, client_token("run-1", "patch", "r1/w0b0", 0));
        assert_ne!(a, client_token("run-2", "patch", "r0/w0b0", 0));
        assert!(a.is_ascii() && a.len() <= 64);
    }

    #[test]
    fn captures_first_group_or_whole_match() {
        let outputs: BTreeMap<String, String> = [
            ("usage".to_owned(), r"(\d+)%".to_owned()),
            ("all".to_owned(), r"\d+%".to_owned()),
            ("none".to_owned(), r"zzz".to_owned()),
        ]
        .into();
        let got = capture_outputs(&outputs, "/dev/vda1 87% /\n");
        assert_eq!(got["usage"], "87");
        assert_eq!(got["all"], "87%");
        assert!(!got.contains_key("none"));
    }

    #[test]
    fn retry_delays_double_up_to_a_minute() {
        let got: Vec<u64> = (1..=7).map(|a| retry_delay(a).as_secs()).collect();
        assert_eq!(got, [2, 4, 8, 16, 32, 60, 60]);
    }
}
