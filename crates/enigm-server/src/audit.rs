//! The service's audit trail: one hash-chained `enigm_core::audit::AuditRecord` per
//! security-relevant action, carrying pseudonyms only (DESIGN §9, §13).
//!
//! The actor is the account's pseudonym and the subject the device's, both in the service's
//! own audience. Each account has its own chain (record 0 is its first record), so the account
//! can be given its whole chain, signed by the service, without anyone else's records
//! ([`AppState::audit_export`], checked offline by `enigm audit verify`). Records are stored
//! as their JSON form (readable back and exportable) next to their canonical hash; appending
//! takes the next position with the storage's compare-and-set
//! ([`crate::storage::Storage::append_audit`]), retrying when another node took it first, so
//! nodes sharing a database extend one chain per account.

use enigm_core::audit::{
    AuditAction, AuditCode, AuditExport, AuditOutcome, AuditRecord, ChainHead,
};
use enigm_core::ledger::EntryKind;
use enigm_core::pseudonym::{Pseudonym, PseudonymKind, pseudonym};

use crate::error::ServerError;
use crate::state::AppState;
use crate::storage::{AccountId, StoredAudit};

/// How often an append retries after losing a race for the next position.
const MAX_ATTEMPTS: usize = 16;

/// The most records one export holds (an account writes a few per sign-in and device change).
pub(crate) const MAX_EXPORT_RECORDS: usize = 100_000;

/// The audit code of a ledger entry kind.
pub(crate) fn entry_code(kind: &EntryKind) -> Result<AuditCode, ServerError> {
    let code = match kind {
        EntryKind::Genesis { .. } => "genesis",
        EntryKind::AddDevice { .. } => "device_added",
        EntryKind::Suspend { .. } => "device_suspended",
        EntryKind::Resume { .. } => "device_resumed",
        EntryKind::Revoke { .. } => "device_revoked",
        EntryKind::Retire { .. } => "device_retired",
        EntryKind::Review { .. } => "device_reviewed",
        EntryKind::Recover { .. } => "account_recovered",
        EntryKind::RotateRecovery { .. } => "recovery_rotated",
        EntryKind::JoinOrganization { .. } => "organization_joined",
        EntryKind::LeaveOrganization => "organization_left",
    };
    AuditCode::new(code).map_err(|error| ServerError::Internal(format!("audit code: {error}")))
}

/// The audit code of a refusal.
pub(crate) fn reason_code(code: &str) -> Result<AuditCode, ServerError> {
    AuditCode::new(code).map_err(|error| ServerError::Internal(format!("audit code: {error}")))
}

