//! The one error type of the sandbox and its wire format (reference §9.1).
//!
//! Every failure a client can see — gateway, action or fault injection — is a [`SandboxError`]
//! and leaves through its `IntoResponse`: HTTP status plus a body with `RequestId`, `HostId`,
//! `Code`, `Message` and `Recommend`, in JSON or as `<Error>…</Error>` XML. Nothing else in the
//! sandbox builds an error body.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::sandbox::format::ReplyContext;

/// An error answer: status, code and message, plus the context it is rendered in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SandboxError {
    /// HTTP status.
    pub(crate) status: StatusCode,
    /// `Code`, e.g. `InvalidCmdId.NotFound`.
    pub(crate) code: Cow<'static, str>,
    /// `Message`.
    pub(crate) message: String,
    /// Request id, host and format; filled by the gateway before rendering.
    pub(crate) context: ReplyContext,
}

impl SandboxError {
    /// An error with `status`, `code` and `message`.
    pub(crate) fn new(
        status: u16,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status: StatusCode::from_u16(status).expect("sandbox error statuses are valid"),
            code: code.into(),
            message: message.into(),
            context: ReplyContext::default(),
        }
    }

    /// 400 `MissingParameter`: a required parameter is absent.
    pub(crate) fn missing(name: &str) -> Self {
        Self::new(
            400,
            "MissingParameter",
            format!("{name} is mandatory for this action."),
        )
    }

    /// 400 `InvalidParameter`: a parameter does not parse or is out of range.
    pub(crate) fn invalid(name: &str) -> Self {
        Self::new(
            400,
            "InvalidParameter",
            format!("The specified parameter \"{name}\" is not valid."),
        )
    }

    /// Sets the reply context (request id, host, format).
    #[must_use]
    pub(crate) fn with_context(mut self, context: &ReplyContext) -> Self {
        self.context = context.clone();
        self
    }

    /// The §9.1 body as a JSON value.
    pub(crate) fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "RequestId": self.context.request_id,
            "HostId": self.context.host_id,
            "Code": self.code,
            "Message": self.message,
            "Recommend": format!(
                "https://api.aliyun.com/troubleshoot?q={}&product=Ecs&requestId={}",
                self.code, self.context.request_id
            ),
        })
    }
}

impl std::fmt::Display for SandboxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.code,
            self.status.as_u16(),
            self.message
        )
    }
}

impl std::error::Error for SandboxError {}

impl IntoResponse for SandboxError {
    fn into_response(self) -> Response {
        let format = self.context.format;
        let body = format.render("Error", &self.body());
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::format::Format;

    #[test]
    fn renders_the_documented_body_in_both_formats() {
        let context = ReplyContext {
            request_id: "B5C6D7E8-F9A0-4B13-D8E9-F0A1B2C3D4E5".into(),
            host_id: "127.0.0.1:8080".into(),
            format: Format::Json,
        };
        let err = SandboxError::new(
            404,
            "InvalidCmdId.NotFound",
            "The specified command ID does not exist.",
        )
        .with_context(&context);
        assert_eq!(
            err.body(),
            serde_json::json!({
                "RequestId": "B5C6D7E8-F9A0-4B13-D8E9-F0A1B2C3D4E5",
                "HostId": "127.0.0.1:8080",
                "Code": "InvalidCmdId.NotFound",
                "Message": "The specified command ID does not exist.",
                "Recommend": "https://api.aliyun.com/troubleshoot?q=InvalidCmdId.NotFound&product=Ecs&requestId=B5C6D7E8-F9A0-4B13-D8E9-F0A1B2C3D4E5"
            })
        );
        let response = err.clone().into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let xml = String::from_utf8(Format::Xml.render("Error", &err.body())).unwrap();
        assert!(
            xml.contains("<Error><Code>InvalidCmdId.NotFound</Code>"),
            "{xml}"
        );
    }
}
