//! Enrollment by approval (DESIGN §7), both sides, over the service's relay
//! (`/v1/enrollments`, see enigm-server's `api::enrollments`) and enigm-core's typed SAS states.
//!
//! The new device ([`Engine::enroll`]) signs in with a session that can only enroll, posts a
//! request with its commitment, waits for an approver, reveals, shows the short code, MACs its
//! keys and countersigns `AddDevice` once the user confirmed, waits for the hand-over, then
//! verifies the ledger up to its own entry, pins it and keeps the sealed account sync key once
//! its signature shows it comes from a device active in that ledger.
//! The existing device lists requests ([`Engine::enrollment_requests`]), rejects
//! ([`Engine::reject_enrollment`]) or approves ([`Engine::approve_enrollment`]): it checks the
//! commitment, shows the code, MACs the head it vouches for, verifies the new device's MAC and
//! countersignature, appends `AddDevice` on exactly that head and seals the sync key to it,
//! signed with its own key and naming the head that holds the new device.
//!
//! Replacement (DESIGN §5) is an enrollment that names the device it supersedes: the new device
//! resolves the name in the service's ledger, verified here, and asks only for a device
//! enigm-core lets it replace; it signs `AddDevice{replaces}` with what it asked, never what
//! the relay says it asked, and refuses to go on if the relay shows something else. The
//! approver shows the named device (with its label) next to the code, checks it against its
//! own verified ledger, builds the entry with what its user saw, and rotates the account sync
//! key once the new device has its copy, so the replaced device cannot read what follows.
//!
//! Nothing here talks to a terminal: the caller gets events and answers the confirmation with
//! a future (a prompt in the CLI, a button in the app).
//!
//! Waiting is push first (`enrollment_updated` wakes the waiter), with polling as the fallback,
//! bounded by the request's own expiry on the relay.
//!
//! Crash safety: the SAS secrets live only in memory, so a run that dies mid-way cannot resume
//! the key exchange; the relay's state says what is left. The new device remembers its open
//! request in the store: a restarted enrollment resumes a request that is past both MACs (the
//! approver is authenticated; only the hand-over is missing) and cancels any earlier one
//! before asking again. An approver that restarts completes a request whose `AddDevice` it
//! already appended and cancels one it can no longer finish. The ledger only ever gets an
//! `AddDevice` carrying both signatures, so no device is ever half-added.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::Signature;
use enigm_core::identity::{AgreementPublicKey, DeviceId, DevicePublicKeys, SigningPublicKey};
use enigm_core::ledger::{EntryHash, EntryKind, EntrySignature, LedgerEntry, LedgerState, Signer};
use enigm_core::lifecycle::{LifecycleEvent, transition};
use enigm_core::sas::{
    Commitment, EnrollmentContext, ExistingDeviceOffered, LedgerHeadClaim, NewDeviceCommitted,
    SasMac, SasPublicKey, ShortCode,
};
use enigm_core::sync_copy::SignedSyncKey;
use enigm_core::trust::SessionKind;
use enigm_proto::{
    Append, AppendReply, ApproverMac, Cancel, CancelReason, Complete, CreateEnrollment, Empty,
    EnrollmentList, EnrollmentView, Ephemeral, ErrorCode, NewDeviceMac, PushEvent, Stage,
};
use futures_util::StreamExt;
use futures_util::future::Either;
use rand_core::OsRng;
use reqwest::Method;
use serde::Serialize;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;
use ts_rs::TS;
use zeroize::Zeroizing;

use crate::engine::{LedgerRead, b64, now, unb64};
use crate::view::{DeviceList, DeviceView};
use crate::{ClientError, Engine};

/// How far ahead of this device's clock a request's time may be (clocks differ a little).
const MAX_CLOCK_AHEAD_SECS: u64 = 5 * 60;

/// How old a request may be when its device is added: far longer than the relay keeps one.
const MAX_REQUEST_AGE_SECS: u64 = 24 * 60 * 60;
/// How often the relay is polled when no push arrives.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Wait before reopening a lost push socket (polling goes on meanwhile).
const PUSH_RETRY: Duration = Duration::from_secs(2);
/// Store key of the new device's open request id.
const PENDING_REQUEST: &str = "enrollment.pending_request";

