//! The enrollment relay (DESIGN §7): how a new device B and an active device A of the same
//! account run `enigm_core::sas` through the service, which only relays public messages and
//! enforces order, parties, expiry and limits ([`crate::enrollment`] is the state machine).
//!
//! Binary fields are unpadded base64url, ids and hashes lower-case hex. Every step answers
//! with the request's view (below); re-posting a step's message answers the same view, a
//! different message for a step already taken is 409 `enrollment_conflict`, a step whose turn
//! has not come is 409 `enrollment_out_of_order`, a finished request 409 `enrollment_closed`
//! (with `state`), a step by the wrong device 403 `enrollment_wrong_party`. A request of
//! another account is 404, as is an unknown id.
//!
//! 1. **B** (enrollment-restricted session; its device is not in the ledger) runs
//!    `NewDeviceCommitted::start` and posts `POST /v1/enrollments` `{commitment, signing_key,
//!    agreement_key, platform, replaces?}` (`signing_key` must be the session's key;
//!    `platform` 1–32 of `A-Za-z0-9._-` and space; `replaces` the hex id of a device the
//!    ledger lets a new device replace now: an active one) -> 201 with
//!    the view. Limits: one open request per device (409 `enrollment_already_open` with its
//!    `id`; the same request re-posted is answered 200 with its view), the account's open
//!    requests (409 `enrollment_limit_reached`), and a creation rate per account (429). The
//!    account's trusted sessions get `enrollment_requested`.
//! 2. **A** lists `GET /v1/enrollments` (open, unexpired requests: `{requests: [view]}`),
//!    shows platform, time and fingerprint, and either `POST /v1/enrollments/{id}/reject` `{}`
//!    or runs `ExistingDeviceOffered::start` (context: account id, the 16 id bytes, A's device
//!    id) and posts `POST /v1/enrollments/{id}/accept` `{ephemeral}`. From then on only that
//!    device (the approver) acts for the existing side.
//! 3. **B** reads `GET /v1/enrollments/{id}` (the approver, its key and `ephemeral`), runs
//!    `receive_existing_key` and posts `POST .../reveal` `{ephemeral}`; A reads it, checks the
//!    commitment with `receive_new_device_key`. Both show the code.
//! 4. After its user confirmed, **A** posts `POST .../mac` `{mac, head: {seq, hash}}` (its SAS
//!    MAC and the ledger head it vouches for). **B**, once its user confirmed too, verifies it
//!    (`verify_existing_device`), signs the `AddDevice` entry that extends that head
//!    (`approved_by` A, `replaces` as requested) and posts `POST .../mac` `{mac, signature}`.
//! 5. **A** verifies B's MAC (`verify_new_device`), signs the same entry, adds B's signature,
//!    appends it with `POST /v1/ledger`, then posts `POST .../complete` `{sealed_key}` (the
//!    account sync key sealed to B's agreement key and signed by A over the ledger head that
//!    holds B, enigm-core's `SignedSyncKey`; at most 1 KiB). The service refuses it
//!    with 409 `enrollment_not_in_ledger` unless the ledger holds B's keys approved by A
//!    (replacing what B asked to replace). Once the account has a sync key, the sealed key's
//!    header must name the current sync epoch (409 `stale_sync_epoch`) and B (409
//!    `sync_key_copies_mismatch`), and it becomes B's copy
//!    for `GET /v1/sync-keys/mine` (api/sync_keys.rs).
//! 6. **B** reads `completed` and its `sealed_key` (shown to B only), verifies the ledger and
//!    signs in again for a full session; it keeps the key only if A's signature verifies under
//!    the key its own verified ledger holds for A. The service never checks that signature.
//!
//! Either side may `POST .../cancel` `{}` (or `{reason: "codes_differ"}`) while the request is
//! open (before acceptance any active device; after, the approver). A request expires
//! `expires_at` (10 minutes by default) after creation: from then on it reads and acts as
//! `expired` on every node; the node that created it also records the expiry then, pushes it
//! and audits it. Finished and expired
//! requests stay readable for an hour, then are purged. Every step is pushed to the account's
//! trusted sessions and to B's sockets as `enrollment_updated {id, state}`; creation,
//! acceptance, rejection, cancellation, completion and expiry are audited, with pseudonyms only.
//!
//! The view: `{id, state, created_at, expires_at, platform, device_id, fingerprint,
//! signing_key, agreement_key, commitment, replaces, approver: {device_id, signing_key,
//! ephemeral} | null,
//! new_ephemeral, approver_mac: {mac, head: {seq, hash}} | null, new_device_mac: {mac,
//! signature} | null, cancelled_by, cancel_reason, sealed_key}` with `null` for what is not
//! posted yet; `cancel_reason` is `withdrawn`, or `codes_differ` when the side that cancelled
//! saw a code different from the other's (both sides warn: someone may be in between).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{MethodFilter, MethodRouter, on};
use enigm_core::audit::{AuditAction, AuditOutcome};
use enigm_core::identity::DeviceId;
use enigm_core::ledger::DeviceOrigin;
use enigm_core::lifecycle::{self, DeviceState, LifecycleEvent};
use enigm_core::pseudonym::{PseudonymKind, pseudonym};
use enigm_core::sync_copy::SignedSyncKey;
use enigm_core::trust::{Operation, Reason};
use enigm_proto::{
    ApproverView, Cancel, Complete, CreateEnrollment, Empty, EnrollmentList, EnrollmentView,
    Ephemeral, Head,
};
use rand_core::{OsRng, RngCore};

