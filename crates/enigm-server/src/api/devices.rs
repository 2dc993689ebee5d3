//! Coarse device activity: `GET /v1/devices/seen` -> `{devices: [{device_id, seen_day}]}`, the
//! last day (days since the Unix epoch, UTC) each device of the account made a request.
//!
//! Kept to the day on purpose: enough to spot a device nobody has used for months, too coarse
//! to tell when someone is at their computer. Only the account's own trusted devices may read
//! it, and the client shows it as the service's word, beside the verified ledger, never in it.

use axum::Json;
use axum::extract::State;
use axum::routing::on;
use enigm_core::trust::Operation;
use enigm_proto::{SeenDevice, SeenDevices};

use super::{Doc, Endpoint, Reply, Verb, body};
use crate::auth::Authenticated;
use crate::error::ServerError;
use crate::state::AppState;

/// The device endpoints.
pub(super) const ENDPOINTS: &[Endpoint] = &[Endpoint {
    verb: Verb::Get,
    path: "/v1/devices/seen",
    handler: |filter| on(filter, seen),
    doc: Doc {
        id: "listDeviceLastSeen",
        summary: "The last day each of the account's devices made a request (coarse on purpose: to the day, UTC).",
        signed: true,
        query: &[],
        request: None,
        reply: Reply::Json {
            statuses: &[(
                200,
                "The devices seen, by device id. A device never seen since this was recorded is absent.",
            )],
            body: Some(body::<SeenDevices>()),
        },
        errors: &[400, 401, 403, 408, 413, 500, 503],
    },
}];

async fn seen(
    State(state): State<AppState>,
    request: Authenticated,
) -> Result<Json<SeenDevices>, ServerError> {
    request.authorize(Operation::Sync)?;
    let days = state
        .storage()
        .seen_days(&request.account.account_id)
        .await?;
    Ok(Json(SeenDevices {
        devices: days
            .into_iter()
            .map(|(device, seen_day)| SeenDevice {
                device_id: hex::encode(device),
                seen_day,
            })
            .collect(),
    }))
}
