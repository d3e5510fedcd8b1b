//! What the user typed: clap types only. `app` turns them into work.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Run maintenance runbooks kept in git on Alibaba Cloud ECS fleets through Cloud Assistant.
#[derive(Debug, Parser)]
#[command(name = "ecs-runbook", version, about, long_about = None)]
pub struct Cli {
    /// Log API calls and decisions to stderr: `-v` each call (action, status, request id,
    /// duration), `-vv` also the request parameters (secrets redacted). `RUST_LOG` overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check runbooks without credentials or network; exit 2 on any error.
    Validate(ValidateArgs),
    /// Show exactly what would run where, without changing anything.
    Plan(PlanArgs),
    /// Run a runbook, or apply a saved plan.
    Run(RunArgs),
    /// Continue a stopped or crashed run from its journal.
    Resume(ResumeArgs),
    /// Preview Frequency expressions; keep Cloud Assistant's schedules in step with git.
    Schedule(ScheduleArgs),
    /// Serve the local Cloud Assistant sandbox.
    Sandbox(SandboxArgs),
    /// Print the runbook JSON Schema.
    Schema,
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Print the man page (roff): the tool's, or a subcommand's (`man run`, `man schedule apply`).
    Man(ManArgs),
}

/// `man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The subcommand, as typed (`run`, `schedule apply`); none for the tool's own page.
    pub command: Vec<String>,
}

/// `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Shells with completion scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
    /// PowerShell.
    Powershell,
}

/// `validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Runbook files or folders (searched recursively for `.yaml` / `.yml`).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// How a command prints its results on stdout (progress and diagnostics always go to stderr).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON document (its shape is in the README).
    Json,
}

/// Template variables.
#[derive(Debug, Args, Clone, Default)]
pub struct VarArgs {
    /// Override a variable: `--var name=value` (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// A YAML file of variable overrides.
    #[arg(long, value_name = "FILE")]
    pub vars_file: Option<PathBuf>,
}

/// Where API calls go.
#[derive(Debug, Args, Clone, Default)]
pub struct TargetArgs {
    /// Use the built-in sandbox, started in-process, instead of Alibaba Cloud.
    #[arg(long)]
    pub sandbox: bool,
    /// Fleet file for `--sandbox`.
    #[arg(long, value_name = "FILE", requires = "sandbox")]
    pub fleet: Option<PathBuf>,
    /// API endpoint with its scheme, e.g. the VPC endpoint
    /// `https://ecs-vpc.cn-hangzhou.aliyuncs.com` or a sandbox URL; else `ECS_RUNBOOK_ENDPOINT`.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Region (else the runbook's `region`, the profile's, or `ALIBABA_CLOUD_REGION_ID`).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// The aliyun CLI profile (`~/.aliyun/config.json`) to take credentials from.
    #[arg(long, value_name = "NAME", conflicts_with = "sandbox")]
    pub profile: Option<String>,
    /// How requests are signed: `v1` (HMAC-SHA1, as the Python SDK) or `v3`
    /// (`ACS3-HMAC-SHA256`, as the Tea SDKs).
    #[arg(long, value_enum, env = "ECS_RUNBOOK_SIGNATURE", default_value_t = Signature::V1)]
    pub signature: Signature,
}

/// Signature versions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Signature {
    /// RPC signature V1 (HMAC-SHA1).
    #[default]
    V1,
    /// Signature V3 (ACS3-HMAC-SHA256).
    V3,
}

/// Plan formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// For a terminal.
    Text,
    /// For a pull-request comment, with a Mermaid graph.
    Markdown,
    /// The saved plan `run --plan` applies.
    Json,
    /// The step graph as Mermaid.
    Mermaid,
    /// The step graph as Graphviz DOT.
    Dot,
}

/// `plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The runbook.
    pub file: PathBuf,
    /// Variables.
    #[command(flatten)]
    pub vars: VarArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Write to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Make no API calls (an endpoint from the environment is ignored); say what could not be
    /// checked.
    #[arg(long, conflicts_with = "sandbox")]
    pub offline: bool,
    /// Where read-only calls go.
    #[command(flatten)]
    pub target: TargetArgs,
}

/// The report files of `run` and `resume`.
#[derive(Debug, Args, Clone, Default)]
pub struct ReportArgs {
    /// Write the JSON report (versioned schema, see README) to this file.
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
    /// Write a JUnit XML report: one test case per step and instance.
    #[arg(long, value_name = "FILE.xml")]
    pub junit: Option<PathBuf>,
    /// Write a Markdown summary with the step graph coloured by status (for CI job summaries).
    #[arg(long, value_name = "FILE.md")]
    pub summary: Option<PathBuf>,
}

/// What preflight may fix before anything runs.
#[derive(Debug, Args, Clone, Default)]
pub struct PreflightArgs {
    /// Start stopped targets (StartInstance) and wait for them to run, instead of failing.
    #[arg(long)]
    pub start_stopped: bool,
    /// Install Cloud Assistant (InstallCloudAssistant) where it does not run, and wait for it.
    #[arg(long)]
    pub install_agent: bool,
}

