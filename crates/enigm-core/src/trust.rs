//! Trust evaluation (DESIGN §6, §11): one pure function decides whether an operation may run.
//!
//! [`evaluate`] takes everything that matters (the account, the session, the device, the
//! policy, the time) as a [`TrustInput`] and returns a [`Decision`]: allow, deny or step up,
//! with every applicable [`Reason`]. The service calls it on every request to enforce; the
//! client calls it with the same input to show the user where they stand. Because it is pure
//! (no clock, no I/O) both sides reach the same verdict and the table tests pin it.
//!
//! Rules, in short:
//!
//! - Every operation but [`Operation::Enroll`] is *protected*: it needs a signed-in, unexpired,
//!   full session from the account's current recovery epoch, an active (unlocked, not
//!   recovering) account, and an [`DeviceState::Active`] device that has verified the ledger and
//!   still holds its key.
//! - Enrollment is an operation of its own rather than a side check, so the service enforces
//!   "a restricted session can only enroll" through the same function: an
//!   [`SessionKind::EnrollmentRestricted`] session is refused every protected operation, and
//!   [`Operation::Enroll`] is allowed only for a device that is still `Pending` or in `Review`
//!   (the enrollment request is what makes the device `Pending`). The ledger is not required to
//!   be verified for enrollment: the new device only verifies it at the end of the flow.
//! - Sensitive operations ([`Operation::needs_recent_strong_auth`]) need a strong
//!   authentication (password) within [`Policy::step_up_window_secs`]; otherwise the outcome is
//!   [`Outcome::StepUp`].
//! - Posture (DESIGN §11) is checked only where [`Policy::posture`] requires a category for the
//!   operation; see [`PostureLevel`] for how `warn` and `unknown` are treated.
//!
//! Time windows are half-open: a session is valid on `[issued_at, expires_at)`, so at exactly
//! `expires_at` it has expired; a strong authentication at `t` covers `[t, t + window)`; a lock
//! until `u` lapses at exactly `u`. Elapsed times saturate at zero, so a timestamp slightly in
//! the future (clock skew between client and service) counts as "just now", never as a wrap.
//!
//! The outcome is the most severe among the reasons: any deny reason denies (even when a step-up
//! would also be needed, and that step-up reason is still listed), otherwise any step-up reason
//! asks for a step-up, otherwise the operation is allowed. An allowed decision may still carry
//! advisory reasons (posture results the policy tolerates) for the UI to show.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::lifecycle::DeviceState;

/// A point in time in whole seconds since the Unix epoch, passed in by the caller (the core
/// never reads a clock).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// Seconds from `earlier` to `self`, zero when `earlier` is later (clock skew), so a
    /// slightly-future timestamp reads as "just now" instead of wrapping around.
    pub const fn seconds_since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Its day as days since the Unix epoch (UTC): the grain of a device's "last seen", which
    /// the service keeps no finer so that it cannot tell when someone is at their computer.
    pub const fn day(self) -> u64 {
        self.0 / 86_400
    }
}

/// What a request wants to do. Each maps to a set of requirements in [`evaluate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Operation {
    /// Take part in enrollment by approval as the *new* device (DESIGN §7). The only operation
    /// an enrollment-restricted session may perform, and the only one that is not protected.
    Enroll,
    /// Send and receive messages.
    Messaging,
    /// Place and receive calls.
    Calls,
    /// Read and write what devices share through the service (sealed under the sync key).
    Sync,
    /// Use the device's keys for the account (sign, unseal the account sync key).
    KeyUse,
    /// Approve another device's enrollment request (as the existing, trusted device).
    ApproveEnrollment,
    /// Suspend, resume, revoke, replace or retire devices; rotate the recovery key; change
    /// the account's password (who can act for the account, as much as the device list).
    ChangeDevices,
    /// Act in Enigm Command as an organization administrator.
    Admin,
}

