//! The one shape in which errors cross IPC: a stable code for the UI to branch on and a message
//! that is safe to show. Internal details (paths, OS error text) are logged, never sent.

use serde::Serialize;
use ts_rs::TS;

/// An error as the UI receives it.
#[derive(Debug, Serialize, PartialEq, Eq, TS)]
pub struct IpcError {
    /// Stable, lower-case, machine-readable (the engine's `ClientError::code`).
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
    /// An error the user cannot act on; the detail goes to the log only.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self {
            code: "internal".to_owned(),
            message: "Something went wrong inside Enigm. Please try again.".to_owned(),
            retry_after: None,
        }
    }

    /// An error with a fixed code and message.
    pub fn new(code: &str, message: &str) -> Self {
        Self {
            code: code.to_owned(),
            message: message.to_owned(),
            retry_after: None,
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

impl From<enigm_client::ClientError> for IpcError {
    fn from(error: enigm_client::ClientError) -> Self {
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
    use enigm_client::ClientError;

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
