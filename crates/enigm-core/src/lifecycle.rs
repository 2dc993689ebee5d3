//! The device lifecycle (DESIGN §5): one state enum, one event enum, one transition function.
//!
//! ```text
//! Pending ──approve──▶ Active ◀──resume── Suspended
//!    │  └─approve(review)─▶ Review ─review-approve─▶ Active ──suspend──▶ Suspended
//!    │                        └─review-reject─▶ Revoked
//! any non-terminal ──revoke──▶ Revoked      Active ──replace──▶ Replaced
//! Revoked | Replaced ──retire──▶ Retired    (Revoked, Replaced, Retired are terminal)
//! ```
//!
//! Every caller (ledger verification, the service, the client) goes through [`transition`], so
//! an illegal move is an error everywhere and never silently ignored.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::Error;

/// Where a device stands in its account. On the wire it is [`DeviceState::as_str`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum DeviceState {
    /// Enrollment requested; not yet approved by a trusted device.
    Pending,
    /// Approved by a device; awaiting the organization's review (managed accounts only).
    Review,
    /// Trusted: may sign, approve and use the account.
    Active,
    /// Temporarily not trusted; can be resumed.
    Suspended,
    /// Removed from the account for good.
    Revoked,
    /// Superseded by a successor device that became active.
    Replaced,
    /// Archived after revocation or replacement.
    Retired,
}

impl DeviceState {
    /// Every state, in lifecycle order (for tables and exhaustive tests).
    pub const ALL: [DeviceState; 7] = [
        DeviceState::Pending,
        DeviceState::Review,
        DeviceState::Active,
        DeviceState::Suspended,
        DeviceState::Revoked,
        DeviceState::Replaced,
        DeviceState::Retired,
    ];

    /// The lower-case name scripts rely on (`state` in the CLI's JSON).
    pub const fn as_str(self) -> &'static str {
        match self {
            DeviceState::Pending => "pending",
            DeviceState::Review => "review",
            DeviceState::Active => "active",
            DeviceState::Suspended => "suspended",
            DeviceState::Revoked => "revoked",
            DeviceState::Replaced => "replaced",
            DeviceState::Retired => "retired",
        }
    }

    /// Parses [`DeviceState::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == text)
    }

    /// Terminal states never change again, except Revoked/Replaced being archived as Retired.
    pub const fn is_terminal(self) -> bool {
        match self {
            DeviceState::Revoked | DeviceState::Replaced | DeviceState::Retired => true,
            DeviceState::Pending
            | DeviceState::Review
            | DeviceState::Active
            | DeviceState::Suspended => false,
        }
    }

    /// Only an active device may sign ledger entries or use the account.
    pub const fn is_active(self) -> bool {
        matches!(self, DeviceState::Active)
    }
}

impl fmt::Display for DeviceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happens to a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LifecycleEvent {
    /// A trusted device approved the enrollment; `needs_review` when the organization must
    /// also approve.
    Approve {
        /// Whether the organization's review comes next.
        needs_review: bool,
    },
    /// The organization approved a device under review.
    ReviewApprove,
    /// The organization rejected a device under review.
    ReviewReject,
    /// Temporarily withdraw trust.
    Suspend,
    /// Restore trust after a suspension.
    Resume,
    /// Remove for good.
    Revoke,
    /// The device's successor became active.
    Replace,
    /// Archive a revoked or replaced device.
    Retire,
}

impl fmt::Display for LifecycleEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LifecycleEvent::Approve {
                needs_review: false,
            } => "be approved",
            LifecycleEvent::Approve { needs_review: true } => "be approved for review",
            LifecycleEvent::ReviewApprove => "pass review",
            LifecycleEvent::ReviewReject => "fail review",
            LifecycleEvent::Suspend => "be suspended",
            LifecycleEvent::Resume => "be resumed",
            LifecycleEvent::Revoke => "be revoked",
            LifecycleEvent::Replace => "be replaced",
            LifecycleEvent::Retire => "be retired",
        })
    }
}

