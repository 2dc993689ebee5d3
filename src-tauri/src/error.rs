//! The one shape in which errors cross IPC: a stable code for the UI to branch on and a message
//! that is safe to show. Internal details (paths, OS error text) are logged, never sent.

use serde::Serialize;

/// An error as the UI receives it.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct IpcError {
    /// Stable, lower-case, machine-readable.
    pub code: &'static str,
    /// One or two plain sentences: what happened and what to do.
    pub message: String,
}

impl IpcError {
    /// An error the user cannot act on; the detail goes to the log only.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self {
            code: "internal",
            message: "Something went wrong inside Enigm. Please try again.".to_owned(),
        }
    }
}

impl From<enigm_store::Error> for IpcError {
    fn from(error: enigm_store::Error) -> Self {
        Self {
            code: error.code(),
            message: error.to_string(),
        }
    }
}
