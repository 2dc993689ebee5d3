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
use crate::ledger::RevokeReason;

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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Restriction {
    /// The device is suspended by one of the account's devices or its organization.
    Suspended,
    /// The device awaits the organization's review.
    InReview,
    /// The account is locked for now.
    AccountLocked,
    /// The service refuses this device as removed, but the device's own verified ledger does
    /// not show it removed: nothing was erased (a service alone cannot remove a device).
    RefusedByService,
}

/// A device of the account as a person recognizes it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DeviceName {
    /// Its label, when this device could read it.
    pub label: Option<String>,
    /// Its short fingerprint (`K3PQ 7WXD 2M9A HF4T`).
    pub fingerprint: String,
}

/// Who removed this device, as this device verified it from the removing ledger entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum RemovedBy {
    /// Another device of the account.
    Device(DeviceName),
    /// The recovery phrase.
    Recovery,
    /// The organization that manages the account.
    Organization,
}

/// Why a device was removed, as its removal mark records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RemovalReason {
    /// Revoked, with no reason given.
    Unspecified,
    /// Revoked: the device was lost.
    Lost,
    /// Revoked: the device was stolen.
    Stolen,
    /// Revoked: its keys may be known to someone else.
    Compromised,
    /// Revoked: no longer used.
    Decommissioned,
    /// A newer device took its place.
    Replaced,
    /// A recovery with the recovery phrase marked it lost.
    Recovery,
    /// The organization's review rejected it.
    Rejected,
    /// Revoked, in a mark an older version recorded without verifying why.
    Revoked,
}

impl RemovalReason {
    /// Every reason (for exhaustive tests and stored-value parsing).
    pub const ALL: [RemovalReason; 9] = [
        Self::Unspecified,
        Self::Lost,
        Self::Stolen,
        Self::Compromised,
        Self::Decommissioned,
        Self::Replaced,
        Self::Recovery,
        Self::Rejected,
        Self::Revoked,
    ];

    /// The lower-case name stored in a profile's mark and shown by the CLI.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Lost => "lost",
            Self::Stolen => "stolen",
            Self::Compromised => "compromised",
            Self::Decommissioned => "decommissioned",
            Self::Replaced => "replaced",
            Self::Recovery => "recovery",
            Self::Rejected => "rejected",
            Self::Revoked => "revoked",
        }
    }

    /// Parses [`RemovalReason::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.as_str() == text)
    }
}

impl From<RevokeReason> for RemovalReason {
    fn from(reason: RevokeReason) -> Self {
        match reason {
            RevokeReason::Unspecified => Self::Unspecified,
            RevokeReason::Lost => Self::Lost,
            RevokeReason::Stolen => Self::Stolen,
            RevokeReason::Compromised => Self::Compromised,
            RevokeReason::Decommissioned => Self::Decommissioned,
        }
    }
}

/// What a removed device knows about its removal.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Revocation {
    /// When this device learned it (seconds since the epoch).
    pub at: u64,
    /// When the removal was made, by the clock of whoever made it (the removing entry's
    /// signed time): shown as "around"; `None` when the entry carries no time.
    pub signed_at: Option<u64>,
    /// Who removed it, as the removing entry this device verified says; `None` only in a mark
    /// recorded by an older version, which took the service's word for the removal.
    pub by: Option<RemovedBy>,
    /// Why.
    pub reason: RemovalReason,
    /// The device that replaced it, when it was replaced (and this device verified which).
    pub replaced_by: Option<DeviceName>,
}

impl DeviceName {
    /// `Laptop (K3PQ 7WXD 2M9A HF4T)`, or `device K3PQ 7WXD 2M9A HF4T` without a label.
    pub fn describe(&self) -> String {
        match &self.label {
            Some(label) => format!("{label} ({})", self.fingerprint),
            None => format!("device {}", self.fingerprint),
        }
    }
}

