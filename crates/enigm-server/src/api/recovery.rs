//! Account recovery (DESIGN §3, §8): a new device that holds only the username and the recovery
//! phrase sets a new password (OPAQUE re-registration authorized by the recovery key), appends
//! the `Recover` entry that adds it and revokes the devices marked lost, and moves the account
//! to a new recovery epoch, which ends every earlier session.
//!
//! Three unauthenticated steps; bytes are unpadded base64url:
//!
//! 1. `POST /v1/recovery/start` `{username, registration_request}` -> `{recovery_id,
//!    registration_response, expires_at}`. The username is used only for its peppered lookup
//!    key, exactly as at registration; it is neither stored nor logged. The OPAQUE response is
//!    an OPRF evaluation under this recovery's own key (the credential identifier is the lookup
//!    key salted with the recovery id, which the new record keeps), never under the key of the
//!    current password, so a start is no password oracle; a pending recovery is stored for
//!    unknown usernames too, so the reply has the same shape whether the account exists or not.
//!    Nothing about the account changes here (anyone who knows a username can start): every
//!    start counts against the source address, then against the account's recovery budget
//!    (by lookup key), which is apart from its login budget so that a stranger spending one
//!    does not block the other, until a recovery of the account completes. The random
//!    `recovery_id` is the challenge of this recovery and is good for `recovery_ttl_secs`.
//! 2. `POST /v1/recovery/ledger` `{recovery_id, recovery_signature}` -> `{account_id, entries,
//!    head}`. The recovery key signs `enigm_core::recovery::recovery_proof_message(recovery_id)`;
//!    only when that verifies under the recovery key the account's verified ledger pins does the
//!    service disclose the ledger, which the device verifies itself and shows so the user can
//!    mark lost devices. A wrong key, and an unknown username, both get 403 `recovery_refused`
//!    and end the recovery (one proof attempt per throttled start).
//! 3. `POST /v1/recovery/finish` `{recovery_id, registration_upload, entry, recovery_signature,
//!    device_signature}` -> 201 `{account_id, head}`. `entry` is the `Recover` entry extending
//!    the head, signed by the recovery key and the new device (proof of possession); both keys
//!    also sign `enigm_core::recovery::recovery_authorization_message(account_id, recovery_id,
//!    registration_upload, entry hash)`, so the recovery key authorizes this password together
//!    with this entry, for this recovery only, and the device that will sign in with the new
//!    password took part. The recovery id is taken once before anything is checked: a replay,
//!    an expired id, a refused key (403 `recovery_refused`) or a stale head (409
//!    `ledger_conflict` with the current head) all end it, and the client starts again. The
//!    service applies the entry with enigm-core against the account's verified ledger, then in
//!    one transaction ([`crate::storage::Storage::complete_recovery`]) appends it
//!    (compare-and-swap on the head), replaces the OPAQUE record, sets the new recovery epoch and
//!    drops the account's pending logins. Only then are the devices told: every connected session
//!    gets `recovery_started`, trusted ones `ledger_appended` and `device_state_changed`, then every
//!    session gets `session_ended{reason: recovery}` and its socket closes. A session from an
//!    earlier epoch is refused on its next request with 401 `session_before_recovery`.
//!
//! The new device then signs in like any device, with the new password; a device the entry did
//! not revoke signs in again and keeps working; a revoked one is refused. The password never
//! reaches the service, only the OPAQUE upload. Regenerating the phrase is a `RotateRecovery`
//! through the ordinary ledger append; the old phrase then fails step 2.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::on;
use ed25519_dalek::Signature;
use enigm_core::audit::{AuditAction, AuditOutcome};
use enigm_core::ledger::{EntryKind, LedgerEntry, MAX_ENTRY_LEN};
use enigm_core::opaque::ServerRegistration;
use enigm_core::pseudonym::{PseudonymKind, pseudonym};
use enigm_core::recovery::{
    RECOVERY_ID_LEN, recovery_authorization_message, recovery_proof_message,
};
use enigm_proto::{
    Head, RecoveryFinish, RecoveryFinishReply, RecoveryLedger, RecoveryLedgerReply, RecoveryStart,
    RecoveryStartReply,
};
use rand_core::{OsRng, RngCore};

