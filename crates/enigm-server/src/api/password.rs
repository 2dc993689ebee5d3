//! Changing the password from a signed-in session (DESIGN §3, §6): OPAQUE re-registration by a
//! device that proved the current password within the step-up window.
//!
//! `POST /v1/accounts/password/start` `{registration_request}` -> `{registration_id,
//! registration_response}`; `POST /v1/accounts/password/finish` `{registration_id,
//! registration_upload}` -> `{sessions_ended}`. Both are signed requests authorized as
//! [`Operation::ChangeDevices`], which needs a full session of an active device whose password
//! was proved recently (a login within the policy's step-up window, else 403
//! `step_up_required`): a session left unlocked, or stolen, cannot lock the owner out. The
//! client steps up by signing in again with the current password, so the old password is
//! checked by OPAQUE itself and never reaches the service.
//!
//! As at registration, the start evaluates the OPRF under a one-off key (the lookup key salted
//! with a fresh salt carried in the `registration_id`, good for ten minutes and for this
//! account only), never under the current record's, so a start is no password oracle. The
//! finish replaces the record in one transaction ([`crate::storage::Storage::change_password`])
//! that also ends every other session of the account, this device's earlier ones included,
//! and drops the account's pending logins. Only then are the devices told: each ended session's
//! sockets get `session_ended{reason: password_changed}` and close, and its next request is
//! refused (`unknown_session`), so every other device signs in again, with the new password.
//! The recovery phrase and the device list are untouched.

use axum::Json;
use axum::extract::State;
use axum::routing::on;
use enigm_core::audit::{AuditAction, AuditOutcome};
use enigm_core::opaque::ServerRegistration;
use enigm_core::trust::Operation;
use enigm_proto::{EndReason, PasswordChanged, PasswordFinish, PasswordStart, PasswordStartReply};

use super::accounts::{
    credential_identifier, issue_registration_id, registration_request, registration_salt,
    registration_upload,
};
use super::{Doc, Endpoint, Reply, Verb, body, encode_b64, parse_json};
use crate::auth::Authenticated;
use crate::error::ServerError;
use crate::state::AppState;
use crate::storage::PasswordCommit;

/// The password endpoints.
pub(super) const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        verb: Verb::Post,
        path: "/v1/accounts/password/start",
        handler: |filter| on(filter, start),
        doc: Doc {
            id: "passwordStart",
            summary: "Starts changing the account's password: the first OPAQUE registration message, evaluated under a one-off OPRF key. Needs a full session of an active device whose password was proved within the step-up window (403 `step_up_required` otherwise: sign in again first).",
            signed: true,
            query: &[],
            request: Some(body::<PasswordStart>()),
            reply: Reply::Json {
                statuses: &[(200, "The server's registration response.")],
                body: Some(body::<PasswordStartReply>()),
            },
            errors: &[400, 401, 403, 408, 413, 500, 503],
        },
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/accounts/password/finish",
        handler: |filter| on(filter, finish),
        doc: Doc {
            id: "passwordFinish",
            summary: "Replaces the OPAQUE record in one transaction that ends every other session of the account (their sockets get `session_ended` with reason `password_changed`) and drops its pending logins. Needs the registration id of a start of this account that has not expired (401 `registration_expired`) and, like the start, a recent password proof.",
            signed: true,
            query: &[],
            request: Some(body::<PasswordFinish>()),
            reply: Reply::Json {
                statuses: &[(200, "Changed; how many other sessions ended.")],
                body: Some(body::<PasswordChanged>()),
            },
            errors: &[400, 401, 403, 408, 413, 500, 503],
        },
    },
];

async fn start(
    State(state): State<AppState>,
    request: Authenticated,
) -> Result<Json<PasswordStartReply>, ServerError> {
    request.authorize(Operation::ChangeDevices)?;
    let body: PasswordStart = parse_json(&request.body)?;
    let message = registration_request(&body.registration_request)?;
    let key = request.account.lookup_key;
    let (salt, registration_id) = issue_registration_id(&state, &key)?;
    let started = ServerRegistration::start(
        state.opaque_setup(),
        message,
        &credential_identifier(&key, &salt),
    )
    .map_err(|_| ServerError::Malformed("the registration request was refused".into()))?;
    Ok(Json(PasswordStartReply {
        registration_id: encode_b64(&registration_id),
        registration_response: encode_b64(&started.message.serialize()),
    }))
}

async fn finish(
    State(state): State<AppState>,
    request: Authenticated,
) -> Result<Json<PasswordChanged>, ServerError> {
    request.authorize(Operation::ChangeDevices)?;
    let body: PasswordFinish = parse_json(&request.body)?;
    let account_id = request.account.account_id;
    let salt = registration_salt(&state, &request.account.lookup_key, &body.registration_id)?;
    let (_, upload) = registration_upload(&body.registration_upload)?;
    let record = ServerRegistration::finish(upload);
    let ended = state
        .storage()
        .change_password(
            &account_id,
            PasswordCommit {
                opaque_record: record.serialize().to_vec(),
                opaque_salt: salt.to_vec(),
                keep_session: request.session.session_id,
            },
        )
        .await?;
    state
        .audit_committed(
            AuditAction::PasswordChanged,
            AuditOutcome::Success,
            &account_id,
            Some(&request.session.device_id),
        )
        .await;
    tracing::info!(
        account = %request.account_pseudonym(&state),
        sessions_ended = ended.len(),
        "password changed"
    );
    for session_id in &ended {
        super::push::end_session(&state, &account_id, *session_id, EndReason::PasswordChanged)
            .await;
    }
    Ok(Json(PasswordChanged {
        sessions_ended: u64::try_from(ended.len()).unwrap_or(u64::MAX),
    }))
}
