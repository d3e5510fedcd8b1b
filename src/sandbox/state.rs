//! Everything the sandbox remembers: the fleet's runtime state, commands, invocations and
//! their per-instance records, idempotency tokens, nonces, quotas and stats.
//!
//! One `std::sync::Mutex<State>` guards it all. Handlers take it for the length of one
//! (synchronous) action; run tasks take it for a moment at each transition and per output
//! chunk, and never hold it across an await. Lookups are by id through maps, and listings
//! walk ordered maps from a token, so a request costs what its page costs, not the fleet.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::{Semaphore, oneshot};

use crate::cloud::actions::{Tag, Tags};
use crate::cloud::retry::Jitter;
use crate::cloud::status::{
    CommandType, InstanceInvocationStatus, InstanceStatus, InvocationStatus, RepeatMode,
};
use crate::sandbox::fault::{AgentFault, Decision, FaultPlan, Faults};
use crate::sandbox::fleet::{Execution, Fleet, InstanceSpec, Os};
use crate::sandbox::runner::{Output, StopReason};

/// Directories every instance has, beside `/home/<user>` for each non-root user.
pub const DEFAULT_DIRS: [&str; 6] = ["/root", "/tmp", "/var/log", "/var/tmp", "/opt", "/home"];

/// Limits and quotas (reference §10). Tests lower them to reach the errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Instances per InvokeCommand / RunCommand (`InstanceIds.ExceedLimit`).
    pub instances_per_invoke: usize,
    /// Instances per StopInvocation.
    pub instances_per_stop: usize,
    /// Instances per InstallCloudAssistant.
    pub instances_per_install: usize,
    /// Instances per DescribeCloudAssistantStatus.
    pub instances_per_status: usize,
    /// Command content after Base64, in bytes (`CmdContent.ExceedLimit`).
    pub content_bytes: usize,
    /// Output kept per run; the rest is counted in `Dropped`.
    pub output_bytes: usize,
    /// Retained commands (`CmdCount.ExceedQuota`).
    pub commands: usize,
    /// Per-instance executions accepted over the sandbox's life (`Invocation.ExceedQuota`);
    /// `None` for no quota.
    pub executions: Option<u64>,
    /// Request line plus body, in bytes.
    pub request_bytes: usize,
    /// Real script processes running at once; more wait as `Pending`.
    pub concurrent_scripts: usize,
    /// Allowed clock skew of `Timestamp`, and the nonce replay window.
    pub timestamp_skew: Duration,
    /// Nonces remembered at most; past it the oldest are forgotten early.
    pub nonces: usize,
    /// ClientTokens remembered at most; past it the oldest are forgotten.
    pub client_tokens: usize,
    /// Items per page of every listing at most, whatever `MaxResults` asks for; `None` for the
    /// documented maxima only (case B03 lowers it to 10).
    pub max_page_size: Option<usize>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            instances_per_invoke: 100,
            instances_per_stop: 50,
            instances_per_install: 50,
            instances_per_status: 100,
            content_bytes: 24 * 1024,
            output_bytes: 24 * 1024,
            commands: 10_000,
            executions: None,
            request_bytes: 128 * 1024,
            concurrent_scripts: 64,
            timestamp_skew: Duration::from_mins(15),
            nonces: 1_000_000,
            client_tokens: 100_000,
            max_page_size: None,
        }
    }
}

/// How long simulated infrastructure takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// From acceptance to the agent picking a task up (`Pending` → `Running`).
    pub delivery: Duration,
    /// StartInstance: `Starting` → `Running`.
    pub start_instance: Duration,
    /// InstallCloudAssistant: until the agent runs.
    pub install_agent: Duration,
    /// How long delivery to a dead agent is tried before the record is `Aborted` (the real
    /// service waits about a minute).
    pub delivery_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            delivery: Duration::from_millis(10),
            start_instance: Duration::from_secs(1),
            install_agent: Duration::from_secs(1),
            delivery_timeout: Duration::from_secs(1),
        }
    }
}