impl Operation {
    /// Every operation (for tables and exhaustive tests).
    pub const ALL: [Operation; 8] = [
        Operation::Enroll,
        Operation::Messaging,
        Operation::Calls,
        Operation::Sync,
        Operation::KeyUse,
        Operation::ApproveEnrollment,
        Operation::ChangeDevices,
        Operation::Admin,
    ];

    /// The stable lower-case name used in JSON and by the CLI.
    pub const fn as_str(self) -> &'static str {
        match self {
            Operation::Enroll => "enroll",
            Operation::Messaging => "messaging",
            Operation::Calls => "calls",
            Operation::Sync => "sync",
            Operation::KeyUse => "key_use",
            Operation::ApproveEnrollment => "approve_enrollment",
            Operation::ChangeDevices => "change_devices",
            Operation::Admin => "admin",
        }
    }

    /// Protected operations need full account *and* device trust (DESIGN §6). Only enrollment
    /// is not protected: it is how an untrusted device becomes trusted.
    pub const fn is_protected(self) -> bool {
        match self {
            Operation::Enroll => false,
            Operation::Messaging
            | Operation::Calls
            | Operation::Sync
            | Operation::KeyUse
            | Operation::ApproveEnrollment
            | Operation::ChangeDevices
            | Operation::Admin => true,
        }
    }

    /// Operations that change who can act for the account, or use its keys, need the user to
    /// have proved their password recently: a stolen unlocked session must not be enough.
    pub const fn needs_recent_strong_auth(self) -> bool {
        match self {
            Operation::KeyUse
            | Operation::ApproveEnrollment
            | Operation::ChangeDevices
            | Operation::Admin => true,
            Operation::Enroll | Operation::Messaging | Operation::Calls | Operation::Sync => false,
        }
    }

    /// Only administrators may act in Enigm Command.
    pub const fn needs_admin_role(self) -> bool {
        match self {
            Operation::Admin => true,
            Operation::Enroll
            | Operation::Messaging
            | Operation::Calls
            | Operation::Sync
            | Operation::KeyUse
            | Operation::ApproveEnrollment
            | Operation::ChangeDevices => false,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a session was issued for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum SessionKind {
    /// Issued to an active device after a full login: may do anything its trust allows.
    Full,
    /// Issued to a device that is enrolling: may do nothing but [`Operation::Enroll`].
    EnrollmentRestricted,
}

impl SessionKind {
    /// Both kinds.
    pub const ALL: [SessionKind; 2] = [SessionKind::Full, SessionKind::EnrollmentRestricted];

    /// The wire name, also what the client's store keeps.
    pub const fn as_str(self) -> &'static str {
        match self {
            SessionKind::Full => "full",
            SessionKind::EnrollmentRestricted => "enrollment_restricted",
        }
    }

    /// Parses [`SessionKind::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// The facts about the request's session that trust depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Session {
    /// Full or enrollment-restricted.
    pub kind: SessionKind,
    /// When the session was created by a login.
    pub issued_at: Timestamp,
    /// When the service stops honouring it (refresh moves this forward, not `issued_at`).
    pub expires_at: Timestamp,
    /// The last time the user proved their password (login or step-up).
    pub strong_auth_at: Timestamp,
    /// The account's recovery epoch when the session was created; a recovery bumps the
    /// account's epoch and so kills every older session (DESIGN §8).
    pub recovery_epoch: u64,
}

/// Where the account as a whole stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AccountState {
    /// Usable.
    Active,
    /// Temporarily closed (too many failed logins, or an administrator's hold).
    Locked {
        /// When the lock lapses by itself; `None` until an administrator or a recovery lifts it.
        until: Option<Timestamp>,
    },
    /// A recovery is in progress; nothing runs until it completes and the epoch moves on.
    Recovering,
}

