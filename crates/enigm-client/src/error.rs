//! The engine's one error type. Every variant has a stable [`ClientError::code`] (what the CLI
//! prints with `--json` and the app maps to a screen) and a message a user can act on; none
//! carries a secret, a path or a raw key.

use enigm_core::session::Revocation;
use enigm_proto::ErrorCode;

/// What went wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The local store or the keychain refused (its own code and remedy pass through).
    #[error(transparent)]
    Store(#[from] enigm_store::Error),

    /// The service answered with an error. `message` is the service's own sentence.
    #[error("{message}")]
    Service {
        /// HTTP status.
        status: u16,
        /// The service's stable error code.
        code: ErrorCode,
        /// The service's message.
        message: String,
        /// Seconds to wait before retrying, when the service said so.
        retry_after: Option<u64>,
    },

    /// The service could not be reached or did not answer in time.
    #[error("the Enigm service at {0} cannot be reached; check the address and your connection")]
    Unreachable(String),

    /// The service answered something that is not what the protocol says.
    #[error("the service sent an answer this client does not understand ({0})")]
    MalformedResponse(&'static str),

    /// The service URL is not usable.
    #[error("{0}")]
    InvalidServerUrl(&'static str),

    /// OPAQUE could not finish: the password (or the username) is wrong.
    #[error("the username or password is wrong")]
    WrongPassword,

    /// The ledger the service presented does not verify, or does not extend the pinned head.
    #[error("the device list from the service failed verification: {0}")]
    LedgerRejected(#[source] enigm_core::Error),

    /// What the service presents about the ledger contradicts itself or this account.
    #[error("the device list from the service failed verification: {0}")]
    LedgerInconsistent(&'static str),

    /// A protocol construction failed locally (a key, an encoding).
    #[error("a protocol step failed: {0}")]
    Protocol(#[source] enigm_core::Error),

    /// This profile already belongs to an account.
    #[error("this profile already belongs to an account; use another profile directory")]
    AlreadyRegistered,

    /// This profile has no account yet.
    #[error("this profile has no account yet; register, enroll or recover first")]
    NoAccount,

    /// There is no session: sign in first.
    #[error("you are signed out; sign in with `enigm account login`")]
    SignedOut,

    /// This device was removed from the account; its keys are erased. The sentence says who
    /// removed it, when and why, as far as this device could verify it.
    #[error("{}", .0.describe())]
    DeviceRevoked(Box<Revocation>),

    /// This device was replaced by a newer device of the account (its enrollment named this
    /// one); its keys are erased.
    #[error("{}", .0.describe())]
    DeviceReplaced(Box<Revocation>),

    /// The service refused this device as removed (`replaced`: by a newer device), handing the
    /// ledger entry it says removed it. The engine turns it into [`ClientError::DeviceRevoked`]
    /// or [`ClientError::DeviceReplaced`] once it verified the removal and erased the keys, or
    /// into [`ClientError::ServiceRefusesDevice`] when the removal does not verify.
    #[error("the service says this device was removed from the account")]
    RemovedByService {
        /// The service's code was `device_replaced`.
        replaced: bool,
        /// The removing entry (base64url), unverified.
        entry: Option<String>,
    },

    /// The service refuses this device as removed, but no entry removing it verifies against
    /// the ledger this device verified itself (the one the service handed over, or the ledger
    /// it fetched again). A service alone cannot remove a device (DESIGN §14): nothing is
    /// erased, and the device stays as it was until its own ledger shows the removal.
    #[error(
        "the Enigm service refuses this device, but this device's own verified device list does \
         not show it removed; nothing was erased. If no device of yours removed it, the service \
         is misbehaving"
    )]
    ServiceRefusesDevice,

    /// The app is locked: this step waits until the PIN or the account password is given again.
    #[error("Enigm is locked; unlock it with your PIN or your account password first")]
    Locked,

    /// The device a replacement names cannot be replaced in its current state (the ledger
    /// rules of enigm-core: only an active device can be).
    #[error("that device is {0} and cannot be replaced; only an active device can be")]
    NotReplaceable(&'static str),

    /// The enrollment request, as relayed, names another device to replace than the one this
    /// device asked to replace (or none). The request is cancelled; nothing is signed.
    #[error(
        "the enrollment request as relayed does not replace the device this device asked to \
         replace; the request is cancelled"
    )]
    EnrollmentReplacesMismatch,

    /// The request replaces this very device: once the entry lands this device can no longer
    /// act, so it could never hand the sync key to its successor.
    #[error(
        "this device is the one the new device replaces, so it cannot approve it; approve the \
         request from another active device, or add the new device without replacing and then \
         retire this one"
    )]
    SelfReplacement,

    /// No device of the account matches the given id or prefix.
    #[error("no device of this account matches {0:?}")]
    UnknownDevice(String),

    /// Several devices match the given prefix.
    #[error("{0:?} matches more than one device; give more of the device id")]
    AmbiguousDevice(String),

    /// The requested change does not apply to the device in its current state.
    #[error("{0}")]
    NotAllowed(&'static str),

    /// What was typed is not a recovery phrase: too few or too many words, a word not in the
    /// list (with the closest list words as suggestions), or a bad checksum.
    #[error("{}", phrase_message(.0))]
    Phrase(#[source] enigm_core::Error),

    /// A sealed copy of the account sync key was refused: malformed or unsigned, not signed by
    /// a device active in this device's verified ledger at the head it names, sealed to another
    /// device, or it does not open (a hostile or broken service). Nothing was saved.
    #[error("the account sync key from the service was refused: {0}")]
    SyncKeyRefused(#[source] enigm_core::Error),

    /// Another device of the account signed a view of the device list that the service does not
    /// show this device: a later entry (`seen` after `served`), or another entry at the same
    /// place. The service may be hiding a change such as a revoked device, so nothing that
    /// depends on the device list is done until it shows that entry. The warning is kept in the
    /// store and lifts by itself once a sync reaches the entry the other device saw.
    #[error(
        "another device of this account has seen the device list up to entry {seen}, but the \
         Enigm service shows this computer a different list (up to entry {served}); it may be \
         hiding a change such as a removed device, so nothing that depends on the device list \
         is done until it shows the same list"
    )]
    LedgerWithheld {
        /// The seq of the entry the other device signed.
        seen: u64,
        /// The head seq of the ledger the service shows this device.
        served: u64,
    },

    /// A device label is not acceptable.
    #[error("{0}")]
    InvalidLabel(&'static str),

    /// The inactivity lock asked for is longer than a day.
    #[error("the app can lock after at most a day (1440 minutes) without use, or never (0)")]
    InvalidAutoLock,

    /// A background task of the engine failed.
    #[error("an internal task failed")]
    Task,

    /// This device already has an open enrollment request (its id, hex), e.g. from a run that
    /// was killed before it could remember the request.
    #[error("this device already has an open enrollment request")]
    EnrollmentAlreadyOpen {
        /// The open request's id.
        id: String,
    },

    /// Another device started a newer sync-key epoch first; the next rotation builds on it.
    #[error("the account's sync key was rotated meanwhile (epoch {current})")]
    SyncEpochConflict {
        /// The account's current sync epoch.
        current: u64,
    },

    /// A message relayed during enrollment does not verify: a reveal that does not match the
    /// commitment, a MAC or countersignature from another run, a sealed key for another device.
    /// The request is cancelled.
    #[error(
        "the other device's enrollment message failed verification ({0}); the request is cancelled"
    )]
    EnrollmentVerification(#[source] enigm_core::Error),

    /// The device list changed between the approval's MAC and the append of the new device.
    #[error(
        "the device list changed while this approval was in progress; the request is cancelled, \
         start the enrollment again"
    )]
    EnrollmentStaleHead,

    /// The approving device added this device to the ledger but the request ended before it
    /// handed over the account sync key.
    #[error(
        "this device was added to the account, but the approving device did not hand over the \
         account sync key; it arrives with the next key rotation"
    )]
    EnrolledWithoutSyncKey,

    /// No enrollment request has this id (request ids are 32 hex digits).
    #[error("there is no enrollment request with this id")]
    UnknownEnrollment,

    /// The account is not signed in under this name (any more): names are `ses_` and 16
    /// letters and digits, as the session list gives them.
    #[error("the account has no session with this name; list them again")]
    NoSuchSession,

    /// This device does not hold the account sync key, so it cannot hand it to a new device
    /// or label devices.
    #[error(
        "this device does not hold the account sync key, which approving a new device and \
         labelling devices need"
    )]
    NoSyncKey,

    /// An answer about the short code came when no code waits for one (the enrollment ended,
    /// or has not shown its code yet).
    #[error("no code is waiting for your answer; the enrollment may have ended")]
    NoCodeShown,

    /// The password typed to unlock the app is not the account's password: the service
    /// checked it (this device keeps nothing that could).
    #[error("that is not your account password (the Enigm service checked it)")]
    UnlockWrongPassword,

    /// The PIN typed to unlock the app is not this computer's PIN.
    #[error("that is not this computer's PIN; {left} {} left before the PIN is turned off{}",
        if *left == 1 { "try" } else { "tries" }, retry_hint(*wait))]
    UnlockWrongPin {
        /// Seconds before the next attempt is accepted (0: now).
        wait: u64,
        /// Wrong PINs left before the PIN is erased.
        left: u32,
    },

    /// Unlocking with the PIN was tried again before the wait after earlier wrong PINs was
    /// over.
    #[error("too many wrong PINs{}", retry_hint(*wait))]
    UnlockDelayed {
        /// Seconds left before the next attempt is accepted.
        wait: u64,
    },

    /// That was the last wrong PIN allowed in a row: the PIN (its verifier and its keychain
    /// secret) was erased, and the account password, checked by the service, is needed.
    #[error(
        "that was the {tries}th wrong PIN in a row, so the PIN was turned off on this computer; \
         unlock with your account password (this needs the Enigm service) and set a new PIN in \
         Settings",
        tries = enigm_core::unlock::PIN_TRIES
    )]
    PinErased,

    /// No PIN is set on this computer (never set, removed, or turned off after wrong ones).
    #[error(
        "no PIN is set on this computer (it is turned off after {tries} wrong PINs in a row); \
         unlock with your account password",
        tries = enigm_core::unlock::PIN_TRIES
    )]
    NoPin,

    /// The PIN's secret is gone from the OS keychain (or its verifier is damaged), so the PIN
    /// cannot be checked; it was turned off.
    #[error(
        "this computer's PIN can no longer be checked (its secret is missing from the OS \
         keychain), so it was turned off; unlock with your account password"
    )]
    PinUnusable,

    /// A PIN that is not 6 to 12 digits.
    #[error("{0}")]
    InvalidPin(enigm_core::Error),

    /// This computer does not know the account's username (a profile that has not signed in
    /// since it started keeping it), and unlocking signs in with the service, which needs it.
    #[error(
        "enter your username too: unlocking signs in with the Enigm service, and this computer \
         does not know your username yet"
    )]
    UnlockNeedsUsername,

    /// The service, which checks the account password (this device keeps nothing that could),
    /// cannot be reached.
    #[error(
        "the Enigm service cannot be reached, and your account password cannot be checked \
         offline; {}",
        if *pin_set { "unlock with your PIN, or connect to the network and try again" }
        else { "connect to the network and try again" }
    )]
    UnlockNeedsService {
        /// A PIN is set: it unlocks offline.
        pin_set: bool,
    },

    /// Changing the password: the current password given is not the account's (nothing
    /// changed).
    #[error("the current password is wrong; the password was not changed")]
    CurrentPasswordWrong,
}

