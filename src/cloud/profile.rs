//! The aliyun CLI's configuration file (`~/.aliyun/config.json`) and the credential chain.
//!
//! The chain follows the official SDKs' default chain (the `alibabacloud-credentials`
//! libraries): an explicitly named profile first (`--profile`), then the environment variables
//! `ALIBABA_CLOUD_ACCESS_KEY_ID` / `ALIBABA_CLOUD_ACCESS_KEY_SECRET` (with
//! `ALIBABA_CLOUD_SECURITY_TOKEN`), then the CLI profile named by `ALIBABA_CLOUD_PROFILE` or
//! the file's `current` profile (skipped when `ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true`). Of
//! the CLI's credential modes, `AK` and `StsToken` are supported; any other mode is reported
//! with what to do instead. Reading is done through a [`Lookup`] so tests can pass a fake
//! environment and a temporary home directory.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cloud::credential::{
    Credential, CredentialSource, ENV_ACCESS_KEY_ID, ENV_ACCESS_KEY_SECRET, ENV_SECURITY_TOKEN,
    Secret,
};
use crate::cloud::id::RegionId;

/// Names the CLI profile to use when `--profile` is not given.
pub const ENV_PROFILE: &str = "ALIBABA_CLOUD_PROFILE";
/// Set to `true` to skip the CLI configuration file.
pub const ENV_PROFILE_DISABLED: &str = "ALIBABA_CLOUD_CLI_PROFILE_DISABLED";
/// Overrides the path of the CLI configuration file (as the aliyun CLI's `--config-path`).
pub const ENV_CONFIG_FILE: &str = "ALIBABA_CLOUD_CONFIG_FILE";

/// Where the chain reads from.
pub struct Lookup<'a> {
    /// Environment variables.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// The home directory, for `~/.aliyun/config.json`.
    pub home: Option<PathBuf>,
}

impl Lookup<'_> {
    fn var(&self, name: &str) -> Option<String> {
        (self.env)(name).filter(|v| !v.trim().is_empty())
    }

    fn config_path(&self) -> Option<PathBuf> {
        self.var(ENV_CONFIG_FILE).map(PathBuf::from).or_else(|| {
            self.home
                .as_ref()
                .map(|h| h.join(".aliyun").join("config.json"))
        })
    }
}

/// A credential and, when it came from a profile, the profile's region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The credential.
    pub credential: Credential,
    /// The profile's `region_id`, when set.
    pub region: Option<RegionId>,
}

/// Why no credential could be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// Nothing in the chain had a credential.
    #[error("no Alibaba Cloud credentials found; tried, in order: {}", tried.join("; "))]
    Missing {
        /// Each place looked at, with what was found there.
        tried: Vec<String>,
    },
    /// The named profile does not exist.
    #[error("profile `{name}` is not in `{}`{}", path.display(), suggestion(available))]
    UnknownProfile {
        /// The name asked for.
        name: String,
        /// The configuration file.
        path: PathBuf,
        /// The profiles it has.
        available: Vec<String>,
    },
    /// The profile uses a mode this tool does not support.
    #[error(
        "profile `{name}` uses credential mode `{mode}`; ecs-runbook supports `AK` and `StsToken` profiles, or the `ALIBABA_CLOUD_ACCESS_KEY_ID` / `ALIBABA_CLOUD_ACCESS_KEY_SECRET` / `ALIBABA_CLOUD_SECURITY_TOKEN` variables (for example from `aliyun sts AssumeRole`)"
    )]
    UnsupportedMode {
        /// The profile.
        name: String,
        /// Its mode.
        mode: String,
    },
    /// The profile lacks a field its mode needs.
    #[error("profile `{name}` (mode `{mode}`) has no `{field}`")]
    Incomplete {
        /// The profile.
        name: String,
        /// Its mode.
        mode: String,
        /// The missing field.
        field: &'static str,
    },
    /// The configuration file exists but is not valid.
    #[error("cannot read `{}`: {detail}", path.display())]
    BadConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

fn suggestion(available: &[String]) -> String {
    if available.is_empty() {
        " (it has no profiles)".to_owned()
    } else {
        format!("; its profiles are {}", crate::suggest::one_of(available))
    }
}

/// The aliyun CLI configuration file, as far as credentials go.
#[derive(Debug, Deserialize)]
struct Config {
    #[serde(default)]
    current: String,
    #[serde(default)]
    profiles: Vec<Profile>,
}

#[derive(Debug, Deserialize)]
struct Profile {
    #[serde(default)]
    name: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    access_key_secret: String,
    #[serde(default)]
    sts_token: String,
    #[serde(default)]
    region_id: String,
}

