//! `AccessKey` credentials, and the one place that holds the secret.
//!
//! `Secret` never prints its value: `Debug` and `Display` show asterisks, so a credential can
//! travel through logs and error values without leaking.

use std::fmt;

/// A secret string: an `AccessKey` secret or an STS token.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"********\"")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

/// Where a credential came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// `ALIBABA_CLOUD_ACCESS_KEY_ID` / `ALIBABA_CLOUD_ACCESS_KEY_SECRET`.
    Environment,
    /// The built-in sandbox's default key.
    Sandbox,
    /// Given by the caller.
    Explicit,
}

/// An `AccessKey` pair, with an STS token for temporary credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// `AccessKey` id; not secret.
    pub access_key_id: String,
    /// `AccessKey` secret.
    pub access_key_secret: Secret,
    /// STS token, sent as `SecurityToken`.
    pub security_token: Option<Secret>,
    /// Where it came from.
    pub source: CredentialSource,
}

/// The environment variables the official SDKs read.
pub const ENV_ACCESS_KEY_ID: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
/// See [`ENV_ACCESS_KEY_ID`].
pub const ENV_ACCESS_KEY_SECRET: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
/// See [`ENV_ACCESS_KEY_ID`].
pub const ENV_SECURITY_TOKEN: &str = "ALIBABA_CLOUD_SECURITY_TOKEN";

/// The sandbox's default `AccessKey` id.
pub const SANDBOX_ACCESS_KEY_ID: &str = "sandbox";
/// The sandbox's default `AccessKey` secret. It guards nothing: the sandbox is local.
pub const SANDBOX_ACCESS_KEY_SECRET: &str = "sandbox-secret";

/// No credential could be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no Alibaba Cloud credentials found (tried: {})", tried.join(", "))]
pub struct MissingCredential {
    /// What was looked at, in order.
    pub tried: Vec<String>,
}

impl Credential {
    /// A credential from explicit values.
    pub fn new(access_key_id: impl Into<String>, access_key_secret: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            access_key_secret: Secret::new(access_key_secret),
            security_token: None,
            source: CredentialSource::Explicit,
        }
    }

    /// The sandbox's default key.
    pub fn sandbox() -> Self {
        Self {
            source: CredentialSource::Sandbox,
            ..Self::new(SANDBOX_ACCESS_KEY_ID, SANDBOX_ACCESS_KEY_SECRET)
        }
    }

    /// Reads the official SDKs' environment variables through `lookup`, so that tests can
    /// pass a map instead of the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, MissingCredential> {
        let non_empty = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        match (
            non_empty(ENV_ACCESS_KEY_ID),
            non_empty(ENV_ACCESS_KEY_SECRET),
        ) {
            (Some(id), Some(secret)) => Ok(Self {
                access_key_id: id,
                access_key_secret: Secret::new(secret),
                security_token: non_empty(ENV_SECURITY_TOKEN).map(Secret::new),
                source: CredentialSource::Environment,
            }),
            _ => Err(MissingCredential {
                tried: vec![format!(
                    "environment variables `{ENV_ACCESS_KEY_ID}` and `{ENV_ACCESS_KEY_SECRET}`"
                )],
            }),
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, MissingCredential> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let mut c = Credential::new("id", "very-secret-value");
        c.security_token = Some(Secret::new("token-value"));
        let shown = format!("{c:?} {}", c.access_key_secret);
        assert!(!shown.contains("very-secret-value"), "{shown}");
        assert!(!shown.contains("token-value"), "{shown}");
        assert!(shown.contains("id"));
    }

    #[test]
    fn reads_the_sdk_variables() {
        let env: HashMap<&str, &str> = [
            (ENV_ACCESS_KEY_ID, "AK"),
            (ENV_ACCESS_KEY_SECRET, "SK"),
            (ENV_SECURITY_TOKEN, "TOK"),
        ]
        .into();
        let c = Credential::from_lookup(|k| env.get(k).map(|v| (*v).to_owned())).unwrap();
        assert_eq!(c.access_key_id, "AK");
        assert_eq!(c.access_key_secret.expose(), "SK");
        assert_eq!(c.security_token.unwrap().expose(), "TOK");

        let err = Credential::from_lookup(|_| None).unwrap_err();
        assert!(err.to_string().contains(ENV_ACCESS_KEY_ID));
    }
}
