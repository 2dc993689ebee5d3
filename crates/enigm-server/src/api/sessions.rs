//! Login over OPAQUE, ending in a session bound to the device's Ed25519 key (DESIGN §3, §6).
//!
//! `POST /v1/sessions/login/start` `{username, credential_request, device_key?,
//! device_timestamp?, device_signature?}` -> `{login_id, credential_response}`. Unknown
//! usernames get a response built from a dummy record (opaque-ke's `ServerLogin::start` with
//! `None`): same shape, same size, and a consistent OPRF evaluation for the same username, so
//! the reply does not tell whether the username exists.
//!
//! Every start is a guess: its reply lets the client test one password offline, so starts, not
//! finishes, are what the guess budget counts. A plain start counts against its source address
//! first (so a source that is refused spends nothing of the account's budget), then against the
//! account (by lookup key, known or not), until a finish succeeds; past the free attempts each
//! one doubles the wait, and a 429 says `retry_after`. The attempt that starts a wait is
//! audited, once per block window, off the request path (so neither the audit's write nor its
//! absence for unknown usernames shows in the response time). A start signed by a device the
//! account's verified ledger holds as active or suspended
//! ([`enigm_core::request::login_start_message`], within the clock skew) draws on that
//! device's own budget instead, so a stranger who keeps the account's budget spent cannot lock
//! its owner out; a signature that does not prove such a device changes nothing and the start
//! is a plain one (so the answer never tells whether the username exists).
//!
//! `POST /v1/sessions/login/finish` `{login_id, credential_finalization, device_key,
//! device_signature}` -> `{session_id, kind, expires_at, account_id, head}`. The login state is
//! taken once from storage (another node may finish what this one started). After OPAQUE
//! succeeds the device proves possession of `device_key` by signing
//! [`crate::protocol::session_binding_message`], which MACs the login id and the device key
//! under the OPAQUE session key: the signature cannot be made without having run this very
//! login, and it binds the session to that key. A device active (or suspended) in the
//! verified ledger gets a full session; a key the ledger does not know, or a device still
//! pending, gets an enrollment-restricted session; a removed device is refused. The session
//! belongs to the recovery epoch the login started in: a login that straddles an account
//! recovery (which replaces the password) gets `login_expired`, or a session that is already
//! stale, never a session of the new epoch.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::on;
use ed25519_dalek::Signature;
use enigm_core::audit::{AuditAction, AuditOutcome};
use enigm_core::identity::{DeviceId, SigningPublicKey};
use enigm_core::lifecycle::DeviceState;
use enigm_core::opaque::{
    CREDENTIAL_FINALIZATION_LEN, CREDENTIAL_REQUEST_LEN, CredentialFinalization, CredentialRequest,
    ServerLogin, ServerLoginStartParameters, ServerRegistration,
};
use enigm_core::pseudonym::{PseudonymKind, pseudonym};
use enigm_core::request::{SessionId, login_start_message};
use enigm_core::trust::{Operation, SessionKind};
use enigm_proto::{
    Head, LoginFinish, LoginStart, LoginStartReply, RefreshReply, SessionInfo, SessionIssued,
    SessionStatus,
};
use rand_core::{OsRng, RngCore};

use super::accounts::{credential_identifier, lookup_key};
use super::{Doc, Endpoint, Reply, Verb, body, decode_b64, encode_b64, parse_json, throttle};
use crate::auth::{Authenticated, note_seen};
use crate::client_source::ClientSource;
use crate::error::{AuthFailure, ServerError};
use crate::login_seal::LoginBinding;
use crate::protocol::session_binding_message;
use crate::state::AppState;
use crate::storage::{AccountRecord, PendingLogin, SessionRecord};

