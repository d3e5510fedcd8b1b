//! The Cloud Assistant API client: signing, the wire encoding, typed actions and the transport.
//!
//! `cloud` knows nothing of runbooks or plans; `exec` drives it and `sandbox` serves it.

pub mod action;
pub mod actions;
pub mod credential;
pub mod error;
pub mod id;
pub mod profile;
pub mod retry;
pub mod sign;
pub mod sign_v3;
pub mod status;
pub mod transport;
pub mod wire;

pub use action::{Action, Idempotency};
pub use credential::{Credential, Secret};
pub use error::{ApiError, CallError, ErrorCode, TransportError};
pub use id::{CommandId, InstanceId, InvokeId, RegionId};
pub use transport::{CallStats, Client, ClientBuilder, RetryPolicy, SignatureVersion};
