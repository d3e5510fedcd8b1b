//! API statuses as enums at the edge.
//!
//! Every enum keeps the values it does not know as `Unknown(String)`, so a new status from the
//! service is shown as it is instead of failing to decode. "Finished" never means "succeeded":
//! gates check each instance's exit code and output (reference §6).

/// Declares a string enum with an `Unknown(String)` catch-all and serde as its wire spelling.
macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// A value this version does not know, kept as sent.
            Unknown(String),
        }

        impl $name {
            /// The wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)*
                    Self::Unknown(s) => s,
                }
            }

            /// Parses the wire spelling; case-sensitive, as the API is.
            pub fn parse(value: &str) -> Self {
                match value {
                    $($text => Self::$variant,)*
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::Unknown(String::new())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(deserializer)?;
                Ok(Self::parse(&s))
            }
        }
    };
}

pub(crate) use string_enum;

string_enum!(
    /// Per-instance `InvocationStatus` (reference §6.1).
    InstanceInvocationStatus {
        /// Being validated or delivered.
        Pending => "Pending",
        /// A scheduled task waiting for its next run.
        Scheduled => "Scheduled",
        /// Type or parameters invalid for this instance.
        Invalid => "Invalid",
        /// Delivery failed.
        Aborted => "Aborted",
        /// Executing.
        Running => "Running",
        /// Finished with exit code 0.
        Success => "Success",
        /// Finished with a non-zero exit code.
        Failed => "Failed",
        /// Could not continue because of an exception.
        Error => "Error",
        /// Exceeded its timeout and was killed.
        Timeout => "Timeout",
        /// Stopped before it started.
        Cancelled => "Cancelled",
        /// Stop in progress.
        Stopping => "Stopping",
        /// Stopped while running.
        Terminated => "Terminated",
    }
);

impl InstanceInvocationStatus {
    /// Whether the instance will not change state any more (for a one-time task).
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            Self::Pending | Self::Scheduled | Self::Running | Self::Stopping
        )
    }

    /// The "Stopped" group of the aggregate rules: `Cancelled` and `Terminated`.
    pub fn is_stopped(&self) -> bool {
        matches!(self, Self::Cancelled | Self::Terminated)
    }

    /// The "Failed" group of the aggregate rules.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Self::Invalid | Self::Aborted | Self::Failed | Self::Timeout | Self::Error
        ) || matches!(self, Self::Unknown(_))
    }
}

string_enum!(
    /// Aggregate `InvocationStatus` of a task (reference §6.2).
    InvocationStatus {
        /// At least one instance pending.
        Pending => "Pending",
        /// At least one instance scheduled.
        Scheduled => "Scheduled",
        /// At least one instance running.
        Running => "Running",
        /// At least one instance stopping.
        Stopping => "Stopping",
        /// Every instance Success or Stopped, at least one Success.
        Success => "Success",
        /// Every instance failed or stopped, none succeeded.
        Failed => "Failed",
        /// Every instance stopped.
        Stopped => "Stopped",
        /// Some succeeded, some failed. Never a success.
        PartialFailed => "PartialFailed",
    }
);

impl InvocationStatus {
    /// Computes the aggregate from per-instance states, as the service does (reference §6.2,
    /// with the precedence Pending > Scheduled > Running > Stopping > terminal rules).
    pub fn aggregate<'a>(states: impl IntoIterator<Item = &'a InstanceInvocationStatus>) -> Self {
        use InstanceInvocationStatus as S;
        let states: Vec<&S> = states.into_iter().collect();
        let any = |f: &dyn Fn(&S) -> bool| states.iter().any(|s| f(s));
        if any(&|s| *s == S::Pending) {
            return Self::Pending;
        }
        if any(&|s| *s == S::Scheduled) {
            return Self::Scheduled;
        }
        if any(&|s| *s == S::Running) {
            return Self::Running;
        }
        if any(&|s| *s == S::Stopping) {
            return Self::Stopping;
        }
        let success = states.iter().filter(|s| ***s == S::Success).count();
        let failed = states.iter().filter(|s| s.is_failure()).count();
        match (success, failed) {
            (0, 0) => Self::Stopped,
            (_, 0) => Self::Success,
            (0, _) => Self::Failed,
            _ => Self::PartialFailed,
        }
    }

    /// The legacy `InvokeStatus` spelling of this aggregate (reference §6.3).
    pub fn legacy(&self, scheduled: bool) -> &'static str {
        match self {
            Self::Pending | Self::Running | Self::Scheduled => "Running",
            _ if scheduled => "Running",
            Self::Stopping => "Stopping",
            Self::Success => "Finished",
            Self::Failed => "Failed",
            Self::PartialFailed => "PartialFailed",
            Self::Stopped | Self::Unknown(_) => "Stopped",
        }
    }
}

string_enum!(
    /// Instance `Status` in `DescribeInstances`.
    InstanceStatus {
        /// Being created.
        Pending => "Pending",
        /// Running.
        Running => "Running",
        /// Starting.
        Starting => "Starting",
        /// Stopping.
        Stopping => "Stopping",
        /// Stopped.
        Stopped => "Stopped",
    }
);

string_enum!(
    /// Command `Type`.
    CommandType {
        /// Linux shell script.
        RunShellScript => "RunShellScript",
        /// Windows PowerShell script.
        RunPowerShellScript => "RunPowerShellScript",
        /// Windows batch script.
        RunBatScript => "RunBatScript",
    }
);

impl CommandType {
    /// Whether the type is meant for Windows instances.
    pub fn is_windows(&self) -> bool {
        matches!(self, Self::RunPowerShellScript | Self::RunBatScript)
    }
}

string_enum!(
    /// `RepeatMode` of an invocation.
    RepeatMode {
        /// Run once, now.
        Once => "Once",
        /// Run on the `Frequency` schedule.
        Period => "Period",
        /// Run once at the next start.
        NextRebootOnly => "NextRebootOnly",
        /// Run at every start.
        EveryReboot => "EveryReboot",
        /// Check only; nothing runs.
        DryRun => "DryRun",
    }
);

string_enum!(
    /// `ContentEncoding` of command content and output.
    ContentEncoding {
        /// Text as is.
        PlainText => "PlainText",
        /// Standard Base64 with padding.
        Base64 => "Base64",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregate_follows_the_reference_rules() {
        use InstanceInvocationStatus as S;
        let cases: &[(&[S], InvocationStatus)] = &[
            (&[S::Success, S::Running], InvocationStatus::Running),
            (&[S::Success, S::Pending], InvocationStatus::Pending),
            (&[S::Success, S::Success], InvocationStatus::Success),
            (&[S::Success, S::Terminated], InvocationStatus::Success),
            (&[S::Failed, S::Cancelled], InvocationStatus::Failed),
            (&[S::Cancelled, S::Terminated], InvocationStatus::Stopped),
            (&[S::Success, S::Failed], InvocationStatus::PartialFailed),
            (
                &[S::Success, S::Timeout, S::Cancelled],
                InvocationStatus::PartialFailed,
            ),
        ];
        for (states, expected) in cases {
            assert_eq!(
                &InvocationStatus::aggregate(states.iter()),
                expected,
                "{states:?}"
            );
        }
    }

    #[test]
    fn unknown_values_survive_a_round_trip() {
        let s: InstanceInvocationStatus = serde_json::from_str("\"Exploded\"").unwrap();
        assert_eq!(s, InstanceInvocationStatus::Unknown("Exploded".into()));
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"Exploded\"");
        assert!(s.is_failure());
    }
}
