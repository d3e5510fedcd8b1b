//! One step from start to finish: CreateCommand, InvokeCommand in waves of batches, polling
//! until every instance is final, reading results, gating, retries and the error budget.
//!
//! A step task shares no state: it reads its [`StepContext`], sends [`RunEvent`]s and returns
//! a [`StepReport`] to the scheduler, which owns the run.

use std::collections::BTreeMap;
use std::time::Duration;

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
use crate::exec::event::{RunEvent, StepStatus};
use crate::exec::gate::{self, InstanceResult, InstanceState, Output};
use crate::plan::calls;
use crate::plan::model::{PlanStep, hex};
use crate::runbook::model::Amount;

/// How long past a step's Timeout the client keeps waiting before it stops the invocation
/// itself: the agent needs a moment to report a kill, and the service to record it.
pub const TIMEOUT_GRACE: Duration = Duration::from_secs(30);

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

/// How far a cancellation has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Cancel {
    /// Keep going.
    #[default]
    None,
    /// Launch nothing new; let running invocations finish.
    StopLaunching,
    /// Stop running invocations too.
    StopRunning,
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
    /// The step.
    pub step: PlanStep,
    /// Its instances, resolved.
    pub instances: Vec<InstanceId>,
    /// The script to send, secrets filled in.
    pub content: String,
    /// Secret values to mask in output echoed back.
    pub secret_values: Vec<String>,
    /// Polling.
    pub poll: PollConfig,
    /// Where events go.
    pub events: mpsc::UnboundedSender<RunEvent>,
    /// Cancellation.
    pub cancel: watch::Receiver<Cancel>,
}

/// What a step did.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// How it ended.
    pub status: StepStatus,
    /// Per-instance results, in target order.
    pub results: Vec<InstanceResult>,
    /// The command it created, for cleanup.
    pub command_id: Option<CommandId>,
    /// Instances that passed.
    pub passed: usize,
    /// Instances required to pass.
    pub required: usize,
    /// The API failure that ended it, if any.
    pub error: Option<CallError>,
}

/// The ClientToken of one write: derived from the run, step, batch and attempt, so a retried
/// request reuses it and a resumed run never invokes the same batch twice.
pub fn client_token(run_id: &str, step: &str, batch: &str, attempt: u32) -> String {
    let digest = Sha256::digest(format!("{run_id}/{step}/{batch}/{attempt}").as_bytes());
    format!("rb-{}", &hex(&digest)[..40])
}

/// Runs one step.
pub async fn execute(ctx: StepContext) -> StepReport {
    let total = ctx.instances.len();
    let required = amount(&ctx.step.gate.min_success).of(total).min(total);
    let mut report = StepReport {
        status: StepStatus::Failed,
        results: Vec::new(),
        command_id: None,
        passed: 0,
        required,
        error: None,
    };
    let _ = ctx.events.send(RunEvent::StepStarted {
        step: ctx.step.name.clone(),
        instances: total,
    });
    match run_waves(&ctx, &mut report).await {
        Ok(()) => {}
        Err(error) => report.error = Some(error),
    }
    report.passed = report.results.iter().filter(|r| r.passed()).count();
    let cancelled = *ctx.cancel.borrow() != Cancel::None && report.results.len() < total;
    report.status = if report.error.is_none() && report.passed >= required && !cancelled {
        StepStatus::Succeeded
    } else if cancelled {
        StepStatus::Cancelled
    } else {
        StepStatus::Failed
    };
    let _ = ctx.events.send(RunEvent::StepFinished {
        step: ctx.step.name.clone(),
        status: report.status,
        passed: report.passed,
        total,
        required,
    });
    report
}

