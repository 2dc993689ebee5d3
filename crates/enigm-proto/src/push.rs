//! Push (DESIGN §6, §7, §13): the events the service sends on `GET /v1/push`, one JSON text
//! frame each. Events carry ids, hashes and states only: never plaintext, never a username.

use enigm_core::lifecycle::DeviceState;
use serde::{Deserialize, Serialize};

use crate::enrollment::Stage;

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The device was revoked, replaced or retired in the ledger.
    Revoked,
    /// The device was suspended in the ledger.
    Suspended,
    /// The account was recovered: every earlier session is stale.
    Recovery,
    /// The session signed out.
    SignedOut,
    /// The session expired.
    Expired,
    /// The account's password was changed (on another device, or in another session of this
    /// one): sign in again with the new password.
    PasswordChanged,
}

impl EndReason {
    /// Every reason.
    pub const ALL: [EndReason; 6] = [
        EndReason::Revoked,
        EndReason::Suspended,
        EndReason::Recovery,
        EndReason::SignedOut,
        EndReason::Expired,
        EndReason::PasswordChanged,
    ];

    /// The wire name (also the close frame's reason text).
    pub const fn as_str(self) -> &'static str {
        match self {
            EndReason::Revoked => "revoked",
            EndReason::Suspended => "suspended",
            EndReason::Recovery => "recovery",
            EndReason::SignedOut => "signed_out",
            EndReason::Expired => "expired",
            EndReason::PasswordChanged => "password_changed",
        }
    }

    /// The reason a close frame's text names.
    pub fn from_wire(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.as_str() == text)
    }
}

/// One push event: a JSON object with a `type` tag. Fields a newer service adds are ignored;
/// an event type this build does not know fails to decode, and clients skip it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PushEvent {
    /// An entry was appended to the account's ledger.
    LedgerAppended {
        /// Its sequence number.
        seq: u64,
        /// Its hash (hex).
        hash: String,
        /// Its kind, as an audit code (`device_revoked`, …).
        kind: String,
    },
    /// A device of the account changed lifecycle state.
    DeviceStateChanged {
        /// The device id (hex).
        device_id: String,
        /// The new state.
        #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::DeviceState))]
        state: DeviceState,
    },
    /// This connection's session ended; the socket closes right after.
    SessionEnded {
        /// Why.
        reason: EndReason,
        /// For `revoked`: the ledger entry that removed the device (base64url), which the
        /// device checks against its own ledger to learn who removed it and why; for
        /// `suspended`: the entry that suspended it, checked the same way to name who paused it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        entry: Option<String>,
    },
    /// The account was recovered with its recovery key (sent to every session, before the
    /// events of the `Recover` entry and the `session_ended` that follows: DESIGN §8).
    RecoveryStarted {},
    /// A new device asks to be enrolled (DESIGN §7); sent to the account's trusted sessions.
    EnrollmentRequested {
        /// The request id (hex).
        id: String,
    },
    /// An enrollment request moved to another stage; sent to the account's trusted sessions
    /// and to the requesting device.
    EnrollmentUpdated {
        /// The request id (hex).
        id: String,
        /// The new stage.
        state: Stage,
    },
    /// This device must delete its secrets (DESIGN §10).
    Wipe {},
    /// The account sync key moved to a new epoch (DESIGN §3); sent to the account's trusted
    /// sessions, which fetch their copy.
    SyncKeyRotated {
        /// The new epoch.
        epoch: u64,
    },
    /// A shared item was written (DESIGN §3); sent to the account's trusted sessions.
    SharedUpdated {
        /// The item's name.
        name: String,
    },
}

impl PushEvent {
    /// The reason, when this event ends the session.
    pub fn ends_session(&self) -> Option<EndReason> {
        match self {
            PushEvent::SessionEnded { reason, .. } => Some(*reason),
            PushEvent::LedgerAppended { .. }
            | PushEvent::DeviceStateChanged { .. }
            | PushEvent::RecoveryStarted {}
            | PushEvent::EnrollmentRequested { .. }
            | PushEvent::EnrollmentUpdated { .. }
            | PushEvent::Wipe {}
            | PushEvent::SyncKeyRotated { .. }
            | PushEvent::SharedUpdated { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_keep_their_wire_shape() {
        let cases = [
            (
                PushEvent::DeviceStateChanged {
                    device_id: "ab".repeat(16),
                    state: DeviceState::Revoked,
                },
                serde_json::json!({"type": "device_state_changed", "device_id": "ab".repeat(16), "state": "revoked"}),
            ),
            (
                PushEvent::EnrollmentUpdated {
                    id: "cd".repeat(16),
                    state: Stage::ApproverConfirmed,
                },
                serde_json::json!({"type": "enrollment_updated", "id": "cd".repeat(16), "state": "approver_confirmed"}),
            ),
            (PushEvent::Wipe {}, serde_json::json!({"type": "wipe"})),
            (
                PushEvent::SessionEnded {
                    reason: EndReason::SignedOut,
                    entry: None,
                },
                serde_json::json!({"type": "session_ended", "reason": "signed_out"}),
            ),
        ];
        for (event, json) in cases {
            assert_eq!(serde_json::to_value(&event).unwrap(), json);
            assert_eq!(serde_json::from_value::<PushEvent>(json).unwrap(), event);
        }
    }

    #[test]
    fn every_end_reason_reads_back_from_its_close_text() {
        for reason in EndReason::ALL {
            assert_eq!(EndReason::from_wire(reason.as_str()), Some(reason));
            assert_eq!(
                serde_json::to_value(reason).unwrap(),
                serde_json::json!(reason.as_str())
            );
        }
        assert_eq!(EndReason::from_wire("bored"), None);
    }
}
