//! The enrollment relay's state machine (DESIGN §7), pure: no storage, no clock, no HTTP.
//!
//! The service relays an enrollment between the *new* device (B, on an enrollment-restricted
//! session) and an *existing* active device of the account (A). It never sees the SAS secret:
//! everything it stores is public (ephemeral X25519 keys, MACs, a signature, a sealed blob),
//! and both devices check each other with `enigm_core::sas`. What it does enforce is the order
//! of the steps, who may take each one, expiry, and idempotency.
//!
//! ```text
//!             accept (A)        reveal (B)       mac (A)               mac (B)          complete (A)
//! requested ----------> accepted ---------> revealed -----> approver_confirmed -----> confirmed ----------> completed
//!     |  reject (A)
//!     +-----------> rejected
//! any open state --cancel (B, or A)--> cancelled        any open state --expires_at passes--> expired
//! ```
//!
//! [`RelayState`] is the one enum, [`transition`] the one function. Rules:
//!
//! - Re-posting a message already applied (the same step with the same content) is accepted and
//!   changes nothing ([`Transition::Repeated`]): a client that crashed or lost a reply retries.
//! - A *different* message for a step already taken is [`EnrollmentRefusal::Conflict`]; a step
//!   whose turn has not come is [`EnrollmentRefusal::OutOfOrder`]; anything but a repeat of the
//!   final step on a finished request is [`EnrollmentRefusal::Closed`].
//! - Only B takes B's steps; A's steps are taken by an active device of the account, and once
//!   one device accepted, only that device (the *approver*) continues
//!   ([`EnrollmentRefusal::WrongParty`]).
//! - Expiry is a function of time: an open request whose `expires_at` has passed *is* expired
//!   ([`RelayState::at`]), on every node at once, whether or not anyone has recorded it yet (the
//!   creating node records it, to push and audit it, but correctness never waits for that).

pub(crate) use enigm_proto::{CancelReason, Party};
use enigm_proto::{ErrorCode, Stage};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest `platform` a new device may declare.
pub(crate) const MAX_PLATFORM_LEN: usize = 32;

/// Largest sealed account sync key blob the approver may hand over, in bytes.
pub(crate) const MAX_SEALED_KEY_LEN: usize = 1024;

/// How long a request is kept after its expiry (for late reads of its outcome) before purging.
pub(crate) const RETENTION_SECS: u64 = 60 * 60;

/// Fixed-size bytes, stored as lower-case hex.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Bytes<const N: usize>(pub(crate) [u8; N]);

impl<const N: usize> Serialize for Bytes<N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(self.0))
    }
}

impl<'de, const N: usize> Deserialize<'de> for Bytes<N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let bytes = hex::decode(text).map_err(serde::de::Error::custom)?;
        let bytes: [u8; N] = bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("unexpected length"))?;
        Ok(Self(bytes))
    }
}

/// Who takes a step: a side, and the device acting for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Actor {
    /// The side.
    pub(crate) role: Party,
    /// The acting device's id.
    pub(crate) device: [u8; 16],
}

/// What B declared when it asked to join; fixed for the request's life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Request {
    /// B's Ed25519 key (its session's key; its device id derives from it).
    pub(crate) signing_key: Bytes<32>,
    /// B's X25519 key, to which the account sync key will be sealed.
    pub(crate) agreement_key: Bytes<32>,
    /// `enigm_core::sas::Commitment` to B's ephemeral key and device keys.
    pub(crate) commitment: Bytes<32>,
    /// B's platform class, as B says (shown to the user on A).
    pub(crate) platform: String,
    /// The device B replaces, if any.
    pub(crate) replaces: Option<Bytes<16>>,
}

/// A's key-confirmation MAC, with the ledger head it vouches for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApproverMac {
    /// `enigm_core::sas::SasMac` over A's signing key and the head.
    pub(crate) mac: Bytes<32>,
    /// The head's sequence number.
    pub(crate) head_seq: u64,
    /// The head's hash.
    pub(crate) head_hash: Bytes<32>,
}

/// B's key-confirmation MAC, with its signature (proof of possession) over the `AddDevice`
/// entry that extends the head A vouched for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewDeviceMac {
    /// `enigm_core::sas::SasMac` over B's device keys.
    pub(crate) mac: Bytes<32>,
    /// B's Ed25519 signature over the `AddDevice` entry's signing message.
    pub(crate) signature: Bytes<64>,
}

