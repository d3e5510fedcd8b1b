//! The gate: what one instance's record means, and whether it passes the step's checks.
//!
//! Success is decided per instance from its own `InvocationStatus`, exit code and output, never
//! from a task's aggregate status (`Finished` only means "done", and a stopped instance can hide
//! inside an aggregate `Success`; case B06). Output is decoded here once: Base64, then UTF-8 or
//! the step's `output_encoding` (case B04), with truncation (`Dropped`) flagged.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::cloud::id::InstanceId;
use crate::cloud::status::InstanceInvocationStatus;
use crate::plan::model::PlanGate;

/// What happened on one instance, kept distinct so reports never blur them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum InstanceState {
    /// Finished with exit code 0 (by the API's account).
    Success,
    /// Finished with a non-zero exit code.
    Failed {
        /// The exit code.
        exit_code: Option<i64>,
    },
    /// Killed after its timeout, by the agent or by us.
    TimedOut,
    /// Stopped: cancelled before it started or terminated while running.
    Stopped,
    /// Delivery failed; the agent never ran it.
    Aborted,
    /// The command does not fit this instance (directory, user, OS).
    Invalid,
    /// The agent hit an exception.
    Error,
    /// The API returned no record for the instance.
    NoRecord,
    /// Never invoked: the step stopped launching (error budget, Ctrl-C) before its batch.
    NotLaunched,
    /// A status this version does not know.
    Unknown {
        /// As the API spelled it.
        status: String,
    },
}

impl InstanceState {
    /// Maps an instance's final API status.
    pub fn from_status(status: &InstanceInvocationStatus, exit_code: Option<i64>) -> Self {
        use InstanceInvocationStatus as S;
        match status {
            S::Success => Self::Success,
            S::Failed => Self::Failed { exit_code },
            S::Timeout => Self::TimedOut,
            S::Cancelled | S::Terminated | S::Stopping => Self::Stopped,
            S::Aborted => Self::Aborted,
            S::Invalid => Self::Invalid,
            S::Error => Self::Error,
            other => Self::Unknown {
                status: other.to_string(),
            },
        }
    }

    /// A short word for reports.
    pub fn label(&self) -> String {
        match self {
            Self::Success => "success".to_owned(),
            Self::Failed {
                exit_code: Some(code),
            } => format!("failed (exit {code})"),
            Self::Failed { exit_code: None } => "failed".to_owned(),
            Self::TimedOut => "timed out".to_owned(),
            Self::Stopped => "stopped".to_owned(),
            Self::Aborted => "aborted".to_owned(),
            Self::Invalid => "invalid".to_owned(),
            Self::Error => "agent error".to_owned(),
            Self::NoRecord => "no record".to_owned(),
            Self::NotLaunched => "not launched".to_owned(),
            Self::Unknown { status } => format!("unknown status `{status}`"),
        }
    }
}

impl InstanceState {
    /// Whether the instance ran to an outcome of its own, which a resumed run keeps; a stopped,
    /// never launched or unrecorded instance runs again when the run is resumed.
    pub fn is_outcome(&self) -> bool {
        !matches!(self, Self::Stopped | Self::NotLaunched | Self::NoRecord)
    }
}

/// Decoded output of one instance.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Output {
    /// The text, when the API returned output; `None` means "not available", not empty.
    pub text: Option<String>,
    /// Bytes Cloud Assistant cut off (`Dropped`).
    pub dropped: i64,
    /// Whether the bytes were not valid in the expected encoding (shown lossily).
    pub invalid_encoding: bool,
}

impl Output {
    /// Decodes an API `Output` field sent as Base64, with `encoding` for non-UTF-8 text.
    pub fn decode(
        field: Option<&str>,
        dropped: i64,
        encoding: Option<&'static encoding_rs::Encoding>,
    ) -> Self {
        let Some(field) = field else {
            return Self {
                text: None,
                dropped,
                invalid_encoding: false,
            };
        };
        let bytes = STANDARD
            .decode(field.trim())
            .unwrap_or_else(|_| field.as_bytes().to_vec());
        let (text, invalid) = match encoding {
            Some(enc) if enc != encoding_rs::UTF_8 => {
                let (cow, _, had_errors) = enc.decode(&bytes);
                (cow.into_owned(), had_errors)
            }
            _ => decode_utf8(&bytes, dropped > 0),
        };
        Self {
            text: Some(text),
            dropped,
            invalid_encoding: invalid,
        }
    }

    /// Whether output was cut off.
    pub fn truncated(&self) -> bool {
        self.dropped > 0
    }
}