async fn run_waves(ctx: &StepContext, report: &mut StepReport) -> Result<(), CallError> {
    let step = &ctx.step;
    let create = calls::create_command(
        &ctx.runbook,
        step,
        &ctx.content,
        &ctx.run_id,
        Some(client_token(&ctx.run_id, &step.name, "create", 0)),
    );
    let command_id = ctx.client.call(&create).await?.command_id;
    report.command_id = Some(command_id.clone());
    let _ = ctx.events.send(RunEvent::CommandCreated {
        step: step.name.clone(),
        command_id: command_id.clone(),
    });

    let total = ctx.instances.len();
    let wave_size = step
        .rate_control
        .concurrency
        .as_deref()
        .map_or(total, |c| amount(c).of(total))
        .max(1);
    // Without an explicit `max_errors`, the step tolerates what `min_success` allows.
    let budget = step
        .rate_control
        .max_errors
        .as_deref()
        .map_or(total - report.required, |m| amount(m).of(total));
    let waves = calls::waves(&ctx.instances, wave_size);
    let mut failed = 0;
    let mut launched = 0;
    for (w, wave) in waves.iter().enumerate() {
        if *ctx.cancel.borrow() != Cancel::None {
            break;
        }
        let wave_instances: Vec<InstanceId> = wave.iter().flat_map(|b| b.iter().cloned()).collect();
        launched += wave_instances.len();
        let mut results = run_batches(ctx, &command_id, wave, &format!("w{w}"), 0).await?;
        for attempt in 1..=step.retries {
            let failed_ids: Vec<InstanceId> = results
                .values()
                .filter(|r| !r.passed())
                .map(|r| r.instance.clone())
                .collect();
            if failed_ids.is_empty() || *ctx.cancel.borrow() != Cancel::None {
                break;
            }
            tokio::time::sleep(retry_delay(attempt)).await;
            let batches: Vec<&[InstanceId]> =
                failed_ids.chunks(calls::MAX_INSTANCES_PER_INVOKE).collect();
            let retried =
                run_batches(ctx, &command_id, &batches, &format!("w{w}"), attempt).await?;
            results.extend(retried);
        }
        let wave_failed = results.values().filter(|r| !r.passed()).count();
        for id in &wave_instances {
            if let Some(result) = results.remove(id) {
                report.results.push(result);
            }
        }
        failed += wave_failed;
        if failed > budget && w + 1 < waves.len() {
            let _ = ctx.events.send(RunEvent::ErrorBudgetExceeded {
                step: step.name.clone(),
                failed,
                running: 0,
                not_launched: total - launched,
            });
            break;
        }
    }
    Ok(())
}

/// An amount from a plan; plans are integrity-checked, so a bad one means "all".
fn amount(text: &str) -> Amount {
    Amount::parse(text).unwrap_or(Amount::Percent(100))
}

/// Backoff between retries of failed instances: 2 s, 4 s, 8 s, … at most 60 s.
fn retry_delay(attempt: u32) -> Duration {
    Duration::from_secs(2u64.saturating_pow(attempt).min(60))
}

/// Invokes each batch, waits for all, reads and gates the results.
async fn run_batches(
    ctx: &StepContext,
    command_id: &CommandId,
    batches: &[&[InstanceId]],
    label: &str,
    attempt: u32,
) -> Result<BTreeMap<InstanceId, InstanceResult>, CallError> {
    let step = &ctx.step;
    let mut invocations = Vec::with_capacity(batches.len());
    for (b, batch) in batches.iter().enumerate() {
        if *ctx.cancel.borrow() != Cancel::None {
            break;
        }
        let invoke = calls::invoke_command(
            step,
            command_id.clone(),
            batch,
            Some(client_token(
                &ctx.run_id,
                &step.name,
                &format!("{label}b{b}"),
                attempt,
            )),
        );
        let invoke_id = ctx.client.call(&invoke).await?.invoke_id;
        let _ = ctx.events.send(RunEvent::Invoked {
            step: step.name.clone(),
            invoke_id: invoke_id.clone(),
            instances: batch.to_vec(),
            attempt,
        });
        invocations.push((invoke_id, batch.to_vec(), Instant::now()));
    }
    let mut results = BTreeMap::new();
    for (invoke_id, instances, started) in invocations {
        let deadline = started + Duration::from_secs(step.timeout_secs) + TIMEOUT_GRACE;
        let timed_out = wait_final(ctx, &invoke_id, &instances, deadline).await?;
        let records = read_results(ctx, &invoke_id).await?;
        for id in instances {
            let result = match records.get(&id) {
                Some(record) if timed_out.contains(&id) && !record.invocation_status.is_final() => {
                    make_result(ctx, &id, InstanceState::TimedOut, Some(record))
                }
                Some(record) => {
                    let state =
                        InstanceState::from_status(&record.invocation_status, record.exit_code);
                    make_result(ctx, &id, state, Some(record))
                }
                None if timed_out.contains(&id) => {
                    make_result(ctx, &id, InstanceState::TimedOut, None)
                }
                None => make_result(ctx, &id, InstanceState::NoRecord, None),
            };
            let _ = ctx.events.send(RunEvent::InstanceFinished {
                step: step.name.clone(),
                invoke_id: invoke_id.clone(),
                result: Box::new(result.clone()),
            });
            results.insert(id, result);
        }
    }
    Ok(results)
}