/// Fixed settings of one sandbox.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// AccessKey id → secret.
    pub(crate) keys: HashMap<String, String>,
    /// Limits.
    pub(crate) limits: Limits,
    /// Timing.
    pub(crate) timing: Timing,
    /// Where instance directories live.
    pub(crate) root: PathBuf,
    /// `{{ACS::AccountId}}`.
    pub(crate) account_id: String,
    /// Whether `pwsh` is on the PATH (Windows PowerShell scripts run through it).
    pub(crate) pwsh: bool,
}

/// The shared sandbox: settings, state and the script slots.
#[derive(Debug)]
pub(crate) struct Sandbox {
    /// Settings.
    pub(crate) settings: Settings,
    state: Mutex<State>,
    /// Slots for real script processes.
    pub(crate) scripts: Semaphore,
}

impl Sandbox {
    /// Builds the state for `fleet` and creates the directories of instances that run
    /// scripts for real.
    pub(crate) fn new(settings: Settings, fleet: &Fleet) -> std::io::Result<Arc<Self>> {
        let state = State::new(fleet, &settings.root)?;
        let slots = settings.limits.concurrent_scripts.max(1);
        Ok(Arc::new(Self {
            settings,
            state: Mutex::new(state),
            scripts: Semaphore::new(slots),
        }))
    }

    /// Locks the state. A panic while it was held is a sandbox bug; the state is still used
    /// rather than failing every later request.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Runtime state of one instance.
#[derive(Debug)]
pub(crate) struct Inst {
    /// As declared.
    pub(crate) spec: InstanceSpec,
    /// Current status.
    pub(crate) status: InstanceStatus,
    /// Agent installed.
    pub(crate) agent_installed: bool,
    /// Agent running.
    pub(crate) agent_running: bool,
    /// Agent fault.
    pub(crate) agent_fault: Option<AgentFault>,
    /// Pending stop-mid-run fault (fires once).
    pub(crate) stop_after: Option<Duration>,
    /// `<root>/<id>`.
    pub(crate) dir: PathBuf,
    /// Tags in response shape.
    pub(crate) tags: Tags,
    /// Tasks running now.
    pub(crate) active_tasks: i64,
    /// Tasks finished.
    pub(crate) finished_tasks: i64,
    /// Last time a task started here.
    pub(crate) last_invoked: Option<DateTime<Utc>>,
    /// Its directories exist.
    pub(crate) fs_ready: bool,
}

impl Inst {
    /// `<root>/<id>/fs`: the instance's `/`.
    pub(crate) fn fs_root(&self) -> PathBuf {
        self.dir.join("fs")
    }

    /// Creates the instance's directories (its `/` with the initial directories, and the
    /// agent's script directory), once.
    pub(crate) fn create_fs(&mut self) -> std::io::Result<()> {
        if self.fs_ready {
            return Ok(());
        }
        let fs = self.fs_root();
        for dir in self.initial_dirs() {
            std::fs::create_dir_all(crate::sandbox::runner::map_path(&fs, &dir))?;
        }
        std::fs::create_dir_all(self.dir.join("work").join("script"))?;
        self.fs_ready = true;
        Ok(())
    }

    /// Whether `DescribeCloudAssistantStatus` says `"true"`.
    pub(crate) fn agent_online(&self) -> bool {
        self.agent_installed
            && self.agent_running
            && self.status == InstanceStatus::Running
            && self.agent_fault != Some(AgentFault::Down)
    }

    /// Whether the instance runs scripts for real.
    pub(crate) fn is_real(&self) -> bool {
        matches!(self.spec.execution, Execution::Real)
    }

    /// Directories the instance has at start (absolute instance paths).
    pub(crate) fn initial_dirs(&self) -> Vec<String> {
        let mut dirs: Vec<String> = DEFAULT_DIRS.iter().map(|d| (*d).to_owned()).collect();
        dirs.extend(
            self.spec
                .users
                .iter()
                .filter(|u| *u != "root")
                .map(|u| format!("/home/{u}")),
        );
        dirs.extend(self.spec.dirs.iter().cloned());
        dirs
    }