/// The session endpoints.
pub(super) const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        verb: Verb::Post,
        path: "/v1/sessions/login/start",
        handler: |filter| on(filter, login_start),
        doc: Doc {
            id: "loginStart",
            summary: "First OPAQUE login message. Unknown usernames get a reply of the same shape. A plain start counts against its source address, then the account's guess budget; a start signed by a device the account's verified ledger holds as active or suspended (all three `device_*` fields) counts against that device's own budget instead, so a stranger spending the account's cannot lock its owner out. A signature that proves no such device makes it a plain start.",
            signed: false,
            query: &[],
            request: Some(body::<LoginStart>()),
            reply: Reply::Json {
                statuses: &[(200, "The server's credential response.")],
                body: Some(body::<LoginStartReply>()),
            },
            errors: &[400, 408, 413, 429, 500, 503],
        },
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/sessions/login/finish",
        handler: |filter| on(filter, login_finish),
        doc: Doc {
            id: "loginFinish",
            summary: "Finishes OPAQUE and binds a session to the device key, which signs the session binding message.",
            signed: false,
            query: &[],
            request: Some(body::<LoginFinish>()),
            reply: Reply::Json {
                statuses: &[(
                    200,
                    "A session: full for an active or suspended device, enrollment-restricted for an unknown or pending one.",
                )],
                body: Some(body::<SessionIssued>()),
            },
            errors: &[400, 401, 403, 408, 413, 500, 503],
        },
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/sessions/current",
        handler: |filter| on(filter, current),
        doc: Doc {
            id: "currentSession",
            summary: "Where this session and its device stand, with the trust decision for every operation.",
            signed: true,
            query: &[],
            request: None,
            reply: Reply::Json {
                statuses: &[(200, "The session.")],
                body: Some(body::<SessionStatus>()),
            },
            errors: &[400, 401, 403, 408, 413, 500, 503],
        },
    },
    Endpoint {
        verb: Verb::Delete,
        path: "/v1/sessions/current",
        handler: |filter| on(filter, end),
        doc: Doc {
            id: "signOut",
            summary: "Ends this session; its push sockets get `session_ended` (`signed_out`).",
            signed: true,
            query: &[],
            request: None,
            reply: Reply::Json {
                statuses: &[(204, "Signed out.")],
                body: None,
            },
            errors: &[400, 401, 403, 408, 413, 500, 503],
        },
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/sessions/refresh",
        handler: |filter| on(filter, refresh),
        doc: Doc {
            id: "refreshSession",
            summary: "Moves the session's expiry forward (trust evaluation still bounds its age).",
            signed: true,
            query: &[],
            request: None,
            reply: Reply::Json {
                statuses: &[(200, "The new expiry.")],
                body: Some(body::<RefreshReply>()),
            },
            errors: &[400, 401, 403, 408, 413, 500, 503],
        },
    },
];

/// `GET /v1/sessions/current`: where this session and device stand, with the decision for
/// every operation (what the client shows in `session status`), and the account's recovery
/// epoch, so a device can show which recovery its session belongs to.
async fn current(request: Authenticated) -> Result<Json<SessionStatus>, ServerError> {
    let decisions = Operation::ALL
        .iter()
        .map(|operation| (*operation, request.decide(*operation)))
        .collect();
    Ok(Json(SessionStatus {
        session: SessionInfo {
            kind: request.session.kind,
            issued_at: request.session.issued_at,
            expires_at: request.session.expires_at,
        },
        account_id: hex::encode(request.account.account_id),
        recovery_epoch: request.account.recovery_epoch,
        device_id: hex::encode(request.session.device_id),
        device_state: request.device_state(),
        decisions,
    }))
}

/// The operation a session exists for: enrollment-restricted ones only enroll.
pub(super) fn natural_operation(kind: SessionKind) -> Operation {
    match kind {
        SessionKind::Full => Operation::Sync,
        SessionKind::EnrollmentRestricted => Operation::Enroll,
    }
}

/// `POST /v1/sessions/refresh`: moves the expiry forward (the policy's maximum age still
/// bounds the session, through trust evaluation).
async fn refresh(
    State(state): State<AppState>,
    request: Authenticated,
) -> Result<Json<RefreshReply>, ServerError> {
    request.authorize(natural_operation(request.session.kind))?;
    let expires_at = request.now.saturating_add(state.config().session_ttl_secs);
    if !state
        .storage()
        .refresh_session(&request.session.session_id, expires_at)
        .await?
    {
        return Err(ServerError::Unauthenticated(AuthFailure::UnknownSession));
    }
    Ok(Json(RefreshReply { expires_at }))
}

/// `DELETE /v1/sessions/current`: signs out.
async fn end(
    State(state): State<AppState>,
    request: Authenticated,
) -> Result<axum::http::StatusCode, ServerError> {
    state
        .storage()
        .delete_session(&request.session.session_id)
        .await?;
    super::push::end_session(
        &state,
        &request.account.account_id,
        request.session.session_id,
        crate::push::EndReason::SignedOut,
    )
    .await;
    state
        .audit_committed(
            AuditAction::SessionEnded,
            AuditOutcome::Success,
            &request.account.account_id,
            Some(&request.session.device_id),
        )
        .await;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// What a login start draws on: the account's shared budget, or an enrolled device's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Budget {
    /// The account's (by lookup key), after the source address's.
    Account,
    /// The device's, which the start proved to hold a key of the account's ledger.
    Device([u8; 16]),
}

