//! The one error type of the service, and how it reaches a client.
//!
//! Every variant maps to an HTTP status and a stable `code`; the body is always
//! `{"error":{"code","message"}}`, plus machine-readable details where a client needs them
//! (`retry_after` for 429, `head` for a ledger conflict, `reasons` for a trust denial).
//! Internal failures (storage, bugs) are logged and answered with a generic `internal` error:
//! their text never leaves the process, and it never carries usernames or keys either. A
//! storage backend that is unreachable or too slow is not a bug: it gets 503
//! `service_unavailable` with a `Retry-After` header, so clients and load balancers retry.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use enigm_core::trust::Decision;
use enigm_proto::{ErrorBody, ErrorCode, ErrorEnvelope, Head};

/// Seconds a client is asked to wait before retrying when the service is unavailable.
pub const RETRY_UNAVAILABLE_SECS: u64 = 5;
use crate::enrollment::EnrollmentRefusal;

/// Why a signed request was not accepted as authentic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization: Enigm ...` header.
    Missing,
    /// The header is not a well-formed Enigm authorization.
    Malformed,
    /// The session does not exist (never did, ended, or purged).
    UnknownSession,
    /// The session's expiry passed; refresh is no longer possible.
    SessionExpired,
    /// The account was recovered after the session was issued.
    SessionBeforeRecovery,
    /// The signature does not verify under the session's device key.
    BadSignature,
    /// The timestamp is too far from the service's clock.
    StaleTimestamp,
    /// The nonce was already used with this session.
    Replayed,
}

impl AuthFailure {
    /// The stable code.
    pub const fn code(self) -> ErrorCode {
        match self {
            AuthFailure::Missing => ErrorCode::MissingAuthorization,
            AuthFailure::Malformed => ErrorCode::MalformedAuthorization,
            AuthFailure::UnknownSession => ErrorCode::UnknownSession,
            AuthFailure::SessionExpired => ErrorCode::SessionExpired,
            AuthFailure::SessionBeforeRecovery => ErrorCode::SessionBeforeRecovery,
            AuthFailure::BadSignature => ErrorCode::BadSignature,
            AuthFailure::StaleTimestamp => ErrorCode::StaleTimestamp,
            AuthFailure::Replayed => ErrorCode::Replayed,
        }
    }

    /// A plain-English sentence for the client.
    pub const fn message(self) -> &'static str {
        match self {
            AuthFailure::Missing => "this request needs an Enigm authorization header",
            AuthFailure::Malformed => "the authorization header is not well formed",
            AuthFailure::UnknownSession => "the session does not exist; sign in again",
            AuthFailure::SessionExpired => "the session has expired; sign in again",
            AuthFailure::SessionBeforeRecovery => {
                "the account was recovered after this session began; sign in again"
            }
            AuthFailure::BadSignature => "the request signature does not verify",
            AuthFailure::StaleTimestamp => {
                "the request timestamp is too far from the service's clock"
            }
            AuthFailure::Replayed => "this request was already received once",
        }
    }
}

/// Why a sync-key or shared-item write was refused (DESIGN §3). Nothing is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncKeyRefusal {
    /// A rotation's epoch is not the account's current sync epoch plus one.
    EpochConflict {
        /// The account's current sync epoch.
        current: u64,
    },
    /// A rotation's copies are not exactly one per device active in the ledger, or a copy is
    /// not sealed for its device at the rotation's epoch.
    CopiesMismatch,
    /// A write under an epoch that is not the account's current one.
    StaleEpoch {
        /// The account's current sync epoch.
        current: u64,
    },
    /// The device holds no copy (at that epoch).
    NoSyncKey,
}

impl SyncKeyRefusal {
    /// The stable code.
    pub const fn code(self) -> ErrorCode {
        match self {
            SyncKeyRefusal::EpochConflict { .. } => ErrorCode::SyncEpochConflict,
            SyncKeyRefusal::CopiesMismatch => ErrorCode::SyncKeyCopiesMismatch,
            SyncKeyRefusal::StaleEpoch { .. } => ErrorCode::StaleSyncEpoch,
            SyncKeyRefusal::NoSyncKey => ErrorCode::NoSyncKey,
        }
    }