/// A accepted: the approver and its ephemeral key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Accepted {
    /// The approving device.
    pub(crate) approver: Bytes<16>,
    /// Its Ed25519 key (from its session), which B needs to check A's MAC.
    pub(crate) approver_key: Bytes<32>,
    /// A's ephemeral X25519 key.
    pub(crate) approver_ephemeral: Bytes<32>,
}

/// B revealed its ephemeral key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Revealed {
    /// What came before.
    pub(crate) accepted: Accepted,
    /// B's ephemeral X25519 key (A checks it against the commitment).
    pub(crate) new_ephemeral: Bytes<32>,
}

/// A's user confirmed the codes and A posted its MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApproverConfirmed {
    /// What came before.
    pub(crate) revealed: Revealed,
    /// A's MAC.
    pub(crate) approver_mac: ApproverMac,
}

/// B's user confirmed too and B posted its MAC and signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Confirmed {
    /// What came before.
    pub(crate) approver_confirmed: ApproverConfirmed,
    /// B's MAC and signature.
    pub(crate) new_mac: NewDeviceMac,
}

/// A appended `AddDevice` and handed over the sealed account sync key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Completed {
    /// What came before.
    pub(crate) confirmed: Confirmed,
    /// The account sync key sealed to B's agreement key (opaque to the service).
    pub(crate) sealed_key: Vec<u8>,
}

/// Where an enrollment request stands. Open states carry everything posted so far, so a repeat
/// of any earlier message can be recognised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum RelayState {
    /// B asked; waiting for an existing device.
    Requested,
    /// A accepted and sent its ephemeral key; waiting for B to reveal its own.
    Accepted(Accepted),
    /// B revealed; both sides show the code; waiting for A's MAC.
    Revealed(Revealed),
    /// A's MAC is in; waiting for B's MAC and signature.
    ApproverConfirmed(ApproverConfirmed),
    /// Both MACs are in; waiting for A to append `AddDevice` and hand over the sealed key.
    Confirmed(Confirmed),
    /// Done: B is in the ledger and can fetch the sealed key.
    Completed(Completed),
    /// An existing device declined.
    Rejected {
        /// The device that declined.
        by: Bytes<16>,
    },
    /// One side withdrew.
    Cancelled {
        /// The side that withdrew.
        by: Party,
        /// Why.
        #[serde(default)]
        reason: CancelReason,
    },
    /// `expires_at` passed before completion.
    Expired,
}

/// A message posted to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// A: approve and send its ephemeral key.
    Accept {
        /// A's ephemeral X25519 key.
        ephemeral: [u8; 32],
        /// A's Ed25519 key, from its session.
        signing_key: [u8; 32],
    },
    /// A: decline.
    Reject,
    /// B: reveal its ephemeral key.
    Reveal {
        /// B's ephemeral X25519 key.
        ephemeral: [u8; 32],
    },
    /// A: its MAC and the head it vouches for.
    ApproverMac(ApproverMac),
    /// B: its MAC and its `AddDevice` signature.
    NewDeviceMac(NewDeviceMac),
    /// A: `AddDevice` is appended; here is the sealed account sync key.
    Complete {
        /// The sealed key.
        sealed_key: Vec<u8>,
    },
    /// Either side: withdraw, saying why.
    Cancel(CancelReason),
}

/// The result of a step that was accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "a short-lived return value, moved once into storage; boxing buys nothing"
)]
pub(crate) enum Transition {
    /// The request moved to this state.
    Changed(RelayState),
    /// The same message was already applied; nothing changes.
    Repeated,
}

/// Why the relay refused a step or a request. Each has a stable code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnrollmentRefusal {
    /// The step's turn has not come yet (e.g. a reveal before any device accepted).
    OutOfOrder,
    /// A different message for a step that was already taken.
    Conflict,
    /// The request is finished (the wire state: `completed`, `rejected`, `cancelled`,
    /// `expired`).
    Closed(Stage),
    /// This device may not take this step (wrong side, or not the approver).
    WrongParty,
    /// The account already has the maximum number of open requests.
    LimitReached {
        /// The limit.
        max: u64,
    },
    /// This device already has an open request (its id, hex); cancel it first.
    AlreadyOpen {
        /// The open request's id (hex).
        id: String,
    },
    /// `complete` before the `AddDevice` entry for the new device is in the ledger.
    NotInLedger,
    /// The device a replacement supersedes tried to approve it: its session ends when the
    /// entry lands, before it could hand the sync key over.
    SelfReplacement,
}

