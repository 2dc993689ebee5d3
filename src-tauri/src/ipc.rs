//! The shapes that cross IPC, declared once here and generated into `ui/src/lib/bindings.ts`
//! with ts-rs, so the UI and the backend cannot drift apart (a test fails on stale bindings).
//!
//! They are plain views of the engine's own types: conversions only, no protocol decisions.
//! Field names are snake_case like the CLI's JSON (DESIGN §16).

use enigm_client::{DeviceList, DeviceView, WatchUpdate};
use enigm_core::session::{Restriction, SessionState};
use enigm_core::trust::{Decision, Operation, Outcome, Reason};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::IpcError;

/// What the window needs at start to pick a screen.
#[derive(Debug, Serialize, TS)]
pub struct AppStatus {
    /// The app version.
    pub app_version: String,
    /// The service this profile talks to, once known (saved in the profile or `ENIGM_SERVER`).
    pub server: Option<String>,
    /// The encrypted store and its keychain.
    pub store: StoreStatus,
    /// Whether this computer already belongs to an account.
    pub has_account: bool,
    /// The session as this computer last knew it.
    pub session: SessionView,
}

/// The encrypted local store and where its key is kept.
#[derive(Debug, Serialize, TS)]
pub struct StoreStatus {
    /// Always true: there is no plaintext mode; the field exists so the UI never assumes.
    pub encrypted: bool,
    /// SQLCipher's own version string.
    pub cipher_version: String,
    /// The OS keychain holding the store key, e.g. "Secret Service".
    pub keychain_backend: String,
}

/// This device's session state (enigm-core's `SessionState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SessionView {
    /// No session: sign in.
    SignedOut,
    /// A session that can only enroll this device.
    Enrolling,
    /// Signed in as an active device.
    Active {
        /// Seconds since the epoch.
        #[ts(type = "number")]
        expires_at: u64,
    },
    /// Signed in, but the device or account may do less for now.
    Restricted {
        /// Why.
        reason: RestrictionView,
    },
    /// This device was removed from the account; its keys are gone.
    Revoked {
        /// When this computer learned it (seconds since the epoch).
        #[ts(type = "number")]
        at: u64,
    },
    /// The account was recovered on another device.
    RecoveringElsewhere,
    /// This device's secrets were wiped on the organization's instruction.
    Wiped,
}

/// Why a session is restricted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RestrictionView {
    /// The device is suspended.
    Suspended,
    /// The device awaits the organization's review.
    InReview,
    /// The account is locked for now.
    AccountLocked,
}

impl From<SessionState> for SessionView {
    fn from(state: SessionState) -> Self {
        match state {
            SessionState::SignedOut => Self::SignedOut,
            SessionState::Enrolling => Self::Enrolling,
            SessionState::Active { expires_at } => Self::Active { expires_at },
            SessionState::Restricted { reason } => Self::Restricted {
                reason: match reason {
                    Restriction::Suspended => RestrictionView::Suspended,
                    Restriction::InReview => RestrictionView::InReview,
                    Restriction::AccountLocked => RestrictionView::AccountLocked,
                },
            },
            SessionState::Revoked { at } => Self::Revoked { at },
            SessionState::RecoveringElsewhere => Self::RecoveringElsewhere,
            SessionState::Wiped => Self::Wiped,
        }
    }
}

/// A device's lifecycle state (DESIGN §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// Enrollment requested.
    Pending,
    /// Approved, awaiting the organization.
    Review,
    /// Trusted.
    Active,
    /// Trust withdrawn for now.
    Suspended,
    /// Removed for good.
    Revoked,
    /// Superseded by a successor.
    Replaced,
    /// No longer used.
    Retired,
}

impl DeviceState {
    fn parse(text: &str) -> Result<Self, IpcError> {
        Ok(match text {
            "pending" => Self::Pending,
            "review" => Self::Review,
            "active" => Self::Active,
            "suspended" => Self::Suspended,
            "revoked" => Self::Revoked,
            "replaced" => Self::Replaced,
            "retired" => Self::Retired,
            other => return Err(IpcError::internal(&format!("unknown device state {other}"))),
        })
    }
}

/// One device of the account.
#[derive(Clone, Debug, Serialize, TS)]
pub struct DeviceItem {
    /// The device id (hex): what device commands take.
    pub device_id: String,
    /// The short fingerprint users compare.
    pub fingerprint: String,
    /// The label, once shared under the account sync key.
    pub label: Option<String>,
    /// Its lifecycle state.
    pub state: DeviceState,
    /// Whether it is the computer running this app.
    pub this_device: bool,
    /// How it joined: `genesis`, `enrollment` or `recovery`.
    pub origin: String,
    /// Ledger position of its last state change.
    #[ts(type = "number")]
    pub changed_at: u64,
}

