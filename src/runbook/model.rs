//! The validated runbook: what `load` returns and `plan` consumes.
//!
//! Everything here has been checked: names are valid and unique, durations parsed, regexes
//! compiled, defaults applied to each step. Spans point into [`SourceFile`] so that later
//! stages (template rendering at plan time) can still report errors at the right place.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use miette::SourceSpan;

use crate::cloud::id::{InstanceId, RegionId};
use crate::cloud::status::CommandType;
use crate::runbook::id::{RunbookName, StepName};

/// The text of a runbook file, kept for diagnostics after loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The path as the user gave it.
    pub path: PathBuf,
    /// The whole file.
    pub text: Arc<str>,
}

impl SourceFile {
    /// A miette source for this file.
    pub fn named_source(&self) -> miette::NamedSource<Arc<str>> {
        miette::NamedSource::new(self.path.display().to_string(), Arc::clone(&self.text))
            .with_language("yaml")
    }
}

/// A value with the span of the YAML node it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: SourceSpan,
}

impl<T> Spanned<T> {
    /// Pairs a value with its span.
    pub fn new(value: T, span: SourceSpan) -> Self {
        Self { value, span }
    }
}

/// The built-in step timeout when neither the step nor `defaults` sets one. It is always sent
/// explicitly: Cloud Assistant's own default (60 s) kills most real maintenance jobs.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_mins(10);

/// The smallest timeout `InvokeCommand` accepts.
pub const MIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A validated runbook.
#[derive(Debug, Clone)]
pub struct Runbook {
    /// The file it was read from.
    pub source: SourceFile,
    /// SHA-256 of the file's bytes, hex; saved plans and schedules use it to detect change.
    pub hash: String,
    /// Format version; only 1 exists.
    pub version: u32,
    /// `[a-z0-9][a-z0-9-]*`.
    pub name: RunbookName,
    /// Free text.
    pub description: Option<String>,
    /// Region of the targets, when the runbook fixes it.
    pub region: Option<RegionId>,
    /// Template variables in file order.
    pub vars: Vec<Var>,
    /// The runbook-wide default targets (each step has its effective targets too).
    pub targets: Targets,
    /// The schedule, for a scheduled runbook.
    pub schedule: Option<Schedule>,
    /// The steps in file order.
    pub steps: Vec<Step>,
    /// Steps run in order when a step with `on_failure: rollback` fails.
    pub rollback: Vec<Step>,
}

/// One template variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Var {
    /// Its name; usable as `{{ name }}` and `{{ vars.name }}`.
    pub name: String,
    /// Its value.
    pub value: VarValue,
    /// The span of the value node.
    pub span: SourceSpan,
}

/// The value of a variable. Scalars keep the exact source text (`3.10` stays `3.10`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarValue {
    /// A scalar, as written.
    Text(String),
    /// A sequence.
    List(Vec<VarValue>),
    /// A mapping, in file order.
    Map(Vec<(String, VarValue)>),
    /// A secret, read when the plan is built and masked everywhere it could be shown.
    Secret(SecretVar),
}

/// Where a secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretVar {
    /// The source of the value.
    pub from: SecretSource,
    /// Whether the runbook allows this secret inside `CommandContent` or Parameters, which
    /// Cloud Assistant keeps readable through `DescribeInvocations` and `DescribeCommands`.
    pub allow_inline: bool,
}

/// Where a secret value is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable.
    Env(String),
    /// A file, relative to the runbook; one trailing newline is dropped.
    File(PathBuf),
}

/// Which instances a step runs on: the union of explicit ids and the instances matching every
/// tag.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Targets {
    /// Explicit ids, in file order, without duplicates.
    pub instances: Vec<Spanned<InstanceId>>,
    /// Tags that must all match; resolved with `DescribeInstances`.
    pub tags: BTreeMap<String, String>,
    /// The span of the `targets` node (or of the runbook's, when inherited).
    pub span: Option<SourceSpan>,
}

impl Targets {
    /// Whether nothing is targeted.
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty() && self.tags.is_empty()
    }
}

/// A count or a share of instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// An absolute number.
    Count(u32),
    /// A percentage, 0 to 100.
    Percent(u32),
}

impl Amount {
    /// The number of instances this amounts to out of `total`. Percentages round up, so
    /// `25%` of 10 is 3 and `1%` of 1 is 1.
    pub fn of(self, total: usize) -> usize {
        match self {
            Self::Count(n) => usize::try_from(n).unwrap_or(usize::MAX),
            Self::Percent(p) => {
                let p = usize::try_from(p).unwrap_or(100);
                (total * p).div_ceil(100)
            }
        }
    }
}