use super::{Body, Doc, Endpoint, Reply, Verb, body, decode_b64, encode_b64, parse_json, throttle};
use crate::auth::Authenticated;
use crate::enrollment::{
    Actor, ApproverMac, Bytes, CancelReason, EnrollmentRefusal, MAX_SEALED_KEY_LEN, NewDeviceMac,
    Party, RETENTION_SECS, Relay, RelayState, Request, Step, Transition, transition,
    valid_platform,
};
use crate::error::{ServerError, SyncKeyRefusal};
use crate::push::{Audience, PushEvent};
use crate::state::AppState;
use crate::storage::{EnrollmentInsert, EpochWrite, StoredEnrollment, SyncKeyCopy};

/// How often a step is retried after losing a compare-and-set to a concurrent one.
const MAX_RACES: usize = 4;

/// The enrollment relay's endpoints.
pub(super) const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        verb: Verb::Get,
        path: "/v1/enrollments",
        handler: |filter| on(filter, list),
        doc: Doc {
            id: "listEnrollments",
            summary: "The account's open, unexpired requests (an active device).",
            signed: true,
            query: &[],
            request: None,
            reply: Reply::Json {
                statuses: &[(200, "Open requests, oldest first.")],
                body: Some(body::<EnrollmentList>()),
            },
            errors: &[400, 401, 403, 408, 413, 500],
        },
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/enrollments",
        handler: |filter| on(filter, create),
        doc: Doc {
            id: "createEnrollment",
            summary: "A new device (enrollment-restricted session) asks to join.",
            signed: true,
            query: &[],
            request: Some(body::<CreateEnrollment>()),
            reply: Reply::Json {
                statuses: &[
                    (200, "This device's identical open request, again."),
                    (201, "Created."),
                ],
                body: Some(body::<EnrollmentView>()),
            },
            errors: &[400, 401, 403, 408, 409, 413, 429, 500],
        },
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/enrollments/{id}",
        handler: |filter| on(filter, show),
        doc: Doc {
            id: "getEnrollment",
            summary: "One request, as the new device or an active device of the account sees it.",
            signed: true,
            query: &[],
            request: None,
            reply: Reply::Json {
                statuses: &[(200, "The request.")],
                body: Some(body::<EnrollmentView>()),
            },
            errors: &[400, 401, 403, 404, 408, 413, 500],
        },
    },
    step(
        "/v1/enrollments/{id}/accept",
        |filter| on(filter, accept),
        "acceptEnrollment",
        "An active device approves and sends its ephemeral key.",
        body::<Ephemeral>(),
    ),
    step(
        "/v1/enrollments/{id}/reject",
        |filter| on(filter, reject),
        "rejectEnrollment",
        "An active device declines.",
        body::<Empty>(),
    ),
    step(
        "/v1/enrollments/{id}/reveal",
        |filter| on(filter, reveal),
        "revealEnrollment",
        "The new device reveals its ephemeral key.",
        body::<Ephemeral>(),
    ),
    step(
        "/v1/enrollments/{id}/mac",
        |filter| on(filter, mac),
        "postEnrollmentMac",
        "A SAS MAC: the approver's `{mac, head}`, or the new device's `{mac, signature}`.",
        body::<enigm_proto::schema::EnrollmentMac>(),
    ),
    step(
        "/v1/enrollments/{id}/complete",
        |filter| on(filter, complete),
        "completeEnrollment",
        "The approver hands over the sealed account sync key, once AddDevice is in the ledger; once the account has a sync key it must be sealed at the current epoch (409 `stale_sync_epoch`) and becomes the new device's copy.",
        body::<Complete>(),
    ),
    step(
        "/v1/enrollments/{id}/cancel",
        |filter| on(filter, cancel),
        "cancelEnrollment",
        "Either side withdraws.",
        body::<Cancel>(),
    ),
];

