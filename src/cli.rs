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
    /// Serve the local Cloud Assistant sandbox.
    Sandbox(SandboxArgs),
    /// Print the runbook JSON Schema.
    Schema,
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Print the man page (roff).
    Man,
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
    #[arg(long, value_enum, default_value_t = DiagnosticsFormat::Text)]
    pub format: DiagnosticsFormat,
}

/// How `validate` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagnosticsFormat {
    /// Rendered diagnostics.
    Text,
    /// One JSON document, for CI annotations.
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
    /// API endpoint, e.g. a VPC endpoint or a sandbox URL.
    #[arg(long, env = "ECS_RUNBOOK_ENDPOINT", value_name = "URL")]
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
    /// Make no API calls; say what could not be checked.
    #[arg(long, conflicts_with_all = ["sandbox", "endpoint"])]
    pub offline: bool,
    /// Where read-only calls go.
    #[command(flatten)]
    pub target: TargetArgs,
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
    /// Steps running at once.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub max_parallel: usize,
    /// Keep the commands the run created.
    #[arg(long)]
    pub keep_commands: bool,
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
}
