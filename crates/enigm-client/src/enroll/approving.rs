//! The existing device's side: listing requests, rejecting, and approving one (check the
//! commitment, show the code, MAC the vouched head, verify the new device's MAC and
//! countersignature, append `AddDevice` on exactly that head, hand over the sync key).

use std::future::Future;

use ed25519_dalek::Signature;
use enigm_core::identity::{DeviceId, DevicePublicKeys};
use enigm_core::ledger::{EntryKind, EntrySignature, LedgerState, Signer};
use enigm_core::sas::{Commitment, ExistingDeviceOffered, LedgerHeadClaim, SasMac, SasPublicKey};
use enigm_core::sync_copy::SignedSyncKey;
use enigm_proto::{
    Append, AppendReply, ApproverMac, CancelReason, Complete, Empty, EnrollmentList,
    EnrollmentView, Ephemeral, ErrorCode, Stage,
};
use rand_core::OsRng;
use reqwest::Method;
use serde::Serialize;
use ts_rs::TS;

use super::{
    Await, CheckedView, EnrollmentOutcome, MAX_CLOCK_AHEAD_SECS, MAX_REQUEST_AGE_SECS,
    ShortCodeView, Turn, Wake, check_id, check_replaceable, fixed, step,
};
use crate::engine::{b64, now, unb64};
use crate::{ClientError, Engine};

/// A pending request as an existing device shows it before the user decides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct EnrollmentRequest {
    /// The request id.
    pub id: String,
    /// The platform the new device reports (`linux`, `macos`, `windows`).
    pub platform: String,
    /// The fingerprint of the committed device, computed here from its key.
    pub fingerprint: String,
    /// When it was asked (seconds since the epoch, the service's clock).
    pub created_at: u64,
    /// Where it stands on the relay.
    pub state: Stage,
    /// The device the new one asks to replace, if any: approving removes it.
    pub replaces: Option<ReplacedView>,
    /// Whether the device it replaces is this one, which cannot approve it
    /// ([`ClientError::SelfReplacement`]): another device of the account must.
    pub replaces_this_device: bool,
}

/// The device an enrollment replaces, as the approving device shows it next to the code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct ReplacedView {
    /// Its device id.
    pub device_id: DeviceId,
    /// Its short fingerprint.
    pub fingerprint: String,
    /// Its label, when this device can decrypt it.
    pub label: Option<String>,
}

impl ReplacedView {
    fn new(device_id: DeviceId, labels: &[(DeviceId, String)]) -> Self {
        Self {
            device_id,
            fingerprint: device_id.fingerprint(),
            label: label_of(labels, device_id),
        }
    }
}

impl Engine {
    /// Cancels request `request_id` (an approval the user abandoned); a closed one is fine.
    ///
    /// # Errors
    /// [`ClientError::UnknownEnrollment`] for a malformed id; the service's refusals.
    pub async fn cancel_enrollment_request(&self, request_id: &str) -> Result<(), ClientError> {
        check_id(request_id)?;
        self.cancel_request(request_id, CancelReason::Withdrawn)
            .await
    }

    /// The account's open enrollment requests, for an active device to decide on.
    ///
    /// # Errors
    /// [`ClientError::SignedOut`]; the service's refusals (`trust_denied` for a device that may
    /// not approve).
    pub async fn enrollment_requests(&self) -> Result<Vec<EnrollmentRequest>, ClientError> {
        let listed: EnrollmentList = self.signed(Method::GET, "/v1/enrollments", None).await?;
        let own_id = self.device().await?.device_id();
        let labels = if listed.requests.iter().any(|view| view.replaces.is_some()) {
            let state = self.sync_state().await?;
            self.labels(&state).await.unwrap_or_default()
        } else {
            Vec::new()
        };
        listed
            .requests
            .iter()
            .map(|view| {
                let keys = view.new_device()?;
                let replaces = view.replaces()?;
                Ok(EnrollmentRequest {
                    id: view.id.clone(),
                    platform: view.platform.clone(),
                    fingerprint: DeviceId::derive(&keys.signing).fingerprint(),
                    created_at: view.created_at,
                    state: view.state,
                    replaces: replaces.map(|old| ReplacedView::new(old, &labels)),
                    replaces_this_device: replaces == Some(own_id),
                })
            })
            .collect()
    }

