//! The life of one task on one instance: delivery, the agent's pre-checks, the real or
//! simulated run, and the final record — plus the instance-level timers (StartInstance,
//! InstallCloudAssistant, the stop-mid-run fault).
//!
//! Each step takes the state lock briefly; the run itself happens with the lock released.
//! What a run's outcome means for the record (status, ErrorCode, exit code) is decided here,
//! in [`finish_run`], and nowhere else.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::oneshot;

use crate::cloud::status::{
    CommandType, InstanceInvocationStatus as S, InstanceStatus, RepeatMode,
};
use crate::sandbox::fault::AgentFault;
use crate::sandbox::fleet::{Execution, Os, Simulation};
use crate::sandbox::runner::{self, Interpreter, Outcome, ScriptJob, StopReason};
use crate::sandbox::state::{Inst, Sandbox, State};
use crate::schedule::{Frequency, PreviewOptions, preview};

/// Starts one run task per record of a new task.
pub(crate) fn spawn_runs(sandbox: &Arc<Sandbox>, invoke_id: &str, count: usize) {
    for index in 0..count {
        tokio::spawn(run_one(Arc::clone(sandbox), invoke_id.to_owned(), index));
    }
}

/// What to do for one record, decided under the lock.
enum Plan {
    /// Nothing (already stopped, or not pending).
    Skip,
    /// The agent cannot be reached: end `Aborted` with this code after the delivery timeout.
    Abort(&'static str),
    /// Accepted but never reported (agent hangs).
    Hang,
    /// Run for real.
    Real(RealPlan),
    /// Pretend.
    Simulated(Simulation),
    /// Cannot run on this machine.
    Error(String),
}

struct RealPlan {
    interpreter: Interpreter,
    script: Vec<u8>,
    script_dir: std::path::PathBuf,
    script_name: String,
    ext: &'static str,
    cwd: std::path::PathBuf,
    env: Vec<(String, String)>,
    /// Whether the working directory was given explicitly (a missing one is an error).
    check_cwd: bool,
}

async fn run_one(sandbox: Arc<Sandbox>, invoke_id: String, index: usize) {
    tokio::time::sleep(sandbox.settings.timing.delivery).await;
    let plan = plan(&sandbox, &invoke_id, index);
    match plan {
        Plan::Skip => sandbox.lock().settle(&invoke_id, index),
        Plan::Abort(code) => {
            tokio::time::sleep(sandbox.settings.timing.delivery_timeout).await;
            let mut state = sandbox.lock();
            if let Some(run) = state
                .invocations
                .get_mut(&invoke_id)
                .and_then(|inv| inv.runs.get_mut(index))
                && run.status == S::Pending
            {
                run.finish(S::Aborted, code, Utc::now());
            }
            state.settle(&invoke_id, index);
        }
        Plan::Error(message) => {
            let mut state = sandbox.lock();
            if let Some(run) = state
                .invocations
                .get_mut(&invoke_id)
                .and_then(|inv| inv.runs.get_mut(index))
                && run.status == S::Pending
            {
                run.finish(S::Error, "ExecutionException", Utc::now());
                run.error_info = message;
            }
            state.settle(&invoke_id, index);
        }
        Plan::Hang => {
            let Some((stop, _)) = mark_running(&sandbox, &invoke_id, index, None) else {
                return;
            };
            let reason = stop.await.unwrap_or(StopReason::Shutdown);
            finish_run(&sandbox, &invoke_id, index, &Outcome::Stopped(reason));
        }
        Plan::Simulated(sim) => {
            let Some((stop, timeout)) = mark_running(&sandbox, &invoke_id, index, Some(false))
            else {
                return;
            };
            let outcome = simulate(&sim, stop, timeout).await;
            if let Outcome::Exited(_) = outcome {
                push_output(&sandbox, &invoke_id, index, &sim.output_bytes());
                if sim.dropped > 0 {
                    add_dropped(&sandbox, &invoke_id, index, sim.dropped);
                }
            }
            finish_run(&sandbox, &invoke_id, index, &outcome);
        }
        Plan::Real(real) => run_real(&sandbox, &invoke_id, index, real).await,
    }
}

async fn run_real(sandbox: &Arc<Sandbox>, invoke_id: &str, index: usize, real: RealPlan) {
    if real.check_cwd && !real.cwd.is_dir() {
        invalid(sandbox, invoke_id, index, "DirectoryNotExists");
        return;
    }
    let path = match runner::write_script(
        &real.script_dir,
        &real.script_name,
        invoke_id,
        real.ext,
        &real.script,
    ) {
        Ok(path) => path,
        Err(e) => {
            finish_run(
                sandbox,
                invoke_id,
                index,
                &Outcome::SpawnFailed(format!("cannot write the script file: {e}")),
            );
            return;
        }
    };
    let Ok(_permit) = sandbox.scripts.acquire().await else {
        return;
    };
    let Some((stop, timeout)) = mark_running(sandbox, invoke_id, index, Some(true)) else {
        return;
    };
    let job = ScriptJob {
        path,
        interpreter: real.interpreter,
        cwd: real.cwd,
        env: real.env,
        timeout,
    };
    let sink_sandbox = Arc::clone(sandbox);
    let sink_id = invoke_id.to_owned();
    let spawn_sandbox = Arc::clone(sandbox);
    let spawn_id = invoke_id.to_owned();
    let outcome = runner::run(
        job,
        move |bytes| push_output(&sink_sandbox, &sink_id, index, bytes),
        stop,
        move |pgid| {
            if let Some(run) = spawn_sandbox
                .lock()
                .invocations
                .get_mut(&spawn_id)
                .and_then(|inv| inv.runs.get_mut(index))
            {
                run.pgid = Some(pgid);
            }
        },
    )
    .await;
    finish_run(sandbox, invoke_id, index, &outcome);
}

fn invalid(sandbox: &Sandbox, invoke_id: &str, index: usize, code: &'static str) {
    let mut state = sandbox.lock();
    if let Some(run) = state
        .invocations
        .get_mut(invoke_id)
        .and_then(|inv| inv.runs.get_mut(index))
    {
        run.finish(S::Invalid, code, Utc::now());
    }
    state.settle(invoke_id, index);
}

/// Decides the plan of a pending record and ends it right away when a pre-check fails.
#[expect(
    clippy::too_many_lines,
    reason = "the agent's pre-checks, one after another in the order of reference §11.1"
)]
fn plan(sandbox: &Sandbox, invoke_id: &str, index: usize) -> Plan {
    let settings = &sandbox.settings;
    let mut state = sandbox.lock();
    let state = &mut *state;
    let Some(inv) = state.invocations.get_mut(invoke_id) else {
        return Plan::Skip;
    };
    let Some(run) = inv.runs.get(index) else {
        return Plan::Skip;
    };
    if run.status != S::Pending {
        return Plan::Skip;
    }
    let inst_index = run.inst;
    if state.instances[inst_index].is_real()
        && let Err(e) = state.instances[inst_index].create_fs()
    {
        return Plan::Error(format!("cannot create the instance's directories: {e}"));
    }
    let Some(inv) = state.invocations.get_mut(invoke_id) else {
        return Plan::Skip;
    };
    let inst = &state.instances[inst_index];
    let now = Utc::now();
    let fail = |inv: &mut crate::sandbox::state::InvocationRec, status, code| {
        inv.runs[index].finish(status, code, now);
        Plan::Skip
    };
    if inst.status != InstanceStatus::Running {
        return fail(inv, S::Aborted, "InstanceNotRunning");
    }
    match inst.agent_fault {
        Some(AgentFault::Down) => return Plan::Abort("ClientNotRunning"),
        Some(AgentFault::Unresponsive) => return Plan::Abort("ClientNotResponse"),
        Some(AgentFault::Hang) => return Plan::Hang,
        None if !inst.agent_running => return Plan::Abort("ClientNotRunning"),
        None => {}
    }
    let command_type = inv.command.command_type.clone();
    let applicable = match inst.spec.os {
        Os::Linux => command_type == CommandType::RunShellScript,
        Os::Windows => command_type.is_windows(),
    };
    if !applicable {
        return fail(inv, S::Invalid, "CommandNotApplicable");
    }
    let user = inv.user_for(inst.spec.os);
    let user_ok = inst.spec.users.contains(&user)
        || (inst.spec.os == Os::Windows && user.eq_ignore_ascii_case("System"));
    if !user_ok {
        return fail(inv, S::Invalid, "AccountNotExists");
    }
    // Built-in parameters are resolved per instance, by the agent, when parameters are on.
    let text = String::from_utf8_lossy(&inv.command.content).into_owned();
    let resolved = crate::sandbox::runner::substitute_params(&text, &inv_parameters(inv));
    let resolved = if inv.command.enable_parameter {
        let values = [
            ("InstanceId", inst.spec.id.as_str()),
            ("RegionId", inst.spec.region.as_str()),
            ("InstanceName", inst.spec.display_name()),
            ("InvokeId", inv.id.as_str()),
            ("CommandId", inv.command.id.as_str()),
            ("AccountId", settings.account_id.as_str()),
        ];
        match crate::sandbox::runner::substitute_builtins(&resolved, &values) {
            Ok(text) => text,
            Err(_) => return fail(inv, S::Invalid, "InvalidEnvironmentParameter"),
        }
    } else {
        resolved
    };
    let working_dir = if inv.working_dir.is_empty() {
        None
    } else {
        Some(inv.working_dir.clone())
    };
    match &inst.spec.execution {
        Execution::Simulated(sim) => {
            if inst.spec.os == Os::Linux
                && let Some(dir) = &working_dir
                && !inst_has_dir(inst, dir)
            {
                return fail(inv, S::Invalid, "DirectoryNotExists");
            }
            Plan::Simulated(sim.clone())
        }
        Execution::Real => {
            let (interpreter, ext, script) = match (inst.spec.os, &command_type) {
                (Os::Linux, _) => (Interpreter::Sh, "sh", resolved.into_bytes()),
                (Os::Windows, CommandType::RunPowerShellScript) if settings.pwsh => {
                    (Interpreter::Pwsh, "ps1", crlf(&resolved).into_bytes())
                }
                _ => {
                    return Plan::Error(format!(
                        "the sandbox cannot run {command_type} for real on this machine{}; \
                         give instance {} a simulated execution in the fleet file",
                        if command_type == CommandType::RunPowerShellScript {
                            " (pwsh is not installed)"
                        } else {
                            ""
                        },
                        inst.spec.id
                    ));
                }
            };
            let fs = inst.fs_root();
            let (cwd, check_cwd) = match (&working_dir, inst.spec.os) {
                (Some(dir), Os::Linux) => (runner::map_path(&fs, dir), true),
                (Some(dir), Os::Windows) => (runner::map_path(&fs, &windows_path(dir)), false),
                (None, Os::Linux) => (runner::map_path(&fs, &Inst::home_of(&user)), false),
                (None, Os::Windows) => (fs.clone(), false),
            };
            let home = runner::map_path(&fs, &Inst::home_of(&user));
            let env = vec![
                ("HOME".to_owned(), home.display().to_string()),
                ("ECS_SANDBOX_INSTANCE_ID".to_owned(), inst.spec.id.clone()),
                (
                    "ECS_SANDBOX_INSTANCE_NAME".to_owned(),
                    inst.spec.display_name().to_owned(),
                ),
                ("ECS_SANDBOX_REGION_ID".to_owned(), inst.spec.region.clone()),
                ("ECS_SANDBOX_ROOT".to_owned(), fs.display().to_string()),
                ("ECS_SANDBOX_INVOKE_ID".to_owned(), inv.id.clone()),
                ("ECS_SANDBOX_USERNAME".to_owned(), user),
            ];
            Plan::Real(RealPlan {
                interpreter,
                script,
                script_dir: inst.dir.join("work").join("script"),
                script_name: inv.command.name.clone(),
                ext,
                cwd: if cwd.is_dir() || check_cwd { cwd } else { fs },
                env,
                check_cwd,
            })
        }
    }
}

