//! The one shape in which errors cross IPC: a stable code for the UI to branch on and a message
//! that is safe to show. Internal details (paths, OS error text) are logged, never sent.
//!
//! The code is one of a closed set, [`IpcError::CODES`]: the engine's, the store's and the
//! service's codes, which pass through, and the few only the app gives ([`AppCode`]). The UI's
//! TypeScript knows the set as the union `IpcErrorCode`, so comparing with a code that does not
//! exist fails its type check.

use enigm_client::ClientError;
use enigm_proto::ErrorCode;
use serde::Serialize;
use ts_rs::TS;

/// The codes only the app gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppCode {
    /// The profile belongs to an account, but its service's address is unknown.
    ServerUnknown,
    /// The profile belongs to an account on another service.
    ServerMismatch,
    /// Another enrollment runs on this computer.
    EnrollmentBusy,
    /// There is no Downloads folder to save to.
    NoDownloadsFolder,
    /// A file could not be saved.
    SaveFailed,
    /// The user cancelled while it ran.
    Cancelled,
    /// The recovery being finished is no longer open.
    RecoveryNotStarted,
    /// The service refused with a code this version does not know.
    ServiceError,
}

impl AppCode {
    /// Every app code.
    #[cfg(test)]
    pub const ALL: [AppCode; 8] = [
        Self::ServerUnknown,
        Self::ServerMismatch,
        Self::EnrollmentBusy,
        Self::NoDownloadsFolder,
        Self::SaveFailed,
        Self::Cancelled,
        Self::RecoveryNotStarted,
        Self::ServiceError,
    ];

    /// The code the UI sees.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ServerUnknown => "server_unknown",
            Self::ServerMismatch => "server_mismatch",
            Self::EnrollmentBusy => "enrollment_busy",
            Self::NoDownloadsFolder => "no_downloads_folder",
            Self::SaveFailed => "save_failed",
            Self::Cancelled => "cancelled",
            Self::RecoveryNotStarted => "recovery_not_started",
            Self::ServiceError => "service_error",
        }
    }
}

/// An error as the UI receives it.
#[derive(Debug, Serialize, PartialEq, Eq, TS)]
pub struct IpcError {
    /// Stable, lower-case, machine-readable: one of [`IpcError::CODES`].
    #[ts(type = "IpcErrorCode")]
    pub code: String,
    /// One or two plain sentences: what happened and what to do.
    pub message: String,
    /// Seconds until the service accepts another attempt, when it said (`rate_limited`): the
    /// window counts down to it rather than showing a number that goes stale.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub retry_after: Option<u64>,
}

impl IpcError {
    /// Every code an error may carry: the app's, the engine's, the store's and the service's.
    #[cfg(test)]
    pub fn codes() -> Vec<&'static str> {
        let mut codes: Vec<&'static str> = AppCode::ALL.iter().map(|code| code.as_str()).collect();
        codes.extend(ClientError::CODES);
        codes.extend(enigm_store::Error::CODES);
        codes.extend(ErrorCode::ALL.iter().map(ErrorCode::as_str));
        codes.sort_unstable();
        codes.dedup();
        codes
    }

    /// An error the user cannot act on; the detail goes to the log only.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self {
            code: "internal".to_owned(),
            message: "Something went wrong inside Enigm. Please try again.".to_owned(),
            retry_after: None,
        }
    }

    /// An error only the app gives.
    pub fn new(code: AppCode, message: &str) -> Self {
        Self {
            code: code.as_str().to_owned(),
            message: message.to_owned(),
            retry_after: None,
        }
    }

    /// The engine's `error`, with the app's own sentence for it.
    pub fn explained(error: &ClientError, message: &str) -> Self {
        Self {
            code: error.code().to_owned(),
            message: message.to_owned(),
            retry_after: error.retry_after(),
        }
    }
}

impl From<enigm_store::Error> for IpcError {
    fn from(error: enigm_store::Error) -> Self {
        Self {
            code: error.code().to_owned(),
            message: capitalized(&error.to_string()),
            retry_after: None,
        }
    }
}