    /// The home directory of `user`.
    pub(crate) fn home_of(user: &str) -> String {
        if user == "root" {
            "/root".to_owned()
        } else {
            format!("/home/{user}")
        }
    }
}

/// A stored command.
#[derive(Debug, Clone)]
pub(crate) struct CommandRec {
    /// Listing order.
    pub(crate) seq: u64,
    /// Id.
    pub(crate) id: String,
    /// Region.
    pub(crate) region: String,
    /// Name.
    pub(crate) name: String,
    /// Description.
    pub(crate) description: String,
    /// Type.
    pub(crate) command_type: CommandType,
    /// Decoded content.
    pub(crate) content: Vec<u8>,
    /// Working directory as given (empty for the default).
    pub(crate) working_dir: String,
    /// Timeout in seconds.
    pub(crate) timeout: i64,
    /// Parameters enabled.
    pub(crate) enable_parameter: bool,
    /// Custom parameter names.
    pub(crate) parameter_names: Vec<String>,
    /// Launcher.
    pub(crate) launcher: String,
    /// Tags.
    pub(crate) tags: Tags,
    /// Creation time.
    pub(crate) created: DateTime<Utc>,
    /// Tasks created from it.
    pub(crate) invoke_times: i32,
    /// `false` for a RunCommand command with `KeepCommand=false`: not listed against the
    /// quota and deleted when its task ends.
    pub(crate) kept: bool,
}

/// One run of a task on one instance.
#[derive(Debug)]
pub(crate) struct RunRec {
    /// Index into `State::instances`.
    pub(crate) inst: usize,
    /// Per-instance status.
    pub(crate) status: InstanceInvocationStatus,
    /// Exit code once known.
    pub(crate) exit_code: Option<i64>,
    /// ErrorCode.
    pub(crate) error_code: &'static str,
    /// ErrorInfo.
    pub(crate) error_info: String,
    /// Output.
    pub(crate) output: Output,
    /// Runs so far.
    pub(crate) repeats: i32,
    /// Times.
    pub(crate) created: DateTime<Utc>,
    /// Start of the process.
    pub(crate) started: Option<DateTime<Utc>>,
    /// End of the process.
    pub(crate) finished: Option<DateTime<Utc>>,
    /// StopInvocation time.
    pub(crate) stopped: Option<DateTime<Utc>>,
    /// Last change.
    pub(crate) updated: DateTime<Utc>,
    /// Stops the running script.
    pub(crate) stop: Option<oneshot::Sender<StopReason>>,
    /// Process group of the running script, while it runs.
    pub(crate) pgid: Option<i32>,
    /// Finished runs of a scheduled task, oldest first (`IncludeHistory`).
    pub(crate) history: Vec<HistoryRec>,
    /// The current run is already in `history`.
    pub(crate) archived: bool,
}

/// One finished run of a scheduled task.
#[derive(Debug, Clone)]
pub(crate) struct HistoryRec {
    /// Status of that run.
    pub(crate) status: InstanceInvocationStatus,
    /// Exit code.
    pub(crate) exit_code: Option<i64>,
    /// ErrorCode.
    pub(crate) error_code: &'static str,
    /// ErrorInfo.
    pub(crate) error_info: String,
    /// Kept output.
    pub(crate) output: Vec<u8>,
    /// Dropped bytes.
    pub(crate) dropped: u64,
    /// Which run (1-based).
    pub(crate) repeats: i32,
    /// Start.
    pub(crate) started: Option<DateTime<Utc>>,
    /// End.
    pub(crate) finished: Option<DateTime<Utc>>,
}

impl RunRec {
    /// A new pending record.
    pub(crate) fn pending(inst: usize, now: DateTime<Utc>, output_cap: usize) -> Self {
        Self {
            inst,
            status: InstanceInvocationStatus::Pending,
            exit_code: None,
            error_code: "",
            error_info: String::new(),
            output: Output::new(output_cap),
            repeats: 0,
            created: now,
            started: None,
            finished: None,
            stopped: None,
            updated: now,
            stop: None,
            pgid: None,
            history: Vec::new(),
            archived: false,
        }
    }