/// What the new device tells its user while it enrolls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EnrollEvent {
    /// The request is posted; the other device can now see it.
    Request {
        /// The request id (what `device approve` takes).
        id: String,
    },
}

/// How an enrollment ended, on either side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentOutcome {
    /// The new device is in the ledger and holds the account sync key.
    Active,
    /// The existing device said no.
    Rejected,
    /// The request passed its time on the relay.
    Expired,
    /// Either side gave up.
    Cancelled,
    /// A user, on either side, saw a code that differs from the other device's: nothing was
    /// added, and someone may be in between.
    CodesDiffer,
}

impl EnrollmentOutcome {
    /// The lower-case word the CLI prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
            Self::CodesDiffer => "codes_differ",
        }
    }
}

/// One emoji of the short code with its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
pub struct EmojiView {
    /// The emoji.
    pub symbol: &'static str,
    /// Its English name, shown under it.
    pub name: &'static str,
}

/// The short code both devices show: six digits grouped `482 913` and seven emoji.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct ShortCodeView {
    /// The digits in two groups of three.
    pub code: String,
    /// The emoji, in order.
    pub emoji: Vec<EmojiView>,
}

impl From<ShortCode> for ShortCodeView {
    fn from(code: ShortCode) -> Self {
        Self {
            code: code.decimal_grouped(),
            emoji: code
                .emoji()
                .iter()
                .map(|emoji| EmojiView {
                    symbol: emoji.symbol,
                    name: emoji.name,
                })
                .collect(),
        }
    }
}

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

/// The outcome of a closed request; `None` while it is open.
fn stage_outcome(stage: Stage) -> Option<EnrollmentOutcome> {
    match stage {
        Stage::Completed => Some(EnrollmentOutcome::Active),
        Stage::Rejected => Some(EnrollmentOutcome::Rejected),
        Stage::Cancelled => Some(EnrollmentOutcome::Cancelled),
        Stage::Expired => Some(EnrollmentOutcome::Expired),
        Stage::Requested
        | Stage::Accepted
        | Stage::Revealed
        | Stage::ApproverConfirmed
        | Stage::Confirmed => None,
    }
}

/// What the engine reads out of the relay's view of a request, each value checked, since the
/// service could send anything.
trait CheckedView {
    /// How the request ended; `None` while it is open.
    fn outcome(&self) -> Option<EnrollmentOutcome>;
    /// The new device's keys as the request carries them.
    fn new_device(&self) -> Result<DevicePublicKeys, ClientError>;
    /// The approving device, once one accepted.
    fn approver_id(&self) -> Result<Option<DeviceId>, ClientError>;
    /// The device this request replaces, if any.
    fn replaces(&self) -> Result<Option<DeviceId>, ClientError>;
    /// The SAS context both sides share.
    fn context(
        &self,
        account_id: [u8; 16],
        approver: DeviceId,
    ) -> Result<EnrollmentContext, ClientError>;
}

impl CheckedView for EnrollmentView {
    fn outcome(&self) -> Option<EnrollmentOutcome> {
        match (stage_outcome(self.state), self.cancel_reason) {
            (Some(EnrollmentOutcome::Cancelled), Some(CancelReason::CodesDiffer)) => {
                Some(EnrollmentOutcome::CodesDiffer)
            }
            (outcome, _) => outcome,
        }
    }

    fn new_device(&self) -> Result<DevicePublicKeys, ClientError> {
        Ok(DevicePublicKeys {
            signing: SigningPublicKey::from_bytes(&fixed(&self.signing_key, "signing key")?)
                .map_err(|_| ClientError::MalformedResponse("signing key"))?,
            agreement: AgreementPublicKey::from_bytes(fixed(&self.agreement_key, "agreement key")?),
        })
    }

    fn approver_id(&self) -> Result<Option<DeviceId>, ClientError> {
        self.approver
            .as_ref()
            .map(|approver| {
                DeviceId::from_hex(&approver.device_id)
                    .ok_or(ClientError::MalformedResponse("approver id"))
            })
            .transpose()
    }

