//! The one generic call: build, sign, send, retry, decode and map errors for any [`Action`].
//!
//! Requests go out the way the official SDKs send them: with signature V1 (the default) as the
//! Python SDK does (reference §2.4), `POST /?<every parameter and the signature>` with an empty
//! body; with signature V3 as the Tea SDK does (reference §2.6), `POST /?<the parameters>` with
//! the action, version, date, nonce and body hash in signed `x-acs-*` headers and an
//! `Authorization` header. A retried request gets a fresh nonce and timestamp but the same
//! parameters, so a `ClientToken` is reused as it must be.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cloud::action::Action;
use crate::cloud::credential::Credential;
use crate::cloud::error::{ApiError, CallError, ErrorBody, ErrorCode, TransportError};
use crate::cloud::id::RegionId;
use crate::cloud::retry::{Backoff, Jitter};
use crate::cloud::sign::{self, API_VERSION, SignInput};
use crate::cloud::sign_v3;
use crate::cloud::wire;

/// The environment variable that points the client at another endpoint, such as the sandbox.
pub const ENV_ENDPOINT: &str = "ECS_RUNBOOK_ENDPOINT";

/// The environment variable that picks the signature version (`v1` or `v3`).
pub const ENV_SIGNATURE: &str = "ECS_RUNBOOK_SIGNATURE";

/// How requests are signed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SignatureVersion {
    /// RPC signature V1, HMAC-SHA1 (`sign`): what the Python and Node SDKs send.
    #[default]
    V1,
    /// Signature V3, `ACS3-HMAC-SHA256` (`sign_v3`): the Tea SDKs' default.
    V3,
}

/// The public regional endpoint of a region.
pub fn regional_endpoint(region: &RegionId) -> String {
    format!("https://ecs.{region}.aliyuncs.com")
}

/// How often and how patiently to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First delay of a normal retry (doubles, capped at 20 s).
    pub initial: Duration,
    /// First delay of a throttled retry (doubles, jittered, capped at 20 s).
    pub throttled_initial: Duration,
    /// Seed of the jitter; `None` draws one per client.
    pub seed: Option<u64>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 6,
            initial: Duration::from_millis(100),
            throttled_initial: Duration::from_millis(500),
            seed: None,
        }
    }
}

/// Counts of calls per action, as sent on the wire (retries included).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CallStats {
    /// Attempts per action.
    pub attempts: BTreeMap<&'static str, u64>,
    /// Retries per action (attempts after the first).
    pub retries: BTreeMap<&'static str, u64>,
}

impl CallStats {
    /// Every attempt of every action.
    pub fn total(&self) -> u64 {
        self.attempts.values().sum()
    }
}

/// A Cloud Assistant API client bound to one endpoint, region and credential.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    endpoint: String,
    region: RegionId,
    credential: Credential,
    retry: RetryPolicy,
    signature: SignatureVersion,
    stats: Arc<Mutex<CallStats>>,
    jitter: Arc<Mutex<Jitter>>,
    nonces: Arc<Mutex<Jitter>>,
}

/// Builds a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    endpoint: Option<String>,
    region: RegionId,
    credential: Credential,
    retry: RetryPolicy,
    signature: SignatureVersion,
}

impl ClientBuilder {
    /// A builder for `region` with `credential`.
    pub fn new(region: RegionId, credential: Credential) -> Self {
        Self {
            endpoint: None,
            region,
            credential,
            retry: RetryPolicy::default(),
            signature: SignatureVersion::default(),
        }
    }

    /// Signs with `signature` (V1 unless set).
    #[must_use]
    pub fn signature(mut self, signature: SignatureVersion) -> Self {
        self.signature = signature;
        self
    }

    /// Sends to `endpoint` (e.g. `http://127.0.0.1:8080`) instead of the regional one.
    #[must_use]
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Replaces the retry policy.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Client {
        // reqwest is built without a bundled crypto provider; install ring once per process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("ecs-runbook/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client configuration is static and valid");
        let endpoint = self
            .endpoint
            .unwrap_or_else(|| regional_endpoint(&self.region))
            .trim_end_matches('/')
            .to_owned();
        let jitter = self
            .retry
            .seed
            .map_or_else(Jitter::from_entropy, Jitter::seeded);
        Client {
            http,
            endpoint,
            region: self.region,
            credential: self.credential,
            retry: self.retry,
            signature: self.signature,
            stats: Arc::default(),
            jitter: Arc::new(Mutex::new(jitter)),
            // Nonces never come from the seeded sequence: two processes with the same seed
            // would otherwise replay each other's nonces.
            nonces: Arc::new(Mutex::new(Jitter::from_entropy())),
        }
    }
}

/// The read timeout of an action, as the official SDK sets it (reference §2.7).
fn read_timeout(action: &str) -> Duration {
    match action {
        "DescribeInstances"
        | "InstallCloudAssistant"
        | "StopInvocation"
        | "RunCommand"
        | "StartInstance" => Duration::from_secs(10),
        _ => Duration::from_secs(16),
    }
}

impl Client {
    /// The endpoint requests go to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The region every request names.
    pub fn region(&self) -> &RegionId {
        &self.region
    }