/// An organization administrator's role (DESIGN §10). Ordered from least to most power, so
/// Command's finer per-action checks can compare roles; [`evaluate`] only asks for any role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminRole {
    /// May look at inventory, posture and audit.
    Viewer,
    /// May also review enrollments and suspend or revoke devices.
    Operator,
    /// May also change policy and administrators.
    Owner,
}

/// The account side of trust.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AccountTrust {
    /// Active, locked or recovering.
    pub state: AccountState,
    /// The account's current recovery epoch (bumped by every recovery).
    pub recovery_epoch: u64,
    /// The account's role in its organization's Command, if it administers one.
    pub admin_role: Option<AdminRole>,
}

/// A posture category reported by a posture provider (DESIGN §11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostureCategory {
    /// Enigm OS Trust Security Center posture.
    TrustCenter,
    /// Device-management enrollment state.
    DeviceManagement,
    /// Network-policy state.
    NetworkPolicy,
    /// Privacy-mode state.
    PrivacyMode,
    /// Verification of over-the-air updates.
    OtaVerification,
    /// Remote attestation outcome.
    Attestation,
}

impl PostureCategory {
    /// Every category, in the order reasons are listed.
    pub const ALL: [PostureCategory; 6] = [
        PostureCategory::TrustCenter,
        PostureCategory::DeviceManagement,
        PostureCategory::NetworkPolicy,
        PostureCategory::PrivacyMode,
        PostureCategory::OtaVerification,
        PostureCategory::Attestation,
    ];

    /// The stable lower-case name used in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            PostureCategory::TrustCenter => "trust_center",
            PostureCategory::DeviceManagement => "device_management",
            PostureCategory::NetworkPolicy => "network_policy",
            PostureCategory::PrivacyMode => "privacy_mode",
            PostureCategory::OtaVerification => "ota_verification",
            PostureCategory::Attestation => "attestation",
        }
    }

    /// How the category is named in sentences shown to users.
    pub const fn label(self) -> &'static str {
        match self {
            PostureCategory::TrustCenter => "the Trust Security Center check",
            PostureCategory::DeviceManagement => "the device-management check",
            PostureCategory::NetworkPolicy => "the network-policy check",
            PostureCategory::PrivacyMode => "the privacy-mode check",
            PostureCategory::OtaVerification => "the system-update verification",
            PostureCategory::Attestation => "remote attestation",
        }
    }
}

/// What a posture provider said about one category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostureOutcome {
    /// The check passed.
    Pass,
    /// The check passed with a concern.
    Warn,
    /// The check failed.
    Fail,
    /// Nothing is known: no provider, or it did not report this category.
    Unknown,
}

impl PostureOutcome {
    /// The stable lower-case name used in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            PostureOutcome::Pass => "pass",
            PostureOutcome::Warn => "warn",
            PostureOutcome::Fail => "fail",
            PostureOutcome::Unknown => "unknown",
        }
    }
}

/// A device's posture, one outcome per category. The default (no provider, DESIGN §11) is
/// `Unknown` everywhere, which only matters where a policy requires a category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct Posture {
    /// Trust Security Center posture.
    pub trust_center: PostureOutcome,
    /// Device-management state.
    pub device_management: PostureOutcome,
    /// Network-policy state.
    pub network_policy: PostureOutcome,
    /// Privacy-mode state.
    pub privacy_mode: PostureOutcome,
    /// OTA update verification.
    pub ota_verification: PostureOutcome,
    /// Remote attestation.
    pub attestation: PostureOutcome,
}

impl Default for Posture {
    fn default() -> Self {
        Self {
            trust_center: PostureOutcome::Unknown,
            device_management: PostureOutcome::Unknown,
            network_policy: PostureOutcome::Unknown,
            privacy_mode: PostureOutcome::Unknown,
            ota_verification: PostureOutcome::Unknown,
            attestation: PostureOutcome::Unknown,
        }
    }
}

