//! The caller's own account's audit trail (DESIGN §9, §13):
//!
//! - `GET /v1/audit?since=N`: its records, a page at a time, for display;
//! - `GET /v1/audit/export`: its whole chain as an `enigm_core::audit::AuditExport` signed by
//!   the service, to keep and check offline (`enigm audit verify FILE --key HEX`);
//! - `GET /v1/audit/key`: the service's audit signing public key (no authentication), to pin.
//!
//! Records carry pseudonyms only; the one raw key an export holds is the service's own.

use axum::Json;
use axum::extract::State;
use axum::routing::on;
use enigm_core::audit::AuditExport;
use enigm_core::identity::SigningPublicKey;
use enigm_core::trust::Operation;
use enigm_proto::{AuditKey, AuditRecordView, AuditRecords};

use super::{Doc, Endpoint, Reply, SINCE, Verb, body};
use crate::auth::Authenticated;
use crate::error::ServerError;
use crate::state::AppState;

/// Records per page.
const PAGE: usize = 500;

/// The audit endpoints.
pub(super) const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        verb: Verb::Get,
        path: "/v1/audit",
        handler: |filter| on(filter, own_records),
        doc: Doc {
            id: "ownAuditRecords",
            summary: "The caller's account's hash-chained audit records (pseudonyms only), 500 per page.",
            signed: true,
            query: &[SINCE],
            request: None,
            reply: Reply::Json {
                statuses: &[(200, "The records.")],
                body: Some(body::<AuditRecords>()),
            },
            errors: &[400, 401, 403, 408, 413, 500, 503],
        },
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/audit/export",
        handler: |filter| on(filter, export),
        doc: Doc {
            id: "exportOwnAudit",
            summary: "The caller's account's whole audit chain, signed by the service's audit key.",
            signed: true,
            query: &[],
            request: None,
            reply: Reply::Json {
                statuses: &[(200, "The signed export.")],
                body: Some(body::<enigm_proto::schema::AuditExport>()),
            },
            errors: &[400, 401, 403, 408, 413, 500, 503],
        },
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/audit/key",
        handler: |filter| on(filter, service_key),
        doc: Doc {
            id: "auditKey",
            summary: "The public key audit exports are signed with (no authentication): pin it.",
            signed: false,
            query: &[],
            request: None,
            reply: Reply::Json {
                statuses: &[(200, "The key.")],
                body: Some(body::<AuditKey>()),
            },
            errors: &[500],
        },
    },
];

/// The caller's whole audit chain, signed.
async fn export(
    State(state): State<AppState>,
    request: Authenticated,
) -> Result<Json<AuditExport>, ServerError> {
    request.authorize(Operation::Sync)?;
    let account = request.account_pseudonym(&state);
    Ok(Json(state.audit_export(&account).await?))
}

/// The public key audit exports are signed with, as hex.
async fn service_key(State(state): State<AppState>) -> Json<AuditKey> {
    let key = SigningPublicKey::from(&state.secrets().audit_signing);
    Json(AuditKey {
        key: hex::encode(key.as_bytes()),
        algorithm: "ed25519".to_owned(),
    })
}

async fn own_records(
    State(state): State<AppState>,
    uri: axum::http::Uri,
    request: Authenticated,
) -> Result<Json<AuditRecords>, ServerError> {
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
    let records = records
        .iter()
        .map(|record| AuditRecordView {
            seq: record.seq,
            hash: hex::encode(record.hash),
            record: serde_json::from_slice(&record.bytes).ok(),
        })
        .collect();
    Ok(Json(AuditRecords {
        account: account.as_str().to_owned(),
        records,
    }))
}
