//! The shapes that cross IPC, declared once here and generated into `ui/src/lib/bindings.ts`
//! with ts-rs, so the UI and the backend cannot drift apart (a test fails on stale bindings).
//!
//! They are plain views of the engine's own types: conversions only, no protocol decisions.
//! Field names are snake_case like the CLI's JSON (DESIGN §16).

use enigm_client::{Actor, DeviceList, DeviceNews, DeviceView, LedgerHistory, WatchUpdate};
use enigm_core::identity::DeviceId;
use enigm_core::lifecycle::{self, LifecycleEvent};
use enigm_core::recovery;
use enigm_core::session::{DeviceName, RemovedBy, Restriction, Revocation, SessionState};
use enigm_core::trust::{Operation, Outcome, Reason};
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
    /// Whether the app is locked (it then shows only the Locked screen).
    pub lock: LockView,
}

/// Where the app's Lock stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, TS)]
pub struct LockView {
    /// The account is hidden until the PIN or the password is given again.
    pub locked: bool,
    /// A device unlock PIN is set (it unlocks offline); the password always works too, checked
    /// online by the service.
    pub pin_set: bool,
    /// Unlocking with the password needs the username too.
    pub needs_username: bool,
    /// Seconds before the next PIN is accepted (0: now).
    #[ts(type = "number")]
    pub retry_in: u64,
    /// Minutes without use after which the window locks itself; 0 never.
    pub auto_lock_minutes: u32,
}

impl From<enigm_client::LockStatus> for LockView {
    fn from(status: enigm_client::LockStatus) -> Self {
        Self {
            locked: status.locked,
            pin_set: status.pin_set,
            needs_username: status.needs_username,
            retry_in: status.retry_in,
            auto_lock_minutes: status.auto_lock_minutes,
        }
    }
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
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
        /// Who removed it, as this computer verified it; `null` when it could not.
        by: Option<RemovedByView>,
        /// Why: `lost`, `stolen`, `compromised`, `decommissioned`, `unspecified`, `replaced`,
        /// `recovery`, `rejected`, or `revoked` when unconfirmed.
        reason: String,
        /// The device that replaced it, when it was replaced.
        replaced_by: Option<DeviceNameView>,
    },
    /// The account was recovered on another device.
    RecoveringElsewhere,
    /// This device's secrets were wiped on the organization's instruction.
    Wiped,
}

/// A device of the account as a person recognizes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct DeviceNameView {
    /// Its label, when this computer could read it.
    pub label: Option<String>,
    /// Its short fingerprint.
    pub fingerprint: String,
}

impl From<DeviceName> for DeviceNameView {
    fn from(name: DeviceName) -> Self {
        Self {
            label: name.label,
            fingerprint: name.fingerprint,
        }
    }
}