impl From<ClientError> for IpcError {
    fn from(error: ClientError) -> Self {
        if let Some(ErrorCode::Unknown(code)) = error.service_code() {
            tracing::info!(
                code,
                "the service refused with a code this version does not know"
            );
            return Self::new(AppCode::ServiceError, &capitalized(&error.to_string()));
        }
        let code = error.code().to_owned();
        tracing::info!(code, "a command was refused");
        let retry_after = error.retry_after();
        // The engine's own sentences are written for the CLI; these few name CLI commands, and
        // the service's "retry in N seconds" would go stale on screen (the window counts down).
        let message = match code.as_str() {
            "internal" => return Self::internal(&error),
            "signed_out" => "You are signed out. Sign in to continue.".to_owned(),
            "no_account" => "This computer does not belong to an account yet.".to_owned(),
            "already_registered" => "This computer already belongs to an account.".to_owned(),
            "locked" => "Enigm is locked. Unlock it with your PIN or your account password.".to_owned(),
            "service_refuses_device" => "The Enigm service refuses this computer, but your own device list does not show it removed, so nothing was erased. If none of your devices removed it, the service is misbehaving.".to_owned(),
            "rate_limited" if retry_after.is_some() => "Too many attempts.".to_owned(),
            "rate_limited" => "Too many attempts. Wait a few minutes, then try again.".to_owned(),
            _ => capitalized(&error.to_string()),
        };
        Self {
            code,
            message,
            retry_after,
        }
    }
}

/// The engine's messages start lower-case (they follow "error: " in the CLI).
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => {
            let mut out: String = first.to_uppercase().collect();
            out.push_str(chars.as_str());
            if !out.ends_with('.') {
                out.push('.');
            }
            out
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_service_code_is_not_passed_to_the_window() {
        let error = IpcError::from(ClientError::Service {
            status: 400,
            code: ErrorCode::Unknown("quantum_flux".to_owned()),
            message: "the flux is unstable".to_owned(),
            retry_after: None,
        });
        assert_eq!(error.code, "service_error");
        assert!(IpcError::codes().contains(&error.code.as_str()));
        assert!(!IpcError::codes().contains(&"quantum_flux"));
    }

    #[test]
    fn engine_errors_keep_their_code_and_read_as_sentences() {
        let error = IpcError::from(ClientError::WrongPassword);
        assert_eq!(error.code, "wrong_password");
        assert_eq!(error.message, "The username or password is wrong.");
        let error = IpcError::from(ClientError::SignedOut);
        assert_eq!(error.code, "signed_out");
        assert!(!error.message.contains("enigm account"));
        let error = IpcError::from(ClientError::Task);
        assert_eq!(error.code, "internal");
        // The store's too (a locked keychain is shown at start).
        let error = IpcError::from(enigm_store::Error::KeychainLocked);
        assert!(
            error.message.starts_with("The OS keychain is locked"),
            "{}",
            error.message
        );
        assert!(error.message.ends_with('.'), "{}", error.message);
    }

    #[test]
    fn a_rate_limit_carries_the_wait_instead_of_a_sentence_that_goes_stale() {
        let limited = |retry_after| {
            IpcError::from(ClientError::Service {
                status: 429,
                code: enigm_proto::ErrorCode::RateLimited,
                message: "too many attempts; retry in 30 seconds".to_owned(),
                retry_after,
            })
        };
        let error = limited(Some(30));
        assert_eq!(error.code, "rate_limited");
        assert_eq!(error.retry_after, Some(30));
        assert!(!error.message.contains("30"), "{}", error.message);
        assert_eq!(
            serde_json::to_value(&error).unwrap()["retry_after"],
            serde_json::json!(30)
        );
        let error = limited(None);
        assert_eq!(error.retry_after, None);
        assert!(error.message.contains("Wait"), "{}", error.message);
        let json = serde_json::to_value(&error).unwrap();
        assert!(json.get("retry_after").is_none(), "{json}");
    }
}