impl Posture {
    /// The outcome reported for `category`.
    pub const fn get(&self, category: PostureCategory) -> PostureOutcome {
        match category {
            PostureCategory::TrustCenter => self.trust_center,
            PostureCategory::DeviceManagement => self.device_management,
            PostureCategory::NetworkPolicy => self.network_policy,
            PostureCategory::PrivacyMode => self.privacy_mode,
            PostureCategory::OtaVerification => self.ota_verification,
            PostureCategory::Attestation => self.attestation,
        }
    }

    /// Sets the outcome for `category` (for providers and tests building a report).
    pub fn set(&mut self, category: PostureCategory, outcome: PostureOutcome) {
        let slot = match category {
            PostureCategory::TrustCenter => &mut self.trust_center,
            PostureCategory::DeviceManagement => &mut self.device_management,
            PostureCategory::NetworkPolicy => &mut self.network_policy,
            PostureCategory::PrivacyMode => &mut self.privacy_mode,
            PostureCategory::OtaVerification => &mut self.ota_verification,
            PostureCategory::Attestation => &mut self.attestation,
        };
        *slot = outcome;
    }
}

/// How strictly a required posture category is enforced. `fail` always denies; the levels
/// differ on `warn` and `unknown`:
///
/// | outcome   | `require_pass` | `allow_warn` | `deny_fail_only` |
/// |-----------|----------------|--------------|------------------|
/// | `pass`    | allow          | allow        | allow            |
/// | `warn`    | deny           | advisory     | advisory         |
/// | `unknown` | deny           | deny         | advisory         |
/// | `fail`    | deny           | deny         | deny             |
///
/// `unknown` denies under `allow_warn` because a policy that names a category wants evidence;
/// `deny_fail_only` is for fleets where Enigm OS is optional and only a reported failure counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostureLevel {
    /// Only a reported failure denies; `warn` and `unknown` are advisory. Least strict.
    DenyFailOnly,
    /// `pass` or `warn` is accepted (`warn` as advisory); `unknown` and `fail` deny.
    AllowWarn,
    /// Only `pass` is accepted. Most strict.
    RequirePass,
}

/// Policy requires `category` at `level` for `operation`. When several requirements name the
/// same operation and category, the strictest level applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PostureRequirement {
    /// The operation the requirement guards.
    pub operation: Operation,
    /// The posture category it looks at.
    pub category: PostureCategory,
    /// How strictly.
    pub level: PostureLevel,
}

/// The effective policy for this account and device (account policy, merged by the caller with
/// the organization's when the account is managed).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Policy {
    /// A session older than this (since its login, refreshes notwithstanding) must log in again.
    pub session_max_age_secs: u64,
    /// How long a strong authentication covers sensitive operations.
    pub step_up_window_secs: u64,
    /// Posture requirements per operation; empty means posture is not consulted.
    pub posture: Vec<PostureRequirement>,
}

impl Policy {
    /// Default maximum session age: 30 days, after which the user logs in again.
    pub const DEFAULT_SESSION_MAX_AGE_SECS: u64 = 30 * 24 * 60 * 60;
    /// Default step-up window: 5 minutes, long enough for one task, short enough that an
    /// unattended unlocked app cannot be used to change devices.
    pub const DEFAULT_STEP_UP_WINDOW_SECS: u64 = 5 * 60;

    /// The strictest level any requirement sets for `category` on `operation`, if any.
    fn posture_level(
        &self,
        operation: Operation,
        category: PostureCategory,
    ) -> Option<PostureLevel> {
        self.posture
            .iter()
            .filter(|req| req.operation == operation && req.category == category)
            .map(|req| req.level)
            .max()
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            session_max_age_secs: Self::DEFAULT_SESSION_MAX_AGE_SECS,
            step_up_window_secs: Self::DEFAULT_STEP_UP_WINDOW_SECS,
            posture: Vec::new(),
        }
    }
}