    fn replaces(&self) -> Result<Option<DeviceId>, ClientError> {
        self.replaces
            .as_deref()
            .map(|text| DeviceId::from_hex(text).ok_or(ClientError::MalformedResponse("replaces")))
            .transpose()
    }

    fn context(
        &self,
        account_id: [u8; 16],
        approver: DeviceId,
    ) -> Result<EnrollmentContext, ClientError> {
        let id = hex::decode(&self.id).map_err(|_| ClientError::MalformedResponse("request id"))?;
        EnrollmentContext::new(account_id, &id, approver)
            .map_err(|_| ClientError::MalformedResponse("request id"))
    }
}

/// Wakes a waiter when the relay pushes a change of one request; polling covers lost pushes.
struct Wake {
    notify: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Wake {
    /// Listens on this device's push socket for `enrollment_updated` of request `id`.
    fn start(engine: &Engine, id: &str) -> Self {
        let notify = Arc::new(Notify::new());
        let wake = Arc::clone(&notify);
        let engine = engine.clone();
        let id = id.to_owned();
        let task = tokio::spawn(async move {
            loop {
                if let Ok(mut socket) = engine.push_socket().await {
                    // Whatever changed while the socket was down: look once.
                    wake.notify_one();
                    while let Some(Ok(message)) = socket.next().await {
                        let Message::Text(text) = message else {
                            continue;
                        };
                        if let Ok(PushEvent::EnrollmentUpdated { id: updated, .. }) =
                            serde_json::from_str::<PushEvent>(text.as_str())
                            && updated == id
                        {
                            wake.notify_one();
                        }
                    }
                }
                tokio::time::sleep(PUSH_RETRY).await;
            }
        });
        Self { notify, task }
    }

    /// Returns on a push for the request or after [`POLL_INTERVAL`].
    async fn wait(&self) {
        let _ = tokio::time::timeout(POLL_INTERVAL, self.notify.notified()).await;
    }
}

impl Drop for Wake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

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