/// Who removed this device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RemovedByView {
    /// Another device of the account.
    Device {
        /// Its label, when this computer could read it.
        label: Option<String>,
        /// Its short fingerprint.
        fingerprint: String,
    },
    /// The recovery phrase.
    Recovery,
    /// The organization that manages the account.
    Organization,
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
    /// The service refuses this device, though its own device list does not show it removed.
    RefusedByService,
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
                    Restriction::RefusedByService => RestrictionView::RefusedByService,
                },
            },
            SessionState::Revoked(Revocation {
                at,
                by,
                reason,
                replaced_by,
            }) => Self::Revoked {
                at,
                by: by.map(|by| match by {
                    RemovedBy::Device(DeviceName { label, fingerprint }) => {
                        RemovedByView::Device { label, fingerprint }
                    }
                    RemovedBy::Recovery => RemovedByView::Recovery,
                    RemovedBy::Organization => RemovedByView::Organization,
                }),
                reason,
                replaced_by: replaced_by.map(DeviceNameView::from),
            },
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
    /// When the service last saw it, to the day ("today", "3 days ago"); `None` when unknown.
    pub last_seen: Option<String>,
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
        let last_seen = view.last_seen(enigm_client::today());
        Ok(Self {
            device_id: view.device_id.to_hex(),
            fingerprint: view.fingerprint,
            label: view.label,
            state: DeviceState::parse(view.state)?,
            this_device: view.this_device,
            origin: view.origin.to_owned(),
            changed_at: view.changed_at,
            last_seen,
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

/// Where "Download activity" saved the account's signed audit trail.
#[derive(Clone, Debug, Serialize, TS)]
pub struct SavedActivity {
    /// The file, in the user's Downloads folder.
    pub path: String,
    /// How many records it holds.
    pub records: u32,
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

impl SessionStatusView {
    /// The view of the service's `GET /v1/sessions/current` answer.
    pub fn from_service(mut current: enigm_proto::SessionStatus) -> Result<Self, IpcError> {
        let mut decisions = Vec::new();
        let mut account_state = AccountState::Active;
        // Enrolling is not protected, and only a new device's concern.
        let protected = Operation::ALL
            .into_iter()
            .filter(|operation| operation.is_protected());
        for operation in protected {
            let Some(decision) = current.decisions.remove(&operation) else {
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
            device_state: DeviceState::parse(current.device_state.as_str())?,
            session_kind: current.session.kind.as_str().to_owned(),
            expires_at: current.session.expires_at,
            recovery_epoch: Some(current.recovery_epoch),
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
    /// A request moved on or closed (cancelled by the new device, say): the open requests on
    /// screen are read again.
    EnrollmentUpdated,
    /// Someone started a recovery of the account.
    RecoveryStarted,
    /// Another device joined, was replaced or was removed: every device tells its user.
    DeviceNews {
        /// What happened.
        news: DeviceNewsKind,
        /// The device it happened to, as the list now shows it.
        device: DeviceItem,
    },
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
            Self::EnrollmentUpdated => "enrollment_updated",
            Self::RecoveryStarted => "recovery_started",
            Self::DeviceNews { .. } => "device_news",
            Self::Offline { .. } => "offline",
            Self::Online => "online",
        }
    }

    /// The view of an engine update.
    pub fn new(update: &WatchUpdate) -> Result<Self, IpcError> {
        Ok(match update {
            WatchUpdate::State { state } => Self::State {
                session: state.clone().into(),
            },
            WatchUpdate::Devices { list } => Self::Devices {
                list: DeviceListView::new(list.clone(), true)?,
            },
            WatchUpdate::EnrollmentRequest { .. } => Self::EnrollmentRequested,
            WatchUpdate::EnrollmentUpdated { .. } => Self::EnrollmentUpdated,
            WatchUpdate::RecoveryStarted => Self::RecoveryStarted,
            WatchUpdate::Offline { retry_in_ms } => Self::Offline {
                retry_in_ms: *retry_in_ms,
            },
            WatchUpdate::Online => Self::Online,
        })
    }

    /// The news between two verified lists the watch delivered, one update per device.
    pub fn news(list: &DeviceList, before: &DeviceList) -> Result<Vec<Self>, IpcError> {
        list.news_since(before)
            .into_iter()
            .map(|(news, device)| {
                Ok(Self::DeviceNews {
                    news: news.into(),
                    device: DeviceItem::try_from(device.clone())?,
                })
            })
            .collect()
    }
}

/// What happened to another device, for [`SessionUpdate::DeviceNews`].
#[derive(Clone, Copy, Debug, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DeviceNewsKind {
    /// It became active.
    Joined,
    /// A newer device took its place.
    Replaced,
    /// It was removed from the account.
    Removed,
}

impl From<DeviceNews> for DeviceNewsKind {
    fn from(news: DeviceNews) -> Self {
        match news {
            DeviceNews::Joined => Self::Joined,
            DeviceNews::Replaced => Self::Replaced,
            DeviceNews::Removed => Self::Removed,
        }
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
        /// On the approving device: the device this new one replaces (checked against this
        /// computer's verified ledger), which approving removes.
        replaces: Option<ReplacedDeviceView>,
    },
}

/// The device a new device replaces: approving the new one removes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct ReplacedDeviceView {
    /// Its device id (hex).
    pub device_id: String,
    /// Its short fingerprint.
    pub fingerprint: String,
    /// Its label, when this computer can decrypt it.
    pub label: Option<String>,
}

impl ReplacedDeviceView {
    fn new(device: enigm_core::identity::DeviceId, label: Option<String>) -> Self {
        Self {
            device_id: device.to_hex(),
            fingerprint: device.fingerprint(),
            label,
        }
    }
}

impl From<enigm_client::ReplacedView> for ReplacedDeviceView {
    fn from(replaced: enigm_client::ReplacedView) -> Self {
        Self::new(replaced.device_id, replaced.label)
    }
}

impl EnrollmentProgress {
    /// The view of the engine's short code, with the device it replaces on the approving side.
    pub fn code(
        code: enigm_client::ShortCodeView,
        replaces: Option<enigm_client::ReplacedView>,
    ) -> Self {
        Self::Code {
            replaces: replaces.map(Into::into),
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
    /// The approving device said no.
    Rejected,
    /// The request passed its time.
    Expired,
    /// A side gave up.
    Cancelled,
    /// A user, on either side, saw a different code: nothing was added.
    CodesDiffer,
}

impl From<enigm_client::EnrollmentOutcome> for EnrollmentOutcomeView {
    fn from(outcome: enigm_client::EnrollmentOutcome) -> Self {
        match outcome {
            enigm_client::EnrollmentOutcome::Active => Self::Active,
            enigm_client::EnrollmentOutcome::Rejected => Self::Rejected,
            enigm_client::EnrollmentOutcome::Expired => Self::Expired,
            enigm_client::EnrollmentOutcome::Cancelled => Self::Cancelled,
            enigm_client::EnrollmentOutcome::CodesDiffer => Self::CodesDiffer,
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
    /// The device it asks to replace, if any: approving removes that device.
    pub replaces: Option<ReplacedDeviceView>,
    /// It replaces this computer, which therefore cannot approve it (another device must).
    pub replaces_this_device: bool,
}

impl From<enigm_client::EnrollmentRequest> for EnrollmentRequestView {
    fn from(request: enigm_client::EnrollmentRequest) -> Self {
        Self {
            id: request.id,
            platform: request.platform,
            fingerprint: request.fingerprint,
            created_at: request.created_at,
            state: request.state,
            replaces: request
                .replaces
                .map(|device| ReplacedDeviceView::new(device, request.replaces_label)),
            replaces_this_device: request.replaces_this_device,
        }
    }
}

/// The recovery phrase's word list, sent once so the UI can complete what is typed; which words
/// are valid is still decided by [`PhraseCheck`].
#[derive(Debug, Serialize, TS)]
pub struct RecoveryWordList {
    /// How many words a phrase has.
    #[ts(type = "number")]
    pub count: usize,
    /// Every list word, in list order.
    pub words: Vec<String>,
}

impl RecoveryWordList {
    /// The core's BIP39 English list, gathered through its completion (every word starts with
    /// a letter).
    pub fn english() -> Self {
        let words = ('a'..='z')
            .flat_map(|letter| recovery::complete(letter.encode_utf8(&mut [0; 4])))
            .map(str::to_owned)
            .collect();
        Self {
            count: recovery::WORD_COUNT,
            words,
        }
    }
}

/// One typed word of a recovery phrase, as the core reads it.
#[derive(Debug, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum WordCheck {
    /// Nothing typed yet.
    Empty,
    /// The start of one or more list words, not yet one the phrase accepts.
    Prefix,
    /// Accepted; `word` is the list word it stands for (`aban` stands for `abandon`).
    Valid {
        /// The full list word.
        word: String,
    },
    /// No list word starts like this.
    Unknown,
}

/// Where the typed phrase stands as a whole.
#[derive(Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum PhraseStatus {
    /// Some word is missing or not a list word.
    Incomplete,
    /// Every word is a list word, but the checksum does not match: a word is wrong or out of
    /// order.
    ChecksumFailed,
    /// The phrase is well formed; only the service can say whether it is this account's.
    Valid,
}

/// The check of a phrase being typed: each word, then the whole.
#[derive(Debug, Serialize, TS)]
pub struct PhraseCheck {
    /// One check per typed field, in order.
    pub words: Vec<WordCheck>,
    /// The phrase as a whole.
    pub status: PhraseStatus,
}

impl PhraseCheck {
    /// Reads `words` (one per field) with the core's rules.
    pub fn new(words: &[String]) -> Self {
        let checks: Vec<WordCheck> = words
            .iter()
            .map(|typed| {
                if typed.trim().is_empty() {
                    WordCheck::Empty
                } else if let Some(word) = recovery::resolve_word(typed) {
                    WordCheck::Valid {
                        word: word.to_owned(),
                    }
                } else if recovery::complete(typed).is_empty() {
                    WordCheck::Unknown
                } else {
                    WordCheck::Prefix
                }
            })
            .collect();
        let every_word = checks.len() == recovery::WORD_COUNT
            && checks
                .iter()
                .all(|check| matches!(check, WordCheck::Valid { .. }));
        let status = if !every_word {
            PhraseStatus::Incomplete
        } else {
            let joined = zeroize::Zeroizing::new(words.join(" "));
            match recovery::RecoveryPhrase::parse(&joined) {
                Ok(_) => PhraseStatus::Valid,
                Err(enigm_core::Error::RecoveryPhraseChecksum) => PhraseStatus::ChecksumFailed,
                Err(_) => PhraseStatus::Incomplete,
            }
        };
        Self {
            words: checks,
            status,
        }
    }
}

/// Who made a change in the device history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ActorView {
    /// A device of the account (`by` names it).
    Device,
    /// The recovery phrase.
    RecoveryKey,
    /// The organization that manages the account.
    Organization,
}

impl From<Actor> for ActorView {
    fn from(actor: Actor) -> Self {
        match actor {
            Actor::Device => Self::Device,
            Actor::RecoveryKey => Self::RecoveryKey,
            Actor::Organization => Self::Organization,
        }
    }
}

/// A stretch of a device's life in one state, from the ledger entry that started it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct TimelineSegment {
    /// Ledger position of the entry that put the device in this state.
    #[ts(type = "number")]
    pub from_seq: u64,
    /// The state.
    pub state: DeviceState,
    /// The entry's kind (`genesis`, `add_device`, `revoke`, `recover`, ...).
    pub change: String,
    /// Who made the change.
    pub actor: ActorView,
    /// The device that made it, when a device did (hex id).
    pub by: Option<String>,
    /// Why it was revoked, when the entry says.
    pub reason: Option<String>,
}

/// One device's lane: its states over the ledger's history.
#[derive(Clone, Debug, Serialize, TS)]
pub struct TimelineLane {
    /// The device id (hex).
    pub device_id: String,
    /// The short fingerprint users compare.
    pub fingerprint: String,
    /// The label, when this computer can read it.
    pub label: Option<String>,
    /// Whether it is the computer running this app.
    pub this_device: bool,
    /// Its states, oldest first; the last one lasts until the head.
    pub segments: Vec<TimelineSegment>,
}

/// A change to the account itself, not to one device (a new recovery phrase, an organization).
#[derive(Clone, Debug, Serialize, TS)]
pub struct TimelineMark {
    /// Ledger position.
    #[ts(type = "number")]
    pub seq: u64,
    /// The entry's kind (`rotate_recovery`, `join_organization`, `leave_organization`).
    pub kind: String,
    /// Who made the change.
    pub actor: ActorView,
    /// The device that made it, when a device did (hex id).
    pub by: Option<String>,
}

/// The account's device history from the verified ledger, one lane per device, for the
/// timeline picture and its text alternative.
#[derive(Clone, Debug, Serialize, TS)]
pub struct DeviceTimelineView {
    /// The verified head's sequence number: where the lanes end.
    #[ts(type = "number")]
    pub head_seq: u64,
    /// One lane per device, in the order they joined.
    pub lanes: Vec<TimelineLane>,
    /// The account-wide changes.
    pub marks: Vec<TimelineMark>,
}

impl DeviceTimelineView {
    /// Replays the verified history through the core's lifecycle to get each device's states;
    /// names and labels come from the verified device list.
    pub fn new(history: &LedgerHistory, list: &DeviceList) -> Result<Self, IpcError> {
        let mut lanes: Vec<(DeviceId, lifecycle::DeviceState, TimelineLane)> = Vec::new();
        let mut marks = Vec::new();
        let mut replaces = std::collections::BTreeMap::new();
        for entry in &history.entries {
            let segment = |state: lifecycle::DeviceState| -> Result<TimelineSegment, IpcError> {
                Ok(TimelineSegment {
                    from_seq: entry.seq,
                    state: DeviceState::parse(state.as_str())?,
                    change: entry.kind.to_owned(),
                    actor: entry.actor.into(),
                    by: entry.by.as_ref().map(DeviceId::to_hex),
                    reason: entry.reason.map(str::to_owned),
                })
            };
            let mut moves: Vec<(DeviceId, LifecycleEvent)> = Vec::new();
            let mut joined: Option<(DeviceId, bool)> = None;
            match (entry.kind, entry.device) {
                ("genesis", Some(device)) => joined = Some((device, false)),
                ("add_device", Some(device)) => {
                    // The core decides review from the organization's mode, which the history
                    // does not carry; a device went to review exactly when a review of it
                    // follows or it is still in review.
                    let reviewed = history.entries.iter().any(|later| {
                        later.seq > entry.seq
                            && later.kind == "review"
                            && later.device == entry.device
                    }) || list
                        .devices
                        .iter()
                        .any(|view| view.device_id == device && view.state == "review");
                    joined = Some((device, reviewed));
                    if let Some(old) = entry.replaces {
                        replaces.insert(device, old);
                    }
                }
                ("suspend", Some(device)) => moves.push((device, LifecycleEvent::Suspend)),
                ("resume", Some(device)) => moves.push((device, LifecycleEvent::Resume)),
                ("revoke", Some(device)) => moves.push((device, LifecycleEvent::Revoke)),
                ("retire", Some(device)) => moves.push((device, LifecycleEvent::Retire)),
                ("review", Some(device)) => moves.push((
                    device,
                    if entry.approved == Some(true) {
                        LifecycleEvent::ReviewApprove
                    } else {
                        LifecycleEvent::ReviewReject
                    },
                )),
                ("recover", Some(device)) => {
                    moves.extend(
                        entry
                            .revoked
                            .iter()
                            .map(|lost| (*lost, LifecycleEvent::Revoke)),
                    );
                    joined = Some((device, false));
                }
                (kind, _) => marks.push(TimelineMark {
                    seq: entry.seq,
                    kind: kind.to_owned(),
                    actor: entry.actor.into(),
                    by: entry.by.as_ref().map(DeviceId::to_hex),
                }),
            }
            for (device, event) in moves {
                step(&mut lanes, device, event, &segment)?;
            }
            if let Some((device, needs_review)) = joined {
                let state = lifecycle::transition(
                    lifecycle::DeviceState::Pending,
                    LifecycleEvent::Approve { needs_review },
                )
                .map_err(|error| IpcError::internal(&error))?;
                let view = list
                    .devices
                    .iter()
                    .find(|view| view.device_id == device)
                    .ok_or_else(|| {
                        IpcError::internal(&"a device of the history is not in the list")
                    })?;
                lanes.push((
                    device,
                    state,
                    TimelineLane {
                        device_id: device.to_hex(),
                        fingerprint: view.fingerprint.clone(),
                        label: view.label.clone(),
                        this_device: view.this_device,
                        segments: vec![segment(state)?],
                    },
                ));
            }
            // Once a successor is active, the device it replaces is replaced.
            if let Some(device) = entry.device
                && let Some(old) = replaces.get(&device).copied()
                && lanes
                    .iter()
                    .any(|(id, state, _)| *id == device && state.is_active())
            {
                replaces.remove(&device);
                step(&mut lanes, old, LifecycleEvent::Replace, &segment)?;
            }
        }
        Ok(Self {
            head_seq: history.head.seq,
            lanes: lanes.into_iter().map(|(_, _, lane)| lane).collect(),
            marks,
        })
    }
}

/// Moves `device`'s lane on by `event`, as the core's lifecycle allows.
fn step(
    lanes: &mut [(DeviceId, lifecycle::DeviceState, TimelineLane)],
    device: DeviceId,
    event: LifecycleEvent,
    segment: &dyn Fn(lifecycle::DeviceState) -> Result<TimelineSegment, IpcError>,
) -> Result<(), IpcError> {
    let (_, state, lane) = lanes
        .iter_mut()
        .find(|(id, _, _)| *id == device)
        .ok_or_else(|| IpcError::internal(&"the history changes a device before it joined"))?;
    *state = lifecycle::transition(*state, event).map_err(|error| IpcError::internal(&error))?;
    lane.segments.push(segment(*state)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use enigm_client::EntryView;

    /// The TypeScript declarations of every IPC type, as checked in at `ui/src/lib/bindings.ts`.
    fn typescript() -> String {
        let cfg = ts_rs::Config::new().with_large_int("number");
        let declarations = [
            IpcError::decl(&cfg),
            AppStatus::decl(&cfg),
            LockView::decl(&cfg),
            StoreStatus::decl(&cfg),
            SessionView::decl(&cfg),
            DeviceNameView::decl(&cfg),
            RemovedByView::decl(&cfg),
            RestrictionView::decl(&cfg),
            DeviceState::decl(&cfg),
            DeviceItem::decl(&cfg),
            DeviceListView::decl(&cfg),
            CreatedAccount::decl(&cfg),
            NewRecoveryPhrase::decl(&cfg),
            SignOutView::decl(&cfg),
            SavedActivity::decl(&cfg),
            DeviceAction::decl(&cfg),
            OutcomeView::decl(&cfg),
            ReasonView::decl(&cfg),
            DecisionView::decl(&cfg),
            AccountState::decl(&cfg),
            SessionStatusView::decl(&cfg),
            SessionUpdate::decl(&cfg),
            DeviceNewsKind::decl(&cfg),
            EmojiView::decl(&cfg),
            EnrollmentProgress::decl(&cfg),
            EnrollmentOutcomeView::decl(&cfg),
            EnrollmentRequestView::decl(&cfg),
            ReplacedDeviceView::decl(&cfg),
            RecoveryWordList::decl(&cfg),
            WordCheck::decl(&cfg),
            PhraseStatus::decl(&cfg),
            PhraseCheck::decl(&cfg),
            ActorView::decl(&cfg),
            TimelineSegment::decl(&cfg),
            TimelineLane::decl(&cfg),
            TimelineMark::decl(&cfg),
            DeviceTimelineView::decl(&cfg),
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
            "recovery_epoch": 0,
            "device_id": "00",
            "device_state": "suspended",
            "decisions": {
                "sync": {"outcome": "deny", "reasons": [{"code": "device_suspended"}]},
                "enroll": {"outcome": "deny", "reasons": [{"code": "device_already_enrolled"}]},
                "admin": {"outcome": "deny", "reasons": [{"code": "account_locked", "until": null}]}
            }
        });
        let view = SessionStatusView::from_service(serde_json::from_value(value).unwrap()).unwrap();
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

    #[test]
    fn the_word_list_is_the_cores_whole_list() {
        let list = RecoveryWordList::english();
        assert_eq!(list.count, 24);
        assert_eq!(list.words.len(), 2048);
        assert_eq!(list.words.first().map(String::as_str), Some("abandon"));
        assert_eq!(list.words.last().map(String::as_str), Some("zoo"));
    }

    fn typed(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| (*word).to_owned()).collect()
    }

    #[test]
    fn a_typed_phrase_is_checked_word_by_word_then_as_a_whole() {
        // BIP39's all-zero vector: 23 times "abandon", then "art".
        let mut words = vec!["abandon"; 23];
        words.push("art");
        assert_eq!(PhraseCheck::new(&typed(&words)).status, PhraseStatus::Valid);

        words[0] = "ABAN";
        words[1] = "ab";
        words[2] = "xyzzy";
        words[3] = " ";
        let check = PhraseCheck::new(&typed(&words));
        assert_eq!(
            check.words[..4],
            [
                WordCheck::Valid {
                    word: "abandon".to_owned()
                },
                WordCheck::Prefix,
                WordCheck::Unknown,
                WordCheck::Empty,
            ]
        );
        assert_eq!(check.status, PhraseStatus::Incomplete);

        let check = PhraseCheck::new(&typed(&["abandon"; 24]));
        assert_eq!(check.status, PhraseStatus::ChecksumFailed);
        let check = PhraseCheck::new(&typed(&["abandon"; 23]));
        assert_eq!(check.status, PhraseStatus::Incomplete);
    }

    fn id(byte: u8) -> DeviceId {
        DeviceId::from_bytes([byte; 16])
    }

    fn entry(seq: u64, kind: &'static str, device: Option<u8>, actor: Actor) -> EntryView {
        EntryView {
            seq,
            hash: [0; 32],
            kind,
            device: device.map(id),
            actor,
            by: (actor == Actor::Device).then(|| id(1)),
            reason: None,
            replaces: None,
            revoked: Vec::new(),
            approved: None,
        }
    }

    fn device(byte: u8, state: &'static str) -> DeviceView {
        DeviceView {
            device_id: id(byte),
            fingerprint: format!("FP{byte}"),
            label: None,
            state,
            this_device: byte == 3,
            origin: "enrollment",
            approved_by: None,
            added_at: 0,
            changed_at: 0,
            replaces: None,
            replaced_by: None,
            last_seen_day: None,
        }
    }

    fn lane_states(view: &DeviceTimelineView, lane: usize) -> Vec<(u64, DeviceState)> {
        view.lanes[lane]
            .segments
            .iter()
            .map(|segment| (segment.from_seq, segment.state))
            .collect()
    }

    #[test]
    fn the_timeline_replays_each_devices_states_and_who_changed_them() {
        let mut recover = entry(3, "recover", Some(3), Actor::RecoveryKey);
        recover.revoked = vec![id(2)];
        let mut replace = entry(5, "add_device", Some(4), Actor::Device);
        replace.replaces = Some(id(1));
        let history = LedgerHistory {
            entries: vec![
                entry(0, "genesis", Some(1), Actor::Device),
                entry(1, "add_device", Some(2), Actor::Device),
                entry(2, "suspend", Some(2), Actor::Device),
                recover,
                entry(4, "rotate_recovery", None, Actor::Device),
                replace,
            ],
            head: enigm_client::HeadView {
                seq: 5,
                hash: [0; 32],
            },
            verified: true,
        };
        let list = DeviceList {
            devices: vec![
                device(1, "replaced"),
                device(2, "revoked"),
                device(3, "active"),
                device(4, "active"),
            ],
            head: history.head,
            verified: true,
        };
        let view = DeviceTimelineView::new(&history, &list).unwrap();
        assert_eq!(view.head_seq, 5);
        use DeviceState::{Active, Replaced, Revoked, Suspended};
        assert_eq!(lane_states(&view, 0), [(0, Active), (5, Replaced)]);
        assert_eq!(
            lane_states(&view, 1),
            [(1, Active), (2, Suspended), (3, Revoked)]
        );
        assert_eq!(lane_states(&view, 2), [(3, Active)]);
        assert_eq!(lane_states(&view, 3), [(5, Active)]);
        // Each lane ends in the state the verified list shows.
        for (lane, listed) in view.lanes.iter().zip(&list.devices) {
            let last = lane.segments.last().unwrap().state;
            assert_eq!(last, DeviceState::parse(listed.state).unwrap());
        }
        let lost = &view.lanes[1].segments[2];
        assert_eq!(lost.actor, ActorView::RecoveryKey);
        assert_eq!(lost.by, None);
        let added = &view.lanes[1].segments[0];
        assert_eq!(added.by.as_deref(), Some(id(1).to_hex().as_str()));
        assert!(view.lanes[2].this_device);
        assert_eq!(view.marks.len(), 1);
        assert_eq!(view.marks[0].kind, "rotate_recovery");
    }

    #[test]
    fn a_history_the_lifecycle_forbids_is_refused() {
        let history = LedgerHistory {
            entries: vec![
                entry(0, "genesis", Some(1), Actor::Device),
                entry(1, "resume", Some(1), Actor::Device),
            ],
            head: enigm_client::HeadView {
                seq: 1,
                hash: [0; 32],
            },
            verified: true,
        };
        let list = DeviceList {
            devices: vec![device(1, "active")],
            head: history.head,
            verified: true,
        };
        let error = DeviceTimelineView::new(&history, &list).unwrap_err();
        assert_eq!(error.code, "internal");
    }
}