    /// A plain-English sentence for the client.
    pub const fn message(self) -> &'static str {
        match self {
            SyncKeyRefusal::EpochConflict { .. } => {
                "the sync key epoch must be the account's current epoch plus one; fetch and retry"
            }
            SyncKeyRefusal::CopiesMismatch => {
                "the sync key copies must be exactly one per active device, each sealed to it \
                 at this epoch"
            }
            SyncKeyRefusal::StaleEpoch { .. } => {
                "the account's sync key was rotated; encrypt under the current epoch and retry"
            }
            SyncKeyRefusal::NoSyncKey => "this device holds no copy of the account sync key",
        }
    }

    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            SyncKeyRefusal::EpochConflict { .. }
            | SyncKeyRefusal::CopiesMismatch
            | SyncKeyRefusal::StaleEpoch { .. } => StatusCode::CONFLICT,
            SyncKeyRefusal::NoSyncKey => StatusCode::NOT_FOUND,
        }
    }
}

/// A bound on what one account or session may hold or do was reached (issue 13: no growth
/// without bound). Nothing was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitRefusal {
    /// The session already has this many push sockets open on this node.
    PushSockets {
        /// Sockets a session may hold.
        max: usize,
    },
    /// The account rotated its sync key as often as one clock hour allows.
    SyncKeyRotations {
        /// Seconds until the next hour, when rotations are accepted again.
        retry_after: u64,
    },
    /// The account's ledger holds the most entries the service keeps.
    LedgerFull {
        /// Entries a ledger may hold.
        max: u64,
    },
}

impl LimitRefusal {
    /// The stable code.
    pub const fn code(self) -> ErrorCode {
        match self {
            LimitRefusal::PushSockets { .. } => ErrorCode::TooManyPushSockets,
            LimitRefusal::SyncKeyRotations { .. } => ErrorCode::TooManySyncKeyRotations,
            LimitRefusal::LedgerFull { .. } => ErrorCode::LedgerFull,
        }
    }

    /// A plain-English sentence for the client.
    pub fn message(self) -> String {
        match self {
            LimitRefusal::PushSockets { max } => format!(
                "this session already has {max} push connections open; close one before opening \
                 another"
            ),
            LimitRefusal::SyncKeyRotations { retry_after } => format!(
                "the account's sync key was rotated too often this hour; retry in {retry_after} \
                 seconds"
            ),
            LimitRefusal::LedgerFull { max } => format!(
                "the account's ledger holds the most entries this service keeps ({max}); no \
                 entry can be added"
            ),
        }
    }

    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            LimitRefusal::PushSockets { .. } | LimitRefusal::SyncKeyRotations { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            LimitRefusal::LedgerFull { .. } => StatusCode::CONFLICT,
        }
    }
}