    /// Starts the next run of a scheduled record: `Pending` again with fresh output.
    pub(crate) fn rearm(&mut self, now: DateTime<Utc>, output_cap: usize) {
        self.status = InstanceInvocationStatus::Pending;
        self.exit_code = None;
        self.error_code = "";
        self.error_info.clear();
        self.output = Output::new(output_cap);
        self.started = None;
        self.finished = None;
        self.updated = now;
        self.archived = false;
    }

    /// Ends the record with `status`, `error_code` and its documented ErrorInfo text.
    pub(crate) fn finish(
        &mut self,
        status: InstanceInvocationStatus,
        error_code: &'static str,
        now: DateTime<Utc>,
    ) {
        self.status = status;
        self.error_code = error_code;
        error_info(error_code).clone_into(&mut self.error_info);
        self.finished.get_or_insert(now);
        self.updated = now;
        self.stop = None;
    }
}

/// A task.
#[derive(Debug)]
pub(crate) struct InvocationRec {
    /// Listing order.
    pub(crate) seq: u64,
    /// Id.
    pub(crate) id: String,
    /// Region.
    pub(crate) region: String,
    /// The command as it was when invoked.
    pub(crate) command: CommandRec,
    /// `Parameters` JSON text, `{}` when none.
    pub(crate) parameters: String,
    /// Effective repeat mode.
    pub(crate) repeat_mode: RepeatMode,
    /// Schedule.
    pub(crate) frequency: String,
    /// Timeout in seconds.
    pub(crate) timeout: i64,
    /// Working directory as shown (given or the command's).
    pub(crate) working_dir: String,
    /// User as shown.
    pub(crate) username: String,
    /// `Username` as given.
    pub(crate) username_given: Option<String>,
    /// Termination mode.
    pub(crate) termination_mode: String,
    /// Container id.
    pub(crate) container_id: String,
    /// Container name.
    pub(crate) container_name: String,
    /// Tags.
    pub(crate) tags: Tags,
    /// Creation.
    pub(crate) created: DateTime<Utc>,
    /// The schedule was stopped.
    pub(crate) schedule_stopped: bool,
    /// One record per instance, in request order.
    pub(crate) runs: Vec<RunRec>,
}

impl InvocationRec {
    /// Whether the task repeats (Period and the reboot modes).
    pub(crate) fn is_scheduled(&self) -> bool {
        matches!(
            self.repeat_mode,
            RepeatMode::Period | RepeatMode::NextRebootOnly | RepeatMode::EveryReboot
        )
    }

    /// Whether it will run again by itself.
    pub(crate) fn timed(&self) -> bool {
        self.is_scheduled()
            && !self.schedule_stopped
            && self
                .runs
                .iter()
                .any(|r| r.status == InstanceInvocationStatus::Scheduled || !r.status.is_final())
    }

    /// Whether each instance runs it once only (`NextRebootOnly`, `at(...)`).
    pub(crate) fn is_one_shot(&self) -> bool {
        self.repeat_mode == RepeatMode::NextRebootOnly
            || self
                .frequency
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("at")
    }

    /// The user a run on an instance of `os` runs as.
    pub(crate) fn user_for(&self, os: Os) -> String {
        self.username_given.clone().unwrap_or_else(|| {
            match os {
                Os::Linux => "root",
                Os::Windows => "System",
            }
            .to_owned()
        })
    }

    /// The aggregate `InvocationStatus`.
    pub(crate) fn aggregate(&self) -> InvocationStatus {
        InvocationStatus::aggregate(self.runs.iter().map(|r| &r.status))
    }