    /// Rejects request `request_id`.
    ///
    /// # Errors
    /// The service's refusals (`enrollment_closed`, `enrollment_conflict` once accepted).
    pub async fn reject_enrollment(&self, request_id: &str) -> Result<(), ClientError> {
        check_id(request_id)?;
        let _: EnrollmentView = self
            .signed_json(Method::POST, &step(request_id, "reject"), &Empty {})
            .await?;
        tracing::info!("enrollment rejected");
        Ok(())
    }

    /// Approves request `request_id` from this (active) device. `confirm` is shown the short
    /// code and resolves to whether the user saw the same code on the new device; `false`
    /// cancels the request and ends as [`EnrollmentOutcome::Rejected`]. A caller that can show
    /// which device a replacement supersedes uses [`Engine::approve_enrollment_showing`].
    ///
    /// # Errors
    /// As [`Engine::approve_enrollment_showing`].
    pub async fn approve_enrollment<F, Fut>(
        &self,
        request_id: &str,
        confirm: F,
    ) -> Result<EnrollmentOutcome, ClientError>
    where
        F: FnOnce(ShortCodeView) -> Fut,
        Fut: Future<Output = bool>,
    {
        self.approve_enrollment_showing(request_id, |code, _| confirm(code))
            .await
    }

    /// [`Engine::approve_enrollment`], with `confirm` also shown the device the new one
    /// replaces if it asked to (with its label when this device can decrypt it). A replacement
    /// rotates the account sync key once the new device has its copy (a rotation that fails
    /// stays owed to the next sync).
    ///
    /// # Errors
    /// [`ClientError::UnknownDevice`] or [`ClientError::NotReplaceable`] when the request names
    /// a device this device's verified ledger does not let it replace (the request is
    /// cancelled); [`ClientError::SelfReplacement`] when it names this device (the request
    /// stays open for another device);
    /// [`ClientError::NoSyncKey`] before anything is sent if this device cannot hand over the
    /// sync key; [`ClientError::EnrollmentVerification`] for a reveal, MAC or countersignature
    /// that does not verify and [`ClientError::EnrollmentStaleHead`] if the ledger moved since
    /// the MAC (the request is cancelled in both cases); the service's refusals.
    pub async fn approve_enrollment_showing<F, Fut>(
        &self,
        request_id: &str,
        confirm: F,
    ) -> Result<EnrollmentOutcome, ClientError>
    where
        F: FnOnce(ShortCodeView, Option<ReplacedView>) -> Fut,
        Fut: Future<Output = bool>,
    {
        check_id(request_id)?;
        let state = self.sync_state().await?;
        let account_id = self.account_id().await?;
        let device = self.device().await?;
        let own_id = device.device_id();
        if self
            .with_store_blocking(|store| store.sync_key())
            .await?
            .is_none()
        {
            return Err(ClientError::NoSyncKey);
        }
        let view = self.relay_view(request_id).await?;
        let new_device = view.new_device()?;
        match view.state {
            Stage::Requested => {}
            Stage::Completed | Stage::Rejected | Stage::Cancelled | Stage::Expired => {
                return Ok(view.outcome().unwrap_or(EnrollmentOutcome::Cancelled));
            }
            Stage::Accepted | Stage::Revealed | Stage::ApproverConfirmed | Stage::Confirmed
                if view.approver_id()? != Some(own_id) =>
            {
                return Err(ClientError::NotAllowed(
                    "another device of the account is already approving this request",
                ));
            }
            Stage::Confirmed if approved_by(&state, &new_device, own_id) => {
                // Appended before a crash; only the hand-over is missing.
                let replaces = state
                    .device(&DeviceId::derive(&new_device.signing))
                    .and_then(|record| record.replaces);
                return self
                    .hand_over(request_id, &account_id, &new_device, replaces)
                    .await;
            }
            Stage::Accepted | Stage::Revealed | Stage::ApproverConfirmed | Stage::Confirmed => {
                // This device's SAS secrets died with an earlier run: nothing can finish it.
                tracing::warn!("an interrupted approval cannot continue; cancelling it");
                self.cancel_request(request_id, CancelReason::Withdrawn)
                    .await?;
                return Ok(EnrollmentOutcome::Cancelled);
            }
        }
        // What the user is shown is what the entry will say, whatever the relay shows later.
        let replaces = view.replaces()?;
        let replaced = match replaces {
            // Left open: another device of the account can still approve it.
            Some(old) if old == own_id => return Err(ClientError::SelfReplacement),
            Some(old) => {
                if let Err(error) = check_replaceable(&state, old) {
                    self.cancel_request(request_id, CancelReason::Withdrawn)
                        .await?;
                    return Err(error);
                }
                let labels = self.labels(&state).await.unwrap_or_default();
                Some(ReplacedView::new(old, &labels))
            }
            None => None,
        };
        let context = view.context(account_id, own_id)?;
        let commitment = Commitment::from_bytes(fixed(&view.commitment, "commitment")?);
        let offered = ExistingDeviceOffered::start(&mut OsRng, context, new_device, commitment);
        let wake = Wake::start(self, request_id);
        let accepted: EnrollmentView = self
            .post_step(
                request_id,
                "accept",
                &Ephemeral {
                    ephemeral: b64(offered.ephemeral_key().as_bytes()),
                },
            )
            .await?;
        if let Some(outcome) = accepted.outcome() {
            return Ok(outcome);
        }
        tracing::info!("enrollment accepted");

        let (turn, view) = self.wait_for(request_id, Await::Reveal, &wake).await?;
        if turn != Turn::Ours {
            return turn.ending();
        }
        let revealed = fixed(
            view.new_ephemeral
                .as_deref()
                .ok_or(ClientError::MalformedResponse("a reveal without its key"))?,
            "ephemeral",
        )?;
        let exchanged = match offered.receive_new_device_key(SasPublicKey::from_bytes(revealed)) {
            Ok(exchanged) => exchanged,
            Err(error) => return Err(self.refuse(request_id, error).await),
        };
        let answer = self
            .answer_unless_closed(
                request_id,
                &wake,
                confirm(exchanged.short_code().into(), replaced),
            )
            .await;
        let same = match answer {
            Ok(same) => same,
            Err(outcome) => return Ok(outcome),
        };
        if !same {
            tracing::info!("the user reported different codes; cancelling the enrollment");
            self.cancel_request(request_id, CancelReason::CodesDiffer)
                .await?;
            return Ok(EnrollmentOutcome::CodesDiffer);
        }
        let confirmed = exchanged.confirm();
        let state = self.sync_state().await?;
        let head = state.head();
        let claim = LedgerHeadClaim {
            seq: head.seq,
            hash: head.hash.0,
        };
        let mac = confirmed
            .mac(&device.public().signing, &claim)
            .map_err(ClientError::Protocol)?;
        let answered: EnrollmentView = self
            .post_step(
                request_id,
                "mac",
                &ApproverMac {
                    mac: b64(mac.as_bytes()),
                    head: enigm_proto::Head {
                        seq: claim.seq,
                        hash: hex::encode(claim.hash),
                    },
                },
            )
            .await?;
        if let Some(outcome) = answered.outcome() {
            return Ok(outcome);
        }

        let (turn, view) = self
            .wait_for(request_id, Await::NewDeviceMac, &wake)
            .await?;
        if turn != Turn::Ours {
            return turn.ending();
        }
        let new_mac = view
            .new_device_mac
            .as_ref()
            .ok_or(ClientError::MalformedResponse(
                "a confirmation without the new device's MAC",
            ))?;
        let verified =
            match confirmed.verify_new_device(&SasMac::from_bytes(fixed(&new_mac.mac, "mac")?)) {
                Ok(verified) => verified,
                Err(error) => return Err(self.refuse(request_id, error).await),
            };
        let signature: [u8; 64] = unb64(&new_mac.signature)?
            .try_into()
            .map_err(|_| ClientError::MalformedResponse("signature"))?;
        // Exactly the head the MAC vouched for: anything that landed since would make the new
        // device verify a ledger its approver never saw.
        let state = self.sync_state().await?;
        if state.head() != head {
            self.cancel_request(request_id, CancelReason::Withdrawn)
                .await?;
            return Err(ClientError::EnrollmentStaleHead);
        }
        // The new device dated its signature with the request's time; a time this device's
        // clock finds implausible is the relay's invention, not a date to sign.
        let now = now();
        if view.created_at > now.saturating_add(MAX_CLOCK_AHEAD_SECS)
            || now > view.created_at.saturating_add(MAX_REQUEST_AGE_SECS)
        {
            self.cancel_request(request_id, CancelReason::Withdrawn)
                .await?;
            return Err(ClientError::MalformedResponse(
                "the request is dated far from this device's clock",
            ));
        }
        let mut entry = state
            .next_entry(EntryKind::AddDevice {
                device: verified.device,
                approved_by: own_id,
                replaces,
            })
            .signed_at(view.created_at);
        entry.sign_device(&account_id, &device);
        entry.insert_signature(EntrySignature {
            signer: Signer::Device(DeviceId::derive(&verified.device.signing)),
            signature: Signature::from_bytes(&signature),
        });
        let mut check = state.clone();
        if let Err(error) = check.apply(std::slice::from_ref(&entry)) {
            return Err(self.refuse(request_id, error).await);
        }
        let appended: Result<AppendReply, ClientError> = self
            .signed_json(
                Method::POST,
                "/v1/ledger",
                &Append {
                    entries: vec![b64(&entry.encode())],
                },
            )
            .await;
        match appended {
            Err(error) if error.service_code() == Some(&ErrorCode::LedgerConflict) => {
                self.cancel_request(request_id, CancelReason::Withdrawn)
                    .await?;
                return Err(ClientError::EnrollmentStaleHead);
            }
            other => {
                other?;
            }
        }
        tracing::info!("new device appended to the ledger");
        self.sync_state().await?;
        self.hand_over(request_id, &account_id, &verified.device, replaces)
            .await
    }