/// The account's devices, from a ledger this computer verified itself.
#[derive(Clone, Debug, Serialize, TS)]
pub struct DeviceListView {
    /// Every device, in the order they joined.
    pub devices: Vec<DeviceItem>,
    /// The verified ledger head's sequence number.
    #[ts(type = "number")]
    pub head_seq: u64,
    /// The list was verified (always true: an unverifiable ledger is an error, `ledger_rejected`).
    pub verified: bool,
    /// True when just checked with the service; false when the service is unreachable and this
    /// is the copy verified last time.
    pub synced: bool,
}

impl DeviceListView {
    /// The view of a verified list.
    pub fn new(list: DeviceList, synced: bool) -> Result<Self, IpcError> {
        let devices = list
            .devices
            .into_iter()
            .map(DeviceItem::try_from)
            .collect::<Result<_, _>>()?;
        Ok(Self {
            devices,
            head_seq: list.head.seq,
            verified: list.verified,
            synced,
        })
    }
}

impl TryFrom<DeviceView> for DeviceItem {
    type Error = IpcError;

    fn try_from(view: DeviceView) -> Result<Self, IpcError> {
        Ok(Self {
            device_id: view.device_id.to_hex(),
            fingerprint: view.fingerprint,
            label: view.label,
            state: DeviceState::parse(view.state)?,
            this_device: view.this_device,
            origin: view.origin.to_owned(),
            changed_at: view.changed_at,
        })
    }
}

/// What a new account leaves with the user: the recovery phrase, shown once.
#[derive(Serialize, TS)]
pub struct CreatedAccount {
    /// The recovery phrase's words in order.
    pub words: Vec<String>,
}

/// A new recovery phrase, shown once; the old one no longer works.
#[derive(Serialize, TS)]
pub struct NewRecoveryPhrase {
    /// The recovery phrase's words in order.
    pub words: Vec<String>,
}

/// How signing out went; this computer is signed out either way.
#[derive(Clone, Copy, Debug, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SignOutView {
    /// The service ended the session.
    Ended,
    /// The service could not be reached: only this computer forgot the session.
    ForgottenLocally,
}

impl From<enigm_client::SignOut> for SignOutView {
    fn from(outcome: enigm_client::SignOut) -> Self {
        match outcome {
            enigm_client::SignOut::Ended => Self::Ended,
            enigm_client::SignOut::ForgottenLocally => Self::ForgottenLocally,
        }
    }
}

/// A change to a device of the account.
#[derive(Clone, Copy, Debug, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DeviceAction {
    /// Withdraw trust for now.
    Suspend,
    /// Restore a suspended device.
    Resume,
    /// Remove for good.
    Revoke,
    /// Retire a device that is no longer used.
    Retire,
}

/// Whether the service allows a protected operation, and why.
#[derive(Debug, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeView {
    /// It may run.
    Allow,
    /// It may run after the password is entered again.
    StepUp,
    /// It may not run.
    Deny,
}

/// One reason behind a decision.
#[derive(Debug, Serialize, TS)]
pub struct ReasonView {
    /// Stable code.
    pub code: String,
    /// A plain sentence: what the user can or cannot do, and why.
    pub message: String,
}

/// The decision for one protected operation.
#[derive(Debug, Serialize, TS)]
pub struct DecisionView {
    /// The operation (`messaging`, `change_devices`, ...).
    pub operation: String,
    /// The outcome.
    pub outcome: OutcomeView,
    /// Every reason that applies.
    pub reasons: Vec<ReasonView>,
}

/// The account's state as the service's decisions reveal it.
#[derive(Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AccountState {
    /// Usable.
    Active,
    /// Locked for now.
    Locked,
    /// A recovery is in progress.
    Recovering,
}

/// Where this session and device stand, as the service evaluates them.
#[derive(Debug, Serialize, TS)]
pub struct SessionStatusView {
    /// The account's state.
    pub account_state: AccountState,
    /// This device's lifecycle state.
    pub device_state: DeviceState,
    /// `full` or `enrollment`.
    pub session_kind: String,
    /// Seconds since the epoch.
    #[ts(type = "number")]
    pub expires_at: u64,
    /// How many times the account has been recovered, when the service says.
    #[ts(type = "number | null")]
    pub recovery_epoch: Option<u64>,
    /// One decision per protected operation, in the core's order (enrolling is not one).
    pub decisions: Vec<DecisionView>,
}

#[derive(Deserialize)]
struct CurrentSession {
    session: SessionJson,
    #[serde(default)]
    recovery_epoch: Option<u64>,
    device_state: DeviceState,
    decisions: std::collections::BTreeMap<String, Decision>,
}

