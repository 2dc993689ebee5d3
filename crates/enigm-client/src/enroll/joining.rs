//! The new device's side: post a request, reveal, show the code, MAC and countersign, wait
//! for the hand-over, then pin the ledger the approver vouched for; and the request an earlier
//! run of this profile left open.

use std::future::Future;

use enigm_core::identity::{DeviceId, SigningPublicKey};
use enigm_core::ledger::{EntryHash, EntryKind, LedgerEntry};
use enigm_core::sas::{LedgerHeadClaim, NewDeviceCommitted, SasMac, SasPublicKey};
use enigm_core::sync_copy::SignedSyncKey;
use enigm_core::trust::SessionKind;
use enigm_proto::{
    CancelReason, CreateEnrollment, EnrollmentView, Ephemeral, ErrorCode, NewDeviceMac, Stage,
};
use rand_core::OsRng;
use reqwest::Method;
use zeroize::Zeroizing;

use super::{
    Await, CheckedView, EnrollEvent, EnrollmentOutcome, PENDING_REQUEST, ShortCodeView, Turn, Wake,
    check_id, check_replaceable, fixed, hex32,
};
use crate::engine::{LedgerRead, b64, unb64};
use crate::view::{DeviceList, DeviceView};
use crate::{ClientError, Engine};

impl Engine {
    /// Enrolls this device into the account of `username` by approval from one of its devices.
    ///
    /// `on_event` hears progress (the request id to approve); `confirm` is shown the short code
    /// and resolves to whether the user saw the same code on the other device (`false` cancels
    /// the request). A request left open by an earlier run of this profile is resumed when only
    /// the hand-over is missing, else cancelled before a new one is posted.
    ///
    /// # Errors
    /// As [`Engine::enroll_replacing`] without a device to replace.
    pub async fn enroll<F, Fut>(
        &self,
        username: &str,
        password: &Zeroizing<String>,
        platform: &str,
        on_event: impl FnMut(&EnrollEvent),
        confirm: F,
    ) -> Result<EnrollmentOutcome, ClientError>
    where
        F: FnOnce(ShortCodeView) -> Fut,
        Fut: Future<Output = bool>,
    {
        self.enroll_replacing(username, password, platform, None, on_event, confirm)
            .await
    }