fn inv_parameters(
    inv: &crate::sandbox::state::InvocationRec,
) -> std::collections::BTreeMap<String, String> {
    serde_json::from_str(&inv.parameters).unwrap_or_default()
}

/// Whether a simulated instance has `dir` (the defaults plus its fleet `dirs`).
fn inst_has_dir(inst: &Inst, dir: &str) -> bool {
    let probe = runner::map_path(std::path::Path::new("/"), dir);
    inst.initial_dirs()
        .iter()
        .any(|d| runner::map_path(std::path::Path::new("/"), d).starts_with(&probe))
}

/// `C:\Windows\Temp` → `/C/Windows/Temp`.
fn windows_path(dir: &str) -> String {
    let dir = dir.replace('\\', "/");
    match dir.split_once(':') {
        Some((drive, rest)) => format!("/{drive}{rest}"),
        None => dir,
    }
}

fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

/// Marks a pending record running; returns the stop receiver and the timeout, or `None` when
/// the record was stopped meanwhile. `real` says which execution to count (`None`: none).
fn mark_running(
    sandbox: &Arc<Sandbox>,
    invoke_id: &str,
    index: usize,
    real: Option<bool>,
) -> Option<(oneshot::Receiver<StopReason>, Option<Duration>)> {
    let mut state = sandbox.lock();
    let state = &mut *state;
    let inv = state.invocations.get_mut(invoke_id)?;
    let run = inv.runs.get_mut(index)?;
    if run.status != S::Pending {
        return None;
    }
    let now = Utc::now();
    let (tx, rx) = oneshot::channel();
    run.status = S::Running;
    run.started = Some(now);
    run.updated = now;
    run.repeats += 1;
    run.stop = Some(tx);
    let inst_index = run.inst;
    let repeats = run.repeats;
    let timeout = u64::try_from(inv.timeout)
        .ok()
        .filter(|t| *t > 0)
        .map(Duration::from_secs);
    let inst = &mut state.instances[inst_index];
    inst.active_tasks += 1;
    inst.last_invoked = Some(now);
    let instance_id = inst.spec.id.clone();
    let command = inv.command.name.clone();
    if let Some(after) = inst.stop_after.take() {
        tokio::spawn(stop_instance_later(Arc::clone(sandbox), inst_index, after));
    }
    if let Some(real) = real {
        state.count_execution(invoke_id, &command, &instance_id, repeats, real);
    }
    Some((rx, timeout))
}