/// A step on an open request: signed, posted to `path`, answered with the request as it stands
/// after the step.
const fn step(
    path: &'static str,
    handler: fn(MethodFilter) -> MethodRouter<AppState>,
    id: &'static str,
    summary: &'static str,
    request: Body,
) -> Endpoint {
    Endpoint {
        verb: Verb::Post,
        path,
        handler,
        doc: Doc {
            id,
            summary,
            signed: true,
            query: &[],
            request: Some(request),
            reply: Reply::Json {
                statuses: &[(
                    200,
                    "The request after the step (the same for a repeated message).",
                )],
                body: Some(body::<EnrollmentView>()),
            },
            errors: &[400, 401, 403, 404, 408, 409, 413, 500],
        },
    }
}

/// Decodes a base64url field of exactly `N` bytes.
fn fixed_b64<const N: usize>(field: &str, text: &str) -> Result<[u8; N], ServerError> {
    decode_b64(field, text, N)?
        .try_into()
        .map_err(|_| ServerError::Malformed(format!("`{field}` must be {N} bytes")))
}

/// Parses a hex request or device id.
fn parse_id(field: &str, text: &str) -> Result<[u8; 16], ServerError> {
    DeviceId::from_hex(text)
        .filter(|_| text.len() == 32)
        .map(|id| *id.as_bytes())
        .ok_or_else(|| ServerError::Malformed(format!("`{field}` must be 32 hex digits")))
}

/// An empty JSON object body (`{}`), or no body at all.
fn parse_empty(body: &[u8]) -> Result<(), ServerError> {
    if body.is_empty() {
        return Ok(());
    }
    parse_json::<Empty>(body).map(|_| ())
}

/// Reads a stored relay record.
fn decode(stored: &StoredEnrollment) -> Result<Relay, ServerError> {
    serde_json::from_slice(&stored.data)
        .map_err(|_| ServerError::Internal("stored enrollment unreadable".into()))
}

/// Encodes a relay record for storage.
fn encode(relay: &Relay) -> Result<Vec<u8>, ServerError> {
    serde_json::to_vec(relay)
        .map_err(|error| ServerError::Internal(format!("enrollment encoding: {error}")))
}

/// Refuses unless the new device may act for its own request: enrollment is allowed, or it is
/// refused only because the device is now in the ledger (the request just completed).
fn authorize_new_device(request: &Authenticated) -> Result<(), ServerError> {
    let decision = request.decide(Operation::Enroll);
    if decision.is_allowed() || decision.reasons == [Reason::DeviceAlreadyEnrolled] {
        Ok(())
    } else {
        Err(ServerError::Refused(decision))
    }
}