/// UTF-8 with replacement characters. A character cut at the very end by truncation is not an
/// encoding error (case B04 (c)); anything else invalid is.
fn decode_utf8(bytes: &[u8], truncated: bool) -> (String, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_owned(), false),
        Err(e) => {
            let text = String::from_utf8_lossy(bytes).into_owned();
            let cut_at_end = e.error_len().is_none() && e.valid_up_to() + 4 > bytes.len();
            (text, !(truncated && cut_at_end))
        }
    }
}

/// Why an instance failed the gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "check")]
pub enum GateFailure {
    /// The instance did not finish successfully.
    State {
        /// What happened.
        state: InstanceState,
    },
    /// The exit code is not one of the accepted ones.
    ExitCode {
        /// The exit code.
        code: i64,
    },
    /// The API returned no output, so output checks cannot pass.
    OutputMissing,
    /// The output is not valid text in the expected encoding.
    OutputEncoding,
    /// `output_contains` did not hold.
    OutputContains {
        /// The text looked for.
        expected: String,
    },
    /// `output_matches` did not hold.
    OutputMatches {
        /// The regex.
        pattern: String,
    },
}

impl fmt::Display for GateFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::State { state } => write!(f, "{}", state.label()),
            Self::ExitCode { code } => write!(f, "exit code {code} is not accepted"),
            Self::OutputMissing => f.write_str("output not available"),
            Self::OutputEncoding => f.write_str(
                "output is not valid UTF-8; set `output_encoding` (for example `gbk`) on the step",
            ),
            Self::OutputContains { expected } => write!(f, "output does not contain {expected:?}"),
            Self::OutputMatches { pattern } => write!(f, "output does not match /{pattern}/"),
        }
    }
}

/// The verdict on one instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceResult {
    /// The instance.
    pub instance: InstanceId,
    /// What happened.
    pub state: InstanceState,
    /// Exit code, when reported.
    pub exit_code: Option<i64>,
    /// `ErrorCode` as the API gave it.
    pub error_code: String,
    /// `ErrorInfo` as the API gave it.
    pub error_info: String,
    /// Decoded output.
    pub output: Output,
    /// Values captured by the step's `outputs`.
    pub captures: std::collections::BTreeMap<String, String>,
    /// Failed checks; empty means the instance passed.
    pub failures: Vec<GateFailure>,
    /// Output checks that ran on truncated output.
    pub checked_truncated: bool,
    /// When it started, as the API reports it (`yyyy-MM-ddTHH:mm:ssZ`), empty when unknown.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub start_time: String,
    /// When it finished, as the API reports it, empty when unknown.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub finish_time: String,
}

impl InstanceResult {
    /// Whether the instance passed the gate.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// A result for an instance that was never invoked.
    pub fn not_launched(instance: InstanceId) -> Self {
        Self {
            instance,
            state: InstanceState::NotLaunched,
            exit_code: None,
            error_code: String::new(),
            error_info: String::new(),
            output: Output::default(),
            captures: std::collections::BTreeMap::new(),
            failures: vec![GateFailure::State {
                state: InstanceState::NotLaunched,
            }],
            checked_truncated: false,
            start_time: String::new(),
            finish_time: String::new(),
        }
    }

    /// The word that groups it in a step's tally: `succeeded` when it passed the gate, else
    /// `failed` for an exit code or output check, else its state (`timed out`, `stopped`, …).
    pub fn tally(&self) -> String {
        if self.passed() {
            return "succeeded".to_owned();
        }
        match &self.state {
            InstanceState::Success | InstanceState::Failed { .. } => "failed".to_owned(),
            InstanceState::Unknown { .. } => "unknown".to_owned(),
            other => other.label(),
        }
    }
}