    /// How requests are signed.
    pub fn signature(&self) -> SignatureVersion {
        self.signature
    }

    /// The calls made so far.
    pub fn stats(&self) -> CallStats {
        self.stats.lock().expect("stats lock").clone()
    }

    /// Sends `request`, retrying what may be retried, and decodes the answer.
    pub async fn call<A: Action>(&self, request: &A) -> Result<A::Response, CallError> {
        let params = wire::to_params(request);
        let mut normal = Backoff::new(self.retry.initial, 2.0, Duration::from_secs(20), None);
        let mut throttled = {
            let seed = self.jitter.lock().expect("jitter lock").next_u64();
            Backoff::new(
                self.retry.throttled_initial,
                2.0,
                Duration::from_secs(20),
                Some(Jitter::seeded(seed)),
            )
        };
        let mut attempt = 0;
        loop {
            let result = self.send::<A>(&params, attempt).await;
            let error = match result {
                Ok(response) => return Ok(response),
                Err(error) => error,
            };
            if attempt >= self.retry.max_retries || !error.is_retryable() || !request.may_retry() {
                return Err(error);
            }
            let delay = match &error {
                CallError::Api(api) if api.code.is_throttling() => match api.retry_after {
                    Some(secs) => Duration::from_secs(secs),
                    None => throttled.next().expect("backoff never ends"),
                },
                _ => normal.next().expect("backoff never ends"),
            };
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn send<A: Action>(
        &self,
        params: &wire::Params,
        attempt: u32,
    ) -> Result<A::Response, CallError> {
        {
            let mut stats = self.stats.lock().expect("stats lock");
            *stats.attempts.entry(A::NAME).or_default() += 1;
            if attempt > 0 {
                *stats.retries.entry(A::NAME).or_default() += 1;
            }
        }
        let timestamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let nonce = self.nonce();
        let (query, headers) = self.sign::<A>(params, &timestamp, &nonce);
        let url = query_url(&self.endpoint, &query);
        tracing::trace!(
            action = A::NAME,
            endpoint = %self.endpoint,
            attempt,
            params = %redacted(&query),
            "sending"
        );
        let started = std::time::Instant::now();
        let mut request = self
            .http
            .post(url)
            .header("content-length", "0")
            .timeout(read_timeout(A::NAME));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|e| logged(transport_error(A::NAME, &e), started, attempt))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("x-acs-retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|secs| *secs > 0);
        let body = response
            .bytes()
            .await
            .map_err(|e| logged(transport_error(A::NAME, &e), started, attempt))?;
        if tracing::enabled!(tracing::Level::DEBUG) {
            let request_id = serde_json::from_slice::<RequestIdOnly>(&body)
                .map(|r| r.request_id)
                .unwrap_or_default();
            tracing::debug!(
                action = A::NAME,
                status,
                request_id = %request_id,
                attempt,
                duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                bytes = body.len(),
                "api call"
            );
        }
        if (200..300).contains(&status) {
            return serde_json::from_slice(&body).map_err(|e| {
                TransportError::Decode {
                    action: A::NAME,
                    http_status: status,
                    detail: format!("{e}: {}", snippet(&body)),
                }
                .into()
            });
        }
        match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(err) if !err.code.is_empty() => Err(ApiError {
                action: A::NAME,
                http_status: status,
                code: ErrorCode::parse(&err.code),
                message: err.message,
                request_id: err.request_id,
                recommend: err.recommend,
                retry_after,
            }
            .into()),
            _ => Err(TransportError::Decode {
                action: A::NAME,
                http_status: status,
                detail: format!("not an API error body: {}", snippet(&body)),
            }
            .into()),
        }
    }

    /// The query and the headers of one attempt, signed with the client's signature version.
    /// V1 signs the parameters with the common ones (the signature among them) and sends the
    /// action and version as unsigned headers, as the Python SDK does; V3 sends the
    /// parameters with `RegionId` and signs them with the `x-acs-*` headers.
    fn sign<A: Action>(
        &self,
        params: &wire::Params,
        timestamp: &str,
        nonce: &str,
    ) -> (wire::Params, Vec<(String, String)>) {
        let secret = self.credential.access_key_secret.expose();
        let token = self
            .credential
            .security_token
            .as_ref()
            .map(crate::cloud::credential::Secret::expose);
        match self.signature {
            SignatureVersion::V1 => {
                let signed = sign::sign_request(
                    &SignInput {
                        method: "POST",
                        action: A::NAME,
                        region: self.region.as_str(),
                        access_key_id: &self.credential.access_key_id,
                        access_key_secret: secret,
                        security_token: token,
                        timestamp,
                        nonce,
                    },
                    params.clone(),
                );
                let headers = vec![
                    ("x-acs-action".to_owned(), A::NAME.to_owned()),
                    ("x-acs-version".to_owned(), API_VERSION.to_owned()),
                ];
                (signed, headers)
            }
            SignatureVersion::V3 => {
                let mut query = params.clone();
                query
                    .entry("RegionId".to_owned())
                    .or_insert_with(|| self.region.as_str().to_owned());
                let headers = sign_v3::sign_request(
                    &sign_v3::SignInput {
                        host: host_of(&self.endpoint),
                        action: A::NAME,
                        access_key_id: &self.credential.access_key_id,
                        access_key_secret: secret,
                        security_token: token,
                        date: timestamp,
                        nonce,
                    },
                    &query,
                );
                (query, headers)
            }
        }
    }

    /// 32 lower-case hex characters, unique per request.
    fn nonce(&self) -> String {
        let mut nonces = self.nonces.lock().expect("nonce lock");
        format!("{:016x}{:016x}", nonces.next_u64(), nonces.next_u64())
    }
}

/// The authority of `endpoint` (`host` or `host:port`), which is what the `Host` header
/// carries and V3 signs.
fn host_of(endpoint: &str) -> &str {
    let rest = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    authority
        .strip_suffix(":443")
        .filter(|_| endpoint.starts_with("https://"))
        .or_else(|| {
            authority
                .strip_suffix(":80")
                .filter(|_| endpoint.starts_with("http://"))
        })
        .unwrap_or(authority)
}

/// `<endpoint>/?<every parameter, percent-encoded>`, as the official SDK sends a POST.
fn query_url(endpoint: &str, params: &wire::Params) -> String {
    let mut url = String::with_capacity(endpoint.len() + 64 * params.len());
    url.push_str(endpoint);
    url.push_str("/?");
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            url.push('&');
        }
        url.push_str(&sign::percent_encode(name));
        url.push('=');
        url.push_str(&sign::percent_encode(value));
    }
    url
}