/// Polls DescribeInvocations with backoff until every instance is final. Past `deadline`, or on
/// a second Ctrl-C, it stops the remaining instances and waits for them to stop; it returns the
/// instances it stopped for the deadline.
async fn wait_final(
    ctx: &StepContext,
    invoke_id: &InvokeId,
    instances: &[InstanceId],
    deadline: Instant,
) -> Result<Vec<InstanceId>, CallError> {
    let poll = &ctx.poll;
    let jitter = poll.seed.map_or_else(Jitter::from_entropy, Jitter::seeded);
    let mut delays = Backoff::new(poll.initial, poll.factor, poll.cap, Some(jitter));
    let mut stopped_for_deadline: Vec<InstanceId> = Vec::new();
    let mut stop_sent = false;
    let mut cancel = ctx.cancel.clone();
    loop {
        let response = ctx
            .client
            .call(&DescribeInvocations {
                invoke_id: Some(invoke_id.clone()),
                include_output: Some(false),
                max_results: Some(1),
                ..DescribeInvocations::default()
            })
            .await?;
        let states: BTreeMap<InstanceId, InstanceInvocationStatus> = response
            .invocations
            .invocation
            .into_iter()
            .find(|i| &i.invoke_id == invoke_id)
            .map(|i| {
                i.invoke_instances
                    .invoke_instance
                    .into_iter()
                    .map(|ii| (ii.instance_id, ii.invocation_status))
                    .collect()
            })
            .unwrap_or_default();
        let pending: Vec<InstanceId> = instances
            .iter()
            .filter(|id| states.get(*id).is_none_or(|s| !s.is_final()))
            .cloned()
            .collect();
        if pending.is_empty() {
            return Ok(stopped_for_deadline);
        }
        let past_deadline = Instant::now() >= deadline;
        let hard_cancel = *cancel.borrow() == Cancel::StopRunning;
        if (past_deadline || hard_cancel) && !stop_sent {
            if past_deadline {
                stopped_for_deadline.clone_from(&pending);
            }
            for chunk in pending.chunks(MAX_INSTANCES_PER_STOP) {
                ctx.client
                    .call(&StopInvocation {
                        invoke_id: invoke_id.clone(),
                        instance_ids: chunk.to_vec(),
                    })
                    .await?;
            }
            stop_sent = true;
        }
        if stop_sent && Instant::now() >= deadline + TIMEOUT_GRACE {
            // The service never confirmed the stop; report what we know.
            return Ok(stopped_for_deadline);
        }
        let delay = delays.next().expect("backoff never ends");
        let until_deadline = deadline.saturating_duration_since(Instant::now());
        let sleep = if stop_sent || until_deadline.is_zero() {
            delay
        } else {
            delay.min(until_deadline)
        };
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            _ = cancel.changed() => {}
        }
    }
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
        for secret in ctx.secret_values.iter().filter(|s| !s.is_empty()) {
            *text = text.replace(secret.as_str(), crate::plan::render::MASK);
        }
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
        let a = client_token("run-1", "patch", "w0b0", 0);
        assert_eq!(a, client_token("run-1", "patch", "w0b0", 0));
        assert_ne!(a, client_token("run-1", "patch", "w0b0", 1));
        assert_ne!(a, client_token("run-1", "patch", "w0b1", 0));
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
}