/// Rate-limit key of an account (by lookup key, so unknown usernames are limited alike).
fn account_limit_key(lookup_key: &[u8; 32]) -> String {
    format!("acct:{}", hex::encode(&lookup_key[..16]))
}

/// Rate-limit key of a budget.
fn budget_limit_key(lookup_key: &[u8; 32], budget: Budget) -> String {
    match budget {
        Budget::Account => account_limit_key(lookup_key),
        Budget::Device(device) => format!(
            "acct:{}:dev:{}",
            hex::encode(&lookup_key[..16]),
            hex::encode(device)
        ),
    }
}

/// Rate-limit key of a source (an address, or an IPv6 /64).
fn source_limit_key(source: &ClientSource) -> String {
    format!("src:{}", source.key())
}

/// The password a login started against: the account's recovery epoch and the salt of its
/// OPAQUE record then. A recovery moves the epoch; a password change (or a recovery) gives the
/// record a new salt.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Credential {
    /// The account's recovery epoch.
    recovery_epoch: u64,
    /// The record's salt (empty for unknown usernames and records made before salts).
    salt: Vec<u8>,
}

impl Credential {
    /// The credential `account` holds now (the empty one for an unknown username).
    fn of(account: Option<&AccountRecord>) -> Self {
        Self {
            recovery_epoch: account.map_or(0, |account| account.recovery_epoch),
            salt: account.map_or_else(Vec::new, |account| account.opaque_salt.clone()),
        }
    }
}

/// What a pending login stores: the budget it drew on (0, or 1 and the device id), then the
/// account's recovery epoch when the login started (`u64` big-endian), the record's salt (one
/// length byte, then the salt), then the OPAQUE server state. The budget is the one a success
/// resets; it leads, so that its length is known before anything after it is read. A recovery
/// or a password change replaces the OPAQUE record; a login that started before it must not
/// yield a session after it, even when the finish took its pending login just before the
/// change committed.
fn pending_state(opaque: &[u8], credential: &Credential, budget: Budget) -> Vec<u8> {
    let mut state = Vec::with_capacity(17 + 8 + 1 + credential.salt.len() + opaque.len());
    match budget {
        Budget::Account => state.push(0),
        Budget::Device(device) => {
            state.push(1);
            state.extend_from_slice(&device);
        }
    }
    state.extend_from_slice(&credential.recovery_epoch.to_be_bytes());
    // Salts are `SALT_LEN` (16) or recovery ids (16) bytes: one length byte is room enough.
    let salt = &credential.salt[..credential.salt.len().min(usize::from(u8::MAX))];
    state.push(u8::try_from(salt.len()).unwrap_or(u8::MAX));
    state.extend_from_slice(salt);
    state.extend_from_slice(opaque);
    state
}

/// The inverse of [`pending_state`].
fn split_pending_state(state: &[u8]) -> Result<(&[u8], Credential, Budget), ServerError> {
    let unreadable = || ServerError::Internal("stored login state unreadable".into());
    let (budget, rest) = match state.split_first() {
        Some((0, rest)) => (Budget::Account, rest),
        Some((1, rest)) if rest.len() >= 16 => {
            let (device, rest) = rest.split_at(16);
            (
                Budget::Device(device.try_into().map_err(|_| unreadable())?),
                rest,
            )
        }
        Some(_) | None => return Err(unreadable()),
    };
    if rest.len() < 9 {
        return Err(unreadable());
    }
    let (epoch, rest) = rest.split_at(8);
    let epoch: [u8; 8] = epoch.try_into().map_err(|_| unreadable())?;
    let (salt_len, rest) = rest.split_first().ok_or_else(unreadable)?;
    let salt_len = usize::from(*salt_len);
    if rest.len() < salt_len {
        return Err(unreadable());
    }
    let (salt, opaque) = rest.split_at(salt_len);
    Ok((
        opaque,
        Credential {
            recovery_epoch: u64::from_be_bytes(epoch),
            salt: salt.to_vec(),
        },
        budget,
    ))
}