impl EnrollmentRefusal {
    /// The stable code.
    pub const fn code(&self) -> ErrorCode {
        match self {
            EnrollmentRefusal::OutOfOrder => ErrorCode::EnrollmentOutOfOrder,
            EnrollmentRefusal::Conflict => ErrorCode::EnrollmentConflict,
            EnrollmentRefusal::Closed(_) => ErrorCode::EnrollmentClosed,
            EnrollmentRefusal::WrongParty => ErrorCode::EnrollmentWrongParty,
            EnrollmentRefusal::LimitReached { .. } => ErrorCode::EnrollmentLimitReached,
            EnrollmentRefusal::AlreadyOpen { .. } => ErrorCode::EnrollmentAlreadyOpen,
            EnrollmentRefusal::NotInLedger => ErrorCode::EnrollmentNotInLedger,
            EnrollmentRefusal::SelfReplacement => ErrorCode::EnrollmentSelfReplacement,
        }
    }

    /// Whether the refusal is about who asks (403) rather than when (409).
    pub const fn is_forbidden(&self) -> bool {
        match self {
            EnrollmentRefusal::WrongParty | EnrollmentRefusal::SelfReplacement => true,
            EnrollmentRefusal::OutOfOrder
            | EnrollmentRefusal::Conflict
            | EnrollmentRefusal::Closed(_)
            | EnrollmentRefusal::LimitReached { .. }
            | EnrollmentRefusal::AlreadyOpen { .. }
            | EnrollmentRefusal::NotInLedger => false,
        }
    }

    /// A plain-English sentence for the client.
    pub fn message(&self) -> String {
        match self {
            EnrollmentRefusal::OutOfOrder => {
                "this enrollment step cannot be taken yet; fetch the request's state".into()
            }
            EnrollmentRefusal::Conflict => {
                "this enrollment step was already taken with a different message".into()
            }
            EnrollmentRefusal::Closed(stage) => {
                format!("this enrollment request is {}", stage.as_str())
            }
            EnrollmentRefusal::WrongParty => {
                "this device may not take this step of the enrollment".into()
            }
            EnrollmentRefusal::LimitReached { max } => format!(
                "the account already has {max} open enrollment requests; finish or cancel one"
            ),
            EnrollmentRefusal::AlreadyOpen { .. } => {
                "this device already has an open enrollment request; cancel it first".into()
            }
            EnrollmentRefusal::NotInLedger => {
                "append the AddDevice entry for the new device before completing".into()
            }
            EnrollmentRefusal::SelfReplacement => {
                "the device being replaced cannot approve its own replacement; approve it from \
                 another active device"
                    .into()
            }
        }
    }
}

impl RelayState {
    /// The stage clients see.
    pub(crate) const fn stage(&self) -> Stage {
        match self {
            RelayState::Requested => Stage::Requested,
            RelayState::Accepted(_) => Stage::Accepted,
            RelayState::Revealed(_) => Stage::Revealed,
            RelayState::ApproverConfirmed(_) => Stage::ApproverConfirmed,
            RelayState::Confirmed(_) => Stage::Confirmed,
            RelayState::Completed(_) => Stage::Completed,
            RelayState::Rejected { .. } => Stage::Rejected,
            RelayState::Cancelled { .. } => Stage::Cancelled,
            RelayState::Expired => Stage::Expired,
        }
    }

    /// Whether the request still waits for a step.
    pub(crate) const fn is_open(&self) -> bool {
        match self {
            RelayState::Requested
            | RelayState::Accepted(_)
            | RelayState::Revealed(_)
            | RelayState::ApproverConfirmed(_)
            | RelayState::Confirmed(_) => true,
            RelayState::Completed(_)
            | RelayState::Rejected { .. }
            | RelayState::Cancelled { .. }
            | RelayState::Expired => false,
        }
    }

    /// The state as of `now`: an open request past `expires_at` is expired.
    pub(crate) fn at(self, expires_at: u64, now: u64) -> Self {
        if self.is_open() && now >= expires_at {
            RelayState::Expired
        } else {
            self
        }
    }

    /// What was accepted, once a device accepted (the approver and its key).
    pub(crate) fn accepted(&self) -> Option<&Accepted> {
        match self {
            RelayState::Accepted(accepted) => Some(accepted),
            RelayState::Revealed(_)
            | RelayState::ApproverConfirmed(_)
            | RelayState::Confirmed(_)
            | RelayState::Completed(_) => self.revealed().map(|revealed| &revealed.accepted),
            RelayState::Requested
            | RelayState::Rejected { .. }
            | RelayState::Cancelled { .. }
            | RelayState::Expired => None,
        }
    }

