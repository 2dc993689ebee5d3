//! Enigm's wire protocol, defined once: every request and response body of the HTTP API
//! (DESIGN §13), the push events, the enrollment relay's public view and the error envelope
//! with its closed set of [`ErrorCode`]s.
//!
//! The service serializes these types and the engine, the test harness and the benches
//! deserialize them (and the other way round for requests), so a field renamed on one side is a
//! compile error on the other instead of a runtime surprise. Binary values travel as strings
//! (unpadded base64url for keys, signatures and sealed bytes; lower-case hex for ids and
//! hashes): the types carry the strings, and each side checks lengths where it decodes them,
//! because a hostile peer controls them.
//!
//! Requests refuse unknown fields (the service rejects what it does not understand); replies
//! accept them, so an older client keeps working against a newer service that adds a field.

mod account;
mod audit;
mod device;
mod enrollment;
mod error;
mod ledger;
mod password;
mod push;
mod recovery;
#[cfg(feature = "openapi")]
pub mod schema;
mod session;
mod sync_key;

pub use account::{RegisterFinish, RegisterFinishReply, RegisterStart, RegisterStartReply};
pub use audit::{AuditKey, AuditRecordView, AuditRecords};
pub use device::{SeenDevice, SeenDevices};
pub use enrollment::{
    ApproverMac, ApproverView, Cancel, CancelReason, Complete, CreateEnrollment, Empty,
    EnrollmentList, EnrollmentView, Ephemeral, NewDeviceMac, Party, Stage,
};
pub use error::{ErrorBody, ErrorCode, ErrorEnvelope};
pub use ledger::{Append, AppendReply, Head, LedgerPage};
pub use password::{PasswordChanged, PasswordFinish, PasswordStart, PasswordStartReply};
pub use push::{EndReason, PushEvent};
pub use recovery::{
    RecoveryFinish, RecoveryFinishReply, RecoveryLedger, RecoveryLedgerReply, RecoveryStart,
    RecoveryStartReply,
};
pub use session::{
    Health, LoginFinish, LoginStart, LoginStartReply, RefreshReply, SessionInfo, SessionIssued,
    SessionList, SessionStatus, SessionSummary, SessionsEnded,
};
pub use sync_key::{
    MissingCopies, RotateSyncKey, RotatedSyncKey, SealedCopy, SharedItem, SharedItems, SharedWrite,
    SharedWritten, SyncKeyCopyReply,
};