#[derive(Deserialize)]
struct SessionJson {
    kind: String,
    expires_at: u64,
}

impl SessionStatusView {
    /// The view of the service's `GET /v1/sessions/current` answer.
    pub fn from_service(value: serde_json::Value) -> Result<Self, IpcError> {
        let mut current: CurrentSession =
            serde_json::from_value(value).map_err(|error| IpcError::internal(&error))?;
        let mut decisions = Vec::new();
        let mut account_state = AccountState::Active;
        // Enrolling is not protected, and only a new device's concern.
        let protected = Operation::ALL
            .into_iter()
            .filter(|operation| operation.is_protected());
        for operation in protected {
            let Some(decision) = current.decisions.remove(operation.as_str()) else {
                continue;
            };
            for reason in &decision.reasons {
                if matches!(reason, Reason::AccountLocked { .. }) {
                    account_state = AccountState::Locked;
                } else if matches!(reason, Reason::AccountRecovering) {
                    account_state = AccountState::Recovering;
                }
            }
            decisions.push(DecisionView {
                operation: operation.as_str().to_owned(),
                outcome: match decision.outcome {
                    Outcome::Allow => OutcomeView::Allow,
                    Outcome::StepUp => OutcomeView::StepUp,
                    Outcome::Deny => OutcomeView::Deny,
                },
                reasons: decision
                    .reasons
                    .iter()
                    .map(|reason| ReasonView {
                        code: reason.code().to_owned(),
                        message: reason.message(),
                    })
                    .collect(),
            });
        }
        Ok(Self {
            account_state,
            device_state: current.device_state,
            session_kind: current.session.kind,
            expires_at: current.session.expires_at,
            recovery_epoch: current.recovery_epoch,
            decisions,
        })
    }
}

/// What the `session-update` event carries: the engine's live updates.
#[derive(Clone, Debug, Serialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SessionUpdate {
    /// The session state changed.
    State {
        /// The new state.
        session: SessionView,
    },
    /// The device list changed; this is the newly verified list.
    Devices {
        /// The verified list.
        list: DeviceListView,
    },
    /// A new device asks to join the account.
    EnrollmentRequested,
    /// Someone started a recovery of the account.
    RecoveryStarted,
    /// The service cannot be reached; the engine retries after `retry_in_ms`.
    Offline {
        /// Wait before the next attempt.
        #[ts(type = "number")]
        retry_in_ms: u64,
    },
    /// The service is reachable again.
    Online,
}

impl SessionUpdate {
    /// The event's name, for the log (the payload may name devices).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::State { .. } => "state",
            Self::Devices { .. } => "devices",
            Self::EnrollmentRequested => "enrollment_requested",
            Self::RecoveryStarted => "recovery_started",
            Self::Offline { .. } => "offline",
            Self::Online => "online",
        }
    }

    /// The view of an engine update.
    pub fn new(update: &WatchUpdate) -> Result<Self, IpcError> {
        Ok(match update {
            WatchUpdate::State { state } => Self::State {
                session: (*state).into(),
            },
            WatchUpdate::Devices { list } => Self::Devices {
                list: DeviceListView::new(list.clone(), true)?,
            },
            WatchUpdate::EnrollmentRequest { .. } => Self::EnrollmentRequested,
            WatchUpdate::RecoveryStarted => Self::RecoveryStarted,
            WatchUpdate::Offline { retry_in_ms } => Self::Offline {
                retry_in_ms: *retry_in_ms,
            },
            WatchUpdate::Online => Self::Online,
        })
    }
}

/// One emoji of the short code, with the name shown under it.
#[derive(Clone, Debug, Serialize, TS)]
pub struct EmojiView {
    /// The emoji.
    pub symbol: String,
    /// Its English name.
    pub name: String,
}

/// What the window hears while an enrollment runs (`enrollment-progress`).
#[derive(Clone, Debug, Serialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EnrollmentProgress {
    /// The request is posted; the account's other devices can see it.
    Requested,
    /// Both sides derived the short code: the user compares it with the other screen.
    Code {
        /// Six digits in two groups of three (`482 913`).
        code: String,
        /// The seven emoji, in order.
        emoji: Vec<EmojiView>,
    },
}

impl EnrollmentProgress {
    /// The view of the engine's short code.
    pub fn code(code: enigm_client::ShortCodeView) -> Self {
        Self::Code {
            code: code.code,
            emoji: code
                .emoji
                .into_iter()
                .map(|emoji| EmojiView {
                    symbol: emoji.symbol.to_owned(),
                    name: emoji.name.to_owned(),
                })
                .collect(),
        }
    }
}