impl Revocation {
    /// One sentence for the user, e.g. `this device was revoked by Laptop (K3PQ 7WXD 2M9A
    /// HF4T) on 2026-12-03 08:01 UTC: lost`.
    pub fn describe(&self) -> String {
        let when = utc_minute(self.at);
        // The remover's own clock when the entry says; else when this device learned it.
        let on = match self.signed_at {
            Some(signed_at) => format!("around {}", utc_minute(signed_at)),
            None => format!("on {when}"),
        };
        let removed = match &self.replaced_by {
            Some(new) => format!("replaced by {}", new.describe()),
            None if self.reason == RemovalReason::Replaced => {
                "replaced by a newer device".to_owned()
            }
            None => "revoked".to_owned(),
        };
        let by = match &self.by {
            None => {
                return format!(
                    "this device was {removed} (learned {when}); Enigm could not confirm which \
                     device did it"
                );
            }
            Some(RemovedBy::Device(device)) if self.replaced_by.is_some() => {
                format!(", approved by {},", device.describe())
            }
            Some(RemovedBy::Device(device)) => format!(" by {}", device.describe()),
            Some(RemovedBy::Recovery) => " with the recovery phrase".to_owned(),
            Some(RemovedBy::Organization) => " by the account's organization".to_owned(),
        };
        let reason = match self.reason {
            RemovalReason::Revoked
            | RemovalReason::Replaced
            | RemovalReason::Recovery
            | RemovalReason::Unspecified => String::new(),
            RemovalReason::Lost
            | RemovalReason::Stolen
            | RemovalReason::Compromised
            | RemovalReason::Decommissioned
            | RemovalReason::Rejected => format!(": {}", self.reason.as_str()),
        };
        format!("this device was {removed}{by} {on}{reason}")
    }
}

/// `2026-12-03 08:01 UTC` for seconds since the epoch.
pub fn utc_minute(secs: u64) -> String {
    let days = secs / 86_400;
    let minutes = (secs % 86_400) / 60;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm, for the proleptic
    // Gregorian calendar).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        minutes / 60,
        minutes % 60
    )
}

/// Why the service ended a session.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionEnd {
    /// The session expired or the user signed out elsewhere: sign in again.
    Expired,
    /// This device was revoked (or replaced, or retired).
    DeviceRemoved(Revocation),
    /// The account was recovered with the recovery phrase on another device.
    Recovery,
}

/// The session state of this device.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
    Revoked(Revocation),
    /// The account was recovered on another device: sign in again (with the new password).
    RecoveringElsewhere,
    /// This device's secrets were wiped on the organization's instruction.
    Wiped,
}

