//! The account sync key and what devices share under it (DESIGN §3). The service only stores
//! and relays opaque bytes: sealed copies of the key and ciphertext; it checks who may write
//! what, and when.
//!
//! - `POST /v1/sync-keys` `{epoch, copies: [{device_id, sealed}]}` starts a new epoch: `epoch`
//!   must be the account's current one plus one (the first is 1; otherwise 409
//!   `sync_epoch_conflict` with the current `epoch`), and `copies` exactly one per device active
//!   in the ledger, each sealed for that device at that epoch (otherwise 409
//!   `sync_key_copies_mismatch`). It is stored in one transaction that also checks the ledger
//!   head did not move (409 `ledger_conflict`: a device joined or left meanwhile). The account's
//!   trusted sessions get `sync_key_rotated {epoch}`; the rotation is audited. An account may
//!   attempt `Config::sync_rotations_per_hour` rotations per clock hour (20 by default); past
//!   that, 429 `too_many_sync_key_rotations` with `retry_after` until the hour ends.
//! - `GET /v1/sync-keys/mine[?epoch=N]` -> `{epoch, sealed}`: the calling device's newest copy
//!   (or the one at `N`); 404 `no_sync_key` when it has none.
//! - `GET /v1/sync-keys/missing` -> `{epoch, devices: [id]}`: the devices active in the ledger
//!   that hold no copy of the current epoch (`epoch`; none before the first). An approver that
//!   died between adding a device and handing it the key leaves one; a device holding the key
//!   notices it here and rotates, so the new device gets a copy.
//! - `PUT /v1/shared/{name}` `{epoch, ciphertext}` stores an item under the account's current
//!   epoch only (409 `stale_sync_epoch` with the current `epoch`); names are
//!   `label.<device id hex>` of a device the ledger knows. Trusted sessions get
//!   `shared_updated {name}`.
//! - `GET /v1/shared` -> `{items: [{name, epoch, ciphertext}]}`.
//!
//! A copy (`sealed`) is enigm-core's `SignedSyncKey`: the key sealed to its device and signed
//! by the device that made it over the account, epoch, the ledger head it verified, the
//! recipient and the sealed bytes. The service checks only its shape; the recipient keeps it
//! only if the signer is active in its own verified ledger at that head.
//!
//! Every endpoint needs the `sync` operation: an active device on a full session. Binary
//! fields are unpadded base64url, device ids lower-case hex.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::on;
use enigm_core::audit::{AuditAction, AuditOutcome};
use enigm_core::identity::DeviceId;
use enigm_core::lifecycle::DeviceState;
use enigm_core::sync_copy::SignedSyncKey;
use enigm_core::sync_key::SealedItem;
use enigm_core::trust::Operation;
use enigm_proto::{
    MissingCopies, RotateSyncKey, RotatedSyncKey, SharedItems, SharedWrite, SharedWritten,
    SyncKeyCopyReply,
};

use super::{
    Doc, Endpoint, Query, Reply, Verb, body, decode_b64, encode_b64, parse_json, throttle,
};
use crate::auth::Authenticated;
use crate::error::{LimitRefusal, ServerError, SyncKeyRefusal};
use crate::push::{Audience, PushEvent};
use crate::state::AppState;
use crate::storage::{
    AccountId, EpochWrite, RotationOutcome, SharedItem, StoredHead, SyncKeyCopy, SyncKeyRotation,
};

/// The largest sealed copy of the sync key, in bytes.
pub(crate) const MAX_SEALED_LEN: usize = crate::enrollment::MAX_SEALED_KEY_LEN;

/// The largest shared item's ciphertext, in bytes (a 64-character label and its envelope fit
/// many times over).
const MAX_ITEM_LEN: usize = 1024;

/// The most copies one rotation may carry.
const MAX_COPIES: usize = 256;

/// The prefix of a device label's item name; the device id in hex follows.
const LABEL_PREFIX: &str = "label.";