impl ClientError {
    /// Every code [`ClientError::code`] returns besides the store's and the service's, which
    /// it passes through: the engine's part of the closed set the app's TypeScript knows.
    pub const CODES: [&'static str; 51] = [
        "service_unreachable",
        "malformed_response",
        "invalid_server_url",
        "wrong_password",
        "ledger_rejected",
        "protocol_error",
        "already_registered",
        "no_account",
        "signed_out",
        "device_revoked",
        "device_replaced",
        "device_removed",
        "service_refuses_device",
        "locked",
        "not_replaceable",
        "enrollment_replaces_mismatch",
        "enrollment_self_replacement",
        "unknown_device",
        "ambiguous_device",
        "not_allowed",
        "phrase_word_count",
        "phrase_unknown_word",
        "phrase_checksum",
        "sync_key_refused",
        "ledger_withheld",
        "invalid_label",
        "invalid_auto_lock",
        "internal",
        "enrollment_already_open",
        "sync_epoch_conflict",
        "enrollment_commitment_mismatch",
        "enrollment_mac_mismatch",
        "enrollment_wrong_device",
        "enrollment_wrong_recipient",
        "enrollment_verification_failed",
        "enrollment_stale_head",
        "unknown_enrollment",
        "no_such_session",
        "enrolled_without_sync_key",
        "no_sync_key",
        "no_code_shown",
        "unlock_wrong_password",
        "unlock_wrong_pin",
        "unlock_delayed",
        "pin_erased",
        "no_pin",
        "pin_unusable",
        "invalid_pin",
        "unlock_needs_username",
        "unlock_needs_service",
        "current_password_wrong",
    ];