    /// B's reveal step, once taken.
    pub(crate) fn revealed(&self) -> Option<&Revealed> {
        match self {
            RelayState::Revealed(revealed) => Some(revealed),
            RelayState::ApproverConfirmed(_)
            | RelayState::Confirmed(_)
            | RelayState::Completed(_) => self
                .approver_confirmed()
                .map(|confirmed| &confirmed.revealed),
            RelayState::Requested
            | RelayState::Accepted(_)
            | RelayState::Rejected { .. }
            | RelayState::Cancelled { .. }
            | RelayState::Expired => None,
        }
    }

    /// A's MAC step, once taken.
    pub(crate) fn approver_confirmed(&self) -> Option<&ApproverConfirmed> {
        match self {
            RelayState::ApproverConfirmed(confirmed) => Some(confirmed),
            RelayState::Confirmed(confirmed) => Some(&confirmed.approver_confirmed),
            RelayState::Completed(completed) => Some(&completed.confirmed.approver_confirmed),
            RelayState::Requested
            | RelayState::Accepted(_)
            | RelayState::Revealed(_)
            | RelayState::Rejected { .. }
            | RelayState::Cancelled { .. }
            | RelayState::Expired => None,
        }
    }

    /// B's MAC step, once taken.
    pub(crate) fn confirmed(&self) -> Option<&Confirmed> {
        match self {
            RelayState::Confirmed(confirmed) => Some(confirmed),
            RelayState::Completed(completed) => Some(&completed.confirmed),
            RelayState::Requested
            | RelayState::Accepted(_)
            | RelayState::Revealed(_)
            | RelayState::ApproverConfirmed(_)
            | RelayState::Rejected { .. }
            | RelayState::Cancelled { .. }
            | RelayState::Expired => None,
        }
    }
}

/// Whether the step belongs to this side.
fn side_of(step: &Step) -> Option<Party> {
    match step {
        Step::Accept { .. } | Step::Reject | Step::ApproverMac(_) | Step::Complete { .. } => {
            Some(Party::ExistingDevice)
        }
        Step::Reveal { .. } | Step::NewDeviceMac(_) => Some(Party::NewDevice),
        Step::Cancel(_) => None,
    }
}

/// Compares a re-posted message with the one stored for its step.
fn repeat_or_conflict(same: bool) -> Result<Transition, EnrollmentRefusal> {
    if same {
        Ok(Transition::Repeated)
    } else {
        Err(EnrollmentRefusal::Conflict)
    }
}