/// The sync-key endpoints.
pub(super) const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        verb: Verb::Post,
        path: "/v1/sync-keys",
        handler: |filter| on(filter, rotate),
        doc: Doc {
            id: "rotateSyncKey",
            summary: "Starts the next sync key epoch with one sealed copy per device active in the ledger (one transaction, checked against the ledger head); pushes `sync_key_rotated`.",
            signed: true,
            query: &[],
            request: Some(body::<RotateSyncKey>()),
            reply: Reply::Json {
                statuses: &[(201, "The new epoch.")],
                body: Some(body::<RotatedSyncKey>()),
            },
            errors: &[400, 401, 403, 408, 409, 413, 429, 500, 503],
        },
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/sync-keys/mine",
        handler: |filter| on(filter, mine),
        doc: Doc {
            id: "readMySyncKey",
            summary: "The calling device's sealed copy of the account sync key.",
            signed: true,
            query: &[Query {
                name: "epoch",
                description: "The epoch wanted (default: the newest this device has a copy for). The only query parameter accepted, given at most once.",
            }],
            request: None,
            reply: Reply::Json {
                statuses: &[(200, "The copy.")],
                body: Some(body::<SyncKeyCopyReply>()),
            },
            errors: &[400, 401, 403, 404, 408, 413, 500, 503],
        },
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/sync-keys/missing",
        handler: |filter| on(filter, missing),
        doc: Doc {
            id: "readMissingSyncKeyCopies",
            summary: "The devices active in the ledger that hold no copy of the current sync epoch.",
            signed: true,
            query: &[],
            request: None,
            reply: Reply::Json {
                statuses: &[(
                    200,
                    "The current epoch (0 before the first) and the active devices without a copy of it.",
                )],
                body: Some(body::<MissingCopies>()),
            },
            errors: &[401, 403, 408, 413, 500, 503],
        },
    },
    Endpoint {
        verb: Verb::Put,
        path: "/v1/shared/{name}",
        handler: |filter| on(filter, put_shared),
        doc: Doc {
            id: "putSharedItem",
            summary: "Stores (or replaces) a shared item, only under the account's current sync epoch; pushes `shared_updated`.",
            signed: true,
            query: &[],
            request: Some(body::<SharedWrite>()),
            reply: Reply::Json {
                statuses: &[(200, "Stored.")],
                body: Some(body::<SharedWritten>()),
            },
            errors: &[400, 401, 403, 408, 409, 413, 500, 503],
        },
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/shared",
        handler: |filter| on(filter, list_shared),
        doc: Doc {
            id: "listSharedItems",
            summary: "The items the account's devices share, encrypted under the sync key of their epoch.",
            signed: true,
            query: &[],
            request: None,
            reply: Reply::Json {
                statuses: &[(200, "The items, by name.")],
                body: Some(body::<SharedItems>()),
            },
            errors: &[400, 401, 403, 408, 413, 500, 503],
        },
    },
];

/// Decodes a sealed copy: bounded, and shaped as enigm-core's `SignedSyncKey` (whose public
/// header names its epoch, recipient, signer and ledger head; the service cannot open it and
/// leaves its signature to the recipient, which checks it against its own verified ledger).
pub(crate) fn decode_sealed(field: &str, text: &str) -> Result<SignedSyncKey, ServerError> {
    let bytes = decode_b64(field, text, MAX_SEALED_LEN)?;
    SignedSyncKey::from_bytes(&bytes)
        .map_err(|_| ServerError::Malformed(format!("`{field}` is not a signed, sealed sync key")))
}

/// Parses a lower-case hex device id.
fn parse_device_id(text: &str) -> Result<[u8; 16], ServerError> {
    DeviceId::from_hex(text)
        .filter(|_| text.len() == 32 && !text.bytes().any(|b| b.is_ascii_uppercase()))
        .map(|id| *id.as_bytes())
        .ok_or_else(|| {
            ServerError::Malformed("`device_id` must be 32 lower-case hex digits".into())
        })
}