async fn simulate(
    sim: &Simulation,
    stop: oneshot::Receiver<StopReason>,
    timeout: Option<Duration>,
) -> Outcome {
    let duration = sim.duration.0;
    let (limit, timed_out) = match timeout {
        Some(t) if t < duration => (t, true),
        _ => (duration, false),
    };
    tokio::select! {
        () = tokio::time::sleep(limit) => {
            if timed_out { Outcome::TimedOut } else { Outcome::Exited(sim.exit_code) }
        }
        reason = stop => Outcome::Stopped(reason.unwrap_or(StopReason::Shutdown)),
    }
}

fn push_output(sandbox: &Sandbox, invoke_id: &str, index: usize, bytes: &[u8]) {
    let mut state = sandbox.lock();
    if let Some(run) = state
        .invocations
        .get_mut(invoke_id)
        .and_then(|inv| inv.runs.get_mut(index))
    {
        run.output.push(bytes);
        run.updated = Utc::now();
    }
}

fn add_dropped(sandbox: &Sandbox, invoke_id: &str, index: usize, bytes: u64) {
    let mut state = sandbox.lock();
    if let Some(run) = state
        .invocations
        .get_mut(invoke_id)
        .and_then(|inv| inv.runs.get_mut(index))
    {
        run.output.add_dropped(bytes);
    }
}