/// `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The runbook.
    #[arg(required_unless_present = "plan", conflicts_with = "plan")]
    pub file: Option<PathBuf>,
    /// Apply this saved plan exactly.
    #[arg(long, value_name = "PLAN.json")]
    pub plan: Option<PathBuf>,
    /// Variables.
    #[command(flatten)]
    pub vars: VarArgs,
    /// Where calls go.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Do not ask for confirmation before running against the cloud.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Output format of the results on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Steps running at once (independent branches of the graph); at least 1.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub max_parallel: usize,
    /// Keep the commands the run created.
    #[arg(long)]
    pub keep_commands: bool,
    /// Run a scheduled runbook now, once, instead of scheduling it.
    #[arg(long)]
    pub once: bool,
    /// How long past a step's timeout to wait before calling StopInvocation (`30s`, `2m`).
    #[arg(
        long,
        env = "ECS_RUNBOOK_TIMEOUT_GRACE",
        default_value = "30s",
        value_name = "DURATION"
    )]
    pub timeout_grace: String,
    /// Preflight fixes.
    #[command(flatten)]
    pub preflight: PreflightArgs,
    /// Report files.
    #[command(flatten)]
    pub reports: ReportArgs,
}

/// `resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run id (a directory under `.ecs-runbook/runs/`), or the path of a run directory.
    pub run: String,
    /// Run failed steps again (their failed instances only).
    #[arg(long)]
    pub retry_failed: bool,
    /// Output format of the results on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Where calls go (default: the endpoint the run used).
    #[command(flatten)]
    pub target: TargetArgs,
    /// Do not ask for confirmation before running against the cloud.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Preflight fixes.
    #[command(flatten)]
    pub preflight: PreflightArgs,
    /// Report files.
    #[command(flatten)]
    pub reports: ReportArgs,
}

/// `schedule`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ScheduleCommand,
}

/// The `schedule` subcommands.
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Print the next fire times of a Frequency expression, in its zone and in UTC.
    Preview(PreviewArgs),
    /// Make the cloud's schedules match the scheduled runbooks in PATHS (prints the diff; acts
    /// with `--yes`).
    Apply(ApplyArgs),
    /// Show the schedules on the cloud with their next fire times and last runs.
    List(ListArgs),
    /// Stop one schedule and delete its command (prints what it would do; acts with `--yes`).
    Remove(RemoveArgs),
}

/// `schedule preview`.
#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// A Cloud Assistant Frequency: cron with seconds, `rate(..)` or `at(..)`.
    pub expr: String,
    /// The zone assumed for a cron expression that names none (each instance's own clock
    /// decides on the cloud); default UTC.
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<String>,
    /// How many fire times.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub count: usize,
    /// List fire times after this instant (RFC 3339, or `yyyy-MM-dd HH:mm:ss [zone]`);
    /// default now.
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Check the interval against this step timeout (`90s`, `10m`, `1h`).
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// `schedule apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Runbook files or folders (searched recursively for `.yaml` / `.yml`).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The schedule set: only schedules of this set are replaced or removed.
    #[arg(long, default_value = "default", value_name = "NAME")]
    pub set: String,
    /// Make the changes; without it only the diff is printed.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Output format of the results on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Where calls go.
    #[command(flatten)]
    pub target: TargetArgs,
}

/// `schedule list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this schedule set.
    #[arg(long, value_name = "NAME")]
    pub set: Option<String>,
    /// The zone assumed for a cron expression that names none (each instance's own clock
    /// decides on the cloud); default UTC.
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<String>,
    /// How many next fire times per schedule.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub count: usize,
    /// How many of the last runs per schedule.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub results: usize,
    /// Output format of the results on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Where calls go.
    #[command(flatten)]
    pub target: TargetArgs,
}

/// `schedule remove`.
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The scheduled runbook's name.
    pub name: String,
    /// The schedule set, when the name is scheduled in more than one.
    #[arg(long, value_name = "NAME")]
    pub set: Option<String>,
    /// Make the change; without it only what would be stopped is printed.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Output format of the results on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Where calls go.
    #[command(flatten)]
    pub target: TargetArgs,
}

/// `sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Fleet file (YAML).
    #[arg(long, value_name = "FILE")]
    pub fleet: Option<PathBuf>,
    /// AccessKey id the sandbox accepts.
    #[arg(long, default_value = "sandbox", value_name = "ID")]
    pub access_key_id: String,
    /// AccessKey secret the sandbox accepts (it guards nothing: the sandbox is local).
    #[arg(
        long,
        default_value = "sandbox-secret",
        value_name = "SECRET",
        hide_default_value = true
    )]
    pub access_key_secret: String,
    /// Allow listening on a non-loopback address. Scripts run as real processes on this machine.
    #[arg(long)]
    pub allow_non_loopback: bool,
    /// Directory for the instances' files (default: a new temporary directory).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Seed of the injected faults, replacing the fleet file's `faults.seed`.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}