impl Amount {
    /// Parses `10` or `25%` (the form `Display` writes); `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        match text.strip_suffix('%') {
            Some(p) => p
                .trim()
                .parse()
                .ok()
                .filter(|p| *p <= 100)
                .map(Self::Percent),
            None => text.parse().ok().map(Self::Count),
        }
    }
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Count(n) => write!(f, "{n}"),
            Self::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// How a step spreads over its instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateControl {
    /// Instances per wave; `None` means all at once (in `InvokeCommand` calls of at most 100).
    pub concurrency: Option<Amount>,
    /// Failed instances tolerated before the step stops launching batches and fails;
    /// `None` means what `min_success` allows (0 with the default 100%).
    pub max_errors: Option<Amount>,
}

/// A scheduled runbook's schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The Cloud Assistant `Frequency`, exactly as written.
    pub frequency: Spanned<String>,
    /// The zone of a cron or `at(..)` expression that names none, and the zone previews of
    /// `rate(..)` are shown in.
    pub timezone: Option<Spanned<String>>,
    /// The Frequency sent to Cloud Assistant: `frequency` exactly as written, followed by
    /// `timezone` when the expression is cron or `at(..)` and names no zone itself.
    pub sent: String,
}

/// What a step does when its gate fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    /// Stop launching and skip the dependents (the default).
    #[default]
    Abort,
    /// Let the dependents run; the run still fails.
    Continue,
    /// Run the `rollback` steps, then fail.
    Rollback,
}

/// A text encoding for instance output that is not UTF-8 (case B04).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputEncoding(pub &'static encoding_rs::Encoding);

/// The gate of a step, checked per instance; `min_success` is the quorum.
#[derive(Debug, Clone)]
pub struct Success {
    /// Exit codes that pass; default `[0]`.
    pub exit_codes: Vec<i64>,
    /// Text the output must contain.
    pub output_contains: Option<String>,
    /// A regex the output must match.
    pub output_matches: Option<regex::Regex>,
    /// Share or number of instances that must pass; default 100%.
    pub min_success: Amount,
}

impl Default for Success {
    fn default() -> Self {
        Self {
            exit_codes: vec![0],
            output_contains: None,
            output_matches: None,
            min_success: Amount::Percent(100),
        }
    }
}

/// A regex capture from each instance's output, exposed as `steps.<name>.outputs.<key>`.
#[derive(Debug, Clone)]
pub struct OutputCapture {
    /// The key.
    pub name: String,
    /// The regex; the first capture group is the value (the whole match when it has none).
    pub regex: regex::Regex,
    /// Where it was written.
    pub span: SourceSpan,
}

/// Where a script's text came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptOrigin {
    /// `script:` in the runbook; template positions map into the YAML through `span`.
    Inline,
    /// `script_file:`, relative to the runbook.
    File(PathBuf),
}

/// A step's script template, before rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The template text, exactly as YAML delivered it (block scalars keep their final
    /// newline).
    pub text: String,
    /// The span of the `script` / `script_file` value.
    pub span: SourceSpan,
    /// Inline or from a file.
    pub origin: ScriptOrigin,
}

/// A step, with the runbook's defaults applied.
#[derive(Debug, Clone)]
pub struct Step {
    /// Unique name.
    pub name: StepName,
    /// The span of the name value.
    pub name_span: SourceSpan,
    /// The script template.
    pub script: Script,
    /// Script type.
    pub command_type: CommandType,
    /// Working directory on the instance.
    pub working_dir: Option<String>,
    /// Effective timeout (step, then defaults, then [`DEFAULT_TIMEOUT`]).
    pub timeout: Duration,
    /// OS user.
    pub username: Option<String>,
    /// Dependencies, in the order written.
    pub depends_on: Vec<Spanned<StepName>>,
    /// A Tera expression; the step is skipped when it renders to `false`.
    pub when: Option<Spanned<String>>,
    /// Re-invocations of failed instances.
    pub retries: u32,
    /// The gate.
    pub success: Success,
    /// Failure policy.
    pub on_failure: OnFailure,
    /// Output captures, in file order.
    pub outputs: Vec<OutputCapture>,
    /// Cloud Assistant custom parameters (`{{name}}` in the script, sent as `Parameters`).
    pub parameters: BTreeMap<String, String>,
    /// Effective targets.
    pub targets: Targets,
    /// Effective rate control.
    pub rate_control: RateControl,
    /// Encoding of the output when it is not UTF-8.
    pub output_encoding: Option<OutputEncoding>,
}
