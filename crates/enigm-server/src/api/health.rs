//! `GET /v1/health`: liveness, for load balancers and the test harness.

use axum::Json;
use axum::routing::on;
use serde_json::{Value, json};

use super::{Endpoint, Verb};

/// The health endpoint.
pub(super) const ENDPOINTS: &[Endpoint] = &[Endpoint {
    verb: Verb::Get,
    path: "/v1/health",
    handler: |filter| on(filter, health),
}];

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}