/// `POST /v1/enrollments`.
async fn create(
    State(state): State<AppState>,
    request: Authenticated,
) -> Result<(StatusCode, Json<EnrollmentView>), ServerError> {
    request.authorize(Operation::Enroll)?;
    let body: CreateEnrollment = parse_json(&request.body)?;
    let commitment = fixed_b64::<32>("commitment", &body.commitment)?;
    let signing_key = fixed_b64::<32>("signing_key", &body.signing_key)?;
    let agreement_key = fixed_b64::<32>("agreement_key", &body.agreement_key)?;
    if signing_key != request.session.device_key {
        return Err(ServerError::Malformed(
            "`signing_key` must be the key of this session's device".into(),
        ));
    }
    if !valid_platform(&body.platform) {
        return Err(ServerError::Malformed(
            "`platform` must be 1 to 32 of A-Z a-z 0-9 . _ - and space".into(),
        ));
    }
    let replaces = body
        .replaces
        .as_deref()
        .map(|text| parse_id("replaces", text))
        .transpose()?;
    if let Some(replaced) = replaces {
        let replaceable = request
            .ledger
            .device(&DeviceId::from_bytes(replaced))
            .is_some_and(|record| {
                lifecycle::transition(record.state, LifecycleEvent::Replace).is_ok()
            });
        if !replaceable {
            return Err(ServerError::Malformed(
                "`replaces` must name a device of the account that can be replaced (an active one)"
                    .into(),
            ));
        }
    }
    let account_id = request.account.account_id;
    let config = state.config();
    throttle(
        &state,
        &format!("enroll:{}", hex::encode(account_id)),
        config.enrollment_backoff,
    )
    .await?;

    let relay = Relay {
        request: Request {
            signing_key: Bytes(signing_key),
            agreement_key: Bytes(agreement_key),
            commitment: Bytes(commitment),
            platform: body.platform,
            replaces: replaces.map(Bytes),
        },
        state: RelayState::Requested,
    };
    let mut id = [0u8; 16];
    OsRng.fill_bytes(&mut id);
    let now = request.now;
    let expires_at = now.saturating_add(config.enrollment_ttl_secs);
    let stored = StoredEnrollment {
        id,
        account_id,
        device_id: request.session.device_id,
        version: 0,
        open: true,
        created_at: now,
        expires_at,
        purge_after: expires_at.saturating_add(RETENTION_SECS),
        data: encode(&relay)?,
    };
    let outcome = state
        .storage()
        .insert_enrollment(stored.clone(), config.enrollment_max_open, now)
        .await?;
    match outcome {
        EnrollmentInsert::Created => {}
        EnrollmentInsert::DeviceHasOpen(existing) => {
            let open = decode(&existing)?;
            // The same request re-posted (a lost reply): answer it again.
            if open.request == relay.request {
                return Ok((
                    StatusCode::OK,
                    Json(view(&existing, &open, Party::NewDevice, now)),
                ));
            }
            return Err(ServerError::Enrollment(EnrollmentRefusal::AlreadyOpen {
                id: hex::encode(existing.id),
            }));
        }
        EnrollmentInsert::LimitReached => {
            return Err(ServerError::Enrollment(EnrollmentRefusal::LimitReached {
                max: config.enrollment_max_open,
            }));
        }
    }
    state
        .audit_committed(
            AuditAction::EnrollmentRequested,
            AuditOutcome::Success,
            &account_id,
            Some(&request.session.device_id),
        )
        .await;
    log_step(&state, &stored, "requested");
    tokio::spawn(expire_later(state.clone(), id, expires_at));
    let event = PushEvent::EnrollmentRequested {
        id: hex::encode(id),
    };
    if let Err(error) = state
        .push()
        .publish(&account_id, Audience::TrustedSessions, &event)
        .await
    {
        tracing::warn!(%error, "push: announcing an enrollment request failed");
    }
    Ok((
        StatusCode::CREATED,
        Json(view(&stored, &relay, Party::NewDevice, now)),
    ))
}

/// `GET /v1/enrollments`: the account's open requests, for an active device.
async fn list(
    State(state): State<AppState>,
    request: Authenticated,
) -> Result<Json<EnrollmentList>, ServerError> {
    request.authorize(Operation::ApproveEnrollment)?;
    let open = state
        .storage()
        .open_enrollments(&request.account.account_id, request.now)
        .await?;
    let requests = open
        .iter()
        .map(|stored| {
            decode(stored).map(|relay| view(stored, &relay, Party::ExistingDevice, request.now))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(EnrollmentList { requests }))
}

/// Loads request `id` for the device behind `request`: 404 unless it belongs to the same
/// account; the new device acts as B, any other device must be allowed to approve.
async fn load(
    state: &AppState,
    request: &Authenticated,
    id: &str,
) -> Result<(StoredEnrollment, Relay, Actor), ServerError> {
    let id = parse_id("id", id)?;
    let stored = state
        .storage()
        .enrollment(&id)
        .await?
        .filter(|stored| stored.account_id == request.account.account_id)
        .ok_or(ServerError::NotFound)?;
    let relay = decode(&stored)?;
    let device = request.session.device_id;
    let role = if device == stored.device_id {
        authorize_new_device(request)?;
        Party::NewDevice
    } else {
        request.authorize(Operation::ApproveEnrollment)?;
        Party::ExistingDevice
    };
    Ok((stored, relay, Actor { role, device }))
}

/// `GET /v1/enrollments/{id}`.
async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Authenticated,
) -> Result<Json<EnrollmentView>, ServerError> {
    let (stored, relay, actor) = load(&state, &request, &id).await?;
    Ok(Json(view(&stored, &relay, actor.role, request.now)))
}