/// `22 succeeded, 1 failed`: how many results fall in each tally group, in a fixed order.
pub fn tally(results: &[InstanceResult]) -> String {
    const ORDER: [&str; 10] = [
        "succeeded",
        "failed",
        "timed out",
        "stopped",
        "aborted",
        "invalid",
        "agent error",
        "no record",
        "not launched",
        "unknown",
    ];
    let words: Vec<String> = results.iter().map(InstanceResult::tally).collect();
    ORDER
        .iter()
        .filter_map(|group| {
            let n = words.iter().filter(|w| w == group).count();
            (n > 0).then(|| format!("{n} {group}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks one instance against the gate.
pub fn check(
    gate: &PlanGate,
    state: &InstanceState,
    exit_code: Option<i64>,
    output: &Output,
) -> (Vec<GateFailure>, bool) {
    let mut failures = Vec::new();
    match state {
        InstanceState::Success => {}
        InstanceState::Failed {
            exit_code: Some(code),
        } if gate.exit_codes.contains(code) => {}
        InstanceState::Failed {
            exit_code: Some(code),
        } => failures.push(GateFailure::ExitCode { code: *code }),
        other => failures.push(GateFailure::State {
            state: other.clone(),
        }),
    }
    if *state == InstanceState::Success {
        let code = exit_code.unwrap_or(0);
        if !gate.exit_codes.contains(&code) {
            failures.push(GateFailure::ExitCode { code });
        }
    }
    let wants_output = gate.output_contains.is_some() || gate.output_matches.is_some();
    let mut on_truncated = false;
    if wants_output {
        match &output.text {
            None => failures.push(GateFailure::OutputMissing),
            Some(_) if output.invalid_encoding => failures.push(GateFailure::OutputEncoding),
            Some(text) => {
                on_truncated = output.truncated();
                if let Some(expected) = &gate.output_contains
                    && !text.contains(expected.as_str())
                {
                    failures.push(GateFailure::OutputContains {
                        expected: expected.clone(),
                    });
                }
                if let Some(pattern) = &gate.output_matches {
                    let matches = regex::Regex::new(pattern).is_ok_and(|re| re.is_match(text));
                    if !matches {
                        failures.push(GateFailure::OutputMatches {
                            pattern: pattern.clone(),
                        });
                    }
                }
            }
        }
    }
    (failures, on_truncated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate() -> PlanGate {
        PlanGate {
            exit_codes: vec![0],
            output_contains: None,
            output_matches: None,
            min_success: "100%".into(),
        }
    }

    /// Case B04 (b) and (c), and the lossy view without an encoding.
    #[test]
    fn b04_output_decoding() {
        let gbk = "v6rKvLCy17AuLi4NCrCy17DN6rPJIGV4aXQ9MA0K";
        let with = Output::decode(Some(gbk), 0, encoding_rs::Encoding::for_label(b"gbk"));
        assert_eq!(
            with.text.as_deref(),
            Some(
                "\u{5f00}\u{59cb}\u{5b89}\u{88c5}...\r\n\u{5b89}\u{88c5}\u{5b8c}\u{6210} exit=0\r\n"
            )
        );
        assert!(!with.invalid_encoding);

        let without = Output::decode(Some(gbk), 0, None);
        assert!(without.invalid_encoding);
        assert_eq!(
            without.text.as_deref(),
            Some(
                "\u{fffd}\u{fffd}\u{2bc}\u{fffd}\u{fffd}\u{5f0}...\r\n\u{fffd}\u{fffd}\u{5f0}\u{fffd}\u{fffd}\u{fffd} exit=0\r\n"
            )
        );
        let mut g = gate();
        g.output_contains = Some("\u{5b89}\u{88c5}\u{5b8c}\u{6210}".into());
        let (failures, _) = check(&g, &InstanceState::Success, Some(0), &without);
        assert_eq!(failures, [GateFailure::OutputEncoding]);
        assert!(failures[0].to_string().contains("output_encoding"));
        let (failures, _) = check(&g, &InstanceState::Success, Some(0), &with);
        assert!(failures.is_empty());

        let cut = Output::decode(Some("eHh4eHjlrg=="), 2048, None);
        assert_eq!(cut.text.as_deref(), Some("xxxxx\u{fffd}"));
        assert!(!cut.invalid_encoding);
        assert!(cut.truncated());
    }

    /// Case B04 (a): a missing `Output` is "not available", which fails output checks.
    #[test]
    fn b04_missing_output_fails_output_checks() {
        let mut g = gate();
        g.output_contains = Some("done".into());
        let missing = Output::decode(None, 0, None);
        let (failures, _) = check(&g, &InstanceState::Success, Some(0), &missing);
        assert_eq!(failures, [GateFailure::OutputMissing]);
    }

    #[test]
    fn states_stay_distinct() {
        use InstanceInvocationStatus as S;
        let cases = [
            (S::Success, Some(0), InstanceState::Success),
            (
                S::Failed,
                Some(2),
                InstanceState::Failed { exit_code: Some(2) },
            ),
            (S::Timeout, None, InstanceState::TimedOut),
            (S::Terminated, None, InstanceState::Stopped),
            (S::Cancelled, None, InstanceState::Stopped),
            (S::Aborted, None, InstanceState::Aborted),
            (S::Invalid, None, InstanceState::Invalid),
            (S::Error, None, InstanceState::Error),
        ];
        for (status, code, expected) in cases {
            assert_eq!(InstanceState::from_status(&status, code), expected);
        }
        // An accepted non-zero exit code passes; a stopped instance never does (case B06).
        let mut g = gate();
        g.exit_codes = vec![0, 3];
        let out = Output::default();
        assert!(
            check(
                &g,
                &InstanceState::Failed { exit_code: Some(3) },
                Some(3),
                &out
            )
            .0
            .is_empty()
        );
        assert!(!check(&g, &InstanceState::Stopped, None, &out).0.is_empty());
        assert!(
            !check(&g, &InstanceState::TimedOut, Some(1), &out)
                .0
                .is_empty()
        );
    }
}