    /// Whether no record will change any more.
    pub(crate) fn is_final(&self) -> bool {
        self.runs.iter().all(|r| r.status.is_final())
    }
}

/// The legacy per-instance `InstanceInvokeStatus` and the per-record `InvokeRecordStatus`
/// (reference §6.3–6.5): a run that exited, even non-zero, is `Finished`; Invalid, Aborted,
/// Timeout and Error are `Failed`; Cancelled and Terminated are `Stopped`.
pub(crate) fn record_status(status: &InstanceInvocationStatus) -> &'static str {
    use InstanceInvocationStatus as S;
    match status {
        S::Pending | S::Running | S::Scheduled => "Running",
        S::Success | S::Failed => "Finished",
        S::Stopping => "Stopping",
        S::Cancelled | S::Terminated => "Stopped",
        S::Invalid | S::Aborted | S::Timeout | S::Error | S::Unknown(_) => "Failed",
    }
}

/// The documented ErrorInfo text of an ErrorCode (reference §6.6).
pub(crate) fn error_info(code: &str) -> &'static str {
    match code {
        "InstanceNotExists" => "the specified instance does not exists",
        "InstanceNotRunning" => "the instance is not running when create task",
        "CommandNotApplicable" => "the command is not applicable",
        "AccountNotExists" => "the specified account does not exists",
        "DirectoryNotExists" => "the specified directory does not exists",
        "BadCronExpression" => "the cron job expression is invalid",
        "ClientNotRunning" => "the aliyun service is not running on the instance",
        "ClientNotResponse" => "the aliyun service in the instance does not response",
        "DeliveryTimeout" => "the command delivery has been timeout",
        "ExecutionTimeout" => "the command execution has been timeout",
        "ExecutionException" => "the command execution got an exception",
        "ExitCodeNonzero" => "the command execution exit code is not zero.",
        "InvalidEnvironmentParameter" => "the environment parameter is invalid",
        _ => "",
    }
}

/// Formats a time as the API does: `yyyy-MM-ddTHH:mm:ssZ`.
pub(crate) fn iso(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// [`iso`] of an optional time; empty when not set, as the doc samples show.
pub(crate) fn iso_opt(time: Option<DateTime<Utc>>) -> String {
    time.map(iso).unwrap_or_default()
}

/// Call and execution counts, for tests and benchmarks (`GET /_sandbox/stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Authenticated API calls per action, faulted ones included.
    pub calls: BTreeMap<String, u64>,
    /// Authenticated API calls per signature version (`V1`, `V3`).
    pub signatures: BTreeMap<String, u64>,
    /// Error answers per error code, gateway errors included.
    pub errors: BTreeMap<String, u64>,
    /// Injected faults per `Action:kind`.
    pub faults: BTreeMap<String, u64>,
    /// Scripts run as real processes.
    pub real_executions: u64,
    /// Simulated executions.
    pub simulated_executions: u64,
    /// Executions per `InvokeId/InstanceId/run`; any count above 1 is a double execution.
    pub executions: BTreeMap<String, ExecutionCount>,
    /// Executions per command name and instance, real and simulated together, over every
    /// invocation of every command of that name: the executor names a command
    /// `<runbook>/<step>`, so this counts how often each (step, instance) ran.
    pub executions_per_command: BTreeMap<String, BTreeMap<String, u32>>,
    /// The injected faults per action in call order, as `n:kind` (`n` counts that action's
    /// calls from 0): the same seed gives the same sequence.
    pub fault_sequence: BTreeMap<String, Vec<String>>,
}

/// How often one run of one task on one instance was executed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ExecutionCount {
    /// As a real process.
    pub real: u32,
    /// Simulated.
    pub simulated: u32,
}

impl Stats {
    /// API calls of `action`.
    pub fn calls_of(&self, action: &str) -> u64 {
        self.calls.get(action).copied().unwrap_or(0)
    }
}

/// Nonces seen within the replay window, oldest first for pruning.
#[derive(Debug, Default)]
pub(crate) struct NonceCache {
    seen: HashMap<String, Instant>,
    order: VecDeque<(Instant, String)>,
}

impl NonceCache {
    /// Whether `nonce` was used within `window`.
    pub(crate) fn contains(&mut self, nonce: &str, now: Instant, window: Duration) -> bool {
        self.prune(now, window, usize::MAX);
        self.seen.contains_key(nonce)
    }

