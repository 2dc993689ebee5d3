//! The shapes that cross IPC, generated into `ui/src/lib/bindings.ts` with ts-rs so the UI and
//! the backend cannot drift apart (a test fails on stale bindings).
//!
//! The engine's own view types cross as they are (its devices, history, session decisions,
//! enrollment, phrase checks) and enigm-core's states with them: no mirror is declared here.
//! What is left is the app's own: the start screen's status, what a command hands back once,
//! and the two events the window listens to. Field names are snake_case like the CLI's JSON
//! (DESIGN §16).

use enigm_client::{
    DeviceList, DeviceNews, DeviceView, EmojiView, LockStatus, ReplacedView, ShortCodeView,
    WatchUpdate,
};
use enigm_core::session::SessionState;
use serde::Serialize;
use ts_rs::TS;

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
    pub session: SessionState,
    /// Whether the app is locked (it then shows only the Locked screen).
    pub lock: LockStatus,
    /// The account's username as this profile saved it at sign-in: the Locked screen names the
    /// account it hides. Local and the user's own; never logged.
    pub username: Option<String>,
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

/// What a new account leaves with the user: the recovery phrase, shown once.
#[derive(Serialize, TS)]
pub struct CreatedAccount {
    /// The recovery phrase's words in order.
    pub words: Vec<String>,
}

/// A new recovery phrase, shown once; not in force (the old one still works) until confirmed.
#[derive(Serialize, TS)]
pub struct NewRecoveryPhrase {
    /// The recovery phrase's words in order.
    pub words: Vec<String>,
}

/// Where "Download activity" saved the account's signed audit trail.
#[derive(Clone, Debug, Serialize, TS)]
pub struct SavedActivity {
    /// The file, in the user's Downloads folder.
    pub path: String,
    /// How many records it holds.
    pub records: u32,
}

/// What the `session-update` event carries: the engine's live updates.
#[derive(Clone, Debug, Serialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SessionUpdate {
    /// The session state changed.
    State {
        /// The new state.
        session: SessionState,
    },
    /// The device list changed; this is the newly verified list.
    Devices {
        /// The verified list.
        list: DeviceList,
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
        news: DeviceNews,
        /// The device it happened to, as the list now shows it.
        device: DeviceView,
    },
    /// The service cannot be reached; the engine retries after `retry_in_ms`.
    Offline {
        /// Wait before the next attempt.
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
    pub fn new(update: &WatchUpdate) -> Self {
        match update {
            WatchUpdate::State { state } => Self::State {
                session: state.clone(),
            },
            WatchUpdate::Devices { list } => Self::Devices { list: list.clone() },
            WatchUpdate::EnrollmentRequest { .. } => Self::EnrollmentRequested,
            WatchUpdate::EnrollmentUpdated { .. } => Self::EnrollmentUpdated,
            WatchUpdate::RecoveryStarted => Self::RecoveryStarted,
            WatchUpdate::Offline { retry_in_ms } => Self::Offline {
                retry_in_ms: *retry_in_ms,
            },
            WatchUpdate::Online => Self::Online,
        }
    }

    /// The news between two verified lists the watch delivered, one update per device.
    pub fn news(list: &DeviceList, before: &DeviceList) -> Vec<Self> {
        list.news_since(before)
            .into_iter()
            .map(|(news, device)| Self::DeviceNews {
                news,
                device: device.clone(),
            })
            .collect()
    }
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
        replaces: Option<ReplacedView>,
    },
}

impl EnrollmentProgress {
    /// The engine's short code, with the device it replaces on the approving side.
    pub fn code(code: ShortCodeView, replaces: Option<ReplacedView>) -> Self {
        Self::Code {
            code: code.code,
            emoji: code.emoji,
            replaces,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