use super::accounts::{
    credential_identifier, lookup_key, registration_request, registration_upload,
};
use super::{Doc, Endpoint, Reply, Verb, body, decode_b64, encode_b64, parse_json, throttle};
use crate::audit::{entry_code, reason_code};
use crate::client_source::ClientSource;
use crate::error::{AuthFailure, ServerError};
use crate::state::AppState;
use crate::storage::{
    AccountId, AppendOutcome, PendingRecovery, RecoveryCommit, StoredEntry, StoredHead,
};

/// Most ledger entries disclosed in step 2 (far more than an account ever holds).
const MAX_DISCLOSED_ENTRIES: usize = 10_000;

/// The recovery endpoints.
pub(super) const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        verb: Verb::Post,
        path: "/v1/recovery/start",
        handler: |filter| on(filter, start),
        doc: Doc {
            id: "recoveryStart",
            summary: "Starts an account recovery (DESIGN §8): the first OPAQUE re-registration message, evaluated under this recovery's own OPRF key (the lookup key salted with the recovery id), never the current password's. Unknown usernames get a reply of the same shape; nothing about the account changes. Throttled per source address, then per account on a recovery budget apart from the login budget.",
            signed: false,
            query: &[],
            request: Some(body::<RecoveryStart>()),
            reply: Reply::Json {
                statuses: &[(
                    200,
                    "The recovery id (the challenge the recovery key signs) and the server's registration response.",
                )],
                body: Some(body::<RecoveryStartReply>()),
            },
            errors: &[400, 408, 413, 429, 500],
        },
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/recovery/ledger",
        handler: |filter| on(filter, disclose_ledger),
        doc: Doc {
            id: "recoveryLedger",
            summary: "Discloses the account's ledger to the holder of its recovery key, who signs enigm_core::recovery::recovery_proof_message(recovery_id). A refusal ends the recovery.",
            signed: false,
            query: &[],
            request: Some(body::<RecoveryLedger>()),
            reply: Reply::Json {
                statuses: &[(
                    200,
                    "The account id and its whole ledger, for the device to verify.",
                )],
                body: Some(body::<RecoveryLedgerReply>()),
            },
            errors: &[400, 401, 403, 408, 413, 500],
        },
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/recovery/finish",
        handler: |filter| on(filter, finish),
        doc: Doc {
            id: "recoveryFinish",
            summary: "Completes the recovery in one transaction: the Recover entry is appended on the current head, the OPAQUE record replaced, the recovery epoch moved (every earlier session ends; sockets close with reason recovery). Both signatures cover enigm_core::recovery::recovery_authorization_message. The recovery id is spent whatever the outcome.",
            signed: false,
            query: &[],
            request: Some(body::<RecoveryFinish>()),
            reply: Reply::Json {
                statuses: &[(201, "Recovered; the account id and the new head.")],
                body: Some(body::<RecoveryFinishReply>()),
            },
            errors: &[400, 401, 403, 408, 409, 413, 500],
        },
    },
];

/// Rate-limit key of recoveries of an account (by lookup key: unknown usernames alike).
fn account_limit_key(lookup_key: &[u8; 32]) -> String {
    format!("rec:acct:{}", hex::encode(&lookup_key[..16]))
}

/// Rate-limit key of recoveries from a source.
fn source_limit_key(source: &ClientSource) -> String {
    format!("rec:src:{}", source.key())
}

fn recovery_id(text: &str) -> Result<[u8; RECOVERY_ID_LEN], ServerError> {
    decode_b64("recovery_id", text, RECOVERY_ID_LEN)?
        .try_into()
        .map_err(|_| ServerError::Malformed("`recovery_id` must be 16 bytes".into()))
}

fn signature(field: &str, text: &str) -> Result<Signature, ServerError> {
    let bytes: [u8; 64] = decode_b64(field, text, 64)?
        .try_into()
        .map_err(|_| ServerError::Malformed(format!("`{field}` must be 64 bytes")))?;
    Ok(Signature::from_bytes(&bytes))
}