/// The device a signed login start proves, if it proves one: all three fields or none (400
/// otherwise), a timestamp within the clock skew, a strict signature over this very request,
/// and a key the account's verified ledger holds as active or suspended. Anything short of that
/// is `None`, answered like an unsigned start, so the reply never tells whether the username
/// exists.
async fn proven_device(
    state: &AppState,
    request: &LoginStart,
    lookup_key: &[u8; 32],
    credential_request: &[u8],
) -> Result<Option<[u8; 16]>, ServerError> {
    let (key, timestamp, signature) = match (
        &request.device_key,
        request.device_timestamp,
        &request.device_signature,
    ) {
        (Some(key), Some(timestamp), Some(signature)) => (key, timestamp, signature),
        (None, None, None) => return Ok(None),
        _ => {
            return Err(ServerError::Malformed(
                "`device_key`, `device_timestamp` and `device_signature` go together".into(),
            ));
        }
    };
    let key: [u8; 32] = decode_b64("device_key", key, 32)?
        .try_into()
        .map_err(|_| ServerError::Malformed("`device_key` must be 32 bytes".into()))?;
    let signature: [u8; 64] = decode_b64("device_signature", signature, 64)?
        .try_into()
        .map_err(|_| ServerError::Malformed("`device_signature` must be 64 bytes".into()))?;
    let fresh = state.now().abs_diff(timestamp) <= state.config().max_clock_skew_secs;
    let Ok(key) = SigningPublicKey::from_bytes(&key) else {
        return Ok(None);
    };
    let message = login_start_message(timestamp, credential_request);
    if !fresh
        || key
            .verify(&message, &Signature::from_bytes(&signature))
            .is_err()
    {
        return Ok(None);
    }
    let Some(account) = state.storage().account_by_lookup_key(lookup_key).await? else {
        return Ok(None);
    };
    let device = DeviceId::derive(&key);
    let ledger = state.ledger(&account.account_id).await?;
    Ok(match ledger.device(&device).map(|record| record.state) {
        Some(DeviceState::Active | DeviceState::Suspended) => Some(*device.as_bytes()),
        Some(
            DeviceState::Pending
            | DeviceState::Review
            | DeviceState::Replaced
            | DeviceState::Revoked
            | DeviceState::Retired,
        )
        | None => None,
    })
}