/// Only the request id of a response body, for logs.
#[derive(serde::Deserialize)]
struct RequestIdOnly {
    #[serde(rename = "RequestId", default)]
    request_id: String,
}

/// Logs a failed exchange at debug level and passes the error on.
fn logged(error: CallError, started: std::time::Instant, attempt: u32) -> CallError {
    tracing::debug!(
        attempt,
        duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        error = %error,
        "api call failed"
    );
    error
}

/// Parameters for a trace log: the signature and the STS token are hidden, and the values that
/// can carry secret variables (the script and its parameters) are shown only by size.
pub(crate) fn redacted(params: &wire::Params) -> String {
    params
        .iter()
        .map(|(name, value)| {
            let shown = match name.as_str() {
                "Signature" | "SecurityToken" => "<redacted>".to_owned(),
                "CommandContent" | "Parameters" => format!("<{} bytes>", value.len()),
                _ => value.clone(),
            };
            format!("{name}={shown}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn transport_error(action: &'static str, error: &reqwest::Error) -> CallError {
    if error.is_timeout() {
        TransportError::Timeout { action }.into()
    } else {
        // Walk the source chain: reqwest's own message is only "error sending request".
        let mut detail = error.to_string();
        // reqwest names the URL, whose query holds the AccessKeyId, the signature and every
        // parameter (the script too, with any secret inlined into it): show only where the
        // request went.
        if let Some(url) = error.url() {
            let origin = url.origin().ascii_serialization();
            detail = detail.replace(url.as_str(), &origin);
        }
        let mut source = std::error::Error::source(error);
        while let Some(s) = source {
            detail.push_str(": ");
            detail.push_str(&s.to_string());
            source = s.source();
        }
        TransportError::Connect { action, detail }.into()
    }
}

/// The start of a body for an error message. Answers carry scripts (`CommandContent`) and
/// output in Base64, where a secret may hide, so long Base64 runs are shown only by size.
fn snippet(body: &[u8]) -> String {
    static BASE64_RUN: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"[A-Za-z0-9+/]{16,}={0,2}").expect("the pattern is valid")
    });
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    BASE64_RUN
        .replace_all(&text, |caps: &regex::Captures<'_>| {
            format!("<{} bytes of Base64>", caps[0].len())
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_snippets_hide_base64() {
        let body =
            br#"{"CommandContent":"ZWNobyBzM2NyM3QtdmFsdWU=","Name":"rb/step","Id":"c-hz01"}"#;
        assert_eq!(
            snippet(body),
            r#"{"CommandContent":"<24 bytes of Base64>","Name":"rb/step","Id":"c-hz01"}"#
        );
    }

    #[test]
    fn host_is_the_authority_without_a_default_port() {
        let table = [
            (
                "https://ecs.cn-hangzhou.aliyuncs.com",
                "ecs.cn-hangzhou.aliyuncs.com",
            ),
            (
                "https://ecs.cn-hangzhou.aliyuncs.com:443/",
                "ecs.cn-hangzhou.aliyuncs.com",
            ),
            ("http://127.0.0.1:8080", "127.0.0.1:8080"),
            ("http://127.0.0.1:80", "127.0.0.1"),
            ("https://host:80", "host:80"),
            ("http://[::1]:9000/x?y", "[::1]:9000"),
            (
                "ecs-vpc.cn-hangzhou.aliyuncs.com",
                "ecs-vpc.cn-hangzhou.aliyuncs.com",
            ),
        ];
        for (endpoint, host) in table {
            assert_eq!(host_of(endpoint), host, "{endpoint}");
        }
    }
}
