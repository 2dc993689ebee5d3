//! Where this device's session stands, as the client shows it (DESIGN §6, §17).
//!
//! One enum and one transition function, driven by what the client learns: the answer to a
//! login, push events, and refusals from the service. The app and `enigm session watch` render
//! the state; the engine acts on it (a revoked device erases its keys, a wiped one its store).
//!
//! `Revoked` and `Wiped` are terminal: nothing brings the device back, and an event that would
//! is an error, not a silent change. Every match names every state, so a new state makes the
//! compiler list each place that must decide what it means.

use serde::{Deserialize, Serialize};

use crate::Error;

/// How long before its expiry a client refreshes a session it is using, so a user who keeps
/// working is never signed out by the clock; an idle session still expires.
pub const REFRESH_MARGIN_SECS: u64 = 15 * 60;

/// Whether a session that expires at `expires_at` is due for a refresh at `now`.
pub const fn refresh_due(expires_at: u64, now: u64) -> bool {
    now.saturating_add(REFRESH_MARGIN_SECS) >= expires_at
}

/// Why a signed-in device may do less than usual.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Restriction {
    /// The device is suspended by one of the account's devices or its organization.
    Suspended,
    /// The device awaits the organization's review.
    InReview,
    /// The account is locked for now.
    AccountLocked,
}

/// Why the service ended a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionEnd {
    /// The session expired or the user signed out elsewhere: sign in again.
    Expired,
    /// This device was revoked (or replaced, or retired).
    DeviceRemoved,
    /// The account was recovered with the recovery phrase on another device.
    Recovery,
}

/// The session state of this device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum SessionState {
    /// No session: sign in (or register, enroll, recover).
    SignedOut,
    /// Signed in with a session that can only enroll this device.
    Enrolling,
    /// Signed in as an active device of the account.
    Active {
        /// When the session expires unless refreshed (seconds since the epoch).
        expires_at: u64,
    },
    /// Signed in, but the device or account may do less for now.
    Restricted {
        /// Why.
        reason: Restriction,
    },
    /// This device was removed from the account; its keys are gone.
    Revoked {
        /// When the client learned it (seconds since the epoch).
        at: u64,
    },
    /// The account was recovered on another device: sign in again (with the new password).
    RecoveringElsewhere,
    /// This device's secrets were wiped on the organization's instruction.
    Wiped,
}

/// What the client learned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionEvent {
    /// A login finished with a full session.
    SignedIn {
        /// Session expiry.
        expires_at: u64,
    },
    /// A login finished with an enrollment-restricted session.
    SignedInToEnroll,
    /// This device's enrollment completed: it is active now.
    Enrolled {
        /// Expiry of the session it now holds.
        expires_at: u64,
    },
    /// The session was refreshed.
    Refreshed {
        /// New expiry.
        expires_at: u64,
    },
    /// The device or account became restricted.
    Restricted(Restriction),
    /// The restriction was lifted.
    Unrestricted {
        /// Session expiry.
        expires_at: u64,
    },
    /// The service ended the session.
    Ended(SessionEnd),
    /// The user signed out.
    SignedOut,
    /// A wipe instruction was carried out.
    Wiped,
}