    /// The stable code, the same across the CLI (`--json`) and the app.
    pub fn code(&self) -> &str {
        match self {
            Self::Store(error) => error.code(),
            Self::Service { code, .. } => code.as_str(),
            Self::Unreachable(_) => "service_unreachable",
            Self::MalformedResponse(_) => "malformed_response",
            Self::InvalidServerUrl(_) => "invalid_server_url",
            Self::WrongPassword => "wrong_password",
            Self::LedgerRejected(_) | Self::LedgerInconsistent(_) => "ledger_rejected",
            Self::Protocol(_) => "protocol_error",
            Self::AlreadyRegistered => "already_registered",
            Self::NoAccount => "no_account",
            Self::SignedOut => "signed_out",
            Self::DeviceRevoked(_) => "device_revoked",
            Self::DeviceReplaced(_) => "device_replaced",
            Self::RemovedByService { replaced: true, .. } => "device_replaced",
            Self::RemovedByService {
                replaced: false, ..
            } => "device_removed",
            Self::ServiceRefusesDevice => "service_refuses_device",
            Self::Locked => "locked",
            Self::NotReplaceable(_) => "not_replaceable",
            Self::EnrollmentReplacesMismatch => "enrollment_replaces_mismatch",
            Self::SelfReplacement => "enrollment_self_replacement",
            Self::UnknownDevice(_) => "unknown_device",
            Self::AmbiguousDevice(_) => "ambiguous_device",
            Self::NotAllowed(_) => "not_allowed",
            Self::Phrase(error) => match error {
                enigm_core::Error::RecoveryPhraseWordCount { .. } => "phrase_word_count",
                enigm_core::Error::RecoveryPhraseUnknownWord { .. } => "phrase_unknown_word",
                enigm_core::Error::RecoveryPhraseChecksum => "phrase_checksum",
                _ => "protocol_error",
            },
            Self::SyncKeyRefused(_) => "sync_key_refused",
            Self::LedgerWithheld { .. } => "ledger_withheld",
            Self::InvalidLabel(_) => "invalid_label",
            Self::InvalidAutoLock => "invalid_auto_lock",
            Self::Task => "internal",
            Self::EnrollmentAlreadyOpen { .. } => "enrollment_already_open",
            Self::SyncEpochConflict { .. } => "sync_epoch_conflict",
            Self::EnrollmentVerification(error) => match error {
                enigm_core::Error::SasCommitmentMismatch => "enrollment_commitment_mismatch",
                enigm_core::Error::SasMacMismatch => "enrollment_mac_mismatch",
                enigm_core::Error::SasDeviceMismatch => "enrollment_wrong_device",
                enigm_core::Error::SyncKeyWrongRecipient => "enrollment_wrong_recipient",
                _ => "enrollment_verification_failed",
            },
            Self::EnrollmentStaleHead => "enrollment_stale_head",
            Self::UnknownEnrollment => "unknown_enrollment",
            Self::NoSuchSession => "no_such_session",
            Self::EnrolledWithoutSyncKey => "enrolled_without_sync_key",
            Self::NoSyncKey => "no_sync_key",
            Self::NoCodeShown => "no_code_shown",
            Self::UnlockWrongPassword => "unlock_wrong_password",
            Self::UnlockWrongPin { .. } => "unlock_wrong_pin",
            Self::UnlockDelayed { .. } => "unlock_delayed",
            Self::PinErased => "pin_erased",
            Self::NoPin => "no_pin",
            Self::PinUnusable => "pin_unusable",
            Self::InvalidPin(_) => "invalid_pin",
            Self::UnlockNeedsUsername => "unlock_needs_username",
            Self::UnlockNeedsService { .. } => "unlock_needs_service",
            Self::CurrentPasswordWrong => "current_password_wrong",
        }
    }