    /// [`Engine::enroll`], as the replacement of `replaces` when given (a device id or a unique
    /// prefix of one): the device is resolved in the service's ledger, verified here, and must
    /// be one enigm-core lets a new device replace, before anything is posted.
    ///
    /// # Errors
    /// [`ClientError::AlreadyRegistered`] if this device is already part of the account;
    /// [`ClientError::UnknownDevice`], [`ClientError::AmbiguousDevice`] or
    /// [`ClientError::NotReplaceable`] for `replaces` (nothing is posted);
    /// [`ClientError::EnrollmentReplacesMismatch`] if the relay shows another device to replace
    /// (the request is cancelled);
    /// [`ClientError::EnrolledWithoutSyncKey`] if the approver added it but the request ended
    /// before the hand-over;
    /// [`ClientError::EnrollmentVerification`] if a relayed message does not verify (the request
    /// is cancelled); [`ClientError::LedgerRejected`] if the ledger does not extend the head the
    /// approver vouched for; the service's refusals.
    pub async fn enroll_replacing<F, Fut>(
        &self,
        username: &str,
        password: &Zeroizing<String>,
        platform: &str,
        replaces: Option<&str>,
        mut on_event: impl FnMut(&EnrollEvent),
        confirm: F,
    ) -> Result<EnrollmentOutcome, ClientError>
    where
        F: FnOnce(ShortCodeView) -> Fut,
        Fut: Future<Output = bool>,
    {
        self.ensure_unlocked().await?;
        // No sync yet: a resumed request checks the ledger against the vouched head first.
        let session = self.sign_in(username, password).await?;
        if let Some(outcome) = self.resume_pending(username, password).await? {
            return Ok(outcome);
        }
        if session.kind == SessionKind::Full {
            return Err(ClientError::AlreadyRegistered);
        }
        let replaces = match replaces {
            Some(target) => Some(self.replaceable(target).await?),
            None => None,
        };
        let device = self.device().await?;
        let account_id = self.account_id().await?;
        let committed = NewDeviceCommitted::start(&mut OsRng, device.public());
        let keys = device.public();
        let body = CreateEnrollment {
            commitment: b64(committed.commitment().as_bytes()),
            signing_key: b64(keys.signing.as_bytes()),
            agreement_key: b64(keys.agreement.as_bytes()),
            platform: platform.to_owned(),
            replaces: replaces.map(|id| id.to_hex()),
        };
        let created: EnrollmentView = match self
            .signed_json(Method::POST, "/v1/enrollments", &body)
            .await
        {
            // Left by a run killed before it could remember it: nothing can finish it now.
            Err(ClientError::EnrollmentAlreadyOpen { id }) => {
                self.cancel_request(&id, CancelReason::Withdrawn).await?;
                self.signed_json(Method::POST, "/v1/enrollments", &body)
                    .await?
            }
            other => other?,
        };
        let id = created.id.clone();
        self.set_pending(Some(&id)).await?;
        tracing::info!("enrollment requested");
        on_event(&EnrollEvent::Request { id: id.clone() });
        let wake = Wake::start(self, &id);

        let (turn, view) = self.wait_for(&id, Await::Acceptance, &wake).await?;
        if turn != Turn::Ours {
            return self.finish_closed(turn.ending()?).await;
        }
        let approver = view
            .approver
            .as_ref()
            .ok_or(ClientError::MalformedResponse(
                "an accepted request without its approver",
            ))?;
        let approver_id = view
            .approver_id()?
            .ok_or(ClientError::MalformedResponse("approver id"))?;
        let context = view.context(account_id, approver_id)?;
        let existing_ephemeral = SasPublicKey::from_bytes(fixed(&approver.ephemeral, "ephemeral")?);
        let (ephemeral, exchanged) =
            match committed.receive_existing_key(context, existing_ephemeral) {
                Ok(pair) => pair,
                Err(error) => return Err(self.refuse(&id, error).await),
            };
        let revealed: EnrollmentView = self
            .post_step(
                &id,
                "reveal",
                &Ephemeral {
                    ephemeral: b64(ephemeral.as_bytes()),
                },
            )
            .await?;
        if let Some(outcome) = revealed.outcome() {
            return self.finish_closed(outcome).await;
        }
        let answer = self
            .answer_unless_closed(&id, &wake, confirm(exchanged.short_code().into()))
            .await;
        let same = match answer {
            Ok(same) => same,
            Err(outcome) => return self.finish_closed(outcome).await,
        };
        if !same {
            tracing::info!("the user reported different codes; cancelling the enrollment");
            self.cancel_request(&id, CancelReason::CodesDiffer).await?;
            self.set_pending(None).await?;
            return Ok(EnrollmentOutcome::CodesDiffer);
        }
        let confirmed = exchanged.confirm();

        let (turn, view) = self.wait_for(&id, Await::ApproverMac, &wake).await?;
        if turn != Turn::Ours {
            return self.finish_closed(turn.ending()?).await;
        }
        let (Some(approver), Some(approver_mac)) = (&view.approver, &view.approver_mac) else {
            return Err(ClientError::MalformedResponse(
                "a confirmation without the approver's MAC",
            ));
        };
        let claim = LedgerHeadClaim {
            seq: approver_mac.head.seq,
            hash: hex32(&approver_mac.head.hash)?,
        };
        let approver_key =
            SigningPublicKey::from_bytes(&fixed(&approver.signing_key, "signing key")?)
                .map_err(|_| ClientError::MalformedResponse("approver key"))?;
        let mac = SasMac::from_bytes(fixed(&approver_mac.mac, "mac")?);
        let own_mac = confirmed.mac();
        let verified = match confirmed.verify_existing_device(approver_key, claim, &mac) {
            Ok(verified) => verified,
            Err(error) => return Err(self.refuse(&id, error).await),
        };
        // The approver builds its entry from what the relay shows it; if that is not what this
        // device asked, the signatures could never agree, and the user must hear why.
        if view.replaces()? != replaces {
            return Err(self
                .abandon(&id, ClientError::EnrollmentReplacesMismatch)
                .await);
        }
        // Dated when the request was made: both devices sign the entry, and that is the one
        // time both know (the approver checks it against its own clock).
        let entry = LedgerEntry::new(
            claim.seq.saturating_add(1),
            EntryHash(claim.hash),
            EntryKind::AddDevice {
                device: keys,
                approved_by: DeviceId::derive(&verified.key),
                // What this device asked for, never what the relay says it asked for.
                replaces,
            },
        )
        .signed_at(view.created_at);
        let signature = device.sign(&entry.signing_message(&account_id));
        let answered: EnrollmentView = self
            .post_step(
                &id,
                "mac",
                &NewDeviceMac {
                    mac: b64(own_mac.as_bytes()),
                    signature: b64(&signature.to_bytes()),
                },
            )
            .await?;
        if let Some(outcome) = answered
            .outcome()
            .filter(|o| *o != EnrollmentOutcome::Active)
        {
            return self.finish_closed(outcome).await;
        }
        self.finish_new_device(&id, &wake, username, password).await
    }

