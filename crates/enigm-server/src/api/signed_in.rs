//! Where the account is signed in (DESIGN §6): its trusted devices' live sessions, and ending
//! them from any one of its active devices.
//!
//! - `GET /v1/sessions` -> `{sessions: [{id, device_id, issued_at, expires_at, seen_day,
//!   current}]}`: full sessions of devices the verified ledger holds as active or suspended, in
//!   the account's current recovery epoch, not expired; oldest first.
//! - `DELETE /v1/sessions/{id}`: ends one of them (204); an id not in that list is 404.
//! - `POST /v1/sessions/others/end` -> `{ended}`: ends all of them but the caller's.
//!
//! A session is named by its pseudonym (`ses_…`, enigm-core's pseudonym module under the
//! service's key), never by its id, which stays between the service and the device that holds
//! it. An ended session's sockets get `session_ended{reason: signed_out}` and close at once, so
//! that device shows its signed-out screen; its next signed request is refused as unknown.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::on;
use enigm_core::audit::{AuditAction, AuditOutcome};
use enigm_core::identity::DeviceId;
use enigm_core::lifecycle::DeviceState;
use enigm_core::pseudonym::{PseudonymKind, pseudonym};
use enigm_core::trust::{Operation, SessionKind};
use enigm_proto::{EndReason, SessionList, SessionSummary, SessionsEnded};

use super::{Doc, Endpoint, Reply, Verb, body};
use crate::auth::Authenticated;
use crate::error::ServerError;
use crate::state::AppState;
use crate::storage::SessionRecord;

/// The signed-in endpoints.
pub(super) const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        verb: Verb::Get,
        path: "/v1/sessions",
        handler: |filter| on(filter, list),
        doc: Doc {
            id: "listSessions",
            summary: "Where the account is signed in: the live sessions of its active and suspended devices, oldest first, each named by a pseudonym.",
            signed: true,
            query: &[],
            request: None,
            reply: Reply::Json {
                statuses: &[(200, "The sessions, the caller's marked `current`.")],
                body: Some(body::<SessionList>()),
            },
            errors: &[400, 401, 403, 408, 413, 500, 503],
        },
    },
    Endpoint {
        verb: Verb::Delete,
        path: "/v1/sessions/{id}",
        handler: |filter| on(filter, end_one),
        doc: Doc {
            id: "endSession",
            summary: "Ends one of the account's sessions, named as `GET /v1/sessions` names it (an active device); its sockets close at once.",
            signed: true,
            query: &[],
            request: None,
            reply: Reply::Json {
                statuses: &[(204, "Ended.")],
                body: None,
            },
            errors: &[400, 401, 403, 404, 408, 413, 500, 503],
        },
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/sessions/others/end",
        handler: |filter| on(filter, end_others),
        doc: Doc {
            id: "endOtherSessions",
            summary: "Ends every session `GET /v1/sessions` lists but the caller's (an active device); their sockets close at once.",
            signed: true,
            query: &[],
            request: None,
            reply: Reply::Json {
                statuses: &[(200, "How many sessions ended.")],
                body: Some(body::<SessionsEnded>()),
            },
            errors: &[400, 401, 403, 408, 413, 500, 503],
        },
    },
];

async fn list(
    State(state): State<AppState>,
    request: Authenticated,
) -> Result<Json<SessionList>, ServerError> {
    request.authorize(Operation::Sync)?;
    let sessions = signed_in(&state, &request).await?;
    Ok(Json(SessionList {
        sessions: sessions
            .iter()
            .map(|session| SessionSummary {
                id: handle(&state, session),
                device_id: hex::encode(session.device_id),
                issued_at: session.issued_at,
                expires_at: session.expires_at,
                seen_day: session.seen_day,
                current: session.session_id == request.session.session_id,
            })
            .collect(),
    }))
}

async fn end_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Authenticated,
) -> Result<StatusCode, ServerError> {
    request.authorize(Operation::ChangeDevices)?;
    let sessions = signed_in(&state, &request).await?;
    let session = sessions
        .iter()
        .find(|session| handle(&state, session) == id)
        .ok_or(ServerError::NotFound)?;
    end(&state, &request, session.session_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn end_others(
    State(state): State<AppState>,
    request: Authenticated,
) -> Result<Json<SessionsEnded>, ServerError> {
    request.authorize(Operation::ChangeDevices)?;
    let mut ended = 0_u64;
    for session in signed_in(&state, &request).await? {
        if session.session_id != request.session.session_id
            && end(&state, &request, session.session_id).await?
        {
            ended += 1;
        }
    }
    tracing::info!(
        account = %request.account_pseudonym(&state),
        ended,
        "other sessions ended"
    );
    Ok(Json(SessionsEnded { ended }))
}

/// The account's sessions a person would call "signed in": full sessions of devices the
/// verified ledger holds as active or suspended, in the current recovery epoch, not expired.
async fn signed_in(
    state: &AppState,
    request: &Authenticated,
) -> Result<Vec<SessionRecord>, ServerError> {
    let sessions = state
        .storage()
        .account_sessions(&request.account.account_id, request.now)
        .await?;
    Ok(sessions
        .into_iter()
        .filter(|session| {
            session.kind == SessionKind::Full
                && session.recovery_epoch == request.account.recovery_epoch
                && request
                    .ledger
                    .device(&DeviceId::from_bytes(session.device_id))
                    .is_some_and(|device| {
                        matches!(device.state, DeviceState::Active | DeviceState::Suspended)
                    })
        })
        .collect())
}

/// Ends session `session_id` of the caller's account: deleted, its sockets told and closed,
/// audited as the caller's device's act. `false` when another request ended it first.
async fn end(
    state: &AppState,
    request: &Authenticated,
    session_id: [u8; 16],
) -> Result<bool, ServerError> {
    let account_id = &request.account.account_id;
    if !state.storage().delete_session(&session_id).await? {
        return Ok(false);
    }
    super::push::end_session(state, account_id, session_id, EndReason::SignedOut).await;
    state
        .audit_committed(
            AuditAction::SessionEnded,
            AuditOutcome::Success,
            account_id,
            Some(&request.session.device_id),
        )
        .await;
    Ok(true)
}

/// The name a session goes by outside the service and its own device.
fn handle(state: &AppState, session: &SessionRecord) -> String {
    pseudonym(
        &state.secrets().service_logs,
        PseudonymKind::Session,
        &session.session_id,
    )
    .as_str()
    .to_owned()
}
