//! `GET /v1/audit?since=N`: the caller's own account's audit records.

use axum::Json;
use axum::extract::State;
use axum::routing::on;
use enigm_core::trust::Operation;
use serde_json::{Value, json};

use super::{Endpoint, Verb};
use crate::auth::Authenticated;
use crate::error::ServerError;
use crate::state::AppState;

/// Records per page.
const PAGE: usize = 500;

/// The audit endpoint.
pub(super) const ENDPOINTS: &[Endpoint] = &[Endpoint {
    verb: Verb::Get,
    path: "/v1/audit",
    handler: |filter| on(filter, own_records),
}];

async fn own_records(
    State(state): State<AppState>,
    uri: axum::http::Uri,
    request: Authenticated,
) -> Result<Json<Value>, ServerError> {
    request.authorize(Operation::Sync)?;
    let since = match uri.query() {
        None | Some("") => 0,
        Some(query) => query
            .strip_prefix("since=")
            .and_then(|value| value.parse::<u64>().ok())
            .ok_or_else(|| ServerError::Malformed("the only query parameter is `since`".into()))?,
    };
    let account = request.account_pseudonym(&state);
    let records = state
        .storage()
        .audit_records(account.as_str(), since, PAGE)
        .await?;
    let records: Vec<Value> = records
        .iter()
        .map(|record| {
            let body: Value = serde_json::from_slice(&record.bytes).unwrap_or(Value::Null);
            json!({ "seq": record.seq, "hash": hex::encode(record.hash), "record": body })
        })
        .collect();
    Ok(Json(
        json!({ "account": account.as_str(), "records": records }),
    ))
}