/// The one transition function of the device lifecycle.
///
/// # Errors
/// [`Error::IllegalTransition`] for every move the lifecycle does not allow.
pub fn transition(from: DeviceState, event: LifecycleEvent) -> Result<DeviceState, Error> {
    use DeviceState as S;
    use LifecycleEvent as E;
    let next = match (from, event) {
        (
            S::Pending,
            E::Approve {
                needs_review: false,
            },
        ) => Some(S::Active),
        (S::Pending, E::Approve { needs_review: true }) => Some(S::Review),
        (S::Review, E::ReviewApprove) => Some(S::Active),
        (S::Review, E::ReviewReject) => Some(S::Revoked),
        (S::Active, E::Suspend) => Some(S::Suspended),
        (S::Suspended, E::Resume) => Some(S::Active),
        (S::Pending | S::Review | S::Active | S::Suspended, E::Revoke) => Some(S::Revoked),
        (S::Active, E::Replace) => Some(S::Replaced),
        (S::Revoked | S::Replaced, E::Retire) => Some(S::Retired),
        (
            S::Pending
            | S::Review
            | S::Active
            | S::Suspended
            | S::Revoked
            | S::Replaced
            | S::Retired,
            E::Approve { .. }
            | E::ReviewApprove
            | E::ReviewReject
            | E::Suspend
            | E::Resume
            | E::Revoke
            | E::Replace
            | E::Retire,
        ) => None,
    };
    next.ok_or(Error::IllegalTransition { from, event })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EVENTS: [LifecycleEvent; 9] = [
        LifecycleEvent::Approve {
            needs_review: false,
        },
        LifecycleEvent::Approve { needs_review: true },
        LifecycleEvent::ReviewApprove,
        LifecycleEvent::ReviewReject,
        LifecycleEvent::Suspend,
        LifecycleEvent::Resume,
        LifecycleEvent::Revoke,
        LifecycleEvent::Replace,
        LifecycleEvent::Retire,
    ];

    /// The full table: every (state, event) pair, the legal ones spelled out.
    #[test]
    fn transition_table_is_exactly_the_design() {
        use DeviceState as S;
        use LifecycleEvent as E;
        let legal = [
            (
                S::Pending,
                E::Approve {
                    needs_review: false,
                },
                S::Active,
            ),
            (S::Pending, E::Approve { needs_review: true }, S::Review),
            (S::Review, E::ReviewApprove, S::Active),
            (S::Review, E::ReviewReject, S::Revoked),
            (S::Active, E::Suspend, S::Suspended),
            (S::Suspended, E::Resume, S::Active),
            (S::Pending, E::Revoke, S::Revoked),
            (S::Review, E::Revoke, S::Revoked),
            (S::Active, E::Revoke, S::Revoked),
            (S::Suspended, E::Revoke, S::Revoked),
            (S::Active, E::Replace, S::Replaced),
            (S::Revoked, E::Retire, S::Retired),
            (S::Replaced, E::Retire, S::Retired),
        ];
        for from in DeviceState::ALL {
            for event in EVENTS {
                let expected = legal
                    .iter()
                    .find(|(f, e, _)| *f == from && *e == event)
                    .map(|(_, _, to)| *to);
                match expected {
                    Some(to) => assert_eq!(transition(from, event), Ok(to), "{from} {event}"),
                    None => assert_eq!(
                        transition(from, event),
                        Err(Error::IllegalTransition { from, event }),
                        "{from} {event}"
                    ),
                }
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for state in DeviceState::ALL {
            assert_eq!(DeviceState::parse(state.as_str()), Some(state));
        }
        assert_eq!(DeviceState::parse("Active"), None);
    }

    #[test]
    fn illegal_transition_message_is_readable() {
        let err = transition(DeviceState::Revoked, LifecycleEvent::Resume).unwrap_err();
        assert_eq!(err.to_string(), "a revoked device cannot be resumed");
    }

    proptest! {
        /// Terminal states stay terminal and Retired is a sink, whatever happens.
        #[test]
        fn terminal_states_never_come_back(events in proptest::collection::vec(0usize..9, 0..40)) {
            let mut state = DeviceState::Pending;
            let mut seen_terminal = false;
            for index in events {
                if let Ok(next) = transition(state, EVENTS[index]) {
                    state = next;
                }
                if seen_terminal {
                    prop_assert!(state.is_terminal());
                }
                seen_terminal |= state.is_terminal();
            }
        }
    }
}