/// The one transition function: applies `step` by `actor` to a request in `state` whose expiry
/// is `expires_at`, at time `now`.
///
/// # Errors
/// The [`EnrollmentRefusal`] that says why the step is refused; nothing changes then.
pub(crate) fn transition(
    state: &RelayState,
    expires_at: u64,
    now: u64,
    actor: Actor,
    step: &Step,
) -> Result<Transition, EnrollmentRefusal> {
    if side_of(step).is_some_and(|side| side != actor.role) {
        return Err(EnrollmentRefusal::WrongParty);
    }
    // Once a device accepted, only that device speaks for the existing side.
    if actor.role == Party::ExistingDevice
        && let Some(accepted) = state.accepted()
        && accepted.approver.0 != actor.device
    {
        return Err(EnrollmentRefusal::WrongParty);
    }
    let state = state.clone().at(expires_at, now);
    match step {
        Step::Accept {
            ephemeral,
            signing_key,
        } => match &state {
            RelayState::Requested => Ok(Transition::Changed(RelayState::Accepted(Accepted {
                approver: Bytes(actor.device),
                approver_key: Bytes(*signing_key),
                approver_ephemeral: Bytes(*ephemeral),
            }))),
            RelayState::Rejected { .. } | RelayState::Cancelled { .. } | RelayState::Expired => {
                Err(EnrollmentRefusal::Closed(state.stage()))
            }
            RelayState::Accepted(_)
            | RelayState::Revealed(_)
            | RelayState::ApproverConfirmed(_)
            | RelayState::Confirmed(_)
            | RelayState::Completed(_) => repeat_or_conflict(
                state
                    .accepted()
                    .is_some_and(|accepted| accepted.approver_ephemeral.0 == *ephemeral),
            ),
        },
        Step::Reject => match &state {
            RelayState::Requested => Ok(Transition::Changed(RelayState::Rejected {
                by: Bytes(actor.device),
            })),
            RelayState::Rejected { .. } => Ok(Transition::Repeated),
            // The decision step was taken the other way: cancel withdraws an accepted request.
            RelayState::Accepted(_)
            | RelayState::Revealed(_)
            | RelayState::ApproverConfirmed(_)
            | RelayState::Confirmed(_) => Err(EnrollmentRefusal::Conflict),
            RelayState::Completed(_) | RelayState::Cancelled { .. } | RelayState::Expired => {
                Err(EnrollmentRefusal::Closed(state.stage()))
            }
        },
        Step::Reveal { ephemeral } => match &state {
            RelayState::Requested => Err(EnrollmentRefusal::OutOfOrder),
            RelayState::Accepted(accepted) => {
                Ok(Transition::Changed(RelayState::Revealed(Revealed {
                    accepted: *accepted,
                    new_ephemeral: Bytes(*ephemeral),
                })))
            }
            RelayState::Revealed(_)
            | RelayState::ApproverConfirmed(_)
            | RelayState::Confirmed(_)
            | RelayState::Completed(_) => repeat_or_conflict(
                state
                    .revealed()
                    .is_some_and(|revealed| revealed.new_ephemeral.0 == *ephemeral),
            ),
            RelayState::Rejected { .. } | RelayState::Cancelled { .. } | RelayState::Expired => {
                Err(EnrollmentRefusal::Closed(state.stage()))
            }
        },
        Step::ApproverMac(mac) => match &state {
            RelayState::Requested | RelayState::Accepted(_) => Err(EnrollmentRefusal::OutOfOrder),
            RelayState::Revealed(revealed) => Ok(Transition::Changed(
                RelayState::ApproverConfirmed(ApproverConfirmed {
                    revealed: *revealed,
                    approver_mac: *mac,
                }),
            )),
            RelayState::ApproverConfirmed(_)
            | RelayState::Confirmed(_)
            | RelayState::Completed(_) => repeat_or_conflict(
                state
                    .approver_confirmed()
                    .is_some_and(|confirmed| confirmed.approver_mac == *mac),
            ),
            RelayState::Rejected { .. } | RelayState::Cancelled { .. } | RelayState::Expired => {
                Err(EnrollmentRefusal::Closed(state.stage()))
            }
        },
        Step::NewDeviceMac(mac) => match &state {
            RelayState::Requested | RelayState::Accepted(_) | RelayState::Revealed(_) => {
                Err(EnrollmentRefusal::OutOfOrder)
            }
            RelayState::ApproverConfirmed(confirmed) => {
                Ok(Transition::Changed(RelayState::Confirmed(Confirmed {
                    approver_confirmed: *confirmed,
                    new_mac: *mac,
                })))
            }
            RelayState::Confirmed(_) | RelayState::Completed(_) => repeat_or_conflict(
                state
                    .confirmed()
                    .is_some_and(|confirmed| confirmed.new_mac == *mac),
            ),
            RelayState::Rejected { .. } | RelayState::Cancelled { .. } | RelayState::Expired => {
                Err(EnrollmentRefusal::Closed(state.stage()))
            }
        },
        Step::Complete { sealed_key } => match &state {
            RelayState::Requested
            | RelayState::Accepted(_)
            | RelayState::Revealed(_)
            | RelayState::ApproverConfirmed(_) => Err(EnrollmentRefusal::OutOfOrder),
            RelayState::Confirmed(confirmed) => {
                Ok(Transition::Changed(RelayState::Completed(Completed {
                    confirmed: *confirmed,
                    sealed_key: sealed_key.clone(),
                })))
            }
            RelayState::Completed(completed) => {
                repeat_or_conflict(completed.sealed_key == *sealed_key)
            }
            RelayState::Rejected { .. } | RelayState::Cancelled { .. } | RelayState::Expired => {
                Err(EnrollmentRefusal::Closed(state.stage()))
            }
        },
        Step::Cancel(reason) => match &state {
            RelayState::Cancelled { by, .. } if *by == actor.role => Ok(Transition::Repeated),
            RelayState::Requested
            | RelayState::Accepted(_)
            | RelayState::Revealed(_)
            | RelayState::ApproverConfirmed(_)
            | RelayState::Confirmed(_) => Ok(Transition::Changed(RelayState::Cancelled {
                by: actor.role,
                reason: *reason,
            })),
            RelayState::Completed(_)
            | RelayState::Rejected { .. }
            | RelayState::Cancelled { .. }
            | RelayState::Expired => Err(EnrollmentRefusal::Closed(state.stage())),
        },
    }
}