/// Everything that can go wrong in the service.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The request is not what the endpoint accepts; the message says what is wrong (it never
    /// echoes input).
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The request body is larger than the endpoint allows.
    #[error("request body too large")]
    PayloadTooLarge,
    /// The username is not acceptable (too short, too long, forbidden character).
    #[error("invalid username: {0}")]
    InvalidUsername(enigm_core::Error),
    /// A ledger entry was refused by enigm-core's verification.
    #[error("ledger entry refused: {0}")]
    InvalidLedger(enigm_core::Error),
    /// Login failed: wrong password, unknown username or a forged login message. One variant
    /// for all, so a response never tells which.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The login id is unknown, already used, or expired.
    #[error("login expired")]
    LoginExpired,
    /// The recovery id is unknown, already used, or expired.
    #[error("recovery expired")]
    RecoveryExpired,
    /// The registration id is not one this service issued for this username, or it expired.
    #[error("registration expired")]
    RegistrationExpired,
    /// The recovery key's proof or authorization does not verify under the recovery key the
    /// account's ledger pins (or the username is unknown: one variant for both, so a response
    /// never tells which).
    #[error("recovery refused")]
    RecoveryRefused,
    /// A registration for a username that is taken.
    #[error("username taken")]
    UsernameTaken,
    /// The signed request was not accepted as authentic.
    #[error("unauthenticated: {}", .0.code())]
    Unauthenticated(AuthFailure),
    /// Trust evaluation refused the operation (deny or step-up).
    #[error("operation refused by trust evaluation")]
    Refused(Decision),
    /// The device (named at login, or whose session signed the request) was removed from the
    /// account for good; `replaced` says it was superseded by a newer device (rather than
    /// revoked or retired), so it can say so. Only the device key's holder is told.
    #[error("device removed from the account")]
    DeviceRemoved {
        /// Removed by a replacement.
        replaced: bool,
        /// The ledger entry that removed it (base64url of its encoding): the device checks it
        /// against its own verified ledger to learn who removed it and why.
        entry: String,
    },
    /// A ledger append raced another one; the client must fetch and retry.
    #[error("ledger head moved")]
    LedgerConflict {
        /// The current head's sequence number.
        seq: u64,
        /// The current head's hash (hex).
        hash: String,
    },
    /// Too many attempts; retry after this many seconds.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until the next attempt is accepted.
        retry_after: u64,
    },
    /// An enrollment relay step or request was refused (DESIGN §7).
    #[error("enrollment refused: {}", .0.code())]
    Enrollment(crate::enrollment::EnrollmentRefusal),
    /// A sync-key or shared-item request was refused (DESIGN §3).
    #[error("sync key refused: {}", .0.code())]
    SyncKey(SyncKeyRefusal),
    /// A bound on what an account or session may hold or do was reached.
    #[error("limit reached: {}", .0.code())]
    Limit(LimitRefusal),
    /// No such resource (or route).
    #[error("not found")]
    NotFound,

    /// The path exists, but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The request took longer than the service allows.
    #[error("request timed out")]
    Timeout,
    /// The service cannot start as configured; the message says why and what to do.
    #[error("{0}")]
    Config(String),
    /// The data directory or a secret in it could not be read or written.
    #[error("data directory: {0}")]
    DataDir(String),
    /// A storage backend failure; logged, never sent.
    #[error("storage: {0}")]
    Storage(String),
    /// The storage backend cannot be reached, or did not answer in time (a connection refused
    /// or lost, a pool or call timeout, the database shutting down). The cause is logged,
    /// never sent; the client is told to retry.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected failure; logged, never sent.
    #[error("internal: {0}")]
    Internal(String),
}