    /// Remembers `nonce`, forgetting what is older than `window` or past `capacity`.
    pub(crate) fn insert(&mut self, nonce: &str, now: Instant, window: Duration, capacity: usize) {
        self.prune(now, window, capacity.saturating_sub(1));
        self.seen.insert(nonce.to_owned(), now);
        self.order.push_back((now, nonce.to_owned()));
    }

    fn prune(&mut self, now: Instant, window: Duration, capacity: usize) {
        while let Some((at, _)) = self.order.front() {
            if now.duration_since(*at) <= window && self.order.len() <= capacity {
                break;
            }
            let (_, nonce) = self.order.pop_front().expect("front exists");
            self.seen.remove(&nonce);
        }
    }

    /// Nonces remembered.
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }
}

/// A remembered ClientToken: the hash of the request's parameters and the answer given.
#[derive(Debug, Clone)]
pub(crate) struct TokenEntry {
    /// SHA-256 of the business parameters.
    pub(crate) hash: String,
    /// The success body, without `RequestId`.
    pub(crate) response: serde_json::Value,
}

/// Everything mutable.
#[derive(Debug)]
pub(crate) struct State {
    /// Instances in fleet order.
    pub(crate) instances: Vec<Inst>,
    index: HashMap<String, usize>,
    tag_index: HashMap<(String, String), Vec<usize>>,
    /// Commands by id.
    pub(crate) commands: HashMap<String, CommandRec>,
    /// Command ids by creation order.
    pub(crate) command_order: BTreeMap<u64, String>,
    /// Tasks by id.
    pub(crate) invocations: HashMap<String, InvocationRec>,
    /// Task ids by creation order.
    pub(crate) invocation_order: BTreeMap<u64, String>,
    /// Task sequence numbers per instance index.
    pub(crate) instance_tasks: Vec<Vec<u64>>,
    /// (action, ClientToken) → entry.
    pub(crate) tokens: HashMap<(String, String), TokenEntry>,
    token_order: VecDeque<(String, String)>,
    /// Seen nonces.
    pub(crate) nonces: NonceCache,
    /// Action fault decisions.
    pub(crate) faults: FaultPlan,
    /// Counters.
    pub(crate) stats: Stats,
    /// Per-instance executions accepted so far (for the executions quota).
    pub(crate) executions_accepted: u64,
    next_seq: u64,
    ids: Jitter,
}

impl State {
    fn new(fleet: &Fleet, root: &Path) -> std::io::Result<Self> {
        let specs = fleet.expanded();
        let mut instances = Vec::with_capacity(specs.len());
        let mut index = HashMap::with_capacity(specs.len());
        let mut tag_index: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for (i, spec) in specs.into_iter().enumerate() {
            index.insert(spec.id.clone(), i);
            for (k, v) in &spec.tags {
                tag_index.entry((k.clone(), v.clone())).or_default().push(i);
            }
            let tags = Tags {
                tag: spec
                    .tags
                    .iter()
                    .map(|(k, v)| Tag {
                        tag_key: k.clone(),
                        tag_value: v.clone(),
                    })
                    .collect(),
            };
            let mut inst = Inst {
                agent_installed: spec.agent.installed,
                agent_running: spec.agent.installed && spec.agent.running,
                agent_fault: fleet.faults.agent_fault(&spec.id),
                stop_after: fleet.faults.stop_after(&spec.id).map(|d| d.0),
                status: spec.status.clone(),
                dir: root.join(&spec.id),
                tags,
                active_tasks: 0,
                finished_tasks: 0,
                last_invoked: None,
                fs_ready: false,
                spec,
            };
            // Listed instances get their directories now, generated ones (possibly thousands)
            // at their first real run.
            if inst.is_real() && i < fleet.instances.len() {
                inst.create_fs()?;
            }
            instances.push(inst);
        }
        let count = instances.len();
        Ok(Self {
            instances,
            index,
            tag_index,
            commands: HashMap::new(),
            command_order: BTreeMap::new(),
            invocations: HashMap::new(),
            invocation_order: BTreeMap::new(),
            instance_tasks: vec![Vec::new(); count],
            tokens: HashMap::new(),
            token_order: VecDeque::new(),
            nonces: NonceCache::default(),
            faults: FaultPlan::new(fleet.faults.clone()),
            stats: Stats::default(),
            executions_accepted: 0,
            next_seq: 1,
            ids: Jitter::from_entropy(),
        })
    }

