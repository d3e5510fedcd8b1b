//! Names of runbooks and steps, checked once at load time.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A step name: `[a-z0-9][a-z0-9_-]*`, unique within its runbook.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StepName(String);

/// A runbook name: `[a-z0-9][a-z0-9-]*`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunbookName(String);

macro_rules! name_impls {
    ($name:ident, $extra:literal) => {
        impl $name {
            /// Checks the spelling; `None` when it is not a valid name.
            pub fn parse(value: &str) -> Option<Self> {
                let mut chars = value.chars();
                let first = chars.next()?;
                let ok_first = first.is_ascii_lowercase() || first.is_ascii_digit();
                let ok_rest = chars.all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || $extra.contains(c)
                });
                (ok_first && ok_rest && value.len() <= 64).then(|| Self(value.to_owned()))
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", self.0)
            }
        }
    };
}

name_impls!(StepName, "_");
name_impls!(RunbookName, "");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "check-disk", "step_2", "0day"] {
            assert!(StepName::parse(ok).is_some(), "{ok}");
        }
        for bad in ["", "Check", "-a", "a b", "ä"] {
            assert!(StepName::parse(bad).is_none(), "{bad}");
        }
        assert!(RunbookName::parse("patch_web").is_none());
        assert!(RunbookName::parse("patch-web").is_some());
    }
}