impl ServerError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ServerError::Malformed(_)
            | ServerError::InvalidUsername(_)
            | ServerError::InvalidLedger(_) => StatusCode::BAD_REQUEST,
            ServerError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ServerError::InvalidCredentials
            | ServerError::LoginExpired
            | ServerError::RecoveryExpired
            | ServerError::RegistrationExpired
            | ServerError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ServerError::Refused(_)
            | ServerError::DeviceRemoved { .. }
            | ServerError::RecoveryRefused => StatusCode::FORBIDDEN,
            ServerError::UsernameTaken | ServerError::LedgerConflict { .. } => StatusCode::CONFLICT,
            ServerError::Enrollment(refusal) => {
                if refusal.is_forbidden() {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::CONFLICT
                }
            }
            ServerError::SyncKey(refusal) => refusal.status(),
            ServerError::Limit(refusal) => refusal.status(),
            ServerError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ServerError::NotFound => StatusCode::NOT_FOUND,
            ServerError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ServerError::Timeout => StatusCode::REQUEST_TIMEOUT,
            ServerError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ServerError::Config(_)
            | ServerError::DataDir(_)
            | ServerError::Storage(_)
            | ServerError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ServerError::Malformed(_) => ErrorCode::Malformed,
            ServerError::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            ServerError::InvalidUsername(_) => ErrorCode::InvalidUsername,
            ServerError::InvalidLedger(_) => ErrorCode::InvalidLedgerEntry,
            ServerError::InvalidCredentials => ErrorCode::InvalidCredentials,
            ServerError::LoginExpired => ErrorCode::LoginExpired,
            ServerError::RecoveryExpired => ErrorCode::RecoveryExpired,
            ServerError::RegistrationExpired => ErrorCode::RegistrationExpired,
            ServerError::RecoveryRefused => ErrorCode::RecoveryRefused,
            ServerError::UsernameTaken => ErrorCode::UsernameTaken,
            ServerError::Unauthenticated(failure) => failure.code(),
            ServerError::Refused(decision) => match decision.outcome {
                enigm_core::trust::Outcome::StepUp => ErrorCode::StepUpRequired,
                enigm_core::trust::Outcome::Allow | enigm_core::trust::Outcome::Deny => {
                    ErrorCode::TrustDenied
                }
            },
            ServerError::DeviceRemoved {
                replaced: false, ..
            } => ErrorCode::DeviceRemoved,
            ServerError::DeviceRemoved { replaced: true, .. } => ErrorCode::DeviceReplaced,
            ServerError::LedgerConflict { .. } => ErrorCode::LedgerConflict,
            ServerError::Enrollment(refusal) => refusal.code(),
            ServerError::SyncKey(refusal) => refusal.code(),
            ServerError::Limit(refusal) => refusal.code(),
            ServerError::RateLimited { .. } => ErrorCode::RateLimited,
            ServerError::NotFound => ErrorCode::NotFound,
            ServerError::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            ServerError::Timeout => ErrorCode::Timeout,
            ServerError::Unavailable(_) => ErrorCode::ServiceUnavailable,
            ServerError::Config(_)
            | ServerError::DataDir(_)
            | ServerError::Storage(_)
            | ServerError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// What the client is told. Internal variants say nothing about their cause.
    pub fn public_message(&self) -> String {
        match self {
            ServerError::Malformed(what) => format!("malformed request: {what}"),
            ServerError::PayloadTooLarge => "the request body is too large".into(),
            ServerError::InvalidUsername(error) | ServerError::InvalidLedger(error) => {
                error.to_string()
            }
            ServerError::InvalidCredentials => "the username or password is wrong".into(),
            ServerError::LoginExpired => {
                "this login is unknown, already used or expired; start again".into()
            }
            ServerError::RecoveryExpired => {
                "this recovery is unknown, already used or expired; start again".into()
            }
            ServerError::RegistrationExpired => {
                "this registration was not started for this username here, or it expired; start \
                 again"
                    .into()
            }
            ServerError::RecoveryRefused => {
                "the recovery phrase does not match this account's recovery key".into()
            }
            ServerError::UsernameTaken => "this username is not available".into(),
            ServerError::Unauthenticated(failure) => failure.message().into(),
            ServerError::Refused(decision) => decision
                .reasons
                .iter()
                .map(|reason| reason.message())
                .collect::<Vec<_>>()
                .join(" "),
            ServerError::DeviceRemoved {
                replaced: false, ..
            } => "this device was removed from the account and can no longer sign in or act for it"
                .into(),
            ServerError::DeviceRemoved { replaced: true, .. } => {
                "this device was replaced by a newer device of the account and can no longer sign \
                 in or act for it"
                    .into()
            }
            ServerError::LedgerConflict { .. } => {
                "the ledger changed since your head; fetch the new entries and retry".into()
            }
            ServerError::Enrollment(refusal) => refusal.message(),
            ServerError::SyncKey(refusal) => refusal.message().into(),
            ServerError::Limit(refusal) => refusal.message(),
            ServerError::RateLimited { retry_after } => {
                format!("too many attempts; retry in {retry_after} seconds")
            }
            ServerError::NotFound => "not found".into(),
            ServerError::MethodNotAllowed => "this path does not take this method".into(),
            ServerError::Timeout => "the request took too long".into(),
            ServerError::Unavailable(_) => format!(
                "the service is temporarily unavailable; retry in {RETRY_UNAVAILABLE_SECS} seconds"
            ),
            ServerError::Config(_)
            | ServerError::DataDir(_)
            | ServerError::Storage(_)
            | ServerError::Internal(_) => "internal error".into(),
        }
    }

    /// Seconds the client should wait before retrying, when it should (`Retry-After`).
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ServerError::RateLimited { retry_after }
            | ServerError::Limit(LimitRefusal::SyncKeyRotations { retry_after }) => {
                Some(*retry_after)
            }
            ServerError::Unavailable(_) => Some(RETRY_UNAVAILABLE_SECS),
            ServerError::Limit(
                LimitRefusal::PushSockets { .. } | LimitRefusal::LedgerFull { .. },
            ) => None,
            ServerError::Malformed(_)
            | ServerError::PayloadTooLarge
            | ServerError::InvalidUsername(_)
            | ServerError::InvalidLedger(_)
            | ServerError::InvalidCredentials
            | ServerError::LoginExpired
            | ServerError::UsernameTaken
            | ServerError::Unauthenticated(_)
            | ServerError::Refused(_)
            | ServerError::DeviceRemoved { .. }
            | ServerError::Enrollment(_)
            | ServerError::SyncKey(_)
            | ServerError::RecoveryExpired
            | ServerError::RegistrationExpired
            | ServerError::RecoveryRefused
            | ServerError::LedgerConflict { .. }
            | ServerError::NotFound
            | ServerError::MethodNotAllowed
            | ServerError::Timeout
            | ServerError::Config(_)
            | ServerError::DataDir(_)
            | ServerError::Storage(_)
            | ServerError::Internal(_) => None,
        }
    }

    /// The reply body: the code, the public message, and the details some codes carry.
    pub fn body(&self) -> ErrorEnvelope {
        let mut error = ErrorBody::new(self.code(), self.public_message());
        match self {
            ServerError::RateLimited { .. } | ServerError::Unavailable(_) => {
                error.retry_after = self.retry_after();
            }
            ServerError::LedgerConflict { seq, hash } => {
                error.head = Some(Head {
                    seq: *seq,
                    hash: hash.clone(),
                });
            }
            ServerError::Refused(decision) => {
                error.reasons = Some(
                    decision
                        .reasons
                        .iter()
                        .map(|reason| reason.code().to_owned())
                        .collect(),
                );
            }
            ServerError::DeviceRemoved { entry, .. } => error.entry = Some(entry.clone()),
            ServerError::Enrollment(refusal) => match refusal {
                EnrollmentRefusal::Closed(stage) => error.state = Some(*stage),
                EnrollmentRefusal::AlreadyOpen { id } => error.id = Some(id.clone()),
                EnrollmentRefusal::LimitReached { max } => error.max = Some(*max),
                EnrollmentRefusal::OutOfOrder
                | EnrollmentRefusal::Conflict
                | EnrollmentRefusal::WrongParty
                | EnrollmentRefusal::NotInLedger
                | EnrollmentRefusal::SelfReplacement => {}
            },
            ServerError::Limit(refusal) => match refusal {
                LimitRefusal::PushSockets { max } => error.max = u64::try_from(*max).ok(),
                LimitRefusal::LedgerFull { max } => error.max = Some(*max),
                LimitRefusal::SyncKeyRotations { retry_after } => {
                    error.retry_after = Some(*retry_after);
                }
            },
            ServerError::SyncKey(refusal) => match refusal {
                SyncKeyRefusal::EpochConflict { current }
                | SyncKeyRefusal::StaleEpoch { current } => error.epoch = Some(*current),
                SyncKeyRefusal::CopiesMismatch | SyncKeyRefusal::NoSyncKey => {}
            },
            ServerError::Malformed(_)
            | ServerError::PayloadTooLarge
            | ServerError::InvalidUsername(_)
            | ServerError::InvalidLedger(_)
            | ServerError::InvalidCredentials
            | ServerError::LoginExpired
            | ServerError::RecoveryExpired
            | ServerError::RegistrationExpired
            | ServerError::RecoveryRefused
            | ServerError::UsernameTaken
            | ServerError::Unauthenticated(_)
            | ServerError::NotFound
            | ServerError::MethodNotAllowed
            | ServerError::Timeout
            | ServerError::Config(_)
            | ServerError::DataDir(_)
            | ServerError::Storage(_)
            | ServerError::Internal(_) => {}
        }
        ErrorEnvelope { error }
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ServerError::Unavailable(_) = &self {
            tracing::warn!(code = %self.code(), error = %self, "request failed");
        } else if status.is_server_error() {
            // Internal texts come from storage and our own code: no usernames, keys or ids.
            tracing::error!(code = %self.code(), error = %self, "request failed");
        } else {
            tracing::debug!(code = %self.code(), "request refused");
        }
        let mut response = (status, Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after()
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The body as the client receives it.
    trait BodyJson {
        fn body_json(&self) -> Value;
    }

    impl BodyJson for ServerError {
        fn body_json(&self) -> Value {
            serde_json::to_value(self.body()).unwrap()
        }
    }
    use enigm_core::trust::Reason;

    #[test]
    fn internal_errors_hide_their_cause() {
        let error = ServerError::Storage("disk I/O error at /secret/path".into());
        let body = error.body_json().to_string();
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!body.contains("secret"), "{body}");
        assert_eq!(
            body,
            r#"{"error":{"code":"internal","message":"internal error"}}"#
        );
    }

    #[test]
    fn details_are_machine_readable() {
        let body = ServerError::RateLimited { retry_after: 8 }.body_json();
        assert_eq!(body["error"]["code"], "rate_limited");
        assert_eq!(body["error"]["retry_after"], 8);

        let body = ServerError::LedgerConflict {
            seq: 3,
            hash: "ab".into(),
        }
        .body_json();
        assert_eq!(body["error"]["head"]["seq"], 3);

        let decision = Decision::from_reasons(vec![Reason::DeviceRevoked]);
        let body = ServerError::Refused(decision).body_json();
        assert_eq!(body["error"]["code"], "trust_denied");
        assert_eq!(body["error"]["reasons"][0], "device_revoked");

        let decision = Decision::from_reasons(vec![Reason::StepUpRequired]);
        assert_eq!(
            ServerError::Refused(decision).code(),
            ErrorCode::StepUpRequired
        );
    }

    #[test]
    fn unavailable_storage_is_503_with_retry_after_and_no_detail() {
        let error =
            ServerError::Unavailable("postgres pool: connection refused at 10.0.0.7".into());
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = error.body_json();
        assert_eq!(body["error"]["code"], "service_unavailable");
        assert_eq!(body["error"]["retry_after"], RETRY_UNAVAILABLE_SECS);
        assert!(!body.to_string().contains("10.0.0.7"), "{body}");
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers()[header::RETRY_AFTER],
            RETRY_UNAVAILABLE_SECS.to_string()
        );
    }

    #[test]
    fn enrollment_refusals_have_stable_codes_and_details() {
        let error = ServerError::Enrollment(EnrollmentRefusal::Closed(enigm_proto::Stage::Expired));
        assert_eq!(error.status(), StatusCode::CONFLICT);
        assert_eq!(error.body_json()["error"]["code"], "enrollment_closed");
        assert_eq!(error.body_json()["error"]["state"], "expired");
        let error = ServerError::Enrollment(EnrollmentRefusal::WrongParty);
        assert_eq!(error.status(), StatusCode::FORBIDDEN);
        assert_eq!(error.code(), ErrorCode::EnrollmentWrongParty);
        let error = ServerError::Enrollment(EnrollmentRefusal::AlreadyOpen { id: "ab".into() });
        assert_eq!(error.body_json()["error"]["id"], "ab");
        assert_eq!(
            ServerError::Enrollment(EnrollmentRefusal::OutOfOrder).code(),
            ErrorCode::EnrollmentOutOfOrder
        );
    }

    #[test]
    fn recovery_refusals_have_their_own_codes() {
        let expired = ServerError::RecoveryExpired;
        assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(expired.body_json()["error"]["code"], "recovery_expired");
        let refused = ServerError::RecoveryRefused;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert_eq!(refused.body_json()["error"]["code"], "recovery_refused");
    }

    #[test]
    fn sync_key_refusals_have_stable_codes_and_the_current_epoch() {
        let error = ServerError::SyncKey(SyncKeyRefusal::EpochConflict { current: 3 });
        assert_eq!(error.status(), StatusCode::CONFLICT);
        assert_eq!(error.body_json()["error"]["code"], "sync_epoch_conflict");
        assert_eq!(error.body_json()["error"]["epoch"], 3);
        let error = ServerError::SyncKey(SyncKeyRefusal::StaleEpoch { current: 4 });
        assert_eq!(error.body_json()["error"]["code"], "stale_sync_epoch");
        assert_eq!(error.body_json()["error"]["epoch"], 4);
        let error = ServerError::SyncKey(SyncKeyRefusal::NoSyncKey);
        assert_eq!(error.status(), StatusCode::NOT_FOUND);
        assert_eq!(error.code(), ErrorCode::NoSyncKey);
        assert_eq!(
            ServerError::SyncKey(SyncKeyRefusal::CopiesMismatch).code(),
            ErrorCode::SyncKeyCopiesMismatch
        );
    }

    #[test]
    fn auth_failures_are_401_with_their_own_code() {
        let error = ServerError::Unauthenticated(AuthFailure::Replayed);
        assert_eq!(error.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(error.body_json()["error"]["code"], "replayed");
    }
}