/// Records a refused recovery key against the account; the error to answer with.
async fn refused(
    state: &AppState,
    account_id: Option<AccountId>,
) -> Result<ServerError, ServerError> {
    if let Some(account_id) = account_id {
        let reason = reason_code(ServerError::RecoveryRefused.code().as_str())?;
        state
            .audit(
                AuditAction::RequestRejected { reason },
                AuditOutcome::Denied,
                &account_id,
                None,
            )
            .await?;
        let logs = &state.secrets().service_logs;
        tracing::info!(
            account = %pseudonym(logs, PseudonymKind::Account, &account_id),
            "recovery refused"
        );
    }
    Ok(ServerError::RecoveryRefused)
}

async fn start(
    State(state): State<AppState>,
    source: ClientSource,
    body: Bytes,
) -> Result<Json<RecoveryStartReply>, ServerError> {
    let request: RecoveryStart = parse_json(&body)?;
    let key = lookup_key(&state, &request.username)?;
    let message = registration_request(&request.registration_request)?;
    let config = state.config();
    throttle(&state, &source_limit_key(&source), config.source_backoff).await?;
    throttle(&state, &account_limit_key(&key), config.account_backoff).await?;
    let mut recovery_id = [0u8; RECOVERY_ID_LEN];
    OsRng.fill_bytes(&mut recovery_id);
    // The new record's OPRF key is this recovery's own (the id is its salt), so a start tells
    // nothing about the current password.
    let started = ServerRegistration::start(
        state.opaque_setup(),
        message,
        &credential_identifier(&key, &recovery_id),
    )
    .map_err(|_| ServerError::Malformed("the registration request was refused".into()))?;
    let account = state.storage().account_by_lookup_key(&key).await?;
    let expires_at = state.now().saturating_add(config.recovery_ttl_secs);
    state
        .storage()
        .insert_pending_recovery(PendingRecovery {
            recovery_id,
            lookup_key: key,
            account_id: account.map(|account| account.account_id),
            expires_at,
        })
        .await?;
    Ok(Json(RecoveryStartReply {
        recovery_id: encode_b64(&recovery_id),
        registration_response: encode_b64(&started.message.serialize()),
        expires_at,
    }))
}