/// Parses `?epoch=N` strictly (no other parameter, at most once).
fn parse_epoch_query(query: Option<&str>) -> Result<Option<u64>, ServerError> {
    let mut epoch = None;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some(("epoch", value)) if epoch.is_none() => {
                epoch = Some(value.parse::<u64>().map_err(|_| {
                    ServerError::Malformed("`epoch` must be a non-negative integer".into())
                })?);
            }
            Some(_) | None => {
                return Err(ServerError::Malformed(
                    "the only query parameter is `epoch`, given once".into(),
                ));
            }
        }
    }
    Ok(epoch)
}

/// Checks a shared item's name: `label.` and the lower-case hex id of a device the ledger knows
/// (so an account holds at most one item per device it ever had).
fn check_item_name(request: &Authenticated, name: &str) -> Result<(), ServerError> {
    let device = name
        .strip_prefix(LABEL_PREFIX)
        .and_then(|hex| parse_device_id(hex).ok())
        .ok_or_else(|| {
            ServerError::Malformed("the item name must be `label.` and a device id in hex".into())
        })?;
    if request
        .ledger
        .device(&DeviceId::from_bytes(device))
        .is_none()
    {
        return Err(ServerError::Malformed(
            "the item name must name a device of this account".into(),
        ));
    }
    Ok(())
}

/// Tells the account's trusted sessions; a failure is logged, the write stands.
async fn announce(state: &AppState, account_id: &AccountId, event: PushEvent) {
    if let Err(error) = state
        .push()
        .publish(account_id, Audience::TrustedSessions, &event)
        .await
    {
        tracing::warn!(%error, "push: announcing a sync-key change failed");
    }
}

/// Counts a rotation attempt against the account's budget for the current clock hour
/// (`Config::sync_rotations_per_hour`): a device that rotates in a loop would otherwise store
/// a full set of copies per request. Past the budget: 429 `too_many_sync_key_rotations` until
/// the hour ends.
async fn count_rotation(
    state: &AppState,
    account_id: &AccountId,
    now: u64,
) -> Result<(), ServerError> {
    const HOUR: u64 = 60 * 60;
    let hour = now / HOUR;
    let key = format!("rotate:{}:{hour}", hex::encode(account_id));
    match throttle(state, &key, state.config().sync_rotation_backoff()).await {
        Ok(_) => Ok(()),
        Err(ServerError::RateLimited { .. }) => {
            Err(ServerError::Limit(LimitRefusal::SyncKeyRotations {
                retry_after: (hour + 1) * HOUR - now,
            }))
        }
        Err(other) => Err(other),
    }
}

