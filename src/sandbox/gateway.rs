//! The gateway in front of every action (reference §2, §9.2, §12): collects parameters from
//! the query and the form body, checks the common parameters, timestamp, nonce, AccessKey and
//! signature, applies injected faults, and renders the answer in JSON or XML.
//!
//! Checks run in the order of reference §12, with the unknown-action check answered before the
//! signature, as the real gateway does. A nonce is remembered only once its request has been
//! authenticated, so a badly signed request cannot burn a nonce for the real one.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use tokio::sync::Notify;

use crate::cloud::sign;
use crate::cloud::wire::Params;
use crate::sandbox::error::SandboxError;
use crate::sandbox::fault::FaultKind;
use crate::sandbox::format::{Format, ReplyContext};
use crate::sandbox::handlers::{self, ACTIONS, Call};
use crate::sandbox::state::Sandbox;

/// Lets a handler close the TCP connection it came on without answering.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnControl(Arc<Notify>);

impl ConnControl {
    /// Asks the connection task to drop the connection.
    pub(crate) fn kill(&self) {
        self.0.notify_one();
    }

    /// Resolves once [`ConnControl::kill`] was called.
    pub(crate) async fn killed(&self) {
        self.0.notified().await;
    }
}

/// The common parameters that must be present, in the order they are checked.
const REQUIRED: [&str; 8] = [
    "Action",
    "Version",
    "AccessKeyId",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Timestamp",
    "Signature",
];

/// The prefix of the `SignatureDoesNotMatch` message; SDKs split it off at the first `:` to
/// compare the string-to-sign with their own.
pub(crate) const SIGNATURE_MESSAGE_PREFIX: &str =
    "Specified signature is not matched with our calculation. server string to sign is:";

/// The axum handler of `/`: every API call.
pub(crate) async fn api(State(sandbox): State<Arc<Sandbox>>, request: Request) -> Response {
    let conn = request.extensions().get::<ConnControl>().cloned();
    let mut context = ReplyContext {
        request_id: sandbox.lock().new_request_id(),
        host_id: request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1")
            .to_owned(),
        format: Format::Xml,
    };
    match serve(&sandbox, request, &mut context, conn).await {
        Ok(response) => response,
        Err(error) => {
            *sandbox
                .lock()
                .stats
                .errors
                .entry(error.code.to_string())
                .or_default() += 1;
            error.with_context(&context).into_response()
        }
    }
}

async fn serve(
    sandbox: &Arc<Sandbox>,
    request: Request,
    context: &mut ReplyContext,
    conn: Option<ConnControl>,
) -> Result<Response, SandboxError> {
    let method = request.method().clone();
    if method != Method::GET && method != Method::POST {
        return Err(SandboxError::new(
            400,
            "UnsupportedHTTPMethod",
            format!("The HTTP method {method} is not supported; use GET or POST."),
        ));
    }
    let params = collect_params(sandbox, request).await?;
    context.format = Format::parse(params.get("Format").map(String::as_str)).ok_or_else(|| {
        SandboxError::new(
            400,
            "InvalidParameter.Format",
            "Specified parameter format is not valid.",
        )
    })?;
    let action = authenticate(
        sandbox,
        method.as_str(),
        &params,
        Utc::now(),
        Instant::now(),
    )?;
    let region = params
        .get("RegionId")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| SandboxError::missing("RegionId"))?;

    let decision = {
        let mut state = sandbox.lock();
        *state.stats.calls.entry(action.to_owned()).or_default() += 1;
        let decision = state.faults.decide(action);
        if let Some(fault) = decision.fault {
            *state
                .stats
                .faults
                .entry(format!("{action}:{}", fault.as_str()))
                .or_default() += 1;
        }
        decision
    };
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    match decision.fault {
        Some(FaultKind::Throttle) => {
            return Err(SandboxError::new(
                400,
                "Throttling.User",
                "Request was denied due to user flow control.",
            ));
        }
        Some(FaultKind::Unavailable) => {
            return Err(SandboxError::new(
                503,
                "ServiceUnavailable",
                "The request has failed due to a temporary failure of the server.",
            ));
        }
        Some(FaultKind::InternalError) => {
            return Err(SandboxError::new(
                500,
                "InternalError",
                "The request processing has failed due to some unknown error, exception or failure.",
            ));
        }
        Some(FaultKind::DropBefore) => return Err(drop_connection(conn).await),
        Some(FaultKind::Ok | FaultKind::DropAfter) | None => {}
    }
    let call = Call {
        action,
        region,
        params: &params,
        now: Utc::now(),
    };
    let result = handlers::dispatch(sandbox, &call);
    if decision.fault == Some(FaultKind::DropAfter) {
        // The action took effect (or failed); the client never learns which.
        return Err(drop_connection(conn).await);
    }
    let mut body = result?;
    if let Some(map) = body.as_object_mut() {
        map.insert(
            "RequestId".to_owned(),
            serde_json::Value::String(context.request_id.clone()),
        );
    }
    let bytes = context.format.render(&format!("{action}Response"), &body);
    let mut response = Response::new(Body::from(bytes));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(context.format.content_type()),
    );
    Ok(response)
}

/// Closes the connection without an answer. Served without the sandbox's own accept loop
/// (the router alone, in process) there is no connection to close, so a 500 stands in.
async fn drop_connection(conn: Option<ConnControl>) -> SandboxError {
    match conn {
        Some(conn) => {
            conn.kill();
            std::future::pending::<()>().await;
            unreachable!("the connection task drops this future")
        }
        None => SandboxError::new(
            500,
            "InternalError",
            "The sandbox would have dropped this connection (fault injection).",
        ),
    }
}