/// How an enrollment ended, on either side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentOutcomeView {
    /// The new device is in the account and holds its sync key.
    Active,
    /// The approving device (or its user, on a code mismatch) said no.
    Rejected,
    /// The request passed its time.
    Expired,
    /// A side cancelled, or the user said the codes differ.
    Cancelled,
}

impl From<enigm_client::EnrollmentOutcome> for EnrollmentOutcomeView {
    fn from(outcome: enigm_client::EnrollmentOutcome) -> Self {
        match outcome {
            enigm_client::EnrollmentOutcome::Active => Self::Active,
            enigm_client::EnrollmentOutcome::Rejected => Self::Rejected,
            enigm_client::EnrollmentOutcome::Expired => Self::Expired,
            enigm_client::EnrollmentOutcome::Cancelled => Self::Cancelled,
        }
    }
}

/// A new device asking to join the account, as a trusted device shows it before deciding.
#[derive(Clone, Debug, Serialize, TS)]
pub struct EnrollmentRequestView {
    /// The request id: what approving and rejecting take.
    pub id: String,
    /// The platform the new device reports (`linux`, `macos`, `windows`).
    pub platform: String,
    /// The new device's fingerprint, computed here from its key.
    pub fingerprint: String,
    /// When it asked (seconds since the epoch, the service's clock).
    #[ts(type = "number")]
    pub created_at: u64,
    /// Where it stands (`requested`, `accepted`, ...).
    pub state: String,
}

impl From<enigm_client::EnrollmentRequest> for EnrollmentRequestView {
    fn from(request: enigm_client::EnrollmentRequest) -> Self {
        Self {
            id: request.id,
            platform: request.platform,
            fingerprint: request.fingerprint,
            created_at: request.created_at,
            state: request.state,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The TypeScript declarations of every IPC type, as checked in at `ui/src/lib/bindings.ts`.
    fn typescript() -> String {
        let cfg = ts_rs::Config::new().with_large_int("number");
        let declarations = [
            IpcError::decl(&cfg),
            AppStatus::decl(&cfg),
            StoreStatus::decl(&cfg),
            SessionView::decl(&cfg),
            RestrictionView::decl(&cfg),
            DeviceState::decl(&cfg),
            DeviceItem::decl(&cfg),
            DeviceListView::decl(&cfg),
            CreatedAccount::decl(&cfg),
            NewRecoveryPhrase::decl(&cfg),
            SignOutView::decl(&cfg),
            DeviceAction::decl(&cfg),
            OutcomeView::decl(&cfg),
            ReasonView::decl(&cfg),
            DecisionView::decl(&cfg),
            AccountState::decl(&cfg),
            SessionStatusView::decl(&cfg),
            SessionUpdate::decl(&cfg),
            EmojiView::decl(&cfg),
            EnrollmentProgress::decl(&cfg),
            EnrollmentOutcomeView::decl(&cfg),
            EnrollmentRequestView::decl(&cfg),
        ];
        let mut out = String::from(
            "// Generated from src-tauri/src/ipc.rs by ts-rs; do not edit. Regenerate with\n\
         // `UPDATE_BINDINGS=1 cargo test -p enigm-app --lib bindings`.\n",
        );
        for declaration in declarations {
            out.push('\n');
            out.push_str("export ");
            out.push_str(&declaration);
            out.push('\n');
        }
        out
    }

    /// The checked-in bindings are what the Rust types generate (run with `UPDATE_BINDINGS=1`
    /// to rewrite them after changing a type).
    #[test]
    fn bindings_are_up_to_date() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src/lib/bindings.ts");
        let generated = typescript();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == generated,
            "ui/src/lib/bindings.ts is stale: run `UPDATE_BINDINGS=1 cargo test -p enigm-app --lib bindings`"
        );
    }

    #[test]
    fn the_session_view_reads_the_services_decisions_in_the_cores_order() {
        let value = serde_json::json!({
            "session": {"kind": "full", "issued_at": 1, "expires_at": 99},
            "account_id": "00",
            "device_id": "00",
            "device_state": "suspended",
            "decisions": {
                "sync": {"outcome": "deny", "reasons": [{"code": "device_suspended"}]},
                "enroll": {"outcome": "deny", "reasons": [{"code": "device_already_enrolled"}]},
                "admin": {"outcome": "deny", "reasons": [{"code": "account_locked", "until": null}]}
            }
        });
        let view = SessionStatusView::from_service(value).unwrap();
        assert_eq!(view.device_state, DeviceState::Suspended);
        assert_eq!(view.account_state, AccountState::Locked);
        let order: Vec<&str> = view
            .decisions
            .iter()
            .map(|d| d.operation.as_str())
            .collect();
        assert_eq!(order, ["sync", "admin"]);
        assert!(view.decisions[0].reasons[0].message.contains("suspended"));
    }
}
