//! The declaration every API action implements; `transport` does the rest.
//!
//! A new action is a file in `actions/` with a request struct, a response struct and this
//! trait. No action file contains HTTP, signing or retry code.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// How safe it is to send a request again after a failure whose outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// A read: repeating it changes nothing.
    Read,
    /// A write that is safe to repeat only because it carries a `ClientToken`.
    TokenGuarded,
    /// A write that must never be repeated blindly.
    Write,
}

/// One RPC action of the ECS API, version `2014-05-26`.
pub trait Action: Serialize + DeserializeOwned + Send + Sync {
    /// The `Action` parameter, e.g. `InvokeCommand`.
    const NAME: &'static str;
    /// Whether the transport may retry this request.
    const IDEMPOTENCY: Idempotency;
    /// The decoded success body.
    type Response: Serialize + DeserializeOwned + Send;

    /// The request's idempotency token, when it has one.
    fn client_token(&self) -> Option<&str> {
        None
    }

    /// Whether a retry is allowed for this particular request.
    fn may_retry(&self) -> bool {
        match Self::IDEMPOTENCY {
            Idempotency::Read => true,
            Idempotency::TokenGuarded => self.client_token().is_some(),
            Idempotency::Write => false,
        }
    }
}
