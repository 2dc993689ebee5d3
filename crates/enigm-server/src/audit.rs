//! The service's audit trail: one hash-chained record per security-relevant action, carrying
//! pseudonyms only (DESIGN §9, §13).
//!
//! Each record is the JSON object `{seq, prev_hash, time, event, account?, device?}` and its
//! hash is `SHA-256("enigm/audit/v1" || prev_hash || record bytes)`, so the chain covers every
//! byte stored. Appending takes the next position with the storage's compare-and-set
//! ([`crate::storage::Storage::append_audit`]), retrying when another node took it first.

use enigm_core::pseudonym::{PseudonymKind, pseudonym};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::ServerError;
use crate::state::AppState;
use crate::storage::{AccountId, StoredAudit};

/// Domain separator of audit record hashes.
const AUDIT_DOMAIN: &[u8] = b"enigm/audit/v1";

/// How often an append retries after losing a race for the next position.
const MAX_ATTEMPTS: usize = 16;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Event {
    /// An account was created.
    AccountRegistered,
    /// A login finished and a full session was issued.
    LoginSucceeded,
    /// A login finished and an enrollment-restricted session was issued.
    EnrollmentSessionIssued,
    /// A login finish failed its OPAQUE check.
    LoginFailed,
    /// Login attempts were refused by the rate limiter.
    LoginRateLimited,
    /// A session was refreshed.
    SessionRefreshed,
    /// A session was ended by its device.
    SessionEnded,
    /// Ledger entries were appended.
    LedgerAppended,
    /// A replayed request was refused.
    ReplayRefused,
}

#[derive(Serialize)]
struct Record<'a> {
    seq: u64,
    prev_hash: String,
    time: u64,
    event: Event,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<&'a str>,
}

/// The hash of a record given its predecessor's hash.
pub(crate) fn record_hash(prev_hash: &[u8; 32], bytes: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update(AUDIT_DOMAIN)
        .chain_update(prev_hash)
        .chain_update(bytes)
        .finalize()
        .into()
}

impl AppState {
    /// Appends an audit record for `event` about `account` and `device` (raw ids, turned into
    /// service pseudonyms here).
    pub(crate) async fn audit(
        &self,
        event: Event,
        account: Option<&AccountId>,
        device: Option<&[u8; 16]>,
    ) -> Result<(), ServerError> {
        let key = &self.secrets().service_logs;
        let account = account.map(|id| pseudonym(key, PseudonymKind::Account, id));
        let device = device.map(|id| pseudonym(key, PseudonymKind::Device, id));
        for _ in 0..MAX_ATTEMPTS {
            let (seq, prev_hash) = match self.storage().audit_head().await? {
                Some((seq, hash)) => (seq.saturating_add(1), hash),
                None => (0, [0u8; 32]),
            };
            let record = Record {
                seq,
                prev_hash: hex::encode(prev_hash),
                time: self.now(),
                event,
                account: account.as_ref().map(|p| p.as_str()),
                device: device.as_ref().map(|p| p.as_str()),
            };
            let bytes = serde_json::to_vec(&record)
                .map_err(|error| ServerError::Internal(format!("audit encoding: {error}")))?;
            let stored = StoredAudit {
                seq,
                hash: record_hash(&prev_hash, &bytes),
                account: account.as_ref().map(|p| p.as_str().to_owned()),
                bytes,
            };
            if self.storage().append_audit(stored).await? {
                return Ok(());
            }
        }
        Err(ServerError::Internal(
            "audit chain position contended too long".into(),
        ))
    }
}
