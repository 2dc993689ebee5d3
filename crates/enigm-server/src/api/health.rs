//! `GET /v1/health`: liveness, for load balancers and the test harness.

use axum::Json;
use axum::routing::on;
use enigm_proto::Health;

use super::{Endpoint, Verb};

/// The health endpoint.
pub(super) const ENDPOINTS: &[Endpoint] = &[Endpoint {
    verb: Verb::Get,
    path: "/v1/health",
    handler: |filter| on(filter, health),
}];

async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}