/// `POST /v1/enrollments/{id}/accept` `{ephemeral}`.
async fn accept(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Authenticated,
) -> Result<Json<EnrollmentView>, ServerError> {
    apply(&state, &request, &id, |actor, relay| {
        let body: Ephemeral = parse_json(&request.body)?;
        if relay.request.replaces.map(|id| id.0) == Some(actor.device) {
            return Err(ServerError::Enrollment(EnrollmentRefusal::SelfReplacement));
        }
        Ok(Step::Accept {
            ephemeral: fixed_b64("ephemeral", &body.ephemeral)?,
            signing_key: request.session.device_key,
        })
    })
    .await
}

/// `POST /v1/enrollments/{id}/reject`.
async fn reject(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Authenticated,
) -> Result<Json<EnrollmentView>, ServerError> {
    apply(&state, &request, &id, |_, _| {
        parse_empty(&request.body)?;
        Ok(Step::Reject)
    })
    .await
}

/// `POST /v1/enrollments/{id}/reveal` `{ephemeral}`.
async fn reveal(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Authenticated,
) -> Result<Json<EnrollmentView>, ServerError> {
    apply(&state, &request, &id, |_, _| {
        let body: Ephemeral = parse_json(&request.body)?;
        Ok(Step::Reveal {
            ephemeral: fixed_b64("ephemeral", &body.ephemeral)?,
        })
    })
    .await
}

/// `POST /v1/enrollments/{id}/mac`: `{mac, head: {seq, hash}}` from A, `{mac, signature}`
/// from B.
async fn mac(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Authenticated,
) -> Result<Json<EnrollmentView>, ServerError> {
    apply(&state, &request, &id, |actor, _| match actor.role {
        Party::ExistingDevice => {
            let body: enigm_proto::ApproverMac = parse_json(&request.body)?;
            let hash: [u8; 32] = hex::decode(&body.head.hash)
                .ok()
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or_else(|| {
                    ServerError::Malformed("`head.hash` must be 64 hex digits".into())
                })?;
            Ok(Step::ApproverMac(ApproverMac {
                mac: Bytes(fixed_b64("mac", &body.mac)?),
                head_seq: body.head.seq,
                head_hash: Bytes(hash),
            }))
        }
        Party::NewDevice => {
            let body: enigm_proto::NewDeviceMac = parse_json(&request.body)?;
            Ok(Step::NewDeviceMac(NewDeviceMac {
                mac: Bytes(fixed_b64("mac", &body.mac)?),
                signature: Bytes(fixed_b64("signature", &body.signature)?),
            }))
        }
    })
    .await
}