/// Resolves the credential chain; `profile` is `--profile`.
pub fn resolve(profile: Option<&str>, lookup: &Lookup<'_>) -> Result<Resolved, CredentialError> {
    let mut tried = Vec::new();
    if let Some(name) = profile {
        let path = lookup
            .config_path()
            .ok_or_else(|| CredentialError::Missing {
                tried: vec![format!(
                    "profile `{name}`: no home directory to find the aliyun CLI configuration in"
                )],
            })?;
        let config = read_config(&path)?.ok_or_else(|| CredentialError::UnknownProfile {
            name: name.to_owned(),
            path: path.clone(),
            available: Vec::new(),
        })?;
        return from_profile(
            &config,
            name,
            &path,
            CredentialSource::Profile(name.to_owned()),
        );
    }

    match (
        lookup.var(ENV_ACCESS_KEY_ID),
        lookup.var(ENV_ACCESS_KEY_SECRET),
    ) {
        (Some(id), Some(secret)) => {
            return Ok(Resolved {
                credential: Credential {
                    access_key_id: id,
                    access_key_secret: Secret::new(secret),
                    security_token: lookup.var(ENV_SECURITY_TOKEN).map(Secret::new),
                    source: CredentialSource::Environment,
                },
                region: None,
            });
        }
        // Half a key pair is a mistake (a misnamed CI secret), not a reason to fall back to a
        // developer's profile: the official SDKs' environment provider stops here too.
        (Some(_), None) => {
            tried.push(format!(
                "environment: `{ENV_ACCESS_KEY_ID}` is set but `{ENV_ACCESS_KEY_SECRET}` is not \
                 (a half-set pair stops the search; profiles were not tried)"
            ));
            return Err(CredentialError::Missing { tried });
        }
        (None, Some(_)) => {
            tried.push(format!(
                "environment: `{ENV_ACCESS_KEY_SECRET}` is set but `{ENV_ACCESS_KEY_ID}` is not \
                 (a half-set pair stops the search; profiles were not tried)"
            ));
            return Err(CredentialError::Missing { tried });
        }
        (None, None) => tried.push(format!(
            "environment: `{ENV_ACCESS_KEY_ID}` and `{ENV_ACCESS_KEY_SECRET}` are not set"
        )),
    }

    if lookup
        .var(ENV_PROFILE_DISABLED)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        tried.push(format!(
            "aliyun CLI profile: disabled by `{ENV_PROFILE_DISABLED}`"
        ));
        return Err(CredentialError::Missing { tried });
    }
    let Some(path) = lookup.config_path() else {
        tried.push("aliyun CLI profile: no home directory".to_owned());
        return Err(CredentialError::Missing { tried });
    };
    let Some(config) = read_config(&path)? else {
        tried.push(format!(
            "aliyun CLI profile: `{}` does not exist",
            path.display()
        ));
        return Err(CredentialError::Missing { tried });
    };
    let name = lookup
        .var(ENV_PROFILE)
        .unwrap_or_else(|| config.current.clone());
    if name.is_empty() {
        tried.push(format!(
            "aliyun CLI profile: `{}` names no current profile",
            path.display()
        ));
        return Err(CredentialError::Missing { tried });
    }
    from_profile(
        &config,
        &name,
        &path,
        CredentialSource::Profile(name.clone()),
    )
}

/// Resolves with the process environment and `$HOME`.
pub fn resolve_default(profile: Option<&str>) -> Result<Resolved, CredentialError> {
    let env = |name: &str| std::env::var(name).ok();
    resolve(
        profile,
        &Lookup {
            env: &env,
            home: std::env::var_os("HOME").map(PathBuf::from),
        },
    )
}

fn read_config(path: &Path) -> Result<Option<Config>, CredentialError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CredentialError::BadConfig {
                path: path.to_owned(),
                detail: e.to_string(),
            });
        }
    };
    // serde_json's messages name line and column but never echo values, so no secret leaks.
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| CredentialError::BadConfig {
            path: path.to_owned(),
            detail: e.to_string(),
        })
}

