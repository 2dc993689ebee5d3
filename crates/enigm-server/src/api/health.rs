//! `GET /v1/health`: liveness, for load balancers and the test harness.

use axum::Json;
use axum::routing::on;
use enigm_proto::Health;

use super::{Doc, Endpoint, Reply, Verb, body};

/// The health endpoint.
pub(super) const ENDPOINTS: &[Endpoint] = &[Endpoint {
    verb: Verb::Get,
    path: "/v1/health",
    handler: |filter| on(filter, health),
    doc: Doc {
        id: "health",
        summary: "Liveness, for load balancers and tests.",
        signed: false,
        query: &[],
        request: None,
        reply: Reply::Json {
            statuses: &[(200, "The service is up.")],
            body: Some(body::<Health>()),
        },
        errors: &[],
    },
}];

async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}