async fn disclose_ledger(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<RecoveryLedgerReply>, ServerError> {
    let request: RecoveryLedger = parse_json(&body)?;
    let id = recovery_id(&request.recovery_id)?;
    let proof = signature("recovery_signature", &request.recovery_signature)?;
    let now = state.now();
    let pending = state
        .storage()
        .pending_recovery(&id, now)
        .await?
        .ok_or(ServerError::RecoveryExpired)?;
    let proven = match pending.account_id {
        Some(account_id) => {
            let ledger = state.ledger(&account_id).await?;
            let verified = ledger
                .recovery_key()
                .verify(&recovery_proof_message(&id), &proof)
                .is_ok();
            verified.then_some((account_id, ledger))
        }
        None => None,
    };
    let Some((account_id, ledger)) = proven else {
        state.storage().take_pending_recovery(&id, now).await?;
        return Err(refused(&state, pending.account_id).await?);
    };
    state
        .audit(
            AuditAction::RecoveryStarted,
            AuditOutcome::Success,
            &account_id,
            None,
        )
        .await?;
    let logs = &state.secrets().service_logs;
    tracing::info!(
        account = %pseudonym(logs, PseudonymKind::Account, &account_id),
        "recovery key proven; ledger disclosed"
    );
    let head = ledger.head();
    let entries = state
        .storage()
        .ledger_entries(&account_id, 0, MAX_DISCLOSED_ENTRIES)
        .await?
        .into_iter()
        .take_while(|entry| entry.seq <= head.seq)
        .map(|entry| encode_b64(&entry.bytes))
        .collect();
    Ok(Json(RecoveryLedgerReply {
        account_id: hex::encode(account_id),
        entries,
        head: Head {
            seq: head.seq,
            hash: head.hash.to_hex(),
        },
    }))
}

async fn finish(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<RecoveryFinishReply>), ServerError> {
    let request: RecoveryFinish = parse_json(&body)?;
    let id = recovery_id(&request.recovery_id)?;
    let (upload_bytes, upload) = registration_upload(&request.registration_upload)?;
    let entry_bytes = decode_b64("entry", &request.entry, MAX_ENTRY_LEN)?;
    let entry = LedgerEntry::decode(&entry_bytes).map_err(ServerError::InvalidLedger)?;
    let EntryKind::Recover { new_device, .. } = &entry.kind else {
        return Err(ServerError::Malformed(
            "`entry` is not a recover entry".into(),
        ));
    };
    let new_device_id = new_device.device_id();
    let recovery_signature = signature("recovery_signature", &request.recovery_signature)?;
    let device_signature = signature("device_signature", &request.device_signature)?;

    let now = state.now();
    let pending = state
        .storage()
        .take_pending_recovery(&id, now)
        .await?
        .ok_or(ServerError::RecoveryExpired)?;
    let Some(account_id) = pending.account_id else {
        return Err(refused(&state, None).await?);
    };
    let before = state.ledger(&account_id).await?;
    let entry_hash = entry.hash();
    let message = recovery_authorization_message(&account_id, &id, &upload_bytes, &entry_hash);
    if before
        .recovery_key()
        .verify(&message, &recovery_signature)
        .is_err()
    {
        return Err(refused(&state, Some(account_id)).await?);
    }
    new_device
        .signing
        .verify(&message, &device_signature)
        .map_err(|_| ServerError::Unauthenticated(AuthFailure::BadSignature))?;

    let head = before.head();
    let expected = StoredHead {
        seq: head.seq,
        hash: head.hash.0,
    };
    let conflict = |head: StoredHead| ServerError::LedgerConflict {
        seq: head.seq,
        hash: hex::encode(head.hash),
    };
    if Some(entry.seq) != head.seq.checked_add(1) || entry.prev_hash != head.hash {
        return Err(conflict(expected));
    }
    let mut after = before.clone();
    after
        .apply(std::slice::from_ref(&entry))
        .map_err(ServerError::InvalidLedger)?;

    let record = ServerRegistration::finish(upload);
    let outcome = state
        .storage()
        .complete_recovery(
            &account_id,
            RecoveryCommit {
                expected,
                entry: StoredEntry {
                    seq: entry.seq,
                    hash: entry_hash.0,
                    bytes: entry_bytes,
                },
                opaque_record: record.serialize().to_vec(),
                opaque_salt: pending.recovery_id.to_vec(),
                recovery_epoch: after.recovery_epoch(),
            },
        )
        .await?;
    let new_head = match outcome {
        AppendOutcome::Appended(new_head) => new_head,
        AppendOutcome::Conflict(current) => return Err(conflict(current)),
    };
    state
        .storage()
        .reset_rate_limit(&account_limit_key(&pending.lookup_key))
        .await?;
    state
        .audit_committed(
            AuditAction::LedgerAppended {
                kind: entry_code(&entry.kind)?,
            },
            AuditOutcome::Success,
            &account_id,
            Some(new_device_id.as_bytes()),
        )
        .await;
    state
        .audit_committed(
            AuditAction::RecoveryCompleted,
            AuditOutcome::Success,
            &account_id,
            Some(new_device_id.as_bytes()),
        )
        .await;
    let logs = &state.secrets().service_logs;
    tracing::info!(
        account = %pseudonym(logs, PseudonymKind::Account, &account_id),
        device = %pseudonym(logs, PseudonymKind::Device, new_device_id.as_bytes()),
        epoch = after.recovery_epoch(),
        seq = new_head.seq,
        "account recovered"
    );
    super::push::announce_append(&state, &account_id, &before, &after, &[entry]).await;
    Ok((
        StatusCode::CREATED,
        Json(RecoveryFinishReply {
            account_id: hex::encode(account_id),
            head: Head {
                seq: new_head.seq,
                hash: hex::encode(new_head.hash),
            },
        }),
    ))
}