    /// The account's devices this device may name as the one it replaces, read from the
    /// service's ledger (verified here) after signing in as `username` with a session that can
    /// only enroll. Their labels are sealed under the account sync key, which this device does
    /// not hold yet, so they are known by fingerprint only.
    ///
    /// # Errors
    /// [`ClientError::AlreadyRegistered`] if this device is already part of the account;
    /// [`ClientError::WrongPassword`]; [`ClientError::LedgerRejected`] when the ledger does not
    /// verify; the service's refusals.
    pub async fn replaceable_devices(
        &self,
        username: &str,
        password: &Zeroizing<String>,
    ) -> Result<Vec<DeviceView>, ClientError> {
        self.ensure_unlocked().await?;
        let session = self.login(username, password).await?;
        if session.kind == SessionKind::Full {
            return Err(ClientError::AlreadyRegistered);
        }
        let state = self.unpinned_state().await?;
        Ok(DeviceList::from_state(&state, None)
            .devices
            .into_iter()
            .filter(|device| check_replaceable(&state, device.device_id).is_ok())
            .collect())
    }

    /// Gives up joining an account this device started to join: the open request is cancelled
    /// and the enrollment-only session ended, as far as the service can be reached (an open
    /// request otherwise expires by itself). The caller then erases the profile, so it can
    /// create or join another account.
    ///
    /// # Errors
    /// [`ClientError::NotAllowed`] when this device already belongs to the account (it is
    /// removed from the device list instead); the store's errors.
    pub async fn abandon_joining(&self) -> Result<(), ClientError> {
        self.ensure_unlocked().await?;
        if self.has_verified_ledger().await? {
            return Err(ClientError::NotAllowed(
                "this computer already belongs to the account; remove it from the device list instead",
            ));
        }
        if let Err(error) = self.cancel_enrollment().await {
            tracing::warn!(
                code = error.code(),
                "the abandoned request was not cancelled; it expires by itself"
            );
        }
        if let Err(error) = self.sign_out().await {
            tracing::info!(code = error.code(), "the enrollment session was not ended");
        }
        Ok(())
    }

    /// Cancels the request this device left open (an interrupted `enroll`), if any.
    ///
    /// # Errors
    /// The service's refusals other than "already closed".
    pub async fn cancel_enrollment(&self) -> Result<(), ClientError> {
        if let Some(id) = self.pending().await? {
            self.cancel_request(&id, CancelReason::Withdrawn).await?;
            self.set_pending(None).await?;
        }
        Ok(())
    }

    /// Picks up the request an earlier run of this profile left: finishes it when only the
    /// hand-over is missing, otherwise cancels it. `None` when a new request is needed.
    async fn resume_pending(
        &self,
        username: &str,
        password: &Zeroizing<String>,
    ) -> Result<Option<EnrollmentOutcome>, ClientError> {
        let Some(id) = self.pending().await? else {
            return Ok(None);
        };
        let view = match self.relay_view(&id).await {
            Ok(view) => view,
            // Purged long ago.
            Err(error) if error.service_code() == Some(&ErrorCode::NotFound) => {
                self.set_pending(None).await?;
                return Ok(None);
            }
            Err(error) => return Err(error),
        };
        match view.state {
            Stage::Confirmed | Stage::Completed => {
                tracing::info!("resuming an enrollment past both confirmations");
                let wake = Wake::start(self, &id);
                self.finish_new_device(&id, &wake, username, password)
                    .await
                    .map(Some)
            }
            Stage::Requested | Stage::Accepted | Stage::Revealed | Stage::ApproverConfirmed => {
                tracing::info!("cancelling an interrupted enrollment request");
                self.cancel_request(&id, CancelReason::Withdrawn).await?;
                self.set_pending(None).await?;
                Ok(None)
            }
            Stage::Rejected | Stage::Cancelled | Stage::Expired => {
                self.set_pending(None).await?;
                Ok(None)
            }
        }
    }