/// Records how a run ended: the one place that maps an [`Outcome`] to status, ErrorCode and
/// exit code (reference §6.1, §6.6, §11.4).
pub(crate) fn finish_run(sandbox: &Arc<Sandbox>, invoke_id: &str, index: usize, outcome: &Outcome) {
    let mut state = sandbox.lock();
    let state = &mut *state;
    let Some(inv) = state.invocations.get_mut(invoke_id) else {
        return;
    };
    let Some(run) = inv.runs.get_mut(index) else {
        return;
    };
    let now = Utc::now();
    run.pgid = None;
    let was_running = matches!(run.status, S::Running | S::Stopping);
    match outcome {
        Outcome::Exited(0) => {
            run.finish(S::Success, "", now);
            run.exit_code = Some(0);
        }
        Outcome::Exited(code) => {
            run.finish(S::Failed, "ExitCodeNonzero", now);
            run.exit_code = Some(*code);
        }
        Outcome::TimedOut => {
            run.finish(S::Timeout, "ExecutionTimeout", now);
            run.exit_code = Some(1);
        }
        Outcome::Stopped(StopReason::Stopped) => run.finish(S::Terminated, "", now),
        Outcome::Stopped(StopReason::InstanceStopped) => {
            run.finish(S::Aborted, "InstanceNotRunning", now);
        }
        Outcome::Stopped(StopReason::Shutdown) => {
            run.finish(S::Error, "ExecutionInterrupted", now);
            "the sandbox shut down while the command was running".clone_into(&mut run.error_info);
        }
        Outcome::SpawnFailed(message) => {
            run.finish(S::Error, "ExecutionException", now);
            run.error_info.clone_from(message);
        }
    }
    let inst_index = run.inst;
    if was_running {
        let inst = &mut state.instances[inst_index];
        inst.active_tasks -= 1;
        inst.finished_tasks += 1;
    }
    state.settle(invoke_id, index);
    if let Outcome::Exited(code) = outcome {
        power_action(sandbox, state, inst_index, *code);
    }
}

