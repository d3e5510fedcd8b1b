//! The top-level error, its exit code, and nothing else prints errors: `main` renders it once.

use std::path::PathBuf;

use miette::Diagnostic;

use crate::cloud::error::CallError;
use crate::cloud::profile::CredentialError;

/// Exit code: every gate passed.
pub const EXIT_OK: i32 = 0;
/// Exit code: a step failed its gate, or a target failed preflight.
pub const EXIT_STEP_FAILED: i32 = 1;
/// Exit code: invalid input (flags, runbook, plan file).
pub const EXIT_INVALID_INPUT: i32 = 2;
/// Exit code: API, credential or network failure.
pub const EXIT_API: i32 = 3;
/// Exit code: interrupted.
pub const EXIT_INTERRUPTED: i32 = 130;

/// Everything that can end a command.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum Error {
    /// The runbook has errors.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Runbook(#[from] crate::runbook::Diagnostics),
    /// A Frequency expression given on the command line is refused.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Frequency(#[from] crate::schedule::ExpressionDiagnostic),
    /// Bad flags or arguments beyond what clap checks.
    #[error("{message}")]
    #[diagnostic(code(ecs_runbook::usage))]
    Usage {
        /// What is wrong.
        message: String,
        /// How to fix it.
        #[help]
        help: Option<String>,
    },
    /// A saved plan cannot be applied.
    #[error("{message}")]
    #[diagnostic(code(ecs_runbook::plan_file))]
    PlanFile {
        /// What is wrong.
        message: String,
        /// How to fix it.
        #[help]
        help: Option<String>,
    },
    /// A file could not be read or written.
    #[error("cannot {action} `{}`: {source}", path.display())]
    #[diagnostic(code(ecs_runbook::io))]
    Io {
        /// `read`, `write`, `create`.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// No credentials.
    #[error(transparent)]
    #[diagnostic(
        code(ecs_runbook::credentials),
        help(
            "configure a profile with `aliyun configure`, or set `ALIBABA_CLOUD_ACCESS_KEY_ID` and `ALIBABA_CLOUD_ACCESS_KEY_SECRET`; to try the tool without a cloud account, use `--sandbox`"
        )
    )]
    Credentials(#[from] CredentialError),
    /// An API call failed.
    #[error(transparent)]
    #[diagnostic(code(ecs_runbook::api))]
    Api(Box<CallError>),
    /// The sandbox could not start.
    #[error("sandbox: {0}")]
    #[diagnostic(code(ecs_runbook::sandbox))]
    Sandbox(String),
    /// At least one step failed its gate (the report says which).
    #[error("{0}")]
    #[diagnostic(code(ecs_runbook::step_failed))]
    StepFailed(String),
    /// Targets cannot run commands, so the run did not start (the report lists them).
    #[error("{0}")]
    #[diagnostic(code(ecs_runbook::preflight))]
    Preflight(String),
    /// A step's targets match no instance, so the run did not start.
    #[error("{message}")]
    #[diagnostic(code(ecs_runbook::no_targets), help("{help}"))]
    NoTargets {
        /// Which steps, and what their targets were.
        message: String,
        /// The way out.
        help: String,
    },
    /// Standard output was closed by the reader (`| head`); not worth a message.
    #[error("broken pipe")]
    #[diagnostic(code(ecs_runbook::broken_pipe))]
    BrokenPipe,
    /// Ctrl-C.
    #[error("interrupted")]
    #[diagnostic(code(ecs_runbook::interrupted))]
    Interrupted,
}

impl From<CallError> for Error {
    fn from(error: CallError) -> Self {
        Self::Api(Box::new(error))
    }
}

impl Error {
    /// The process exit code.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::StepFailed(_) | Self::Preflight(_) | Self::NoTargets { .. } => EXIT_STEP_FAILED,
            Self::Runbook(_)
            | Self::Frequency(_)
            | Self::Usage { .. }
            | Self::PlanFile { .. }
            | Self::Io { .. } => EXIT_INVALID_INPUT,
            Self::Credentials(_) | Self::Api(_) | Self::Sandbox(_) => EXIT_API,
            Self::Interrupted => EXIT_INTERRUPTED,
            Self::BrokenPipe => EXIT_OK,
        }
    }

    /// A usage error.
    pub fn usage(message: impl Into<String>, help: Option<String>) -> Self {
        Self::Usage {
            message: message.into(),
            help,
        }
    }

    /// Whether `main` should print anything: a failed step was already reported in full.
    pub fn is_reported(&self) -> bool {
        matches!(
            self,
            Self::StepFailed(_) | Self::Preflight(_) | Self::Interrupted | Self::BrokenPipe
        )
    }
}