/// `POST /v1/enrollments/{id}/complete` `{sealed_key}`: only once the ledger holds the new
/// device, approved by the approver, with the keys it asked with. Once the account has a sync
/// key, the sealed key must be at its current epoch (409 `stale_sync_epoch`), and it is also
/// recorded as the new device's copy, for `GET /v1/sync-keys/mine`.
async fn complete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Authenticated,
) -> Result<Json<EnrollmentView>, ServerError> {
    let account_id = request.account.account_id;
    let sync_epoch = state.storage().sync_epoch(&account_id).await?;
    let mut handover = None;
    let view = apply(&state, &request, &id, |actor, relay| {
        let body: Complete = parse_json(&request.body)?;
        let sealed_key = decode_b64("sealed_key", &body.sealed_key, MAX_SEALED_KEY_LEN)?;
        if sealed_key.is_empty() {
            return Err(ServerError::Malformed("`sealed_key` is empty".into()));
        }
        // A repeat of a completion is answered as such, whatever the epoch is by now.
        if actor.role == Party::ExistingDevice
            && sync_epoch > 0
            && matches!(relay.state, RelayState::Confirmed(_))
        {
            let sealed = SignedSyncKey::from_bytes(&sealed_key).map_err(|_| {
                ServerError::Malformed("`sealed_key` is not a signed, sealed sync key".into())
            })?;
            if sealed.epoch() != sync_epoch {
                return Err(ServerError::SyncKey(SyncKeyRefusal::StaleEpoch {
                    current: sync_epoch,
                }));
            }
            let signing =
                enigm_core::identity::SigningPublicKey::from_bytes(&relay.request.signing_key.0)
                    .map_err(|_| ServerError::Internal("stored enrollment key invalid".into()))?;
            let device_id = DeviceId::derive(&signing);
            if sealed.recipient() != device_id {
                return Err(ServerError::SyncKey(SyncKeyRefusal::CopiesMismatch));
            }
            handover = Some(SyncKeyCopy {
                device_id: *device_id.as_bytes(),
                sealed: sealed_key.clone(),
            });
        }
        let step = Step::Complete { sealed_key };
        // Only the approver's completion of a confirmed request needs the ledger check; every
        // other case is for the transition function to refuse.
        if actor.role == Party::ExistingDevice
            && matches!(relay.state, RelayState::Confirmed(_))
            && relay
                .state
                .accepted()
                .is_some_and(|accepted| accepted.approver.0 == actor.device)
        {
            let signing =
                enigm_core::identity::SigningPublicKey::from_bytes(&relay.request.signing_key.0)
                    .map_err(|_| ServerError::Internal("stored enrollment key invalid".into()))?;
            let added = request
                .ledger
                .device(&DeviceId::derive(&signing))
                .is_some_and(|record| {
                    record.origin == DeviceOrigin::ApprovedBy(DeviceId::from_bytes(actor.device))
                        && record.keys.agreement.as_bytes() == &relay.request.agreement_key.0
                        && record.replaces.map(|id| *id.as_bytes())
                            == relay.request.replaces.map(|id| id.0)
                        && matches!(record.state, DeviceState::Active | DeviceState::Review)
                });
            if !added {
                return Err(ServerError::Enrollment(EnrollmentRefusal::NotInLedger));
            }
        }
        Ok(step)
    })
    .await?;
    // Recorded after the relay completed (a repeat records it again, idempotently), so a
    // completion the relay refuses leaves no copy behind.
    if let Some(copy) = handover {
        match state
            .storage()
            .add_sync_key_copy(&account_id, sync_epoch, copy)
            .await?
        {
            EpochWrite::Stored => {}
            EpochWrite::Stale { current } => {
                return Err(ServerError::SyncKey(SyncKeyRefusal::StaleEpoch { current }));
            }
        }
    }
    Ok(view)
}

/// `POST /v1/enrollments/{id}/cancel`.
async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Authenticated,
) -> Result<Json<EnrollmentView>, ServerError> {
    apply(&state, &request, &id, |_, _| {
        let reason = if request.body.is_empty() {
            CancelReason::Withdrawn
        } else {
            parse_json::<Cancel>(&request.body)?.reason
        };
        Ok(Step::Cancel(reason))
    })
    .await
}

/// Runs one step: loads the request, builds the step from the body (`make_step`, which knows
/// the actor and the request), applies [`transition`], and stores the result with a
/// compare-and-set (retrying on a lost race, which turns a concurrent identical post into a
/// repeat). A change is audited and pushed to both sides.
async fn apply(
    state: &AppState,
    request: &Authenticated,
    id: &str,
    make_step: impl FnOnce(&Actor, &Relay) -> Result<Step, ServerError>,
) -> Result<Json<EnrollmentView>, ServerError> {
    let (mut stored, mut relay, actor) = load(state, request, id).await?;
    let step = make_step(&actor, &relay)?;
    let now = request.now;
    for _ in 0..MAX_RACES {
        let next = match transition(&relay.state, stored.expires_at, now, actor, &step) {
            Ok(Transition::Repeated) => return Ok(Json(view(&stored, &relay, actor.role, now))),
            Ok(Transition::Changed(next)) => next,
            Err(refusal) => return Err(ServerError::Enrollment(refusal)),
        };
        let updated = Relay {
            request: relay.request.clone(),
            state: next,
        };
        let open = updated.state.is_open();
        if state
            .storage()
            .update_enrollment(&stored.id, stored.version, open, encode(&updated)?)
            .await?
        {
            stored.version = stored.version.saturating_add(1);
            stored.open = open;
            announce(state, &stored, &updated.state, audit_action(&step)).await?;
            return Ok(Json(view(&stored, &updated, actor.role, now)));
        }
        // Another step landed first: decide again on what it wrote.
        stored = state
            .storage()
            .enrollment(&stored.id)
            .await?
            .ok_or(ServerError::NotFound)?;
        relay = decode(&stored)?;
    }
    Err(ServerError::Internal(
        "enrollment request contended too long".into(),
    ))
}