    /// Replaces the action faults (instance faults are fixed at start).
    pub(crate) fn set_faults(&mut self, faults: Faults) {
        self.faults = FaultPlan::new(faults);
    }

    /// The index of an instance visible in `region`.
    pub(crate) fn find(&self, id: &str, region: &str) -> Option<usize> {
        self.index
            .get(id)
            .copied()
            .filter(|i| self.instances[*i].spec.region == region)
    }

    /// Instances in `region` carrying every `(key, value)` tag (a `None` value matches any
    /// value), in fleet order. Uses the tag index of the first tag with a value.
    pub(crate) fn with_tags(&self, region: &str, tags: &[(String, Option<String>)]) -> Vec<usize> {
        let matches = |i: usize| {
            let inst = &self.instances[i];
            inst.spec.region == region
                && tags.iter().all(|(k, v)| match v {
                    Some(v) => inst.spec.tags.get(k) == Some(v),
                    None => inst.spec.tags.contains_key(k),
                })
        };
        let seed = tags
            .iter()
            .find_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())));
        match seed {
            Some(key) => self
                .tag_index
                .get(&key)
                .map(|list| list.iter().copied().filter(|i| matches(*i)).collect())
                .unwrap_or_default(),
            None => (0..self.instances.len()).filter(|i| matches(*i)).collect(),
        }
    }

    /// The next sequence number (creation order of commands and tasks).
    pub(crate) fn next_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// A new id: `prefix` plus 16 lower-case alphanumerics.
    pub(crate) fn new_id(&mut self, prefix: &str) -> String {
        const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let mut id = String::with_capacity(prefix.len() + 16);
        id.push_str(prefix);
        let mut bits = self.ids.next_u64();
        for i in 0..16 {
            if i == 12 {
                bits = self.ids.next_u64();
            }
            id.push(char::from(
                ALPHABET[usize::try_from(bits % 36).expect("below 36")],
            ));
            bits /= 36;
        }
        id
    }

    /// A new RequestId shaped like the service's (`8-4-4-4-12` upper-case hex).
    pub(crate) fn new_request_id(&mut self) -> String {
        let a = self.ids.next_u64();
        let b = self.ids.next_u64();
        format!(
            "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}",
            a >> 32,
            (a >> 16) & 0xFFFF,
            a & 0xFFFF,
            b >> 48,
            b & 0xFFFF_FFFF_FFFF
        )
    }

    /// Commands that count against the retained-commands quota.
    pub(crate) fn retained_commands(&self) -> usize {
        self.commands.values().filter(|c| c.kept).count()
    }

    /// Remembers the answer to a ClientToken.
    pub(crate) fn remember_token(&mut self, key: (String, String), entry: TokenEntry, cap: usize) {
        if self.tokens.insert(key.clone(), entry).is_none() {
            self.token_order.push_back(key);
        }
        while self.token_order.len() > cap {
            if let Some(old) = self.token_order.pop_front() {
                self.tokens.remove(&old);
            }
        }
    }

    /// Counts an authenticated call of `action` signed with `version` and decides its fault,
    /// which the stats keep per kind and in call order.
    pub(crate) fn record_call(&mut self, action: &str, version: &str) -> Decision {
        *self.stats.calls.entry(action.to_owned()).or_default() += 1;
        *self.stats.signatures.entry(version.to_owned()).or_default() += 1;
        let decision = self.faults.decide(action);
        if let Some(fault) = decision.fault {
            *self
                .stats
                .faults
                .entry(format!("{action}:{}", fault.as_str()))
                .or_default() += 1;
            self.stats
                .fault_sequence
                .entry(action.to_owned())
                .or_default()
                .push(format!("{}:{}", decision.call, fault.as_str()));
        }
        decision
    }

    /// Counts one execution of (task, instance, run) of the command named `command`.
    pub(crate) fn count_execution(
        &mut self,
        invoke_id: &str,
        command: &str,
        instance: &str,
        run: i32,
        real: bool,
    ) {
        *self
            .stats
            .executions_per_command
            .entry(command.to_owned())
            .or_default()
            .entry(instance.to_owned())
            .or_default() += 1;
        let entry = self
            .stats
            .executions
            .entry(format!("{invoke_id}/{instance}/{run}"))
            .or_default();
        if real {
            entry.real += 1;
            self.stats.real_executions += 1;
        } else {
            entry.simulated += 1;
            self.stats.simulated_executions += 1;
        }
    }

    /// After a record's run ended: a scheduled task keeps the run in its history and waits
    /// for the next one (`Scheduled`) unless it runs once only or was stopped; then an unkept
    /// RunCommand command goes once the task is over.
    pub(crate) fn settle(&mut self, invoke_id: &str, index: usize) {
        if let Some(inv) = self.invocations.get_mut(invoke_id)
            && inv.is_scheduled()
        {
            let again = !inv.is_one_shot() && !inv.schedule_stopped;
            if let Some(run) = inv.runs.get_mut(index)
                && run.status.is_final()
                && !run.archived
                && run.repeats > 0
            {
                run.history.push(HistoryRec {
                    status: run.status.clone(),
                    exit_code: run.exit_code,
                    error_code: run.error_code,
                    error_info: run.error_info.clone(),
                    output: run.output.bytes(),
                    dropped: run.output.dropped(),
                    repeats: run.repeats,
                    started: run.started,
                    finished: run.finished,
                });
                run.archived = true;
                if again {
                    run.status = InstanceInvocationStatus::Scheduled;
                }
            }
        }
        self.drop_unkept_command(invoke_id);
    }

    /// Deletes the command of a finished RunCommand task that was not kept.
    pub(crate) fn drop_unkept_command(&mut self, invoke_id: &str) {
        let Some(inv) = self.invocations.get(invoke_id) else {
            return;
        };
        if inv.command.kept || !(inv.is_final() || inv.schedule_stopped) {
            return;
        }
        let id = inv.command.id.clone();
        if let Some(cmd) = self.commands.get(&id)
            && !cmd.kept
        {
            let seq = cmd.seq;
            self.commands.remove(&id);
            self.command_order.remove(&seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_cache_forgets_after_the_window_and_past_capacity() {
        let mut cache = NonceCache::default();
        let t0 = Instant::now();
        let window = Duration::from_mins(15);
        cache.insert("a", t0, window, 3);
        assert!(cache.contains("a", t0 + Duration::from_secs(899), window));
        assert!(!cache.contains("a", t0 + Duration::from_secs(901), window));
        for n in ["b", "c", "d", "e"] {
            cache.insert(n, t0 + Duration::from_secs(1000), window, 3);
        }
        assert_eq!(cache.len(), 3);
        assert!(!cache.contains("b", t0 + Duration::from_secs(1000), window));
        assert!(cache.contains("e", t0 + Duration::from_secs(1000), window));
    }

    #[test]
    fn record_statuses_follow_the_reference() {
        use InstanceInvocationStatus as S;
        let cases = [
            (S::Success, "Finished"),
            (S::Failed, "Finished"),
            (S::Timeout, "Failed"),
            (S::Invalid, "Failed"),
            (S::Terminated, "Stopped"),
            (S::Cancelled, "Stopped"),
            (S::Running, "Running"),
        ];
        for (status, expected) in cases {
            assert_eq!(record_status(&status), expected, "{status}");
        }
    }

    #[test]
    fn ids_look_like_real_ones() {
        let mut state = State::new(&Fleet::default(), Path::new("/nonexistent")).unwrap();
        let id = state.new_id("t-");
        assert_eq!(id.len(), 18);
        assert!(
            id[2..]
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        let rid = state.new_request_id();
        assert_eq!(rid.len(), 36);
        assert_eq!(rid.matches('-').count(), 4);
    }
}