/// The device side of trust.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeviceTrust {
    /// Lifecycle state from the verified ledger.
    #[serde(with = "device_state_name")]
    pub state: DeviceState,
    /// Whether the ledger up to the device's pinned head verified (client) or the device's
    /// last reported head matches the service's (service).
    pub ledger_verified: bool,
    /// Whether the device's private key is available (keychain entry present, store opens).
    pub key_present: bool,
    /// Posture as reported by the device's provider; all `unknown` without one.
    #[serde(default)]
    pub posture: Posture,
}

/// Everything [`evaluate`] looks at.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TrustInput {
    /// The time of the request, from the caller's clock.
    pub now: Timestamp,
    /// The account side.
    pub account: AccountTrust,
    /// The request's session; `None` when the request is not authenticated.
    pub session: Option<Session>,
    /// The device side.
    pub device: DeviceTrust,
    /// The effective policy.
    pub policy: Policy,
}

/// The verdict's kind. Ordered by severity, so the outcome of several reasons is their maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Outcome {
    /// The operation may run.
    Allow,
    /// The operation may run once the user re-enters their password.
    StepUp,
    /// The operation may not run; stepping up alone would not help.
    Deny,
}

/// One reason behind a [`Decision`]. Serialized as `{"code": "...", ...fields}`; the code is
/// stable (UI strings and scripts key on it) and [`Reason::message`] is the plain-English text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Reason {
    /// No session: the request is not signed in.
    NotAuthenticated,
    /// The session passed its expiry time.
    SessionExpired,
    /// The session is older than the policy's maximum age.
    SessionTooOld,
    /// The session predates the account's current recovery epoch.
    SessionBeforeRecovery,
    /// An enrollment-restricted session asked for a protected operation.
    SessionRestricted,
    /// The account is locked.
    AccountLocked {
        /// When the lock lapses, if it lapses by itself.
        until: Option<Timestamp>,
    },
    /// A recovery of the account is in progress.
    AccountRecovering,
    /// The device is waiting for approval by a trusted device.
    DevicePending,
    /// The device is waiting for the organization's review.
    DeviceInReview,
    /// The device is suspended.
    DeviceSuspended,
    /// The device was revoked.
    DeviceRevoked,
    /// The device was replaced by a successor.
    DeviceReplaced,
    /// The device was retired.
    DeviceRetired,
    /// An active device asked to enroll.
    DeviceAlreadyEnrolled,
    /// The device has not verified the account's ledger.
    LedgerNotVerified,
    /// The device's private key is missing.
    DeviceKeyMissing,
    /// The account holds no administrator role.
    NotAdmin,
    /// A required posture category is not good enough for the policy.
    PostureNotMet {
        /// The category.
        category: PostureCategory,
        /// What the provider reported.
        outcome: PostureOutcome,
    },
    /// A required posture category is below `pass` but the policy tolerates it.
    PostureTolerated {
        /// The category.
        category: PostureCategory,
        /// What the provider reported (`warn` or `unknown`).
        outcome: PostureOutcome,
    },
    /// The operation needs a recent strong authentication.
    StepUpRequired,
}

