//! The error envelope `{"error": {"code", "message", …details}}` and its closed set of codes.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::enrollment::Stage;
use crate::ledger::Head;

/// Defines [`ErrorCode`] from one list, so the enum, its wire strings and [`ErrorCode::ALL`]
/// cannot drift apart.
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])+ $variant:ident => $code:literal,)+) => {
        /// Every error code the service sends. A code this build does not know (from a newer
        /// service) decodes to [`ErrorCode::Unknown`], never to an error, so a client can still
        /// show the service's message.
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[doc = $doc])+ $variant,)+
            /// A code this build does not know, as sent.
            Unknown(String),
        }

        impl ErrorCode {
            /// Every known code, in the order of the list.
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The wire string (`snake_case`).
            pub fn as_str(&self) -> &str {
                match self {
                    $(ErrorCode::$variant => $code,)+
                    ErrorCode::Unknown(code) => code,
                }
            }

            /// The code for a wire string; unknown strings are kept as [`ErrorCode::Unknown`].
            pub fn from_wire(code: &str) -> Self {
                match code {
                    $($code => ErrorCode::$variant,)+
                    other => ErrorCode::Unknown(other.to_owned()),
                }
            }
        }
    };
}

error_codes! {
    /// The body or a parameter does not match what the endpoint accepts.
    Malformed => "malformed_request",
    /// The body is larger than the service accepts.
    PayloadTooLarge => "payload_too_large",
    /// The username breaks the username rules.
    InvalidUsername => "invalid_username",
    /// A ledger entry does not decode, verify or apply.
    InvalidLedgerEntry => "invalid_ledger_entry",
    /// The username or password is wrong (never says which).
    InvalidCredentials => "invalid_credentials",
    /// The login's start is gone (expired, used, or from a restarted node).
    LoginExpired => "login_expired",
    /// The recovery's start is gone.
    RecoveryExpired => "recovery_expired",
    /// The registration's start is gone or from another username.
    RegistrationExpired => "registration_expired",
    /// The recovery proof does not verify.
    RecoveryRefused => "recovery_refused",
    /// The username is taken.
    UsernameTaken => "username_taken",
    /// The request needs an `Authorization` header.
    MissingAuthorization => "missing_authorization",
    /// The `Authorization` header is not well formed.
    MalformedAuthorization => "malformed_authorization",
    /// The session does not exist.
    UnknownSession => "unknown_session",
    /// The session expired.
    SessionExpired => "session_expired",
    /// The session predates the account's recovery.
    SessionBeforeRecovery => "session_before_recovery",
    /// The request signature does not verify.
    BadSignature => "bad_signature",
    /// The request timestamp is outside the allowed skew.
    StaleTimestamp => "stale_timestamp",
    /// The request's nonce was seen before.
    Replayed => "replayed",
    /// Trust evaluation denied the request (`reasons` says why).
    TrustDenied => "trust_denied",
    /// Trust evaluation wants a fresh sign-in first.
    StepUpRequired => "step_up_required",
    /// This device was removed from the account (`entry` proves it).
    DeviceRemoved => "device_removed",
    /// This device was replaced by another (`entry` proves it).
    DeviceReplaced => "device_replaced",
    /// The append does not extend the current head (`head` is the current one).
    LedgerConflict => "ledger_conflict",
    /// Too many attempts: wait `retry_after` seconds.
    RateLimited => "rate_limited",
    /// No such resource.
    NotFound => "not_found",
    /// The path exists, but not with this method.
    MethodNotAllowed => "method_not_allowed",
    /// The request took too long.
    Timeout => "timeout",
    /// The service cannot serve now (its database is unreachable).
    ServiceUnavailable => "service_unavailable",
    /// The service failed; it says nothing about why.
    Internal => "internal",
    /// The enrollment step cannot be taken in the request's state.
    EnrollmentOutOfOrder => "enrollment_out_of_order",
    /// The enrollment step repeats an earlier one with other values.
    EnrollmentConflict => "enrollment_conflict",
    /// The enrollment request is closed (`state` says how it ended).
    EnrollmentClosed => "enrollment_closed",
    /// The enrollment step belongs to the other side.
    EnrollmentWrongParty => "enrollment_wrong_party",
    /// The account has the most open requests it may have (`max`).
    EnrollmentLimitReached => "enrollment_limit_reached",
    /// This device already has an open request (`id`).
    EnrollmentAlreadyOpen => "enrollment_already_open",
    /// The approver's append did not add the requesting device.
    EnrollmentNotInLedger => "enrollment_not_in_ledger",
    /// A device cannot be approved as its own replacement.
    EnrollmentSelfReplacement => "enrollment_self_replacement",
    /// Another rotation took the epoch (`epoch` is the current one).
    SyncEpochConflict => "sync_epoch_conflict",
    /// A rotation's copies are not exactly one per active device.
    SyncKeyCopiesMismatch => "sync_key_copies_mismatch",
    /// The item is sealed under an epoch older than the current (`epoch`).
    StaleSyncEpoch => "stale_sync_epoch",
    /// This device holds no copy of the account sync key.
    NoSyncKey => "no_sync_key",
    /// The session has as many push sockets open as it may (`max`).
    TooManyPushSockets => "too_many_push_sockets",
    /// The account rotated its sync key too often this hour (`retry_after`).
    TooManySyncKeyRotations => "too_many_sync_key_rotations",
    /// The ledger has as many entries as the service keeps (`max`).
    LedgerFull => "ledger_full",
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Ok(ErrorCode::from_wire(&code))
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::schema::string_enum(
            "Stable error codes. A client treats a code it does not know as a failure with \
             the service's message.",
            ErrorCode::ALL.iter().map(ErrorCode::as_str),
        )
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for ErrorCode {}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every error reply's body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
}