impl SessionState {
    /// The lower-case name scripts and the UI use (`active`, `revoked`, ...).
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::SignedOut => "signed_out",
            Self::Enrolling => "enrolling",
            Self::Active { .. } => "active",
            Self::Restricted { .. } => "restricted",
            Self::Revoked { .. } => "revoked",
            Self::RecoveringElsewhere => "recovering_elsewhere",
            Self::Wiped => "wiped",
        }
    }

    /// Whether no event can change this state any more.
    pub const fn is_terminal(&self) -> bool {
        match self {
            Self::Revoked { .. } | Self::Wiped => true,
            Self::SignedOut
            | Self::Enrolling
            | Self::Active { .. }
            | Self::Restricted { .. }
            | Self::RecoveringElsewhere => false,
        }
    }

    /// The state after `event`, learned at `now`.
    ///
    /// # Errors
    /// [`Error::IllegalSessionEvent`] when the event cannot happen in this state (anything after
    /// a terminal state but a repeated wipe or removal; enrolling from an active device; a
    /// refresh or restriction while signed out), with the state unchanged.
    pub fn next(self, event: SessionEvent, now: u64) -> Result<Self, Error> {
        let illegal = || Error::IllegalSessionEvent {
            state: self.as_str(),
        };
        if self.is_terminal() {
            // A terminal state absorbs its own cause arriving twice (push and a refusal).
            return match (self, event) {
                (Self::Revoked { .. }, SessionEvent::Ended(SessionEnd::DeviceRemoved))
                | (Self::Wiped, SessionEvent::Wiped) => Ok(self),
                _ => Err(illegal()),
            };
        }
        let signed_in = matches!(
            self,
            Self::Enrolling | Self::Active { .. } | Self::Restricted { .. }
        );
        Ok(match event {
            SessionEvent::SignedIn { expires_at } => Self::Active { expires_at },
            SessionEvent::SignedInToEnroll => Self::Enrolling,
            SessionEvent::Enrolled { expires_at } if self == Self::Enrolling => {
                Self::Active { expires_at }
            }
            SessionEvent::Refreshed { expires_at } => match self {
                Self::Active { .. } => Self::Active { expires_at },
                Self::Enrolling | Self::Restricted { .. } => self,
                Self::SignedOut
                | Self::RecoveringElsewhere
                | Self::Revoked { .. }
                | Self::Wiped => return Err(illegal()),
            },
            SessionEvent::Restricted(reason) if signed_in => Self::Restricted { reason },
            SessionEvent::Unrestricted { expires_at } if signed_in => Self::Active { expires_at },
            SessionEvent::Ended(SessionEnd::Expired) | SessionEvent::SignedOut => Self::SignedOut,
            SessionEvent::Ended(SessionEnd::DeviceRemoved) => Self::Revoked { at: now },
            SessionEvent::Ended(SessionEnd::Recovery) => Self::RecoveringElsewhere,
            SessionEvent::Wiped => Self::Wiped,
            SessionEvent::Enrolled { .. }
            | SessionEvent::Restricted(_)
            | SessionEvent::Unrestricted { .. } => return Err(illegal()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_STATES: [SessionState; 7] = [
        SessionState::SignedOut,
        SessionState::Enrolling,
        SessionState::Active { expires_at: 10 },
        SessionState::Restricted {
            reason: Restriction::Suspended,
        },
        SessionState::Revoked { at: 5 },
        SessionState::RecoveringElsewhere,
        SessionState::Wiped,
    ];

    #[test]
    fn a_device_goes_from_enrolling_to_active_to_revoked_and_stays_there() {
        let state = SessionState::SignedOut
            .next(SessionEvent::SignedInToEnroll, 1)
            .unwrap();
        assert_eq!(state, SessionState::Enrolling);
        let state = state
            .next(SessionEvent::Enrolled { expires_at: 99 }, 2)
            .unwrap();
        assert_eq!(state, SessionState::Active { expires_at: 99 });
        let state = state
            .next(SessionEvent::Restricted(Restriction::Suspended), 3)
            .unwrap();
        let state = state
            .next(SessionEvent::Unrestricted { expires_at: 120 }, 4)
            .unwrap();
        assert_eq!(state, SessionState::Active { expires_at: 120 });
        let revoked = state
            .next(SessionEvent::Ended(SessionEnd::DeviceRemoved), 7)
            .unwrap();
        assert_eq!(revoked, SessionState::Revoked { at: 7 });
        // The same news twice (push, then a refusal) changes nothing; anything else is refused.
        assert_eq!(
            revoked.next(SessionEvent::Ended(SessionEnd::DeviceRemoved), 9),
            Ok(revoked)
        );
        for event in [
            SessionEvent::SignedIn { expires_at: 1 },
            SessionEvent::SignedInToEnroll,
            SessionEvent::SignedOut,
            SessionEvent::Ended(SessionEnd::Recovery),
        ] {
            assert_eq!(
                revoked.next(event, 10),
                Err(Error::IllegalSessionEvent { state: "revoked" })
            );
        }
    }

    #[test]
    fn recovery_elsewhere_asks_to_sign_in_again() {
        let active = SessionState::Active { expires_at: 50 };
        let state = active
            .next(SessionEvent::Ended(SessionEnd::Recovery), 1)
            .unwrap();
        assert_eq!(state, SessionState::RecoveringElsewhere);
        assert_eq!(
            state.next(SessionEvent::SignedIn { expires_at: 90 }, 2),
            Ok(SessionState::Active { expires_at: 90 })
        );
    }

    #[test]
    fn every_state_and_event_has_a_defined_outcome() {
        let events = [
            SessionEvent::SignedIn { expires_at: 1 },
            SessionEvent::SignedInToEnroll,
            SessionEvent::Enrolled { expires_at: 1 },
            SessionEvent::Refreshed { expires_at: 1 },
            SessionEvent::Restricted(Restriction::AccountLocked),
            SessionEvent::Unrestricted { expires_at: 1 },
            SessionEvent::Ended(SessionEnd::Expired),
            SessionEvent::Ended(SessionEnd::DeviceRemoved),
            SessionEvent::Ended(SessionEnd::Recovery),
            SessionEvent::SignedOut,
            SessionEvent::Wiped,
        ];
        for state in ALL_STATES {
            for event in events {
                match state.next(event, 0) {
                    Ok(next) => assert!(!state.is_terminal() || next == state),
                    Err(Error::IllegalSessionEvent { state: name }) => {
                        assert_eq!(name, state.as_str());
                    }
                    Err(other) => panic!("{other:?}"),
                }
            }
        }
        // Enrolled only from Enrolling; restrictions only while signed in.
        assert!(
            SessionState::Active { expires_at: 1 }
                .next(SessionEvent::Enrolled { expires_at: 2 }, 0)
                .is_err()
        );
        assert!(
            SessionState::SignedOut
                .next(SessionEvent::Restricted(Restriction::Suspended), 0)
                .is_err()
        );
        let json = serde_json::to_value(SessionState::Revoked { at: 5 }).unwrap();
        assert_eq!(json, serde_json::json!({ "state": "revoked", "at": 5 }));
    }

    #[test]
    fn a_session_is_refreshed_only_in_its_last_minutes() {
        let expires_at = 10_000;
        assert!(!refresh_due(
            expires_at,
            expires_at - REFRESH_MARGIN_SECS - 1
        ));
        assert!(refresh_due(expires_at, expires_at - REFRESH_MARGIN_SECS));
        assert!(refresh_due(expires_at, expires_at + 1));
        assert!(refresh_due(0, u64::MAX));
    }
}