/// `POST /v1/sync-keys`.
async fn rotate(
    State(state): State<AppState>,
    request: Authenticated,
) -> Result<(StatusCode, Json<RotatedSyncKey>), ServerError> {
    request.authorize(Operation::Sync)?;
    let body: RotateSyncKey = parse_json(&request.body)?;
    if body.epoch == 0 {
        return Err(ServerError::Malformed("`epoch` starts at 1".into()));
    }
    if body.copies.is_empty() || body.copies.len() > MAX_COPIES {
        return Err(ServerError::Malformed(format!(
            "`copies` must hold 1 to {MAX_COPIES} copies"
        )));
    }
    let mut copies = Vec::with_capacity(body.copies.len());
    let mut sealed_as_named = true;
    for copy in &body.copies {
        let device_id = parse_device_id(&copy.device_id)?;
        let sealed = decode_sealed("sealed", &copy.sealed)?;
        sealed_as_named &=
            sealed.epoch() == body.epoch && *sealed.recipient().as_bytes() == device_id;
        copies.push(SyncKeyCopy {
            device_id,
            sealed: sealed.as_bytes().to_vec(),
        });
    }
    let account_id = request.account.account_id;
    count_rotation(&state, &account_id, request.now).await?;
    let current = state.storage().sync_epoch(&account_id).await?;
    if current.checked_add(1) != Some(body.epoch) {
        return Err(ServerError::SyncKey(SyncKeyRefusal::EpochConflict {
            current,
        }));
    }
    let active: BTreeSet<[u8; 16]> = request
        .ledger
        .devices()
        .filter(|(_, record)| record.state == DeviceState::Active)
        .map(|(id, _)| *id.as_bytes())
        .collect();
    let named: BTreeSet<[u8; 16]> = copies.iter().map(|copy| copy.device_id).collect();
    if named.len() != copies.len() || named != active || !sealed_as_named {
        return Err(ServerError::SyncKey(SyncKeyRefusal::CopiesMismatch));
    }
    let head = request.ledger.head();
    let rotation = SyncKeyRotation {
        expected_head: StoredHead {
            seq: head.seq,
            hash: head.hash.0,
        },
        epoch: body.epoch,
        copies,
    };
    match state
        .storage()
        .rotate_sync_key(&account_id, rotation)
        .await?
    {
        RotationOutcome::Rotated => {}
        RotationOutcome::HeadMoved(head) => {
            return Err(ServerError::LedgerConflict {
                seq: head.seq,
                hash: hex::encode(head.hash),
            });
        }
        RotationOutcome::EpochTaken { current } => {
            return Err(ServerError::SyncKey(SyncKeyRefusal::EpochConflict {
                current,
            }));
        }
    }
    state
        .audit_committed(
            AuditAction::SyncKeyRotated,
            AuditOutcome::Success,
            &account_id,
            Some(&request.session.device_id),
        )
        .await;
    tracing::info!(
        account = %request.account_pseudonym(&state),
        epoch = body.epoch,
        "sync key rotated"
    );
    announce(
        &state,
        &account_id,
        PushEvent::SyncKeyRotated { epoch: body.epoch },
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(RotatedSyncKey { epoch: body.epoch }),
    ))
}

/// `GET /v1/sync-keys/mine`.
async fn mine(
    State(state): State<AppState>,
    uri: axum::http::Uri,
    request: Authenticated,
) -> Result<Json<SyncKeyCopyReply>, ServerError> {
    request.authorize(Operation::Sync)?;
    let epoch = parse_epoch_query(uri.query())?;
    let copy = state
        .storage()
        .sync_key_copy(
            &request.account.account_id,
            &request.session.device_id,
            epoch,
        )
        .await?
        .ok_or(ServerError::SyncKey(SyncKeyRefusal::NoSyncKey))?;
    Ok(Json(SyncKeyCopyReply {
        epoch: copy.epoch,
        sealed: encode_b64(&copy.sealed),
    }))
}

/// `GET /v1/sync-keys/missing`.
async fn missing(
    State(state): State<AppState>,
    request: Authenticated,
) -> Result<Json<MissingCopies>, ServerError> {
    request.authorize(Operation::Sync)?;
    let account_id = request.account.account_id;
    let epoch = state.storage().sync_epoch(&account_id).await?;
    let mut devices = Vec::new();
    if epoch > 0 {
        for (id, record) in request.ledger.devices() {
            if record.state != DeviceState::Active {
                continue;
            }
            let copy = state
                .storage()
                .sync_key_copy(&account_id, id.as_bytes(), Some(epoch))
                .await?;
            if copy.is_none() {
                devices.push(id.to_hex());
            }
        }
    }
    Ok(Json(MissingCopies { epoch, devices }))
}

