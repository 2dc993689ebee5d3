//! `GET /v1/health`: liveness, for load balancers and the test harness.

use axum::Json;
use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};

use crate::state::AppState;

/// The health route.
pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/v1/health", get(health))
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}