/// Query and form-body parameters as one map; `+` decodes as a space in both.
async fn collect_params(sandbox: &Sandbox, request: Request) -> Result<Params, SandboxError> {
    let limit = sandbox.settings.limits.request_bytes;
    let too_large = || {
        SandboxError::new(
            413,
            "RequestTooLarge",
            format!(
                "The request exceeds the sandbox limit of {limit} bytes (request line plus body)."
            ),
        )
    };
    let query = request.uri().query().unwrap_or("").to_owned();
    if query.len() > limit {
        return Err(too_large());
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    let body = axum::body::to_bytes(request.into_body(), limit - query.len())
        .await
        .map_err(|_| too_large())?;
    let mut params = Params::new();
    let body_pairs = if is_form { &body[..] } else { &[][..] };
    for (name, value) in
        form_urlencoded::parse(query.as_bytes()).chain(form_urlencoded::parse(body_pairs))
    {
        if params
            .insert(name.clone().into_owned(), value.into_owned())
            .is_some()
        {
            return Err(SandboxError::new(
                400,
                "InvalidParameter",
                format!("The parameter \"{name}\" is given more than once."),
            ));
        }
    }
    Ok(params)
}

/// Checks the common parameters and the signature; returns the action name.
pub(crate) fn authenticate<'p>(
    sandbox: &Sandbox,
    method: &str,
    params: &'p Params,
    now: DateTime<Utc>,
    clock: Instant,
) -> Result<&'p str, SandboxError> {
    let action = check_common(params)?;
    let get = |name: &str| params.get(name).map_or("", String::as_str);
    let timestamp = parse_timestamp(get("Timestamp")).ok_or_else(|| {
        SandboxError::new(
            400,
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted.",
        )
    })?;
    let limits = &sandbox.settings.limits;
    let skew = chrono::Duration::from_std(limits.timestamp_skew).unwrap_or(chrono::Duration::MAX);
    if (now - timestamp).abs() > skew {
        return Err(SandboxError::new(
            400,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        ));
    }
    let nonce = get("SignatureNonce");
    if sandbox
        .lock()
        .nonces
        .contains(nonce, clock, limits.timestamp_skew)
    {
        return Err(SandboxError::new(
            400,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        ));
    }
    let secret = sandbox
        .settings
        .keys
        .get(get("AccessKeyId"))
        .ok_or_else(|| {
            SandboxError::new(
                404,
                "InvalidAccessKeyId.NotFound",
                "Specified access key is not found.",
            )
        })?;
    let string_to_sign = sign::string_to_sign(method, params);
    let expected = sign::signature(secret, &string_to_sign);
    if !constant_time_eq(expected.as_bytes(), get("Signature").as_bytes()) {
        return Err(SandboxError::new(
            400,
            "SignatureDoesNotMatch",
            format!("{SIGNATURE_MESSAGE_PREFIX}{string_to_sign}"),
        ));
    }
    let mut state = sandbox.lock();
    // Checked again under the same lock as the insert: two requests racing with one nonce.
    if state.nonces.contains(nonce, clock, limits.timestamp_skew) {
        return Err(SandboxError::new(
            400,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        ));
    }
    state
        .nonces
        .insert(nonce, clock, limits.timestamp_skew, limits.nonces);
    Ok(action)
}

/// Presence and fixed values of the common parameters; the action must be known.
fn check_common(params: &Params) -> Result<&str, SandboxError> {
    for name in REQUIRED {
        if params.get(name).is_none_or(String::is_empty) {
            return Err(match name {
                "Timestamp" => SandboxError::new(
                    400,
                    "IllegalTimestamp",
                    "The input parameter \"Timestamp\" that is mandatory for processing this request is not supplied.",
                ),
                "Signature" => SandboxError::new(
                    400,
                    "IncompleteSignature",
                    "The request signature does not conform to Aliyun standards.",
                ),
                _ => SandboxError::missing(name),
            });
        }
    }
    let get = |name: &str| params.get(name).map_or("", String::as_str);
    if get("Version") != sign::API_VERSION {
        return Err(SandboxError::invalid("Version"));
    }
    let action = get("Action");
    if !ACTIONS.contains(&action) {
        return Err(SandboxError::new(
            404,
            "InvalidApi.NotFound",
            "Specified api is not found, please check your url and method.",
        ));
    }
    if get("SignatureMethod") != "HMAC-SHA1" {
        return Err(SandboxError::new(
            400,
            "InvalidSignatureMethod",
            "Specified signature method is not valid.",
        ));
    }
    if get("SignatureVersion") != "1.0" {
        return Err(SandboxError::invalid("SignatureVersion"));
    }
    if !get("SignatureType").is_empty() {
        return Err(SandboxError::new(
            400,
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards (only AccessKey signatures are supported).",
        ));
    }
    Ok(action)
}

/// `yyyy-MM-ddTHH:mm:ssZ`, optionally with fractional seconds.
fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.fZ"))
        .ok()?;
    Some(naive.and_utc())
}

/// Compares without an early exit, so timing does not reveal how much of a guess matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (x, y) in a.iter().zip(b.iter()) {
        diff |= x ^ y;
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_comparison() {
        assert!(parse_timestamp("2024-05-01T08:30:00Z").is_some());
        assert!(parse_timestamp("2024-05-01T08:30:00.123Z").is_some());
        assert!(parse_timestamp("2024-05-01 08:30:00").is_none());
        assert!(parse_timestamp("1714552200").is_none());
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