/// The audit action of the steps that decide something.
fn audit_action(step: &Step) -> Option<AuditAction> {
    match step {
        Step::Accept { .. } => Some(AuditAction::EnrollmentApproved),
        Step::Reject => Some(AuditAction::EnrollmentRejected),
        Step::Cancel(_) => Some(AuditAction::EnrollmentCancelled),
        Step::Complete { .. } => Some(AuditAction::EnrollmentCompleted),
        Step::Reveal { .. } | Step::ApproverMac(_) | Step::NewDeviceMac(_) => None,
    }
}

/// Once `expires_at` passed, records the request as expired if it is still open, and tells
/// both sides. Expiry does not depend on this (an open request past its time *is* expired,
/// [`RelayState::at`]); it only makes it visible at once, and a restart merely loses the push.
async fn expire_later(state: AppState, id: [u8; 16], expires_at: u64) {
    state.clock().sleep_until(expires_at).await;
    if let Err(error) = expire(&state, id).await {
        tracing::warn!(%error, "enrollment: recording an expiry failed");
    }
}

async fn expire(state: &AppState, id: [u8; 16]) -> Result<(), ServerError> {
    for _ in 0..MAX_RACES {
        let Some(mut stored) = state.storage().enrollment(&id).await? else {
            return Ok(());
        };
        let relay = decode(&stored)?;
        let now_state = relay.state.clone().at(stored.expires_at, state.now());
        if !relay.state.is_open() || now_state.is_open() {
            // Finished in time (or, with a clock step, not due yet: the rule still applies).
            return Ok(());
        }
        let expired = Relay {
            request: relay.request,
            state: now_state,
        };
        if state
            .storage()
            .update_enrollment(&id, stored.version, false, encode(&expired)?)
            .await?
        {
            stored.version = stored.version.saturating_add(1);
            stored.open = false;
            return announce(
                state,
                &stored,
                &expired.state,
                Some(AuditAction::EnrollmentExpired),
            )
            .await;
        }
    }
    Ok(())
}

/// Audits (when `action` is given) and pushes a stored change.
async fn announce(
    state: &AppState,
    stored: &StoredEnrollment,
    next: &RelayState,
    action: Option<AuditAction>,
) -> Result<(), ServerError> {
    if let Some(action) = action {
        state
            .audit_committed(
                action,
                AuditOutcome::Success,
                &stored.account_id,
                Some(&stored.device_id),
            )
            .await;
    }
    log_step(state, stored, next.stage().as_str());
    let event = PushEvent::EnrollmentUpdated {
        id: hex::encode(stored.id),
        state: next.stage(),
    };
    for audience in [
        Audience::TrustedSessions,
        Audience::Device(stored.device_id),
    ] {
        if let Err(error) = state
            .push()
            .publish(&stored.account_id, audience, &event)
            .await
        {
            tracing::warn!(%error, "push: announcing an enrollment step failed");
        }
    }
    Ok(())
}

/// Logs a step with pseudonyms only.
fn log_step(state: &AppState, stored: &StoredEnrollment, step: &str) {
    let logs = &state.secrets().service_logs;
    tracing::info!(
        account = %pseudonym(logs, PseudonymKind::Account, &stored.account_id),
        device = %pseudonym(logs, PseudonymKind::Device, &stored.device_id),
        state = step,
        "enrollment"
    );
}