    /// New device, after both MACs: waits for the hand-over, signs in for a full session,
    /// checks the service's ledger extends the vouched head with this device's entry before it
    /// pins anything, and keeps the sync key.
    async fn finish_new_device(
        &self,
        id: &str,
        wake: &Wake,
        username: &str,
        password: &Zeroizing<String>,
    ) -> Result<EnrollmentOutcome, ClientError> {
        let (turn, view) = self.wait_for(id, Await::HandOver, wake).await?;
        if turn != Turn::Ours {
            // The approver may have appended this device and died before the hand-over.
            let session = self.sign_in(username, password).await?;
            if session.kind == SessionKind::Full {
                if let (Some(approver_mac), Some(approver)) =
                    (&view.approver_mac, view.approver_id()?)
                {
                    let claim_hash = hex32(&approver_mac.head.hash)?;
                    self.pin_vouched(approver_mac.head.seq, claim_hash, approver)
                        .await?;
                }
                self.sync().await?;
                self.set_pending(None).await?;
                return Err(ClientError::EnrolledWithoutSyncKey);
            }
            // Forgotten even when the relay broke the protocol: nothing can finish it now.
            self.set_pending(None).await?;
            return self.finish_closed(turn.ending()?).await;
        }
        let (Some(approver_mac), Some(sealed), Some(approver)) =
            (&view.approver_mac, &view.sealed_key, view.approver_id()?)
        else {
            return Err(ClientError::MalformedResponse(
                "a completion without its key",
            ));
        };
        let claim_seq = approver_mac.head.seq;
        let claim_hash = hex32(&approver_mac.head.hash)?;
        let sealed =
            SignedSyncKey::from_bytes(&unb64(sealed)?).map_err(ClientError::SyncKeyRefused)?;
        let session = self.sign_in(username, password).await?;
        if session.kind != SessionKind::Full {
            return Err(ClientError::LedgerInconsistent(
                "the enrollment completed but this device is not in the ledger",
            ));
        }
        self.pin_vouched(claim_seq, claim_hash, approver).await?;
        // What a full sign-in does next: the sync key and the labels, on the ledger just pinned.
        self.sync().await?;
        let device = self.device().await?;
        if sealed.recipient() != device.device_id() {
            return Err(ClientError::EnrollmentVerification(
                enigm_core::Error::SyncKeyWrongRecipient,
            ));
        }
        let key = self.open_copy(&sealed).await?;
        self.with_store_blocking(move |store| store.save_sync_key(&key))
            .await?;
        self.set_pending(None).await?;
        tracing::info!("enrolled: this device is active");
        Ok(EnrollmentOutcome::Active)
    }

    /// New device, signed in as a device of the account: verifies the service's ledger and
    /// pins it only when it adds this device, approved by `approver`, right on the head the
    /// approver vouched for (`claim_seq`, `claim_hash`). Otherwise nothing is pinned, so the
    /// profile can still give up joining or retry.
    ///
    /// # Errors
    /// [`ClientError::LedgerRejected`] when the ledger does not verify or does not add this
    /// device on the vouched head; the service's refusals; the store's errors.
    async fn pin_vouched(
        &self,
        claim_seq: u64,
        claim_hash: [u8; 32],
        approver: DeviceId,
    ) -> Result<(), ClientError> {
        let presented = self.presented(LedgerRead::Account).await?;
        let stored = self
            .with_store_blocking(|store| store.ledger_entries())
            .await?;
        let entry_at = |seq: u64| -> Result<LedgerEntry, ClientError> {
            if let Some(entry) = presented.new_entry(seq) {
                return Ok(entry.clone());
            }
            let bytes = usize::try_from(seq)
                .ok()
                .and_then(|index| stored.get(index))
                .ok_or(ClientError::LedgerInconsistent(
                    "the ledger does not reach the head the approving device vouched for",
                ))?;
            LedgerEntry::decode(bytes).map_err(ClientError::LedgerRejected)
        };
        let device = self.device().await?;
        let vouched = entry_at(claim_seq)?;
        let added = entry_at(claim_seq.saturating_add(1))?;
        let extends = vouched.hash().0 == claim_hash
            && matches!(
                added.kind,
                EntryKind::AddDevice { device: keys, approved_by, .. }
                    if keys == device.public() && approved_by == approver
            );
        if !extends {
            return Err(ClientError::LedgerInconsistent(
                "the ledger does not add this device on the head the approving device vouched for",
            ));
        }
        self.pin(&presented).await
    }

    /// New device: forgets a request that ended without it.
    async fn finish_closed(
        &self,
        outcome: EnrollmentOutcome,
    ) -> Result<EnrollmentOutcome, ClientError> {
        self.set_pending(None).await?;
        tracing::info!(outcome = outcome.as_str(), "enrollment ended");
        Ok(outcome)
    }

    /// Resolves `target` (a device id or a unique prefix of one) in the service's ledger,
    /// verified here, to a device enigm-core lets a new device replace now.
    async fn replaceable(&self, target: &str) -> Result<DeviceId, ClientError> {
        let state = self.unpinned_state().await?;
        let device = DeviceList::from_state(&state, None)
            .resolve(target)?
            .device_id;
        check_replaceable(&state, device)?;
        Ok(device)
    }

    /// The open request this profile remembers.
    pub(super) async fn pending(&self) -> Result<Option<String>, ClientError> {
        let bytes = self
            .with_store_blocking(|store| store.meta(PENDING_REQUEST))
            .await?;
        Ok(bytes
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .filter(|id| check_id(id).is_ok()))
    }

    /// Remembers (or, with `None`, forgets) the open request.
    pub(super) async fn set_pending(&self, id: Option<&str>) -> Result<(), ClientError> {
        let value = id.unwrap_or_default().as_bytes().to_vec();
        self.with_store_blocking(move |store| store.set_meta(PENDING_REQUEST, &value))
            .await
    }
}