/// What the client learned.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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
            Self::Revoked(_) => "revoked",
            Self::RecoveringElsewhere => "recovering_elsewhere",
            Self::Wiped => "wiped",
        }
    }

    /// Whether no event can change this state any more.
    pub const fn is_terminal(&self) -> bool {
        match self {
            Self::Revoked(_) | Self::Wiped => true,
            Self::SignedOut
            | Self::Enrolling
            | Self::Active { .. }
            | Self::Restricted { .. }
            | Self::RecoveringElsewhere => false,
        }
    }

    /// The state after `event`.
    ///
    /// # Errors
    /// [`Error::IllegalSessionEvent`] when the event cannot happen in this state (anything after
    /// a terminal state but a repeated wipe or removal; enrolling from an active device; a
    /// refresh or restriction while signed out), with the state unchanged.
    pub fn next(self, event: SessionEvent) -> Result<Self, Error> {
        let name = self.as_str();
        let illegal = || Error::IllegalSessionEvent { state: name };
        if self.is_terminal() {
            // A terminal state absorbs its own cause arriving twice (push and a refusal); the
            // first news stands.
            return match (&self, event) {
                (Self::Revoked(_), SessionEvent::Ended(SessionEnd::DeviceRemoved(_)))
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
                Self::SignedOut | Self::RecoveringElsewhere | Self::Revoked(_) | Self::Wiped => {
                    return Err(illegal());
                }
            },
            SessionEvent::Restricted(reason) if signed_in => Self::Restricted { reason },
            SessionEvent::Unrestricted { expires_at } if signed_in => Self::Active { expires_at },
            SessionEvent::Ended(SessionEnd::Expired) | SessionEvent::SignedOut => Self::SignedOut,
            SessionEvent::Ended(SessionEnd::DeviceRemoved(revocation)) => Self::Revoked(revocation),
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

    fn revocation(at: u64) -> Revocation {
        Revocation {
            at,
            signed_at: None,
            by: Some(RemovedBy::Device(DeviceName {
                label: Some("Laptop".into()),
                fingerprint: "ABCD EFGH IJKL MNOP".into(),
            })),
            reason: RemovalReason::Lost,
            replaced_by: None,
        }
    }

    fn all_states() -> [SessionState; 7] {
        [
            SessionState::SignedOut,
            SessionState::Enrolling,
            SessionState::Active { expires_at: 10 },
            SessionState::Restricted {
                reason: Restriction::Suspended,
            },
            SessionState::Revoked(revocation(5)),
            SessionState::RecoveringElsewhere,
            SessionState::Wiped,
        ]
    }

    #[test]
    fn a_device_goes_from_enrolling_to_active_to_revoked_and_stays_there() {
        let state = SessionState::SignedOut
            .next(SessionEvent::SignedInToEnroll)
            .unwrap();
        assert_eq!(state, SessionState::Enrolling);
        let state = state
            .next(SessionEvent::Enrolled { expires_at: 99 })
            .unwrap();
        assert_eq!(state, SessionState::Active { expires_at: 99 });
        let state = state
            .next(SessionEvent::Restricted(Restriction::Suspended))
            .unwrap();
        let state = state
            .next(SessionEvent::Unrestricted { expires_at: 120 })
            .unwrap();
        assert_eq!(state, SessionState::Active { expires_at: 120 });
        let revoked = state
            .next(SessionEvent::Ended(SessionEnd::DeviceRemoved(revocation(
                7,
            ))))
            .unwrap();
        assert_eq!(revoked, SessionState::Revoked(revocation(7)));
        // The same news twice (push, then a refusal) changes nothing; anything else is refused.
        assert_eq!(
            revoked
                .clone()
                .next(SessionEvent::Ended(SessionEnd::DeviceRemoved(revocation(
                    9
                )))),
            Ok(revoked.clone())
        );
        for event in [
            SessionEvent::SignedIn { expires_at: 1 },
            SessionEvent::SignedInToEnroll,
            SessionEvent::SignedOut,
            SessionEvent::Ended(SessionEnd::Recovery),
        ] {
            assert_eq!(
                revoked.clone().next(event),
                Err(Error::IllegalSessionEvent { state: "revoked" })
            );
        }
    }

    #[test]
    fn removal_reasons_keep_their_stored_names() {
        for reason in RemovalReason::ALL {
            assert_eq!(RemovalReason::parse(reason.as_str()), Some(reason));
            let json = serde_json::to_value(reason).unwrap();
            assert_eq!(json, reason.as_str());
        }
        assert_eq!(RemovalReason::parse("later"), None);
        assert_eq!(
            RemovalReason::from(RevokeReason::Stolen),
            RemovalReason::Stolen
        );
    }

    #[test]
    fn a_revocation_says_who_when_and_why() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_minute(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc_minute(1_796_284_860), "2026-12-03 08:01 UTC");
        let mut revocation = revocation(1_796_284_860);
        assert_eq!(
            revocation.describe(),
            "this device was revoked by Laptop (ABCD EFGH IJKL MNOP) on 2026-12-03 08:01 UTC: lost"
        );
        revocation.replaced_by = Some(DeviceName {
            label: None,
            fingerprint: "QRST UVWX YZ23 4567".into(),
        });
        revocation.reason = RemovalReason::Replaced;
        assert_eq!(
            revocation.describe(),
            "this device was replaced by device QRST UVWX YZ23 4567, approved by Laptop \
             (ABCD EFGH IJKL MNOP), on 2026-12-03 08:01 UTC"
        );
        revocation.by = Some(RemovedBy::Recovery);
        revocation.replaced_by = None;
        revocation.reason = RemovalReason::Recovery;
        assert_eq!(
            revocation.describe(),
            "this device was revoked with the recovery phrase on 2026-12-03 08:01 UTC"
        );
        revocation.signed_at = Some(1_796_284_800);
        assert_eq!(
            revocation.describe(),
            "this device was revoked with the recovery phrase around 2026-12-03 08:00 UTC"
        );
        revocation.signed_at = None;
        revocation.by = None;
        revocation.reason = RemovalReason::Revoked;
        assert_eq!(
            revocation.describe(),
            "this device was revoked (learned 2026-12-03 08:01 UTC); Enigm could not confirm \
             which device did it"
        );
    }

    #[test]
    fn recovery_elsewhere_asks_to_sign_in_again() {
        let active = SessionState::Active { expires_at: 50 };
        let state = active
            .next(SessionEvent::Ended(SessionEnd::Recovery))
            .unwrap();
        assert_eq!(state, SessionState::RecoveringElsewhere);
        assert_eq!(
            state.next(SessionEvent::SignedIn { expires_at: 90 }),
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
            SessionEvent::Ended(SessionEnd::DeviceRemoved(revocation(3))),
            SessionEvent::Ended(SessionEnd::Recovery),
            SessionEvent::SignedOut,
            SessionEvent::Wiped,
        ];
        for state in all_states() {
            for event in events.clone() {
                match state.clone().next(event) {
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
                .next(SessionEvent::Enrolled { expires_at: 2 })
                .is_err()
        );
        assert!(
            SessionState::SignedOut
                .next(SessionEvent::Restricted(Restriction::Suspended))
                .is_err()
        );
        let json = serde_json::to_value(SessionState::Revoked(revocation(5))).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "state": "revoked",
                "at": 5,
                "signed_at": null,
                "by": { "kind": "device", "label": "Laptop", "fingerprint": "ABCD EFGH IJKL MNOP" },
                "reason": "lost",
                "replaced_by": null,
            })
        );
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