/// The request as the given side sees it at `now` (the sealed key is for the new device).
fn view(stored: &StoredEnrollment, relay: &Relay, party: Party, now: u64) -> EnrollmentView {
    let request = &relay.request;
    let state = relay.state.clone().at(stored.expires_at, now);
    let approver = state.accepted().map(|accepted| ApproverView {
        device_id: hex::encode(accepted.approver.0),
        signing_key: encode_b64(&accepted.approver_key.0),
        ephemeral: encode_b64(&accepted.approver_ephemeral.0),
    });
    let new_ephemeral = state
        .revealed()
        .map(|revealed| encode_b64(&revealed.new_ephemeral.0));
    let approver_mac = state.approver_confirmed().map(|confirmed| {
        let mac = &confirmed.approver_mac;
        enigm_proto::ApproverMac {
            mac: encode_b64(&mac.mac.0),
            head: Head {
                seq: mac.head_seq,
                hash: hex::encode(mac.head_hash.0),
            },
        }
    });
    let new_device_mac = state
        .confirmed()
        .map(|confirmed| enigm_proto::NewDeviceMac {
            mac: encode_b64(&confirmed.new_mac.mac.0),
            signature: encode_b64(&confirmed.new_mac.signature.0),
        });
    let (cancelled, sealed_key) = match &state {
        RelayState::Cancelled { by, reason } => (Some((*by, *reason)), None),
        RelayState::Completed(completed) => (
            None,
            match party {
                Party::NewDevice => Some(encode_b64(&completed.sealed_key)),
                Party::ExistingDevice => None,
            },
        ),
        RelayState::Requested
        | RelayState::Accepted(_)
        | RelayState::Revealed(_)
        | RelayState::ApproverConfirmed(_)
        | RelayState::Confirmed(_)
        | RelayState::Rejected { .. }
        | RelayState::Expired => (None, None),
    };
    EnrollmentView {
        id: hex::encode(stored.id),
        state: state.stage(),
        created_at: stored.created_at,
        expires_at: stored.expires_at,
        platform: request.platform.clone(),
        device_id: hex::encode(stored.device_id),
        fingerprint: DeviceId::from_bytes(stored.device_id).fingerprint(),
        signing_key: encode_b64(&request.signing_key.0),
        agreement_key: encode_b64(&request.agreement_key.0),
        commitment: encode_b64(&request.commitment.0),
        replaces: request.replaces.map(|id| hex::encode(id.0)),
        approver,
        new_ephemeral,
        approver_mac,
        new_device_mac,
        cancelled_by: cancelled.map(|(by, _)| by),
        cancel_reason: cancelled.map(|(_, reason)| reason),
        sealed_key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_exactly_32_hex_digits() {
        assert_eq!(parse_id("id", &"ab".repeat(16)).unwrap(), [0xab; 16]);
        assert_eq!(parse_id("id", &"AB".repeat(16)).unwrap(), [0xab; 16]);
        assert!(parse_id("id", &"ab".repeat(15)).is_err());
        assert!(parse_id("id", "zz").is_err());
        assert!(parse_empty(b"").is_ok());
        assert!(parse_empty(b"{}").is_ok());
        assert!(parse_empty(br#"{"x":1}"#).is_err());
    }

    #[test]
    fn the_sealed_key_is_shown_to_the_new_device_only() {
        let stored = StoredEnrollment {
            id: [1; 16],
            account_id: [2; 16],
            device_id: [3; 16],
            version: 5,
            open: false,
            created_at: 10,
            expires_at: 20,
            purge_after: 30,
            data: Vec::new(),
        };
        let accepted = crate::enrollment::Accepted {
            approver: Bytes([4; 16]),
            approver_key: Bytes([15; 32]),
            approver_ephemeral: Bytes([5; 32]),
        };
        let revealed = crate::enrollment::Revealed {
            accepted,
            new_ephemeral: Bytes([6; 32]),
        };
        let approver_confirmed = crate::enrollment::ApproverConfirmed {
            revealed,
            approver_mac: ApproverMac {
                mac: Bytes([7; 32]),
                head_seq: 1,
                head_hash: Bytes([8; 32]),
            },
        };
        let confirmed = crate::enrollment::Confirmed {
            approver_confirmed,
            new_mac: NewDeviceMac {
                mac: Bytes([9; 32]),
                signature: Bytes([10; 64]),
            },
        };
        let relay = Relay {
            request: Request {
                signing_key: Bytes([11; 32]),
                agreement_key: Bytes([12; 32]),
                commitment: Bytes([13; 32]),
                platform: "linux".into(),
                replaces: None,
            },
            state: RelayState::Completed(crate::enrollment::Completed {
                confirmed,
                sealed_key: vec![14; 48],
            }),
        };
        // Finished before its expiry: still completed long after.
        let new = view(&stored, &relay, Party::NewDevice, 1_000);
        assert_eq!(new.state, enigm_proto::Stage::Completed);
        assert_eq!(new.sealed_key, Some(encode_b64(&[14; 48])));
        assert_eq!(new.approver.unwrap().device_id, hex::encode([4; 16]));
        assert_eq!(new.approver_mac.unwrap().head.seq, 1);
        assert_eq!(new.new_device_mac.unwrap().signature, encode_b64(&[10; 64]));
        let existing = view(&stored, &relay, Party::ExistingDevice, 1_000);
        assert!(existing.sealed_key.is_none());
        assert_eq!(existing.new_ephemeral, Some(encode_b64(&[6; 32])));
    }
}