/// Audits that a budget started a wait, if the username is an account's. Run off the request
/// path: the write (and its absence for unknown usernames) must not show in response times.
fn audit_wait(state: &AppState, lookup_key: [u8; 32], budget: Budget) {
    let state = state.clone();
    tokio::spawn(async move {
        let device = match &budget {
            Budget::Account => None,
            Budget::Device(device) => Some(device),
        };
        match state.storage().account_by_lookup_key(&lookup_key).await {
            Ok(Some(account)) => {
                state
                    .audit_committed(
                        AuditAction::LoginRateLimited,
                        AuditOutcome::Denied,
                        &account.account_id,
                        device,
                    )
                    .await;
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(code = %error.code(), "a login wait was not audited"),
        }
    });
}

async fn login_start(
    State(state): State<AppState>,
    source: ClientSource,
    body: Bytes,
) -> Result<Json<LoginStartReply>, ServerError> {
    let request: LoginStart = parse_json(&body)?;
    let key = lookup_key(&state, &request.username)?;
    let credential_request = decode_b64(
        "credential_request",
        &request.credential_request,
        CREDENTIAL_REQUEST_LEN,
    )?;
    let message = CredentialRequest::deserialize(&credential_request).map_err(|_| {
        ServerError::Malformed("`credential_request` is not an OPAQUE credential request".into())
    })?;
    let config = state.config();
    let budget = match proven_device(&state, &request, &key, &credential_request).await? {
        Some(device) => Budget::Device(device),
        None => {
            throttle(&state, &source_limit_key(&source), config.source_backoff).await?;
            Budget::Account
        }
    };
    if throttle(
        &state,
        &budget_limit_key(&key, budget),
        config.account_backoff,
    )
    .await?
    {
        audit_wait(&state, key, budget);
    }

    let account = state.storage().account_by_lookup_key(&key).await?;
    let record = match &account {
        Some(account) => Some(
            ServerRegistration::deserialize(&account.opaque_record)
                .map_err(|_| ServerError::Internal("stored OPAQUE record unreadable".into()))?,
        ),
        None => None,
    };
    let identifier = credential_identifier(
        &key,
        account
            .as_ref()
            .map_or(&[][..], |account| account.opaque_salt.as_slice()),
    );
    let started = ServerLogin::start(
        &mut OsRng,
        state.opaque_setup(),
        record,
        message,
        &identifier,
        ServerLoginStartParameters::default(),
    )
    .map_err(|_| ServerError::Malformed("the credential request was refused".into()))?;

    let mut login_id = [0u8; 16];
    OsRng.fill_bytes(&mut login_id);
    let account_id = account.as_ref().map(|account| account.account_id);
    let sealed = state.login_seal().seal(
        LoginBinding {
            login_id: &login_id,
            lookup_key: &key,
            account_id: account_id.as_ref(),
        },
        &pending_state(
            &started.state.serialize(),
            &Credential::of(account.as_ref()),
            budget,
        ),
    )?;
    state
        .storage()
        .insert_pending_login(PendingLogin {
            login_id,
            lookup_key: key,
            account_id,
            state: sealed,
            expires_at: state.now().saturating_add(state.config().login_ttl_secs),
        })
        .await?;
    Ok(Json(LoginStartReply {
        login_id: encode_b64(&login_id),
        credential_response: encode_b64(&started.message.serialize()),
    }))
}

async fn login_finish(
    State(state): State<AppState>,
    source: ClientSource,
    body: Bytes,
) -> Result<Json<SessionIssued>, ServerError> {
    let request: LoginFinish = parse_json(&body)?;
    let login_id: [u8; 16] = decode_b64("login_id", &request.login_id, 16)?
        .try_into()
        .map_err(|_| ServerError::Malformed("`login_id` must be 16 bytes".into()))?;
    let finalization = decode_b64(
        "credential_finalization",
        &request.credential_finalization,
        CREDENTIAL_FINALIZATION_LEN,
    )?;
    let finalization = CredentialFinalization::deserialize(&finalization).map_err(|_| {
        ServerError::Malformed(
            "`credential_finalization` is not an OPAQUE credential finalization".into(),
        )
    })?;
    let device_key: [u8; 32] = decode_b64("device_key", &request.device_key, 32)?
        .try_into()
        .map_err(|_| ServerError::Malformed("`device_key` must be 32 bytes".into()))?;
    let device_key = SigningPublicKey::from_bytes(&device_key)
        .map_err(|_| ServerError::Malformed("`device_key` is not a valid Ed25519 key".into()))?;
    let signature: [u8; 64] = decode_b64("device_signature", &request.device_signature, 64)?
        .try_into()
        .map_err(|_| ServerError::Malformed("`device_signature` must be 64 bytes".into()))?;
    let signature = Signature::from_bytes(&signature);

    let now = state.now();
    let pending = state
        .storage()
        .take_pending_login(&login_id, now)
        .await?
        .ok_or(ServerError::LoginExpired)?;
    // A seal that does not open (a restart of a one-node service, altered bytes) is a login
    // this service cannot finish: the client starts over.
    let opened = state
        .login_seal()
        .open(
            LoginBinding {
                login_id: &login_id,
                lookup_key: &pending.lookup_key,
                account_id: pending.account_id.as_ref(),
            },
            &pending.state,
        )
        .ok_or(ServerError::LoginExpired)?;
    let (login, started, budget) = split_pending_state(&opened)?;
    let login = ServerLogin::deserialize(login)
        .map_err(|_| ServerError::Internal("stored login state unreadable".into()))?;
    let finished = login.finish(finalization);
    let (Some(account_id), Ok(finished)) = (pending.account_id, finished) else {
        // A wrong password costs a plain start's source a second attempt (its start already
        // cost the account one); the answer stays the truth about the password.
        if budget == Budget::Account {
            match throttle(
                &state,
                &source_limit_key(&source),
                state.config().source_backoff,
            )
            .await
            {
                Ok(_) | Err(ServerError::RateLimited { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        if let Some(account_id) = pending.account_id {
            // Off the request path: only existing accounts are audited, and the write must not
            // show in the response time.
            let state = state.clone();
            tokio::spawn(async move {
                state
                    .audit_committed(
                        AuditAction::LoginFailed,
                        AuditOutcome::Denied,
                        &account_id,
                        None,
                    )
                    .await;
            });
        }
        return Err(ServerError::InvalidCredentials);
    };
    let message = session_binding_message(
        &login_id,
        finished.session_key.as_slice(),
        device_key.as_bytes(),
    );
    device_key
        .verify(&message, &signature)
        .map_err(|_| ServerError::Unauthenticated(AuthFailure::BadSignature))?;
    state
        .storage()
        .reset_rate_limit(&budget_limit_key(&pending.lookup_key, budget))
        .await?;

    let account = state
        .storage()
        .account(&account_id)
        .await?
        .ok_or(ServerError::InvalidCredentials)?;
    if Credential::of(Some(&account)) != started {
        // A recovery or a password change replaced the password between this login's start
        // and its finish.
        return Err(ServerError::LoginExpired);
    }
    let ledger = state.ledger(&account_id).await?;
    let device_id = DeviceId::derive(&device_key);
    let kind = match ledger.device(&device_id).map(|record| record.state) {
        None | Some(DeviceState::Pending | DeviceState::Review) => {
            SessionKind::EnrollmentRestricted
        }
        Some(DeviceState::Active | DeviceState::Suspended) => SessionKind::Full,
        Some(DeviceState::Replaced | DeviceState::Revoked | DeviceState::Retired) => {
            return Err(state
                .removal(&account_id, &ledger, *device_id.as_bytes())
                .await?
                .unwrap_or_else(|| ServerError::Internal("removal not found".into())));
        }
    };
    let session_id = SessionId::generate(&mut OsRng);
    let expires_at = now.saturating_add(state.config().session_ttl_secs);
    let session = SessionRecord {
        session_id: *session_id.as_bytes(),
        account_id,
        device_key: *device_key.as_bytes(),
        device_id: *device_id.as_bytes(),
        kind,
        issued_at: now,
        expires_at,
        strong_auth_at: now,
        recovery_epoch: started.recovery_epoch,
        seen_day: 0,
    };
    state.storage().insert_session(session.clone()).await?;
    // A password change that committed between the check above and the insert did not see
    // this session to end it: look again, and take it back.
    let after = state.storage().account(&account_id).await?;
    if after
        .as_ref()
        .is_none_or(|after| after.opaque_salt != started.salt)
    {
        state.storage().delete_session(&session.session_id).await?;
        return Err(ServerError::LoginExpired);
    }
    note_seen(&state, &session, &ledger, now).await?;
    state
        .audit_committed(
            AuditAction::LoginSucceeded,
            AuditOutcome::Success,
            &account_id,
            Some(device_id.as_bytes()),
        )
        .await;
    let logs = &state.secrets().service_logs;
    tracing::info!(
        account = %pseudonym(logs, PseudonymKind::Account, &account_id),
        device = %pseudonym(logs, PseudonymKind::Device, device_id.as_bytes()),
        ?kind,
        "session issued"
    );
    let head = ledger.head();
    Ok(Json(SessionIssued {
        session_id: session_id.to_b64url(),
        kind,
        expires_at,
        account_id: hex::encode(account_id),
        head: Head {
            seq: head.seq,
            hash: head.hash.to_hex(),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_state_keeps_the_credential_and_the_budget_the_login_started_with() {
        let credential = Credential {
            recovery_epoch: 7,
            salt: vec![5; 16],
        };
        let state = pending_state(&[1, 2, 3], &credential, Budget::Account);
        assert_eq!(state.len(), 1 + 8 + 1 + 16 + 3);
        let split = split_pending_state(&state).unwrap();
        assert_eq!(
            split,
            (&[1u8, 2, 3][..], credential.clone(), Budget::Account)
        );
        let unsalted = Credential {
            recovery_epoch: 0,
            salt: Vec::new(),
        };
        let stored = pending_state(&[4], &unsalted, Budget::Account);
        let split = split_pending_state(&stored).unwrap();
        assert_eq!(split, (&[4u8][..], unsalted, Budget::Account));
        // Any device id and any OPAQUE state, zero bytes at either end included (a device id
        // ending in 0 once read as the account's budget: one login in 256 failed).
        for (device, opaque) in [
            ([9; 16], vec![1, 2, 3]),
            ([0; 16], vec![0, 0]),
            ([255; 16], vec![]),
        ] {
            let state = pending_state(&opaque, &credential, Budget::Device(device));
            let split = split_pending_state(&state).unwrap();
            assert_eq!(
                split,
                (&opaque[..], credential.clone(), Budget::Device(device))
            );
        }
        assert!(split_pending_state(&[]).is_err());
        assert!(split_pending_state(&[0; 8]).is_err());
        // A salt longer than what follows.
        assert!(split_pending_state(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 1]).is_err());
        assert!(split_pending_state(&[1; 20]).is_err());
        assert!(split_pending_state(&[2; 30]).is_err());
    }
}
