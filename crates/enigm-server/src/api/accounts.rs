//! Account registration over OPAQUE (DESIGN §3, §4).
//!
//! `POST /v1/accounts/register/start` `{username, registration_request}` ->
//! `{registration_id, registration_response}`; `POST /v1/accounts/register/finish`
//! `{registration_id, username, registration_upload, genesis}` -> 201 `{account_id, head:
//! {seq, hash}}`. Bytes are unpadded base64url. The genesis ledger entry is verified with
//! enigm-core before anything is stored, and the account, its OPAQUE record and its genesis are
//! written in one transaction. The username is used only to compute its peppered lookup key; it
//! is neither stored nor logged.
//!
//! A registration start evaluates the OPRF under a one-off key, never under the key of an
//! existing account of that username: opaque-ke derives the OPRF key from the credential
//! identifier, and ours is the lookup key followed by a fresh random salt
//! ([`credential_identifier`]), kept with the record. Otherwise a start for a taken username
//! would answer exactly what a login start answers, and an attacker holding one login reply could
//! test a password guess per registration start, never touching the account's guess budget.
//! The salt travels in the `registration_id` (salt, expiry and an HMAC under the pepper over
//! them and the lookup key): a finish must come from a start of the same username here (or on
//! any node sharing the pepper) within [`REGISTRATION_TTL_SECS`], else 401
//! `registration_expired`. Starts and finishes are throttled per source address, which also
//! bounds how fast anyone can probe for taken usernames.

use axum::Json;
use axum::body::Bytes;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::on;
use enigm_core::audit::{AuditAction, AuditOutcome};
use enigm_core::ledger::{EntryKind, LedgerEntry, MAX_ENTRY_LEN, verify_chain};
use enigm_core::opaque::{
    REGISTRATION_REQUEST_LEN, REGISTRATION_UPLOAD_LEN, RegistrationRequest, RegistrationUpload,
    ServerRegistration,
};
use enigm_core::pseudonym::{PseudonymKind, normalize_username, pseudonym, username_lookup_key};
use enigm_proto::{Head, RegisterFinish, RegisterFinishReply, RegisterStart, RegisterStartReply};

use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use sha2::Sha256;

use super::{Doc, Endpoint, Reply, Verb, body, decode_b64, encode_b64, parse_json, throttle};
use crate::client_source::ClientSource;
use crate::error::ServerError;
use crate::state::AppState;
use crate::storage::{CreateOutcome, NewAccount, StoredEntry};

/// The account endpoints.
pub(super) const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        verb: Verb::Post,
        path: "/v1/accounts/register/start",
        handler: |filter| on(filter, register_start),
        doc: Doc {
            id: "registerStart",
            summary: "First OPAQUE registration message, evaluated under a one-off OPRF key (the lookup key salted with a fresh random salt), never an existing account's key, so a start for a taken username is no password oracle. Throttled per source address.",
            signed: false,
            query: &[],
            request: Some(body::<RegisterStart>()),
            reply: Reply::Json {
                statuses: &[(200, "The server's registration response.")],
                body: Some(body::<RegisterStartReply>()),
            },
            errors: &[400, 408, 413, 429, 500, 503],
        },
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/accounts/register/finish",
        handler: |filter| on(filter, register_finish),
        doc: Doc {
            id: "registerFinish",
            summary: "Stores the OPAQUE record (with the start's salt) and the verified genesis ledger entry in one transaction. Needs the registration id of a start of the same username that has not expired (401 `registration_expired`). Throttled per source address.",
            signed: false,
            query: &[],
            request: Some(body::<RegisterFinish>()),
            reply: Reply::Json {
                statuses: &[(201, "The account exists.")],
                body: Some(body::<RegisterFinishReply>()),
            },
            errors: &[400, 401, 408, 409, 413, 429, 500, 503],
        },
    },
];

/// Longest username accepted as input, in bytes, before normalisation.
const MAX_USERNAME_BYTES: usize = 256;

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

/// How long a registration may sit between its start and its finish.
const REGISTRATION_TTL_SECS: u64 = 600;

/// Length of the random salt of a credential identifier.
pub(crate) const SALT_LEN: usize = 16;

/// A `registration_id`: salt, expiry (`u64` big-endian), HMAC-SHA256 tag.
const REGISTRATION_ID_LEN: usize = SALT_LEN + 8 + 32;

/// Domain separator of the registration id's tag (the leading zero byte keeps it apart from
/// every normalized username, which the pepper also keys).
const REGISTRATION_ID_DOMAIN: &[u8] = b"\0enigm/registration-id/v1";

/// The OPAQUE credential identifier of a record: the lookup key, then the record's salt (empty
/// for accounts registered before salts, and for the dummy record of unknown usernames). The
/// OPRF key derives from it, so a fresh salt gives a registration or recovery its own key.
pub(crate) fn credential_identifier(lookup_key: &[u8; 32], salt: &[u8]) -> Vec<u8> {
    let mut identifier = Vec::with_capacity(lookup_key.len() + salt.len());
    identifier.extend_from_slice(lookup_key);
    identifier.extend_from_slice(salt);
    identifier
}