/// Exit codes that ask the agent to power off (Linux 193, Windows 3009) or reboot (194,
/// 3010) after reporting (reference §11.4). A reboot comes back like StartInstance and runs
/// the instance's reboot tasks; scripts still running on it are not touched.
fn power_action(sandbox: &Arc<Sandbox>, state: &mut State, inst_index: usize, code: i64) {
    let inst = &mut state.instances[inst_index];
    let (off, reboot) = match inst.spec.os {
        Os::Linux => (193, 194),
        Os::Windows => (3009, 3010),
    };
    if code == off {
        inst.status = InstanceStatus::Stopped;
    } else if code == reboot {
        inst.status = InstanceStatus::Starting;
        start_instance_later(sandbox, inst_index);
    }
}

/// The stop-mid-run fault: the instance stops, its running scripts are killed and its pending
/// records abort.
async fn stop_instance_later(sandbox: Arc<Sandbox>, inst_index: usize, after: Duration) {
    tokio::time::sleep(after).await;
    let mut state = sandbox.lock();
    let state = &mut *state;
    state.instances[inst_index].status = InstanceStatus::Stopped;
    let now = Utc::now();
    let seqs = state.instance_tasks[inst_index].clone();
    for seq in seqs {
        let Some(id) = state.invocation_order.get(&seq).cloned() else {
            continue;
        };
        let Some(inv) = state.invocations.get_mut(&id) else {
            continue;
        };
        for run in inv.runs.iter_mut().filter(|r| r.inst == inst_index) {
            match run.status {
                S::Running | S::Stopping => {
                    if let Some(stop) = run.stop.take() {
                        let _ = stop.send(StopReason::InstanceStopped);
                    }
                }
                S::Pending | S::Scheduled => run.finish(S::Aborted, "InstanceNotRunning", now),
                _ => {}
            }
        }
        state.drop_unkept_command(&id);
    }
}

/// StartInstance: `Starting` now, `Running` (with the agent up if installed) after a delay.
pub(crate) fn start_instance_later(sandbox: &Arc<Sandbox>, inst_index: usize) {
    let sandbox = Arc::clone(sandbox);
    tokio::spawn(async move {
        tokio::time::sleep(sandbox.settings.timing.start_instance).await;
        let fired = {
            let mut state = sandbox.lock();
            let inst = &mut state.instances[inst_index];
            if inst.status != InstanceStatus::Starting {
                return;
            }
            inst.status = InstanceStatus::Running;
            inst.agent_running = inst.agent_installed;
            reboot_tasks(&sandbox, &mut state, inst_index)
        };
        for (invoke_id, index) in fired {
            tokio::spawn(run_one(Arc::clone(&sandbox), invoke_id, index));
        }
    });
}

/// Arms the `NextRebootOnly` and `EveryReboot` records of an instance that just started.
fn reboot_tasks(sandbox: &Sandbox, state: &mut State, inst_index: usize) -> Vec<(String, usize)> {
    let cap = sandbox.settings.limits.output_bytes;
    let now = Utc::now();
    let mut fired = Vec::new();
    for seq in state.instance_tasks[inst_index].clone() {
        let Some(id) = state.invocation_order.get(&seq).cloned() else {
            continue;
        };
        let Some(inv) = state.invocations.get_mut(&id) else {
            continue;
        };
        if !matches!(
            inv.repeat_mode,
            RepeatMode::NextRebootOnly | RepeatMode::EveryReboot
        ) || inv.schedule_stopped
        {
            continue;
        }
        for (index, run) in inv.runs.iter_mut().enumerate() {
            if run.inst == inst_index && run.status == S::Scheduled {
                run.rearm(now, cap);
                fired.push((id.clone(), index));
            }
        }
    }
    fired
}

