//! The HTTP surface: `/` is the Cloud Assistant API; `/_sandbox/*` are the sandbox's own
//! endpoints for tests (stats, health), outside the cloud API.
//!
//! The router only routes; the gateway checks requests and the handlers act.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};

use crate::sandbox::gateway;
use crate::sandbox::state::Sandbox;

/// The sandbox's router over `state`.
pub(crate) fn router(state: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/", any(gateway::api))
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/health", get(health))
        .with_state(state)
}

fn json(value: &impl serde::Serialize) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(value).expect("stats serialise"),
    )
        .into_response()
}

async fn stats(State(sandbox): State<Arc<Sandbox>>) -> Response {
    let stats = sandbox.lock().stats.clone();
    json(&stats)
}

async fn health(State(sandbox): State<Arc<Sandbox>>) -> Response {
    let state = sandbox.lock();
    json(&serde_json::json!({
        "status": "ok",
        "instances": state.instances.len(),
        "commands": state.commands.len(),
        "invocations": state.invocations.len(),
        "nonces": state.nonces.len(),
    }))
}