impl AppState {
    /// Appends an audit record: `account` did `action` (to or with `device`).
    pub(crate) async fn audit(
        &self,
        action: AuditAction,
        outcome: AuditOutcome,
        account: &AccountId,
        device: Option<&[u8; 16]>,
    ) -> Result<(), ServerError> {
        let key = &self.secrets().service_logs;
        let actor = pseudonym(key, PseudonymKind::Account, account);
        let subject = device.map(|id| pseudonym(key, PseudonymKind::Device, id));
        for _ in 0..MAX_ATTEMPTS {
            let (seq, prev_hash) = match self.storage().audit_head(actor.as_str()).await? {
                Some((seq, hash)) => (seq.saturating_add(1), hash),
                None => (0, [0u8; 32]),
            };
            let record = AuditRecord {
                seq,
                prev_hash,
                at: self.now(),
                actor: actor.clone(),
                action: action.clone(),
                subject: subject.clone(),
                outcome,
            };
            let bytes = serde_json::to_vec(&record)
                .map_err(|error| ServerError::Internal(format!("audit encoding: {error}")))?;
            let stored = StoredAudit {
                seq,
                hash: record.hash(),
                account: actor.as_str().to_owned(),
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

    /// Audits a change that storage has already committed, or an event audited off the
    /// request path. The change stands whatever happens here, so a failed audit write must not
    /// turn its answer into an error (the client would retry what happened, and the push and
    /// follow-ups would be skipped): the loss is logged, loudly, instead.
    pub(crate) async fn audit_committed(
        &self,
        action: AuditAction,
        outcome: AuditOutcome,
        account: &AccountId,
        device: Option<&[u8; 16]>,
    ) {
        if let Err(error) = self.audit(action, outcome, account, device).await {
            let account = pseudonym(
                &self.secrets().service_logs,
                PseudonymKind::Account,
                account,
            );
            tracing::error!(
                %account,
                code = %error.code(),
                "a committed change was not audited: the audit trail misses a record"
            );
        }
    }

    /// The audit chain of `account` (an account pseudonym) from record 0, signed by the
    /// service's audit key: at most [`MAX_EXPORT_RECORDS`] records, and the head the chain had
    /// when read, so a longer chain's export says it is cut ([`AuditExport::complete`]).
    pub(crate) async fn audit_export(
        &self,
        account: &Pseudonym,
    ) -> Result<AuditExport, ServerError> {
        self.audit_export_at_most(account, MAX_EXPORT_RECORDS).await
    }

    /// [`AppState::audit_export`] with its bound given.
    async fn audit_export_at_most(
        &self,
        account: &Pseudonym,
        max_records: usize,
    ) -> Result<AuditExport, ServerError> {
        // The head first: records appended after it are left for the next export, so the
        // records never run past the head they are signed with.
        let head = self
            .storage()
            .audit_head(account.as_str())
            .await?
            .map(|(seq, hash)| ChainHead { seq, hash });
        let length = head.map_or(0, |head| head.seq.saturating_add(1));
        let limit = usize::try_from(length).map_or(max_records, |length| length.min(max_records));
        let stored = self
            .storage()
            .audit_records(account.as_str(), 0, limit)
            .await?;
        let records = stored
            .iter()
            .map(|stored| {
                let record: AuditRecord = serde_json::from_slice(&stored.bytes).map_err(|_| {
                    ServerError::Storage(format!("audit record {} does not decode", stored.seq))
                })?;
                // What the chain stored must be what it hashed: a mismatch is storage damage,
                // and signing it would vouch for it.
                if record.seq != stored.seq || record.hash() != stored.hash {
                    return Err(ServerError::Storage(format!(
                        "audit record {} does not match its stored hash",
                        stored.seq
                    )));
                }
                Ok(record)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AuditExport::sign(
            records,
            head,
            self.now(),
            &self.secrets().audit_signing,
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use enigm_core::audit::verify_audit_chain;
    use enigm_core::identity::SigningPublicKey;
    use enigm_core::opaque::ServerSetup;
    use rand_core::OsRng;

    use super::*;
    use crate::config::Config;
    use crate::secrets::Secrets;
    use crate::storage::SqliteStorage;

    #[tokio::test]
    async fn records_form_one_verifiable_chain_of_pseudonyms() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = Secrets::load_or_create(dir.path(), None, None).unwrap();
        let config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
        let storage = Arc::new(SqliteStorage::open_in_memory().unwrap());
        let state = AppState::new(
            storage,
            secrets,
            ServerSetup::new(&mut OsRng),
            config,
            Arc::new(crate::push::PushHub::default()),
            crate::Clock::system(),
        );
        let account = [7u8; 16];
        state
            .audit(
                AuditAction::AccountRegistered,
                AuditOutcome::Success,
                &account,
                Some(&[1; 16]),
            )
            .await
            .unwrap();
        state
            .audit(
                AuditAction::LoginFailed,
                AuditOutcome::Denied,
                &account,
                None,
            )
            .await
            .unwrap();
        let kind = entry_code(&EntryKind::LeaveOrganization).unwrap();
        state
            .audit(
                AuditAction::LedgerAppended { kind },
                AuditOutcome::Success,
                &account,
                None,
            )
            .await
            .unwrap();

        let actor = pseudonym(
            &state.secrets().service_logs,
            PseudonymKind::Account,
            &account,
        );
        let stored = state
            .storage()
            .audit_records(actor.as_str(), 0, 10)
            .await
            .unwrap();
        let records: Vec<AuditRecord> = stored
            .iter()
            .map(|stored| serde_json::from_slice(&stored.bytes).unwrap())
            .collect();
        verify_audit_chain(&records).unwrap();
        for (stored, record) in stored.iter().zip(&records) {
            assert_eq!(stored.hash, record.hash());
            assert_eq!(record.actor, actor);
            let text = String::from_utf8(stored.bytes.clone()).unwrap();
            assert!(!text.contains(&hex::encode(account)), "no raw ids: {text}");
        }
        assert!(
            records[0]
                .subject
                .as_ref()
                .unwrap()
                .as_str()
                .starts_with("dev_")
        );

        // Another account starts its own chain; the first account's export holds its own
        // records only, whole and signed.
        state
            .audit(
                AuditAction::LoginSucceeded,
                AuditOutcome::Success,
                &[8; 16],
                None,
            )
            .await
            .unwrap();
        let export = state.audit_export(&actor).await.unwrap();
        let service_key = SigningPublicKey::from(&state.secrets().audit_signing);
        export.verify(Some(&service_key)).unwrap();
        assert_eq!(export.records, records);
        let other = pseudonym(
            &state.secrets().service_logs,
            PseudonymKind::Account,
            &[8; 16],
        );
        let other_export = state.audit_export(&other).await.unwrap();
        other_export.verify(Some(&service_key)).unwrap();
        assert_eq!(other_export.records.len(), 1);
        assert_eq!(other_export.records[0].seq, 0);
        assert!(export.complete() && other_export.complete());

        // A chain longer than one export holds is sent cut, and says so, signed.
        let cut = state.audit_export_at_most(&actor, 2).await.unwrap();
        cut.verify(Some(&service_key)).unwrap();
        assert_eq!(cut.records, records[..2]);
        assert!(!cut.complete());
        assert_eq!(cut.chain_length(), 3);
    }
}
