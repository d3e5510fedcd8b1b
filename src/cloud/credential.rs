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
    /// A profile of the aliyun CLI configuration.
    Profile(String),
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
}

#[cfg(test)]
mod tests {
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
}