impl Reason {
    /// The stable lower-case code (the same string as the serialized `code` field).
    pub const fn code(&self) -> &'static str {
        match self {
            Reason::NotAuthenticated => "not_authenticated",
            Reason::SessionExpired => "session_expired",
            Reason::SessionTooOld => "session_too_old",
            Reason::SessionBeforeRecovery => "session_before_recovery",
            Reason::SessionRestricted => "session_restricted",
            Reason::AccountLocked { .. } => "account_locked",
            Reason::AccountRecovering => "account_recovering",
            Reason::DevicePending => "device_pending",
            Reason::DeviceInReview => "device_in_review",
            Reason::DeviceSuspended => "device_suspended",
            Reason::DeviceRevoked => "device_revoked",
            Reason::DeviceReplaced => "device_replaced",
            Reason::DeviceRetired => "device_retired",
            Reason::DeviceAlreadyEnrolled => "device_already_enrolled",
            Reason::LedgerNotVerified => "ledger_not_verified",
            Reason::DeviceKeyMissing => "device_key_missing",
            Reason::NotAdmin => "not_admin",
            Reason::PostureNotMet { .. } => "posture_not_met",
            Reason::PostureTolerated { .. } => "posture_tolerated",
            Reason::StepUpRequired => "step_up_required",
        }
    }

    /// The outcome this reason forces on its own: the decision takes the most severe.
    pub const fn outcome(&self) -> Outcome {
        match self {
            Reason::PostureTolerated { .. } => Outcome::Allow,
            Reason::StepUpRequired => Outcome::StepUp,
            Reason::NotAuthenticated
            | Reason::SessionExpired
            | Reason::SessionTooOld
            | Reason::SessionBeforeRecovery
            | Reason::SessionRestricted
            | Reason::AccountLocked { .. }
            | Reason::AccountRecovering
            | Reason::DevicePending
            | Reason::DeviceInReview
            | Reason::DeviceSuspended
            | Reason::DeviceRevoked
            | Reason::DeviceReplaced
            | Reason::DeviceRetired
            | Reason::DeviceAlreadyEnrolled
            | Reason::LedgerNotVerified
            | Reason::DeviceKeyMissing
            | Reason::NotAdmin
            | Reason::PostureNotMet { .. } => Outcome::Deny,
        }
    }

    /// A plain-English sentence: what the user can or cannot do, and why. Carries no
    /// identifiers, so it is safe to log and to show.
    pub fn message(&self) -> String {
        match self {
            Reason::NotAuthenticated => {
                "You are not signed in on this device, so nothing can be done for the account until you sign in.".into()
            }
            Reason::SessionExpired => {
                "Your session has expired; sign in again to continue.".into()
            }
            Reason::SessionTooOld => {
                "Your session is older than your account's policy allows; sign in again to continue.".into()
            }
            Reason::SessionBeforeRecovery => {
                "This account was recovered after you signed in, so this session has ended; sign in again.".into()
            }
            Reason::SessionRestricted => {
                "This device is still enrolling: until a trusted device approves it, it can only complete enrollment.".into()
            }
            Reason::AccountLocked { until: Some(_) } => {
                "This account is temporarily locked after too many failed attempts; try again later.".into()
            }
            Reason::AccountLocked { until: None } => {
                "This account is locked until an administrator unlocks it or you recover it with your recovery phrase.".into()
            }
            Reason::AccountRecovering => {
                "A recovery of this account is in progress; nothing else can be done until it completes.".into()
            }
            Reason::DevicePending => {
                "This device is waiting for approval from one of your trusted devices.".into()
            }
            Reason::DeviceInReview => {
                "This device was approved and is waiting for your organization to review it.".into()
            }
            Reason::DeviceSuspended => {
                "This device is suspended, so it cannot be used until a trusted device or your organization resumes it.".into()
            }
            Reason::DeviceRevoked => {
                "This device was removed from the account and can no longer use it.".into()
            }
            Reason::DeviceReplaced => {
                "This device was replaced by a newer device and can no longer use the account.".into()
            }
            Reason::DeviceRetired => {
                "This device was retired and can no longer use the account.".into()
            }
            Reason::DeviceAlreadyEnrolled => {
                "This device is already a trusted device of the account, so it does not need to enroll.".into()
            }
            Reason::LedgerNotVerified => {
                "This device has not verified the account's device list, so it cannot act for the account until it does.".into()
            }
            Reason::DeviceKeyMissing => {
                "This device's key is missing from its secure storage, so it cannot act for the account; recover or re-enroll it.".into()
            }
            Reason::NotAdmin => {
                "This account is not an administrator of an organization, so it cannot use Enigm Command.".into()
            }
            Reason::PostureNotMet { category, outcome } => format!(
                "Your organization's policy does not allow this because {} reported {}.",
                category.label(),
                outcome_phrase(*outcome)
            ),
            Reason::PostureTolerated { category, outcome } => format!(
                "Allowed for now, but {} reported {}.",
                category.label(),
                outcome_phrase(*outcome)
            ),
            Reason::StepUpRequired => {
                "This action needs you to confirm your password again.".into()
            }
        }
    }
}

