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

use enigm_core::identity::{AgreementPublicKey, DeviceId, DevicePublicKeys, SigningPublicKey};
use enigm_core::ledger::LedgerState;
use enigm_core::lifecycle::{LifecycleEvent, transition};
use enigm_core::sas::{EnrollmentContext, ShortCode};
use enigm_proto::{Cancel, CancelReason, EnrollmentView, ErrorCode, PushEvent, Stage};
use futures_util::StreamExt;
use futures_util::future::Either;
use reqwest::Method;
use serde::Serialize;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;
use ts_rs::TS;

use crate::engine::unb64;
use crate::{ClientError, Engine};

mod approving;
mod joining;

pub use approving::{EnrollmentRequest, ReplacedView};

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

/// The relay takes turns (DESIGN §7): after each of its steps a side waits for the other's.
/// Each wait is one value, named by what it waits for, so either side's progress is a fixed
/// sequence of these and [`Await::turn`] is the one place that reads the relay's stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Await {
    /// New device: an existing device to accept the request.
    Acceptance,
    /// Approver: the new device's ephemeral key, revealed against its commitment.
    Reveal,
    /// New device: the approver's MAC over the head it vouches for.
    ApproverMac,
    /// Approver: the new device's MAC and countersignature.
    NewDeviceMac,
    /// New device: the sealed sync key.
    HandOver,
}

/// What a waiting side makes of the relay's stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Turn {
    /// Still the other side's turn.
    Wait,
    /// The other side took its step: this side goes on.
    Ours,
    /// The request ended before this side's turn came.
    Closed(EnrollmentOutcome),
    /// A stage that cannot follow this wait: the relay is not keeping to the protocol.
    Unexpected,
}

impl Await {
    /// The stage the wait lasts through, and the one that makes it this side's turn.
    const fn stages(self) -> (Stage, Stage) {
        match self {
            Self::Acceptance => (Stage::Requested, Stage::Accepted),
            Self::Reveal => (Stage::Accepted, Stage::Revealed),
            Self::ApproverMac => (Stage::Revealed, Stage::ApproverConfirmed),
            Self::NewDeviceMac => (Stage::ApproverConfirmed, Stage::Confirmed),
            Self::HandOver => (Stage::Confirmed, Stage::Completed),
        }
    }

    /// The transition: what a request in `stage`, ending as `outcome` if closed, means for a
    /// side waiting for `self`. Success is only ever this side's turn, never a closing.
    fn turn(self, stage: Stage, outcome: Option<EnrollmentOutcome>) -> Turn {
        let (during, after) = self.stages();
        if stage == during {
            Turn::Wait
        } else if stage == after {
            Turn::Ours
        } else {
            match outcome {
                Some(outcome) if outcome != EnrollmentOutcome::Active => Turn::Closed(outcome),
                Some(_) | None => Turn::Unexpected,
            }
        }
    }
}

impl Turn {
    /// How the request ended, for a wait that did not end in this side's turn.
    ///
    /// # Errors
    /// [`ClientError::MalformedResponse`] when it did not end at all.
    fn ending(self) -> Result<EnrollmentOutcome, ClientError> {
        match self {
            Self::Closed(outcome) => Ok(outcome),
            Self::Wait | Self::Ours | Self::Unexpected => Err(ClientError::MalformedResponse(
                "the enrollment request moved out of turn",
            )),
        }
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

    /// Polls (woken early by push) until the wait for `awaited` on request `id` is over, and
    /// returns how (never [`Turn::Wait`]) with the request as it then stands.
    async fn wait_for(
        &self,
        id: &str,
        awaited: Await,
        wake: &Wake,
    ) -> Result<(Turn, EnrollmentView), ClientError> {
        loop {
            let view = self.relay_view(id).await?;
            match awaited.turn(view.state, view.outcome()) {
                Turn::Wait => wake.wait().await,
                turn => return Ok((turn, view)),
            }
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
    use enigm_core::sas::{ExistingDeviceOffered, NewDeviceCommitted};
    use rand_core::OsRng;

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
    fn each_wait_ends_in_the_next_turn_or_a_closing() {
        use EnrollmentOutcome::{Active, Cancelled, CodesDiffer, Expired, Rejected};
        let new_device = [Await::Acceptance, Await::ApproverMac, Await::HandOver];
        let approver = [Await::Reveal, Await::NewDeviceMac];
        // Each side's waits follow one another: the stage one ends in is where the side acts,
        // and the next wait starts one step later (the side's own step).
        for side in [&new_device[..], &approver[..]] {
            for pair in side.windows(2) {
                let (_, acts_in) = pair[0].stages();
                let (next_during, _) = pair[1].stages();
                assert_eq!(Await::turn(pair[1], acts_in, None), Turn::Unexpected);
                assert_ne!(acts_in, next_during);
            }
        }
        for awaited in new_device.into_iter().chain(approver) {
            let (during, after) = awaited.stages();
            assert_eq!(awaited.turn(during, None), Turn::Wait);
            assert_eq!(awaited.turn(after, stage_outcome(after)), Turn::Ours);
            for outcome in [Rejected, Expired, Cancelled, CodesDiffer] {
                assert_eq!(
                    awaited.turn(Stage::Cancelled, Some(outcome)),
                    Turn::Closed(outcome)
                );
            }
        }
        // A completion is this side's turn only when it waits for the hand-over; anywhere
        // else it skipped steps, and a request that jumps back is no better.
        assert_eq!(
            Await::ApproverMac.turn(Stage::Completed, Some(Active)),
            Turn::Unexpected
        );
        assert_eq!(
            Await::HandOver.turn(Stage::Requested, None),
            Turn::Unexpected
        );
        assert_eq!(
            Turn::Unexpected.ending().unwrap_err().code(),
            "malformed_response"
        );
        assert_eq!(Turn::Closed(Expired).ending().unwrap(), Expired);
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