    /// Seconds the service asked to wait before another attempt (`Retry-After`, sent with
    /// `rate_limited` and while it is unavailable).
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Service { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether the service refused because this session is over (the caller should sign in
    /// again).
    pub fn is_session_over(&self) -> bool {
        matches!(
            self.service_code(),
            Some(
                ErrorCode::UnknownSession
                    | ErrorCode::SessionExpired
                    | ErrorCode::SessionBeforeRecovery
            )
        )
    }

    /// The service's code, when the service refused.
    pub fn service_code(&self) -> Option<&ErrorCode> {
        match self {
            Self::Service { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// When the next unlock attempt is accepted, as the end of a sentence.
fn retry_hint(wait: u64) -> String {
    match wait {
        0 => String::new(),
        1 => "; try again in 1 second".to_owned(),
        2..=119 => format!("; try again in {wait} seconds"),
        _ => format!("; try again in {} minutes", wait.div_ceil(60)),
    }
}

/// The core's sentence, plus the suggestions for an unknown word: they are what the user needs
/// to fix the word (the word typed is never repeated).
fn phrase_message(error: &enigm_core::Error) -> String {
    match error {
        enigm_core::Error::RecoveryPhraseUnknownWord { suggestions, .. }
            if !suggestions.as_slice().is_empty() =>
        {
            format!(
                "{error}; did you mean {}?",
                suggestions
                    .as_slice()
                    .iter()
                    .map(|word| format!("\"{word}\""))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
        }
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_pass_through_from_the_store_and_the_service() {
        let store = ClientError::from(enigm_store::Error::KeyMissing);
        assert_eq!(store.code(), "key_missing");
        let service = ClientError::Service {
            status: 401,
            code: ErrorCode::SessionExpired,
            message: "the session has expired; sign in again".into(),
            retry_after: None,
        };
        assert!(service.is_session_over());
        assert_eq!(
            service.to_string(),
            "the session has expired; sign in again"
        );
        assert!(!ClientError::WrongPassword.is_session_over());
        assert_eq!(service.retry_after(), None);
        let limited = ClientError::Service {
            status: 429,
            code: ErrorCode::RateLimited,
            message: "too many attempts; retry in 4 seconds".into(),
            retry_after: Some(4),
        };
        assert_eq!(limited.retry_after(), Some(4));
        assert_eq!(ClientError::WrongPassword.retry_after(), None);
    }

    #[test]
    fn unlock_errors_say_when_to_try_again_and_what_to_do() {
        let wrong = ClientError::UnlockWrongPin { wait: 0, left: 4 };
        assert_eq!(wrong.code(), "unlock_wrong_pin");
        assert_eq!(
            wrong.to_string(),
            "that is not this computer's PIN; 4 tries left before the PIN is turned off"
        );
        assert_eq!(
            ClientError::UnlockWrongPin { wait: 10, left: 1 }.to_string(),
            "that is not this computer's PIN; 1 try left before the PIN is turned off; \
             try again in 10 seconds"
        );
        assert_eq!(
            ClientError::UnlockDelayed { wait: 1 }.to_string(),
            "too many wrong PINs; try again in 1 second"
        );
        assert_eq!(
            ClientError::UnlockDelayed { wait: 121 }.to_string(),
            "too many wrong PINs; try again in 3 minutes"
        );
        assert!(ClientError::PinErased.to_string().starts_with(
            "that was the 5th wrong PIN in a row, so the PIN was turned off on this computer"
        ));
        let offline = ClientError::UnlockNeedsService { pin_set: true }.to_string();
        assert!(offline.contains("cannot be checked offline"), "{offline}");
        assert!(offline.contains("unlock with your PIN"), "{offline}");
        let offline = ClientError::UnlockNeedsService { pin_set: false }.to_string();
        assert!(!offline.contains("PIN"), "{offline}");
    }

    /// One value of every variant: the match has no wildcard, so a new variant must be added
    /// here (and its message checked) before this compiles.
    fn one_of_each() -> Vec<ClientError> {
        let revocation = || {
            Box::new(Revocation {
                at: 1_796_000_000,
                signed_at: None,
                by: None,
                reason: enigm_core::session::RemovalReason::Lost,
                replaced_by: None,
            })
        };
        let all = vec![
            ClientError::Store(enigm_store::Error::KeyMissing),
            ClientError::Service {
                status: 401,
                code: ErrorCode::SessionExpired,
                message: "the session has expired; sign in again".into(),
                retry_after: None,
            },
            ClientError::Unreachable("https://enigm.example".into()),
            ClientError::MalformedResponse("ledger"),
            ClientError::InvalidServerUrl("the service address must start with https://"),
            ClientError::WrongPassword,
            ClientError::LedgerRejected(enigm_core::Error::SasMacMismatch),
            ClientError::LedgerInconsistent("the head does not extend the pinned head"),
            ClientError::Protocol(enigm_core::Error::SasMacMismatch),
            ClientError::AlreadyRegistered,
            ClientError::NoAccount,
            ClientError::SignedOut,
            ClientError::DeviceRevoked(revocation()),
            ClientError::DeviceReplaced(revocation()),
            ClientError::RemovedByService {
                replaced: false,
                entry: None,
            },
            ClientError::ServiceRefusesDevice,
            ClientError::Locked,
            ClientError::NotReplaceable("suspended"),
            ClientError::EnrollmentReplacesMismatch,
            ClientError::SelfReplacement,
            ClientError::UnknownDevice("K3PQ".into()),
            ClientError::AmbiguousDevice("K".into()),
            ClientError::NotAllowed("that device is already removed"),
            ClientError::Phrase(enigm_core::Error::RecoveryPhraseChecksum),
            ClientError::SyncKeyRefused(enigm_core::Error::SyncKeyWrongRecipient),
            ClientError::LedgerWithheld { seen: 7, served: 5 },
            ClientError::InvalidLabel("a device label is at most 64 characters"),
            ClientError::InvalidAutoLock,
            ClientError::Task,
            ClientError::EnrollmentAlreadyOpen { id: "00".into() },
            ClientError::SyncEpochConflict { current: 3 },
            ClientError::EnrollmentVerification(enigm_core::Error::SasMacMismatch),
            ClientError::EnrollmentStaleHead,
            ClientError::EnrolledWithoutSyncKey,
            ClientError::UnknownEnrollment,
            ClientError::NoSuchSession,
            ClientError::NoSyncKey,
            ClientError::NoCodeShown,
            ClientError::UnlockWrongPassword,
            ClientError::UnlockWrongPin { wait: 10, left: 1 },
            ClientError::UnlockDelayed { wait: 121 },
            ClientError::PinErased,
            ClientError::NoPin,
            ClientError::PinUnusable,
            ClientError::InvalidPin(enigm_core::Error::SasMacMismatch),
            ClientError::UnlockNeedsUsername,
            ClientError::UnlockNeedsService { pin_set: true },
            ClientError::UnlockNeedsService { pin_set: false },
            ClientError::CurrentPasswordWrong,
        ];
        for error in &all {
            match error {
                ClientError::Store(_)
                | ClientError::Service { .. }
                | ClientError::Unreachable(_)
                | ClientError::MalformedResponse(_)
                | ClientError::InvalidServerUrl(_)
                | ClientError::WrongPassword
                | ClientError::LedgerRejected(_)
                | ClientError::LedgerInconsistent(_)
                | ClientError::Protocol(_)
                | ClientError::AlreadyRegistered
                | ClientError::NoAccount
                | ClientError::SignedOut
                | ClientError::DeviceRevoked(_)
                | ClientError::DeviceReplaced(_)
                | ClientError::RemovedByService { .. }
                | ClientError::ServiceRefusesDevice
                | ClientError::Locked
                | ClientError::NotReplaceable(_)
                | ClientError::EnrollmentReplacesMismatch
                | ClientError::SelfReplacement
                | ClientError::UnknownDevice(_)
                | ClientError::AmbiguousDevice(_)
                | ClientError::NotAllowed(_)
                | ClientError::Phrase(_)
                | ClientError::SyncKeyRefused(_)
                | ClientError::LedgerWithheld { .. }
                | ClientError::InvalidLabel(_)
                | ClientError::InvalidAutoLock
                | ClientError::Task
                | ClientError::EnrollmentAlreadyOpen { .. }
                | ClientError::SyncEpochConflict { .. }
                | ClientError::EnrollmentVerification(_)
                | ClientError::EnrollmentStaleHead
                | ClientError::EnrolledWithoutSyncKey
                | ClientError::UnknownEnrollment
                | ClientError::NoSuchSession
                | ClientError::NoSyncKey
                | ClientError::NoCodeShown
                | ClientError::UnlockWrongPassword
                | ClientError::UnlockWrongPin { .. }
                | ClientError::UnlockDelayed { .. }
                | ClientError::PinErased
                | ClientError::NoPin
                | ClientError::PinUnusable
                | ClientError::InvalidPin(_)
                | ClientError::UnlockNeedsUsername
                | ClientError::UnlockNeedsService { .. }
                | ClientError::CurrentPasswordWrong => {}
            }
        }
        all
    }

    #[test]
    fn every_code_is_listed_once() {
        for error in one_of_each() {
            let code = error.code();
            let listed = match &error {
                ClientError::Store(_) => enigm_store::Error::CODES.contains(&code),
                ClientError::Service { code: service, .. } => {
                    ErrorCode::ALL.contains(service) && service.as_str() == code
                }
                _ => ClientError::CODES.contains(&code),
            };
            assert!(listed, "{code} is not in its list");
        }
        let mut sorted = ClientError::CODES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            ClientError::CODES.len(),
            "a code is listed twice"
        );
    }

    #[test]
    fn no_message_has_a_double_space_or_loose_ends() {
        for error in one_of_each() {
            let message = error.to_string();
            assert!(
                !message.contains("  "),
                "double space in {}: {message:?}",
                error.code()
            );
            assert_eq!(
                message.trim(),
                message,
                "loose space in {}: {message:?}",
                error.code()
            );
            assert!(!message.is_empty(), "empty message for {}", error.code());
        }
    }
}