/// How a posture outcome reads inside a sentence.
const fn outcome_phrase(outcome: PostureOutcome) -> &'static str {
    match outcome {
        PostureOutcome::Pass => "a pass",
        PostureOutcome::Warn => "a warning",
        PostureOutcome::Fail => "a failure",
        PostureOutcome::Unknown => "nothing (its state is unknown)",
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// The verdict of [`evaluate`]: the outcome and every reason that applies, in a stable order
/// (account, session, device, administrator role, posture, step-up).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Decision {
    /// Allow, deny or step up: the most severe outcome among `reasons`.
    pub outcome: Outcome,
    /// Every reason that applies; empty for a plain allow.
    pub reasons: Vec<Reason>,
}

impl Decision {
    /// Builds a decision whose outcome is the most severe of its reasons' (allow if none).
    pub fn from_reasons(reasons: Vec<Reason>) -> Self {
        let outcome = reasons
            .iter()
            .map(Reason::outcome)
            .fold(Outcome::Allow, Outcome::max);
        Self { outcome, reasons }
    }

    /// Whether the operation may run now.
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allow
    }
}

/// Decides whether `operation` may run given `input`. Pure and total: the same input always
/// gives the same decision, on the service and on the client.
pub fn evaluate(input: &TrustInput, operation: Operation) -> Decision {
    let mut reasons = Vec::new();
    account_reasons(input, &mut reasons);
    session_reasons(input, operation, &mut reasons);
    device_reasons(&input.device, operation, &mut reasons);
    if operation.needs_admin_role() && input.account.admin_role.is_none() {
        reasons.push(Reason::NotAdmin);
    }
    posture_reasons(input, operation, &mut reasons);
    if operation.needs_recent_strong_auth()
        && let Some(session) = &input.session
        && input.now.seconds_since(session.strong_auth_at) >= input.policy.step_up_window_secs
    {
        reasons.push(Reason::StepUpRequired);
    }
    Decision::from_reasons(reasons)
}

/// Account state: every operation, enrollment included, needs an open, non-recovering account.
fn account_reasons(input: &TrustInput, reasons: &mut Vec<Reason>) {
    match input.account.state {
        AccountState::Active => {}
        AccountState::Locked { until } => {
            let lapsed = until.is_some_and(|until| input.now >= until);
            if !lapsed {
                reasons.push(Reason::AccountLocked { until });
            }
        }
        AccountState::Recovering => reasons.push(Reason::AccountRecovering),
    }
}

/// Session checks: present, unexpired, young enough, current epoch, and of the right kind.
fn session_reasons(input: &TrustInput, operation: Operation, reasons: &mut Vec<Reason>) {
    let Some(session) = &input.session else {
        reasons.push(Reason::NotAuthenticated);
        return;
    };
    if input.now >= session.expires_at {
        reasons.push(Reason::SessionExpired);
    }
    if input.now.seconds_since(session.issued_at) >= input.policy.session_max_age_secs {
        reasons.push(Reason::SessionTooOld);
    }
    if session.recovery_epoch != input.account.recovery_epoch {
        reasons.push(Reason::SessionBeforeRecovery);
    }
    match session.kind {
        SessionKind::Full => {}
        SessionKind::EnrollmentRestricted => {
            if operation.is_protected() {
                reasons.push(Reason::SessionRestricted);
            }
        }
    }
}