/// `PUT /v1/shared/{name}`.
async fn put_shared(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Authenticated,
) -> Result<Json<SharedWritten>, ServerError> {
    request.authorize(Operation::Sync)?;
    check_item_name(&request, &name)?;
    let body: SharedWrite = parse_json(&request.body)?;
    let ciphertext = decode_b64("ciphertext", &body.ciphertext, MAX_ITEM_LEN)?;
    let sealed = SealedItem::from_bytes(&ciphertext)
        .map_err(|_| ServerError::Malformed("`ciphertext` is not a sealed item".into()))?;
    if sealed.epoch() != body.epoch {
        return Err(ServerError::Malformed(
            "`ciphertext` is sealed under another epoch than `epoch`".into(),
        ));
    }
    let account_id = request.account.account_id;
    let item = SharedItem {
        name: name.clone(),
        epoch: body.epoch,
        ciphertext,
    };
    match state.storage().put_shared_item(&account_id, item).await? {
        EpochWrite::Stored => {}
        EpochWrite::Stale { current } => {
            return Err(ServerError::SyncKey(SyncKeyRefusal::StaleEpoch { current }));
        }
    }
    announce(
        &state,
        &account_id,
        PushEvent::SharedUpdated { name: name.clone() },
    )
    .await;
    Ok(Json(SharedWritten {
        name,
        epoch: body.epoch,
    }))
}

/// `GET /v1/shared`.
async fn list_shared(
    State(state): State<AppState>,
    request: Authenticated,
) -> Result<Json<SharedItems>, ServerError> {
    request.authorize(Operation::Sync)?;
    let items = state
        .storage()
        .shared_items(&request.account.account_id)
        .await?;
    let items = items
        .into_iter()
        .map(|item| enigm_proto::SharedItem {
            ciphertext: encode_b64(&item.ciphertext),
            name: item.name,
            epoch: item.epoch,
        })
        .collect();
    Ok(Json(SharedItems { items }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_copies_are_read_without_opening_them() {
        let key = enigm_core::sync_key::SyncKey::generate(&mut rand_core::OsRng, 7);
        let device = enigm_core::identity::DeviceSecrets::generate(&mut rand_core::OsRng);
        let signer = enigm_core::identity::DeviceSecrets::generate(&mut rand_core::OsRng);
        let head = enigm_core::ledger::Head {
            seq: 3,
            hash: enigm_core::ledger::EntryHash([4; 32]),
        };
        let sealed = SignedSyncKey::seal(
            &key,
            &mut rand_core::OsRng,
            &[1; 16],
            &device.public(),
            &signer,
            head,
        );
        let read = decode_sealed("sealed", &encode_b64(sealed.as_bytes())).unwrap();
        assert_eq!(read.epoch(), 7);
        assert_eq!(read.recipient(), device.device_id());
        assert_eq!(read.signer(), signer.device_id());
        assert_eq!(read.head(), head);
        assert!(decode_sealed("sealed", &encode_b64(&sealed.as_bytes()[1..])).is_err());
        // An unsigned copy (the bare sealed key) is not a copy any more.
        assert!(decode_sealed("sealed", &encode_b64(sealed.sealed().as_bytes())).is_err());
        assert!(decode_sealed("sealed", &encode_b64(&[1; 8])).is_err());
        assert!(decode_sealed("sealed", &encode_b64(&[1; MAX_SEALED_LEN + 1])).is_err());
    }

    #[test]
    fn device_ids_are_lower_case_hex() {
        assert_eq!(parse_device_id(&"ab".repeat(16)).unwrap(), [0xab; 16]);
        assert!(parse_device_id(&"AB".repeat(16)).is_err());
        assert!(parse_device_id(&"ab".repeat(15)).is_err());
        assert!(parse_device_id("label").is_err());
    }

    #[test]
    fn the_epoch_query_is_strict() {
        assert_eq!(parse_epoch_query(None).unwrap(), None);
        assert_eq!(parse_epoch_query(Some("epoch=3")).unwrap(), Some(3));
        assert!(parse_epoch_query(Some("epoch=-1")).is_err());
        assert!(parse_epoch_query(Some("epoch=1&epoch=2")).is_err());
        assert!(parse_epoch_query(Some("since=1")).is_err());
    }
}