/// Fires a `Period` task: `rate(...)` on its fixed grid from the creation time, `at(...)` once,
/// a cron expression at the times `crate::schedule` computes for it.
pub(crate) fn schedule(sandbox: &Arc<Sandbox>, invoke_id: &str, when: Schedule) {
    let sandbox = Arc::clone(sandbox);
    let invoke_id = invoke_id.to_owned();
    match when {
        Schedule::Rate(period) => {
            tokio::spawn(async move {
                let mut next = tokio::time::Instant::now() + period;
                loop {
                    tokio::time::sleep_until(next).await;
                    if !fire(&sandbox, &invoke_id) {
                        return;
                    }
                    next += period;
                }
            });
        }
        Schedule::At(delay) => {
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                fire(&sandbox, &invoke_id);
            });
        }
        Schedule::Cron(freq) => {
            tokio::spawn(async move {
                let mut after = Utc::now();
                loop {
                    let options = PreviewOptions {
                        count: 1,
                        from: after,
                        default_zone: None,
                        created_at: None,
                    };
                    let Some(next) = preview(&freq, &options).times.first().map(|t| t.utc) else {
                        return;
                    };
                    if let Ok(wait) = (next - Utc::now()).to_std() {
                        tokio::time::sleep(wait).await;
                    }
                    if !fire(&sandbox, &invoke_id) {
                        return;
                    }
                    after = next;
                }
            });
        }
    }
}

/// One fire time of a task: every record waiting for it (`Scheduled`) runs again. Returns
/// whether the schedule goes on (the task still exists and was not stopped).
fn fire(sandbox: &Arc<Sandbox>, invoke_id: &str) -> bool {
    let fired: Vec<usize> = {
        let mut state = sandbox.lock();
        let Some(inv) = state.invocations.get_mut(invoke_id) else {
            return false;
        };
        if inv.schedule_stopped {
            return false;
        }
        let now = Utc::now();
        let cap = sandbox.settings.limits.output_bytes;
        inv.runs
            .iter_mut()
            .enumerate()
            .filter(|(_, r)| r.status == S::Scheduled)
            .map(|(i, r)| {
                r.rearm(now, cap);
                i
            })
            .collect()
    };
    for index in fired {
        tokio::spawn(run_one(Arc::clone(sandbox), invoke_id.to_owned(), index));
    }
    true
}

/// When a `Period` task fires.
#[derive(Debug, Clone)]
pub(crate) enum Schedule {
    /// Every period, first one period after creation.
    Rate(Duration),
    /// Once, after this delay.
    At(Duration),
    /// A cron expression, in its own zone or else in UTC: the sandbox's instances keep their
    /// system clocks in UTC.
    Cron(Box<Frequency>),
}

/// InstallCloudAssistant: the agent runs after a delay, without the reboot a real
/// installation needs (a stopped instance gets it running at its next start).
pub(crate) fn install_agent_later(sandbox: &Arc<Sandbox>, inst_index: usize) {
    let sandbox = Arc::clone(sandbox);
    tokio::spawn(async move {
        tokio::time::sleep(sandbox.settings.timing.install_agent).await;
        let mut state = sandbox.lock();
        let inst = &mut state.instances[inst_index];
        if inst.status == InstanceStatus::Running && inst.agent_installed {
            inst.agent_running = true;
        }
    });
}

/// Kills every running script (sandbox shutdown).
pub(crate) fn stop_all(sandbox: &Sandbox) {
    let mut state = sandbox.lock();
    for inv in state.invocations.values_mut() {
        for run in &mut inv.runs {
            if let Some(stop) = run.stop.take() {
                let _ = stop.send(StopReason::Shutdown);
            }
            // Also kill directly: the runtime that would deliver the stop may be going away.
            if let Some(pgid) = run.pgid.take() {
                runner::kill_group_now(pgid);
            }
        }
    }
}