/// Device checks: lifecycle state, ledger, key.
fn device_reasons(device: &DeviceTrust, operation: Operation, reasons: &mut Vec<Reason>) {
    let protected = operation.is_protected();
    let state_reason = match device.state {
        DeviceState::Pending => protected.then_some(Reason::DevicePending),
        DeviceState::Review => protected.then_some(Reason::DeviceInReview),
        DeviceState::Active => (!protected).then_some(Reason::DeviceAlreadyEnrolled),
        DeviceState::Suspended => Some(Reason::DeviceSuspended),
        DeviceState::Revoked => Some(Reason::DeviceRevoked),
        DeviceState::Replaced => Some(Reason::DeviceReplaced),
        DeviceState::Retired => Some(Reason::DeviceRetired),
    };
    reasons.extend(state_reason);
    if protected && !device.ledger_verified {
        reasons.push(Reason::LedgerNotVerified);
    }
    if !device.key_present {
        reasons.push(Reason::DeviceKeyMissing);
    }
}

/// Posture checks for the categories the policy requires for this operation.
fn posture_reasons(input: &TrustInput, operation: Operation, reasons: &mut Vec<Reason>) {
    for category in PostureCategory::ALL {
        let Some(level) = input.policy.posture_level(operation, category) else {
            continue;
        };
        let outcome = input.device.posture.get(category);
        let verdict = match (outcome, level) {
            (PostureOutcome::Pass, _) => None,
            (PostureOutcome::Fail, _)
            | (PostureOutcome::Warn, PostureLevel::RequirePass)
            | (PostureOutcome::Unknown, PostureLevel::RequirePass | PostureLevel::AllowWarn) => {
                Some(Reason::PostureNotMet { category, outcome })
            }
            (PostureOutcome::Warn, PostureLevel::AllowWarn | PostureLevel::DenyFailOnly)
            | (PostureOutcome::Unknown, PostureLevel::DenyFailOnly) => {
                Some(Reason::PostureTolerated { category, outcome })
            }
        };
        reasons.extend(verdict);
    }
}

/// Serializes [`DeviceState`] by its stable lower-case name ([`DeviceState::as_str`]), so the
/// lifecycle module need not depend on serde.
mod device_state_name {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    use crate::lifecycle::DeviceState;

    pub(super) fn serialize<S: Serializer>(state: &DeviceState, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(state.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DeviceState, D::Error> {
        let name = String::deserialize(d)?;
        DeviceState::parse(&name).ok_or_else(|| D::Error::custom("unknown device state"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_starts_at_midnight_utc() {
        // 2026-12-03 is day 20_790: its first and last second, and the next day's first.
        assert_eq!(Timestamp(1_796_256_000).day(), 20_790);
        assert_eq!(Timestamp(1_796_342_399).day(), 20_790);
        assert_eq!(Timestamp(1_796_342_400).day(), 20_791);
    }

    #[test]
    fn reason_codes_match_their_serialized_tag() {
        let reasons = [
            Reason::NotAuthenticated,
            Reason::AccountLocked {
                until: Some(Timestamp(5)),
            },
            Reason::PostureNotMet {
                category: PostureCategory::Attestation,
                outcome: PostureOutcome::Fail,
            },
            Reason::StepUpRequired,
        ];
        for reason in reasons {
            let json = serde_json::to_value(reason).unwrap();
            assert_eq!(json["code"], reason.code());
            let back: Reason = serde_json::from_value(json).unwrap();
            assert_eq!(back, reason);
        }
    }

    #[test]
    fn operation_names_match_serde() {
        for op in Operation::ALL {
            assert_eq!(serde_json::to_value(op).unwrap(), op.as_str());
        }
        for category in PostureCategory::ALL {
            assert_eq!(serde_json::to_value(category).unwrap(), category.as_str());
        }
    }

    #[test]
    fn outcome_severity_order() {
        assert!(Outcome::Allow < Outcome::StepUp && Outcome::StepUp < Outcome::Deny);
        assert_eq!(Decision::from_reasons(vec![]).outcome, Outcome::Allow);
    }
}