/// An error: its code, a plain-English message, and the details some codes carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// What went wrong, for programs.
    pub code: ErrorCode,
    /// What went wrong, for people; never names a user, key or id.
    pub message: String,
    /// `rate_limited`, `service_unavailable`, `too_many_sync_key_rotations`: seconds to wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// `ledger_conflict`: the current head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<Head>,
    /// `trust_denied`, `step_up_required`: the trust reasons' codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<String>>,
    /// `device_removed`, `device_replaced`: the ledger entry that removed the device
    /// (base64url), which the device verifies itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// `enrollment_closed`: how the request ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Stage>,
    /// `enrollment_already_open`: the open request's id (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `enrollment_limit_reached`, `too_many_push_sockets`, `ledger_full`: the bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// `sync_epoch_conflict`, `stale_sync_epoch`: the current epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
}

impl ErrorBody {
    /// An error with no details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
            head: None,
            reasons: None,
            entry: None,
            state: None,
            id: None,
            max: None,
            epoch: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_known_code_round_trips_through_its_wire_string() {
        for code in ErrorCode::ALL {
            assert_eq!(&ErrorCode::from_wire(code.as_str()), code);
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(&serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
        let mut strings: Vec<&str> = ErrorCode::ALL.iter().map(ErrorCode::as_str).collect();
        strings.sort_unstable();
        strings.dedup();
        assert_eq!(
            strings.len(),
            ErrorCode::ALL.len(),
            "a wire string is used twice"
        );
    }

    #[test]
    fn a_code_from_a_newer_service_is_kept_not_refused() {
        let body: ErrorEnvelope = serde_json::from_str(
            r#"{"error":{"code":"quantum_flux","message":"try later","future_field":1}}"#,
        )
        .unwrap();
        assert_eq!(
            body.error.code,
            ErrorCode::Unknown("quantum_flux".to_owned())
        );
        assert_eq!(body.error.message, "try later");
    }

    #[test]
    fn details_appear_only_when_set() {
        let mut body = ErrorBody::new(ErrorCode::RateLimited, "wait");
        body.retry_after = Some(30);
        let json = serde_json::to_value(ErrorEnvelope { error: body }).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": {"code": "rate_limited", "message": "wait", "retry_after": 30}})
        );
    }

    proptest! {
        #[test]
        fn any_code_string_decodes_without_panicking(code in ".{0,80}") {
            let decoded = ErrorCode::from_wire(&code);
            prop_assert_eq!(decoded.as_str(), code.as_str());
        }
    }
}
