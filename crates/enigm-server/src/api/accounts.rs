//! Account registration over OPAQUE (DESIGN §3, §4).
//!
//! `POST /v1/accounts/register/start` `{username, registration_request}` ->
//! `{registration_response}`; `POST /v1/accounts/register/finish`
//! `{username, registration_upload, genesis}` -> 201 `{account_id, head: {seq, hash}}`.
//! Bytes are unpadded base64url. The genesis ledger entry is verified with enigm-core before
//! anything is stored, and the account, its OPAQUE record and its genesis are written in one
//! transaction. The username is used only to compute its peppered lookup key; it is neither
//! stored nor logged. Registration starts are throttled per source address (the same backoff
//! as logins), which also bounds how fast anyone can probe for taken usernames.

use axum::Json;
use axum::body::Bytes;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::routing::on;
use enigm_core::audit::{AuditAction, AuditOutcome};
use enigm_core::ledger::{EntryKind, LedgerEntry, MAX_ENTRY_LEN, verify_chain};
use enigm_core::opaque::{
    REGISTRATION_REQUEST_LEN, REGISTRATION_UPLOAD_LEN, RegistrationRequest, RegistrationUpload,
    ServerRegistration,
};
use enigm_core::pseudonym::{PseudonymKind, normalize_username, pseudonym, username_lookup_key};
use serde::{Deserialize, Serialize};

use super::{Endpoint, Verb, decode_b64, encode_b64, parse_json, throttle};
use crate::client_source::source_key;
use crate::error::ServerError;
use crate::state::AppState;
use crate::storage::{CreateOutcome, NewAccount, StoredEntry};

/// The account endpoints.
pub(super) const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        verb: Verb::Post,
        path: "/v1/accounts/register/start",
        handler: |filter| on(filter, register_start),
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/accounts/register/finish",
        handler: |filter| on(filter, register_finish),
    },
];

/// Longest username accepted as input, in bytes, before normalisation.
const MAX_USERNAME_BYTES: usize = 256;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterStart {
    username: String,
    registration_request: String,
}

#[derive(Serialize)]
struct RegisterStartReply {
    registration_response: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterFinish {
    username: String,
    registration_upload: String,
    genesis: String,
}

#[derive(Serialize)]
struct RegisterFinishReply {
    account_id: String,
    head: HeadJson,
}

/// A ledger head in JSON: `{seq, hash}` with the hash in lower-case hex.
#[derive(Serialize)]
pub(crate) struct HeadJson {
    pub(crate) seq: u64,
    pub(crate) hash: String,
}

/// The `registration_request` field of registration and recovery: base64url, then OPAQUE.
pub(super) fn registration_request(text: &str) -> Result<RegistrationRequest, ServerError> {
    let bytes = decode_b64("registration_request", text, REGISTRATION_REQUEST_LEN)?;
    RegistrationRequest::deserialize(&bytes).map_err(|_| {
        ServerError::Malformed(
            "`registration_request` is not an OPAQUE registration request".into(),
        )
    })
}

/// The `registration_upload` field of registration and recovery: its bytes (recovery signs
/// their hash) and the OPAQUE message.
pub(super) fn registration_upload(
    text: &str,
) -> Result<(Vec<u8>, RegistrationUpload), ServerError> {
    let bytes = decode_b64("registration_upload", text, REGISTRATION_UPLOAD_LEN)?;
    let upload = RegistrationUpload::deserialize(&bytes).map_err(|_| {
        ServerError::Malformed("`registration_upload` is not an OPAQUE registration upload".into())
    })?;
    Ok((bytes, upload))
}

/// The peppered lookup key of a username given as input.
pub(crate) fn lookup_key(state: &AppState, username: &str) -> Result<[u8; 32], ServerError> {
    if username.len() > MAX_USERNAME_BYTES {
        return Err(ServerError::Malformed("`username` is too long".into()));
    }
    let normalized = normalize_username(username).map_err(ServerError::InvalidUsername)?;
    Ok(username_lookup_key(&state.secrets().pepper, &normalized))
}

async fn register_start(
    State(state): State<AppState>,
    ConnectInfo(source): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Result<Json<RegisterStartReply>, ServerError> {
    let request: RegisterStart = parse_json(&body)?;
    let source_key = format!("reg:{}", source_key(source.ip()));
    throttle(&state, &[(&source_key, state.config().source_backoff)]).await?;
    let key = lookup_key(&state, &request.username)?;
    let message = registration_request(&request.registration_request)?;
    let started = ServerRegistration::start(state.opaque_setup(), message, &key)
        .map_err(|_| ServerError::Malformed("the registration request was refused".into()))?;
    Ok(Json(RegisterStartReply {
        registration_response: encode_b64(&started.message.serialize()),
    }))
}

async fn register_finish(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<RegisterFinishReply>), ServerError> {
    let request: RegisterFinish = parse_json(&body)?;
    let key = lookup_key(&state, &request.username)?;
    let (_, upload) = registration_upload(&request.registration_upload)?;
    let record = ServerRegistration::finish(upload);

    let genesis_bytes = decode_b64("genesis", &request.genesis, MAX_ENTRY_LEN)?;
    let genesis = LedgerEntry::decode(&genesis_bytes).map_err(ServerError::InvalidLedger)?;
    let ledger =
        verify_chain(std::slice::from_ref(&genesis)).map_err(ServerError::InvalidLedger)?;
    let account_id = *ledger.account_id();
    let EntryKind::Genesis { first_device, .. } = &genesis.kind else {
        return Err(ServerError::Malformed(
            "`genesis` is not a genesis entry".into(),
        ));
    };
    let genesis_device = first_device.device_id();
    let head = ledger.head();

    let outcome = state
        .storage()
        .create_account(NewAccount {
            account_id,
            lookup_key: key,
            opaque_record: record.serialize().to_vec(),
            genesis: StoredEntry {
                seq: head.seq,
                hash: head.hash.0,
                bytes: genesis_bytes,
            },
            created_at: state.now(),
        })
        .await?;
    let account = pseudonym(
        &state.secrets().service_logs,
        PseudonymKind::Account,
        &account_id,
    );
    match outcome {
        CreateOutcome::Created => {
            tracing::info!(%account, "account registered");
            state
                .audit(
                    AuditAction::AccountRegistered,
                    AuditOutcome::Success,
                    &account_id,
                    Some(genesis_device.as_bytes()),
                )
                .await?;
            Ok((
                StatusCode::CREATED,
                Json(RegisterFinishReply {
                    account_id: hex::encode(account_id),
                    head: HeadJson {
                        seq: head.seq,
                        hash: head.hash.to_hex(),
                    },
                }),
            ))
        }
        CreateOutcome::AlreadyExists => Err(ServerError::UsernameTaken),
    }
}