        let view = self.wait_past(&id, Stage::Requested, &wake).await?;
        if view.state != Stage::Accepted {
            return self.closed_or_out_of_turn(&view).await;
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

        let view = self.wait_past(&id, Stage::Revealed, &wake).await?;
        if view.state != Stage::ApproverConfirmed {
            return self.closed_or_out_of_turn(&view).await;
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

        let view = self.wait_past(request_id, Stage::Accepted, &wake).await?;
        if view.state != Stage::Revealed {
            return approver_closed(&view);
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

        let view = self
            .wait_past(request_id, Stage::ApproverConfirmed, &wake)
            .await?;
        if view.state != Stage::Confirmed {
            return approver_closed(&view);
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
        let view = self.wait_past(id, Stage::Confirmed, wake).await?;
        if view.state != Stage::Completed {
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
            self.set_pending(None).await?;
            return self.closed_or_out_of_turn(&view).await;
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

    /// New device: a request that closed (or moved out of turn) while waiting.
    async fn closed_or_out_of_turn(
        &self,
        view: &EnrollmentView,
    ) -> Result<EnrollmentOutcome, ClientError> {
        match view.outcome() {
            Some(outcome) if outcome != EnrollmentOutcome::Active => {
                self.finish_closed(outcome).await
            }
            Some(_) | None => Err(ClientError::MalformedResponse(
                "the enrollment request moved out of turn",
            )),
        }
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

    /// Cancels the request after a message failed verification, and returns the error.
    async fn refuse(&self, id: &str, error: enigm_core::Error) -> ClientError {
        self.abandon(id, ClientError::EnrollmentVerification(error))
            .await
    }

    /// Cancels the request this device cannot go on with, and returns why.
    async fn abandon(&self, id: &str, error: ClientError) -> ClientError {
        tracing::warn!(
            code = error.code(),
            "an enrollment message was refused; cancelling the request"
        );
        if let Err(cancel) = self.cancel_request(id, CancelReason::Withdrawn).await {
            tracing::warn!(code = cancel.code(), "cancelling the enrollment failed");
        }
        // Best effort: the request is closed either way.
        let _ = self.set_pending(None).await;
        error
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

    /// Cancels request `id` on the relay, saying why; one that is already closed is fine.
    async fn cancel_request(&self, id: &str, reason: CancelReason) -> Result<(), ClientError> {
        let cancelled: Result<EnrollmentView, ClientError> = self
            .signed_json(Method::POST, &step(id, "cancel"), &Cancel { reason })
            .await;
        match cancelled {
            Err(error)
                if matches!(
                    error.service_code(),
                    Some(ErrorCode::EnrollmentClosed | ErrorCode::NotFound)
                ) =>
            {
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }

    /// Posts one step; a request that closed meanwhile (the other side cancelled, or it
    /// expired) answers with its view, so the caller sees the outcome rather than an error.
    async fn post_step(
        &self,
        id: &str,
        name: &str,
        body: &impl serde::Serialize,
    ) -> Result<EnrollmentView, ClientError> {
        match self.signed_json(Method::POST, &step(id, name), body).await {
            Err(error) if error.service_code() == Some(&ErrorCode::EnrollmentClosed) => {
                self.relay_view(id).await
            }
            other => other,
        }
    }

    /// The relay's view of request `id`.
    async fn relay_view(&self, id: &str) -> Result<EnrollmentView, ClientError> {
        self.signed(Method::GET, &format!("/v1/enrollments/{id}"), None)
            .await
    }

    /// Polls (woken early by push) until request `id` leaves `stage`.
    async fn wait_past(
        &self,
        id: &str,
        stage: Stage,
        wake: &Wake,
    ) -> Result<EnrollmentView, ClientError> {
        loop {
            let view = self.relay_view(id).await?;
            if view.state != stage {
                return Ok(view);
            }
            wake.wait().await;
        }
    }

    /// The user's answer to the code on screen, unless request `id` closes first (the other
    /// side cancelled or saw different codes, or the request expired): then how it closed, so
    /// that neither screen keeps asking about a request that is over.
    async fn answer_unless_closed(
        &self,
        id: &str,
        wake: &Wake,
        answer: impl Future<Output = bool>,
    ) -> Result<bool, EnrollmentOutcome> {
        let answer = std::pin::pin!(answer);
        let closed = std::pin::pin!(self.wait_closed(id, wake));
        match futures_util::future::select(answer, closed).await {
            Either::Left((same, _)) => Ok(same),
            Either::Right((outcome, _)) => Err(outcome),
        }
    }

    /// Polls (woken early by push) until request `id` is closed, and returns how. A look that
    /// fails is retried: while the user reads the code, only a closed request ends the wait.
    async fn wait_closed(&self, id: &str, wake: &Wake) -> EnrollmentOutcome {
        loop {
            if let Ok(view) = self.relay_view(id).await
                && let Some(outcome) = view.outcome()
            {
                tracing::info!(
                    outcome = outcome.as_str(),
                    "the enrollment closed while its code was shown"
                );
                return outcome;
            }
            wake.wait().await;
        }
    }

    async fn account_id(&self) -> Result<[u8; 16], ClientError> {
        self.with_store_blocking(|store| store.account_id())
            .await?
            .ok_or(ClientError::NoAccount)
    }

    /// The open request this profile remembers.
    async fn pending(&self) -> Result<Option<String>, ClientError> {
        let bytes = self
            .with_store_blocking(|store| store.meta(PENDING_REQUEST))
            .await?;
        Ok(bytes
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .filter(|id| check_id(id).is_ok()))
    }

    /// Remembers (or, with `None`, forgets) the open request.
    async fn set_pending(&self, id: Option<&str>) -> Result<(), ClientError> {
        let value = id.unwrap_or_default().as_bytes().to_vec();
        self.with_store_blocking(move |store| store.set_meta(PENDING_REQUEST, &value))
            .await
    }
}

/// Existing device: a request that closed while waiting.
fn approver_closed(view: &EnrollmentView) -> Result<EnrollmentOutcome, ClientError> {
    view.outcome()
        .filter(|outcome| *outcome != EnrollmentOutcome::Active)
        .ok_or(ClientError::MalformedResponse(
            "the enrollment request moved out of turn",
        ))
}

/// Whether enigm-core's lifecycle lets a new device replace `device` in `state` now.
fn check_replaceable(state: &LedgerState, device: DeviceId) -> Result<(), ClientError> {
    let record = state
        .device(&device)
        .ok_or_else(|| ClientError::UnknownDevice(device.to_hex()))?;
    transition(record.state, LifecycleEvent::Replace)
        .map(|_| ())
        .map_err(|_| ClientError::NotReplaceable(record.state.as_str()))
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

/// A request id as the relay makes them: 32 hex digits. Anything else never reaches a path.
fn check_id(id: &str) -> Result<(), ClientError> {
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(ClientError::UnknownEnrollment)
    }
}

fn step(id: &str, name: &str) -> String {
    format!("/v1/enrollments/{id}/{name}")
}

fn fixed(text: &str, what: &'static str) -> Result<[u8; 32], ClientError> {
    unb64(text)?
        .try_into()
        .map_err(|_| ClientError::MalformedResponse(what))
}

fn hex32(text: &str) -> Result<[u8; 32], ClientError> {
    hex::decode(text)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(ClientError::MalformedResponse("ledger head"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_short_code_is_grouped_with_named_emoji() {
        use enigm_core::identity::DeviceSecrets;
        let device = DeviceSecrets::generate(&mut OsRng);
        let approver = DeviceSecrets::generate(&mut OsRng);
        let context = EnrollmentContext::new([1; 16], &[2; 16], approver.device_id()).unwrap();
        let committed = NewDeviceCommitted::start(&mut OsRng, device.public());
        let offered = ExistingDeviceOffered::start(
            &mut OsRng,
            context.clone(),
            device.public(),
            committed.commitment(),
        );
        let (revealed, new_side) = committed
            .receive_existing_key(context, offered.ephemeral_key())
            .unwrap();
        let existing_side = offered.receive_new_device_key(revealed).unwrap();
        let shown = ShortCodeView::from(new_side.short_code());
        assert_eq!(shown, ShortCodeView::from(existing_side.short_code()));
        assert_eq!(shown.code.len(), 7);
        assert_eq!(shown.code.as_bytes()[3], b' ');
        assert_eq!(shown.emoji.len(), 7);
        assert!(shown.emoji.iter().all(|emoji| !emoji.name.is_empty()));
    }

    #[test]
    fn request_ids_are_checked_before_they_reach_a_path() {
        assert!(check_id(&"ab".repeat(16)).is_ok());
        for bad in ["", "../ledger", &"ab".repeat(17), &"zz".repeat(16)] {
            assert_eq!(check_id(bad).unwrap_err().code(), "unknown_enrollment");
        }
    }

    #[test]
    fn closed_stages_are_outcomes() {
        assert_eq!(
            stage_outcome(Stage::Expired),
            Some(EnrollmentOutcome::Expired)
        );
        assert_eq!(
            stage_outcome(Stage::Rejected),
            Some(EnrollmentOutcome::Rejected)
        );
        assert_eq!(stage_outcome(Stage::Confirmed), None);
    }

    #[test]
    fn a_cancellation_over_different_codes_is_an_outcome_of_its_own() {
        let view = |state: &str, reason: serde_json::Value| -> EnrollmentView {
            serde_json::from_value(json!({
                "id": "ab", "state": state, "created_at": 1, "expires_at": 2, "platform": "linux",
                "device_id": "", "fingerprint": "",
                "signing_key": "", "agreement_key": "", "commitment": "",
                "cancel_reason": reason,
            }))
            .unwrap()
        };
        let outcome = |state: &str, reason| view(state, reason).outcome();
        assert_eq!(
            outcome("cancelled", json!("codes_differ")),
            Some(EnrollmentOutcome::CodesDiffer)
        );
        assert_eq!(
            outcome("cancelled", json!("withdrawn")),
            Some(EnrollmentOutcome::Cancelled)
        );
        assert_eq!(
            outcome("rejected", json!(null)),
            Some(EnrollmentOutcome::Rejected)
        );
        assert_eq!(outcome("revealed", json!(null)), None);
    }
}