fn from_profile(
    config: &Config,
    name: &str,
    path: &Path,
    source: CredentialSource,
) -> Result<Resolved, CredentialError> {
    let Some(profile) = config.profiles.iter().find(|p| p.name == name) else {
        return Err(CredentialError::UnknownProfile {
            name: name.to_owned(),
            path: path.to_owned(),
            available: config.profiles.iter().map(|p| p.name.clone()).collect(),
        });
    };
    let mode = if profile.mode.is_empty() {
        "AK"
    } else {
        profile.mode.as_str()
    };
    let needs_token = match mode {
        "AK" => false,
        "StsToken" => true,
        other => {
            return Err(CredentialError::UnsupportedMode {
                name: name.to_owned(),
                mode: other.to_owned(),
            });
        }
    };
    let require = |value: &str, field: &'static str| {
        if value.trim().is_empty() {
            Err(CredentialError::Incomplete {
                name: name.to_owned(),
                mode: mode.to_owned(),
                field,
            })
        } else {
            Ok(value.to_owned())
        }
    };
    let access_key_id = require(&profile.access_key_id, "access_key_id")?;
    let access_key_secret = require(&profile.access_key_secret, "access_key_secret")?;
    let security_token = if needs_token {
        Some(Secret::new(require(&profile.sts_token, "sts_token")?))
    } else {
        None
    };
    Ok(Resolved {
        credential: Credential {
            access_key_id,
            access_key_secret: Secret::new(access_key_secret),
            security_token,
            source,
        },
        region: (!profile.region_id.is_empty()).then(|| RegionId::new(profile.region_id.clone())),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const CONFIG: &str = r#"{
      "current": "work",
      "profiles": [
        {"name": "work", "mode": "AK", "access_key_id": "AK-WORK", "access_key_secret": "SK-WORK", "region_id": "cn-shanghai"},
        {"name": "sts", "mode": "StsToken", "access_key_id": "STS.ID", "access_key_secret": "SK-STS", "sts_token": "TOKEN", "region_id": ""},
        {"name": "role", "mode": "RamRoleArn", "access_key_id": "x", "access_key_secret": "y"},
        {"name": "broken", "mode": "StsToken", "access_key_id": "a", "access_key_secret": "b"}
      ],
      "meta_path": ""
    }"#;

    fn home(config: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        if let Some(text) = config {
            std::fs::create_dir_all(dir.path().join(".aliyun")).unwrap();
            std::fs::write(dir.path().join(".aliyun/config.json"), text).unwrap();
        }
        dir
    }

    fn resolve_with(
        profile: Option<&str>,
        env: &[(&str, &str)],
        config: Option<&str>,
    ) -> Result<Resolved, CredentialError> {
        let dir = home(config);
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let lookup = |name: &str| env.get(name).cloned();
        resolve(
            profile,
            &Lookup {
                env: &lookup,
                home: Some(dir.path().to_owned()),
            },
        )
    }

    fn key(r: &Result<Resolved, CredentialError>) -> String {
        match r {
            Ok(r) => format!(
                "{} {:?} {:?}",
                r.credential.access_key_id,
                r.credential.security_token.as_ref().map(Secret::expose),
                r.region.as_ref().map(RegionId::as_str)
            ),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn precedence_follows_the_sdk_chain() {
        type Case<'a> = (Option<&'a str>, &'a [(&'a str, &'a str)], &'a str);
        let env_keys = [
            (ENV_ACCESS_KEY_ID, "AK-ENV"),
            (ENV_ACCESS_KEY_SECRET, "SK-ENV"),
        ];
        let cases: &[Case<'_>] = &[
            // --profile wins over everything.
            (Some("sts"), &env_keys, r#"STS.ID Some("TOKEN") None"#),
            // Then the environment.
            (None, &env_keys, "AK-ENV None None"),
            // Then ALIBABA_CLOUD_PROFILE.
            (
                None,
                &[(ENV_PROFILE, "sts")],
                r#"STS.ID Some("TOKEN") None"#,
            ),
            // Then the file's current profile, with its region.
            (None, &[], r#"AK-WORK None Some("cn-shanghai")"#),
        ];
        for (profile, env, expected) in cases {
            assert_eq!(key(&resolve_with(*profile, env, Some(CONFIG))), *expected);
        }
    }

    #[test]
    fn errors_say_what_was_tried_and_what_to_do() {
        let none = resolve_with(None, &[], None).unwrap_err().to_string();
        assert!(none.contains("ALIBABA_CLOUD_ACCESS_KEY_ID"), "{none}");
        assert!(none.contains("config.json` does not exist"), "{none}");

        let half = resolve_with(None, &[(ENV_ACCESS_KEY_ID, "x")], None)
            .unwrap_err()
            .to_string();
        assert!(half.contains("is set but"), "{half}");
        // A half-set pair never falls back to the file's current profile.
        for var in [ENV_ACCESS_KEY_ID, ENV_ACCESS_KEY_SECRET] {
            let half = resolve_with(None, &[(var, "x")], Some(CONFIG))
                .unwrap_err()
                .to_string();
            assert!(half.contains("profiles were not tried"), "{half}");
        }

        let disabled = resolve_with(None, &[(ENV_PROFILE_DISABLED, "true")], Some(CONFIG))
            .unwrap_err()
            .to_string();
        assert!(disabled.contains("disabled"), "{disabled}");

        let unknown = resolve_with(Some("wrok"), &[], Some(CONFIG))
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("`work`"), "{unknown}");

        let mode = resolve_with(Some("role"), &[], Some(CONFIG))
            .unwrap_err()
            .to_string();
        assert!(
            mode.contains("RamRoleArn") && mode.contains("StsToken"),
            "{mode}"
        );

        let incomplete = resolve_with(Some("broken"), &[], Some(CONFIG))
            .unwrap_err()
            .to_string();
        assert!(incomplete.contains("sts_token"), "{incomplete}");

        let bad = resolve_with(None, &[], Some("{not json"))
            .unwrap_err()
            .to_string();
        assert!(bad.contains("cannot read"), "{bad}");
    }

    #[test]
    fn no_secret_in_any_message() {
        let config = CONFIG
            .replace("SK-WORK", "SUPER-SECRET-1")
            .replace("TOKEN", "SUPER-SECRET-2");
        for profile in [
            None,
            Some("sts"),
            Some("role"),
            Some("nope"),
            Some("broken"),
        ] {
            let shown = format!("{:?}", resolve_with(profile, &[], Some(&config)));
            assert!(!shown.contains("SUPER-SECRET"), "{shown}");
        }
    }
}