/// A stored relay record: the request and where it stands (the `data` of
/// [`crate::storage::StoredEnrollment`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Relay {
    /// What B declared.
    pub(crate) request: Request,
    /// Where it stands (as stored; see [`RelayState::at`] for expiry).
    pub(crate) state: RelayState,
}

/// Whether `platform` is an acceptable platform class: 1 to [`MAX_PLATFORM_LEN`] characters of
/// `A-Z a-z 0-9 . _ -` and space (it is shown to the user on the approving device).
pub(crate) fn valid_platform(platform: &str) -> bool {
    !platform.is_empty()
        && platform.len() <= MAX_PLATFORM_LEN
        && platform
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-' | b' '))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const EXPIRES: u64 = 1_000;
    const NOW: u64 = 500;
    const A: Actor = Actor {
        role: Party::ExistingDevice,
        device: [0xa; 16],
    };
    const A2: Actor = Actor {
        role: Party::ExistingDevice,
        device: [0xa2; 16],
    };
    const B: Actor = Actor {
        role: Party::NewDevice,
        device: [0xb; 16],
    };

    fn approver_mac(tag: u8) -> ApproverMac {
        ApproverMac {
            mac: Bytes([tag; 32]),
            head_seq: 3,
            head_hash: Bytes([7; 32]),
        }
    }

    fn new_mac(tag: u8) -> NewDeviceMac {
        NewDeviceMac {
            mac: Bytes([tag; 32]),
            signature: Bytes([tag; 64]),
        }
    }

    /// Applies the steps in order, each expected to change the state.
    fn run(steps: &[(Actor, Step)]) -> RelayState {
        let mut state = RelayState::Requested;
        for (actor, step) in steps {
            match transition(&state, EXPIRES, NOW, *actor, step) {
                Ok(Transition::Changed(next)) => state = next,
                other => panic!("{step:?} by {actor:?} in {state:?}: {other:?}"),
            }
        }
        state
    }

    fn happy_path() -> Vec<(Actor, Step)> {
        vec![
            (
                A,
                Step::Accept {
                    ephemeral: [1; 32],
                    signing_key: [0xaa; 32],
                },
            ),
            (B, Step::Reveal { ephemeral: [2; 32] }),
            (A, Step::ApproverMac(approver_mac(3))),
            (B, Step::NewDeviceMac(new_mac(4))),
            (
                A,
                Step::Complete {
                    sealed_key: vec![5; 80],
                },
            ),
        ]
    }

    #[test]
    fn the_happy_path_reaches_completed_and_every_step_repeats() {
        let steps = happy_path();
        let names: Vec<&str> = (0..=steps.len())
            .map(|n| run(&steps[..n]).stage().as_str())
            .collect();
        assert_eq!(
            names,
            [
                "requested",
                "accepted",
                "revealed",
                "approver_confirmed",
                "confirmed",
                "completed"
            ]
        );
        let done = run(&steps);
        assert!(!done.is_open());
        for (actor, step) in &steps {
            assert_eq!(
                transition(&done, EXPIRES, NOW, *actor, step),
                Ok(Transition::Repeated),
                "{step:?}"
            );
        }
    }

    #[test]
    fn a_different_message_for_a_taken_step_is_a_conflict() {
        let state = run(&happy_path()[..4]);
        let different = [
            (
                A,
                Step::Accept {
                    ephemeral: [9; 32],
                    signing_key: [0xaa; 32],
                },
            ),
            (B, Step::Reveal { ephemeral: [9; 32] }),
            (A, Step::ApproverMac(approver_mac(9))),
            (B, Step::NewDeviceMac(new_mac(9))),
            (A, Step::Reject),
        ];
        for (actor, step) in different {
            assert_eq!(
                transition(&state, EXPIRES, NOW, actor, &step),
                Err(EnrollmentRefusal::Conflict),
                "{step:?}"
            );
        }
        let done = run(&happy_path());
        assert_eq!(
            transition(
                &done,
                EXPIRES,
                NOW,
                A,
                &Step::Complete {
                    sealed_key: vec![6]
                }
            ),
            Err(EnrollmentRefusal::Conflict)
        );
    }

    #[test]
    fn steps_out_of_order_are_refused() {
        let cases = [
            (0, B, Step::Reveal { ephemeral: [2; 32] }),
            (1, A, Step::ApproverMac(approver_mac(3))),
            (2, B, Step::NewDeviceMac(new_mac(4))),
            (3, A, Step::Complete { sealed_key: vec![] }),
        ];
        for (done, actor, step) in cases {
            let state = run(&happy_path()[..done]);
            assert_eq!(
                transition(&state, EXPIRES, NOW, actor, &step),
                Err(EnrollmentRefusal::OutOfOrder),
                "{step:?} in {state:?}"
            );
        }
    }

    #[test]
    fn only_the_right_party_acts() {
        let requested = RelayState::Requested;
        assert_eq!(
            transition(
                &requested,
                EXPIRES,
                NOW,
                B,
                &Step::Accept {
                    ephemeral: [1; 32],
                    signing_key: [0xaa; 32]
                }
            ),
            Err(EnrollmentRefusal::WrongParty)
        );
        assert_eq!(
            transition(&requested, EXPIRES, NOW, B, &Step::Reject),
            Err(EnrollmentRefusal::WrongParty)
        );
        assert_eq!(
            transition(
                &requested,
                EXPIRES,
                NOW,
                A,
                &Step::Reveal { ephemeral: [1; 32] }
            ),
            Err(EnrollmentRefusal::WrongParty)
        );
        // Once A accepted, another existing device can neither continue nor cancel.
        let accepted = run(&happy_path()[..2]);
        for step in [
            Step::ApproverMac(approver_mac(3)),
            Step::Cancel(CancelReason::Withdrawn),
        ] {
            assert_eq!(
                transition(&accepted, EXPIRES, NOW, A2, &step),
                Err(EnrollmentRefusal::WrongParty)
            );
        }
        // Before anyone accepted, any existing device may reject or cancel.
        assert!(matches!(
            transition(&requested, EXPIRES, NOW, A2, &Step::Reject),
            Ok(Transition::Changed(RelayState::Rejected { .. }))
        ));
    }

    #[test]
    fn reject_and_cancel_close_the_request() {
        let rejected = run(&[(A, Step::Reject)]);
        assert_eq!(
            transition(&rejected, EXPIRES, NOW, A, &Step::Reject),
            Ok(Transition::Repeated)
        );
        assert_eq!(
            transition(
                &rejected,
                EXPIRES,
                NOW,
                B,
                &Step::Cancel(CancelReason::Withdrawn)
            ),
            Err(EnrollmentRefusal::Closed(Stage::Rejected))
        );
        for (canceller, reason) in [(A, CancelReason::Withdrawn), (B, CancelReason::CodesDiffer)] {
            let cancelled = run(&[
                (
                    A,
                    Step::Accept {
                        ephemeral: [1; 32],
                        signing_key: [0xaa; 32],
                    },
                ),
                (canceller, Step::Cancel(reason)),
            ]);
            assert_eq!(
                cancelled,
                RelayState::Cancelled {
                    by: canceller.role,
                    reason
                }
            );
            // A repeat is answered as done, whatever reason it gives: the first one stands.
            for again in [CancelReason::Withdrawn, CancelReason::CodesDiffer] {
                assert_eq!(
                    transition(&cancelled, EXPIRES, NOW, canceller, &Step::Cancel(again)),
                    Ok(Transition::Repeated)
                );
            }
            assert_eq!(
                transition(
                    &cancelled,
                    EXPIRES,
                    NOW,
                    B,
                    &Step::Reveal { ephemeral: [2; 32] }
                ),
                Err(EnrollmentRefusal::Closed(Stage::Cancelled))
            );
        }
        let done = run(&happy_path());
        assert_eq!(
            transition(
                &done,
                EXPIRES,
                NOW,
                B,
                &Step::Cancel(CancelReason::CodesDiffer)
            ),
            Err(EnrollmentRefusal::Closed(Stage::Completed))
        );
    }

    #[test]
    fn an_open_request_past_its_expiry_is_expired() {
        let accepted = run(&happy_path()[..1]);
        assert_eq!(accepted.clone().at(EXPIRES, EXPIRES - 1), accepted);
        assert_eq!(accepted.clone().at(EXPIRES, EXPIRES), RelayState::Expired);
        assert_eq!(
            transition(
                &accepted,
                EXPIRES,
                EXPIRES,
                B,
                &Step::Reveal { ephemeral: [2; 32] }
            ),
            Err(EnrollmentRefusal::Closed(Stage::Expired))
        );
        // A finished request keeps its outcome after the expiry.
        let done = run(&happy_path());
        assert_eq!(done.clone().at(EXPIRES, EXPIRES + 1), done);
    }

    #[test]
    fn stored_form_round_trips() {
        for n in 0..=5 {
            let relay = Relay {
                request: Request {
                    signing_key: Bytes([2; 32]),
                    agreement_key: Bytes([3; 32]),
                    commitment: Bytes([4; 32]),
                    platform: "linux".into(),
                    replaces: Some(Bytes([5; 16])),
                },
                state: run(&happy_path()[..n]),
            };
            let bytes = serde_json::to_vec(&relay).unwrap();
            assert_eq!(serde_json::from_slice::<Relay>(&bytes).unwrap(), relay);
        }
        for state in [
            RelayState::Rejected { by: Bytes([1; 16]) },
            RelayState::Cancelled {
                by: Party::NewDevice,
                reason: CancelReason::CodesDiffer,
            },
            RelayState::Expired,
        ] {
            let text = serde_json::to_string(&state).unwrap();
            assert_eq!(serde_json::from_str::<RelayState>(&text).unwrap(), state);
        }
        // A cancellation stored before reasons existed still reads.
        assert_eq!(
            serde_json::from_str::<RelayState>(r#"{"state":"cancelled","by":"existing_device"}"#)
                .unwrap(),
            RelayState::Cancelled {
                by: Party::ExistingDevice,
                reason: CancelReason::Withdrawn,
            }
        );
    }

    #[test]
    fn platforms_are_short_and_plain() {
        assert!(valid_platform("linux"));
        assert!(valid_platform("Windows 11"));
        assert!(!valid_platform(""));
        assert!(!valid_platform(&"x".repeat(MAX_PLATFORM_LEN + 1)));
        assert!(!valid_platform("linux\n"));
        assert!(!valid_platform("<script>"));
    }

    fn rank(state: &RelayState) -> u8 {
        match state {
            RelayState::Requested => 0,
            RelayState::Accepted(_) => 1,
            RelayState::Revealed(_) => 2,
            RelayState::ApproverConfirmed(_) => 3,
            RelayState::Confirmed(_) => 4,
            RelayState::Completed(_)
            | RelayState::Rejected { .. }
            | RelayState::Cancelled { .. }
            | RelayState::Expired => 5,
        }
    }

    fn any_actor() -> impl Strategy<Value = Actor> {
        prop_oneof![Just(A), Just(A2), Just(B)]
    }

    fn any_step() -> impl Strategy<Value = Step> {
        let key = prop_oneof![Just([1u8; 32]), Just([2u8; 32])];
        prop_oneof![
            key.clone().prop_map(|ephemeral| Step::Accept {
                ephemeral,
                signing_key: [0xaa; 32]
            }),
            Just(Step::Reject),
            key.prop_map(|ephemeral| Step::Reveal { ephemeral }),
            (3u8..5).prop_map(|tag| Step::ApproverMac(approver_mac(tag))),
            (3u8..5).prop_map(|tag| Step::NewDeviceMac(new_mac(tag))),
            (0u8..2).prop_map(|tag| Step::Complete {
                sealed_key: vec![tag; 4]
            }),
            Just(Step::Cancel(CancelReason::Withdrawn)),
            Just(Step::Cancel(CancelReason::CodesDiffer)),
        ]
    }

    proptest! {
        /// Whatever arrives, in whatever order: the state only moves forward, a finished
        /// request never changes, every step is idempotent, and the approver never changes.
        #[test]
        fn any_sequence_moves_forward_and_steps_are_idempotent(
            steps in proptest::collection::vec((any_actor(), any_step(), 0u64..3), 0..24)
        ) {
            let mut state = RelayState::Requested;
            for (actor, step, later) in steps {
                let now = NOW + later * EXPIRES / 2;
                let outcome = transition(&state, EXPIRES, now, actor, &step);
                match outcome.clone() {
                    Ok(Transition::Changed(next)) => {
                        prop_assert!(state.clone().at(EXPIRES, now).is_open());
                        prop_assert!(rank(&next) > rank(&state));
                        if let (Some(before), Some(after)) = (state.accepted(), next.accepted()) {
                            prop_assert_eq!(before, after);
                        }
                        // Applying the same message again changes nothing.
                        prop_assert_eq!(
                            transition(&next, EXPIRES, now, actor, &step),
                            Ok(Transition::Repeated)
                        );
                        state = next;
                    }
                    Ok(Transition::Repeated) | Err(_) => {
                        // A refused or repeated step gives the same answer when retried.
                        prop_assert_eq!(transition(&state, EXPIRES, now, actor, &step), outcome);
                    }
                }
            }
        }
    }
}