    /// Seals the current sync key to the new device and completes the request; after a
    /// replacement, starts the next sync epoch without the replaced device.
    async fn hand_over(
        &self,
        request_id: &str,
        account_id: &[u8; 16],
        new_device: &DevicePublicKeys,
        replaces: Option<DeviceId>,
    ) -> Result<EnrollmentOutcome, ClientError> {
        let mut retried = false;
        // Signed as this device, on the ledger it verified with the new device in it.
        let device = self.device().await?;
        let (state, _) = self.local_state().await?.ok_or(ClientError::NoAccount)?;
        let completed: EnrollmentView = loop {
            let key = self
                .with_store_blocking(|store| store.sync_key())
                .await?
                .ok_or(ClientError::NoSyncKey)?;
            let sealed = SignedSyncKey::seal(
                &key,
                &mut OsRng,
                account_id,
                new_device,
                &device,
                state.head(),
            );
            let posted = self
                .post_step(
                    request_id,
                    "complete",
                    &Complete {
                        sealed_key: b64(sealed.as_bytes()),
                    },
                )
                .await;
            match posted {
                // Another device rotated meanwhile (it saw the new device without a copy):
                // hand over its epoch instead.
                Err(error)
                    if error.service_code() == Some(&ErrorCode::StaleSyncEpoch) && !retried =>
                {
                    retried = true;
                    self.refresh_sync_key().await?;
                }
                other => break other?,
            }
        };
        tracing::info!("enrollment completed");
        if replaces.is_some()
            && let Err(error) = self.rotate_after_change().await
        {
            // The new device is in and holds the key; the rotation stays owed to the next sync.
            tracing::warn!(
                code = error.code(),
                "the sync key rotation after a replacement failed"
            );
        }
        Ok(completed.outcome().unwrap_or(EnrollmentOutcome::Active))
    }
}

/// The label of `device` among `labels`, if it decrypted.
fn label_of(labels: &[(DeviceId, String)], device: DeviceId) -> Option<String> {
    labels
        .iter()
        .find(|(id, _)| *id == device)
        .map(|(_, label)| label.clone())
}

/// Whether the verified ledger holds `keys` approved by `approver`.
fn approved_by(state: &LedgerState, keys: &DevicePublicKeys, approver: DeviceId) -> bool {
    state
        .device(&DeviceId::derive(&keys.signing))
        .is_some_and(|record| {
            record.keys == *keys
                && record.origin == enigm_core::ledger::DeviceOrigin::ApprovedBy(approver)
        })
}
