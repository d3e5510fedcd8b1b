//! Typed failures of API calls: what the service answered ([`ApiError`]) and what went wrong
//! on the way ([`TransportError`]).
//!
//! Retry decisions live only in [`ApiError::is_retryable`] and [`TransportError::is_retryable`];
//! `transport` asks them and nothing else decides.

use std::fmt;

use serde::Deserialize;

use crate::cloud::status::string_enum;

string_enum!(
    /// The error codes this tool acts on; every other code is kept as `Unknown`.
    ErrorCode {
        /// Request throttling.
        Throttling => "Throttling",
        /// Per-user flow control.
        ThrottlingUser => "Throttling.User",
        /// Per-API flow control.
        ThrottlingApi => "Throttling.Api",
        /// Server fault.
        InternalError => "InternalError",
        /// Dispatch fault; retry later.
        InternalErrorDispatch => "InternalError.Dispatch",
        /// Server fault.
        UnknownError => "UnknownError",
        /// Temporary failure.
        ServiceUnavailable => "ServiceUnavailable",
        /// Wrong secret or canonicalisation.
        SignatureDoesNotMatch => "SignatureDoesNotMatch",
        /// Unknown `AccessKey` id.
        InvalidAccessKeyIdNotFound => "InvalidAccessKeyId.NotFound",
        /// Clock skew over 15 minutes.
        InvalidTimeStampExpired => "InvalidTimeStamp.Expired",
        /// Nonce replay.
        SignatureNonceUsed => "SignatureNonceUsed",
        /// Unknown command.
        InvalidCmdIdNotFound => "InvalidCmdId.NotFound",
        /// Unknown task.
        InvalidInvokeIdNotFound => "InvalidInvokeId.NotFound",
        /// Unknown instance.
        InvalidInstanceNotFound => "InvalidInstance.NotFound",
        /// Instance state does not allow the command.
        InvalidInstanceNotMatch => "InvalidInstance.NotMatch",
        /// Same `ClientToken`, different parameters.
        IdempotentParameterMismatch => "IdempotentParameterMismatch",
        /// Same `ClientToken`, first call still processing.
        IdempotentProcessing => "IdempotentProcessing",
        /// Bad Frequency.
        InvalidParamFrequency => "InvalidParam.Frequency",
    }
);

impl ErrorCode {
    /// Whether the code asks the caller to slow down.
    pub fn is_throttling(&self) -> bool {
        matches!(
            self,
            Self::Throttling | Self::ThrottlingUser | Self::ThrottlingApi
        )
    }
}

/// An error answer from the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The action that failed.
    pub action: &'static str,
    /// HTTP status of the answer.
    pub http_status: u16,
    /// `Code` of the body.
    pub code: ErrorCode,
    /// `Message` of the body.
    pub message: String,
    /// `RequestId` of the body, for support tickets.
    pub request_id: String,
    /// `Recommend`: the diagnosis link, when given.
    pub recommend: Option<String>,
    /// Seconds the service asked us to wait (`x-acs-retry-after`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// Whether sending the same request again may succeed: throttling, 5xx and the server
    /// faults the official SDK retries (reference §2.7).
    pub fn is_retryable(&self) -> bool {
        self.code.is_throttling()
            || matches!(
                self.code,
                ErrorCode::InternalError
                    | ErrorCode::InternalErrorDispatch
                    | ErrorCode::UnknownError
                    | ErrorCode::ServiceUnavailable
                    | ErrorCode::IdempotentProcessing
            )
            || self.http_status >= 500
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` failed with `{}` (HTTP {}): {}",
            self.action, self.code, self.http_status, self.message
        )?;
        if !self.request_id.is_empty() {
            write!(f, " (request id {})", self.request_id)?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// The error body (reference §9.1); the Tea SDK also accepts lower-case keys.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ErrorBody {
    #[serde(rename = "Code", alias = "code")]
    pub(crate) code: String,
    #[serde(rename = "Message", alias = "message")]
    pub(crate) message: String,
    #[serde(rename = "RequestId", alias = "requestId")]
    pub(crate) request_id: String,
    #[serde(rename = "Recommend")]
    pub(crate) recommend: Option<String>,
}

/// A failure before an answer could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// Could not connect, or the connection broke before a full answer arrived.
    Connect {
        /// The action.
        action: &'static str,
        /// What the HTTP stack said.
        detail: String,
    },
    /// No answer within the action's read timeout.
    Timeout {
        /// The action.
        action: &'static str,
    },
    /// An answer arrived but is not the JSON we expect.
    Decode {
        /// The action.
        action: &'static str,
        /// HTTP status.
        http_status: u16,
        /// What did not parse, with the start of the body.
        detail: String,
    },
}

impl TransportError {
    /// Whether the request may be sent again. A broken connection or a timeout leaves the
    /// outcome unknown; callers still only repeat reads and token-guarded writes.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::Timeout { .. } => true,
            Self::Decode { http_status, .. } => *http_status >= 500,
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect { action, detail } => {
                write!(f, "`{action}`: connection failed: {detail}")
            }
            Self::Timeout { action } => write!(f, "`{action}`: no answer in time"),
            Self::Decode {
                action,
                http_status,
                detail,
            } => write!(
                f,
                "`{action}`: unexpected answer (HTTP {http_status}): {detail}"
            ),
        }
    }
}

impl std::error::Error for TransportError {}

/// Any failure of one call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The service answered with an error.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// No usable answer.
    #[error(transparent)]
    Transport(#[from] TransportError),
}

impl CallError {
    /// Whether sending again may help.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api(e) => e.is_retryable(),
            Self::Transport(e) => e.is_retryable(),
        }
    }

    /// The API error code, when the service answered.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Self::Api(e) => Some(&e.code),
            Self::Transport(_) => None,
        }
    }
}