/// The registration id's MAC, keyed by the pepper every node shares.
fn registration_mac(
    state: &AppState,
    lookup_key: &[u8; 32],
    salt_and_expiry: &[u8],
) -> Result<Hmac<Sha256>, ServerError> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(state.secrets().pepper.as_slice())
        .map_err(|_| ServerError::Internal("HMAC key refused".into()))?;
    mac.update(REGISTRATION_ID_DOMAIN);
    mac.update(lookup_key);
    mac.update(salt_and_expiry);
    Ok(mac)
}

/// A fresh salt and the registration id that carries it to the finish.
pub(super) fn issue_registration_id(
    state: &AppState,
    lookup_key: &[u8; 32],
) -> Result<([u8; SALT_LEN], Vec<u8>), ServerError> {
    let mut salt = [0u8; SALT_LEN];
    OsRng.fill_bytes(&mut salt);
    let mut id = Vec::with_capacity(REGISTRATION_ID_LEN);
    id.extend_from_slice(&salt);
    id.extend_from_slice(
        &state
            .now()
            .saturating_add(REGISTRATION_TTL_SECS)
            .to_be_bytes(),
    );
    let tag = registration_mac(state, lookup_key, &id)?
        .finalize()
        .into_bytes();
    id.extend_from_slice(&tag);
    Ok((salt, id))
}

/// The salt of a registration id this service issued for `lookup_key` and that has not
/// expired.
pub(super) fn registration_salt(
    state: &AppState,
    lookup_key: &[u8; 32],
    text: &str,
) -> Result<[u8; SALT_LEN], ServerError> {
    let id = decode_b64("registration_id", text, REGISTRATION_ID_LEN)?;
    if id.len() != REGISTRATION_ID_LEN {
        return Err(ServerError::Malformed(format!(
            "`registration_id` must be {REGISTRATION_ID_LEN} bytes"
        )));
    }
    let (signed, tag) = id.split_at(SALT_LEN + 8);
    registration_mac(state, lookup_key, signed)?
        .verify_slice(tag)
        .map_err(|_| ServerError::RegistrationExpired)?;
    let (salt, expiry) = signed.split_at(SALT_LEN);
    let expires_at = u64::from_be_bytes(
        expiry
            .try_into()
            .map_err(|_| ServerError::RegistrationExpired)?,
    );
    if expires_at <= state.now() {
        return Err(ServerError::RegistrationExpired);
    }
    salt.try_into()
        .map_err(|_| ServerError::RegistrationExpired)
}

/// Rate-limit key of registration starts from a source.
fn start_limit_key(source: &ClientSource) -> String {
    format!("reg:{}", source.key())
}

/// Rate-limit key of registration finishes from a source.
fn finish_limit_key(source: &ClientSource) -> String {
    format!("reg:fin:{}", source.key())
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
    source: ClientSource,
    body: Bytes,
) -> Result<Json<RegisterStartReply>, ServerError> {
    let request: RegisterStart = parse_json(&body)?;
    throttle(
        &state,
        &start_limit_key(&source),
        state.config().source_backoff,
    )
    .await?;
    let key = lookup_key(&state, &request.username)?;
    let message = registration_request(&request.registration_request)?;
    let (salt, registration_id) = issue_registration_id(&state, &key)?;
    let started = ServerRegistration::start(
        state.opaque_setup(),
        message,
        &credential_identifier(&key, &salt),
    )
    .map_err(|_| ServerError::Malformed("the registration request was refused".into()))?;
    Ok(Json(RegisterStartReply {
        registration_id: encode_b64(&registration_id),
        registration_response: encode_b64(&started.message.serialize()),
    }))
}

async fn register_finish(
    State(state): State<AppState>,
    source: ClientSource,
    body: Bytes,
) -> Result<(StatusCode, Json<RegisterFinishReply>), ServerError> {
    let request: RegisterFinish = parse_json(&body)?;
    throttle(
        &state,
        &finish_limit_key(&source),
        state.config().source_backoff,
    )
    .await?;
    let key = lookup_key(&state, &request.username)?;
    let salt = registration_salt(&state, &key, &request.registration_id)?;
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
            opaque_salt: salt.to_vec(),
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
                .audit_committed(
                    AuditAction::AccountRegistered,
                    AuditOutcome::Success,
                    &account_id,
                    Some(genesis_device.as_bytes()),
                )
                .await;
            Ok((
                StatusCode::CREATED,
                Json(RegisterFinishReply {
                    account_id: hex::encode(account_id),
                    head: Head {
                        seq: head.seq,
                        hash: head.hash.to_hex(),
                    },
                }),
            ))
        }
        CreateOutcome::AlreadyExists => Err(ServerError::UsernameTaken),
    }
}
