//! The verified ledger of an account, as this node last saw it.
//!
//! Trust is evaluated on every request against the account's ledger, so verifying the whole
//! chain each time would be wasteful. The cache keeps one [`LedgerState`] per account and, on
//! every use, compares its head with the head in storage (the source of truth, shared by all
//! nodes): if storage moved on, only the new entries are fetched and applied. A stale cache can
//! therefore never be used.

use std::collections::HashMap;
use std::sync::Mutex;

use enigm_core::identity::DeviceId;
use enigm_core::ledger::{LedgerEntry, LedgerState, verify_chain};
use enigm_core::lifecycle::DeviceState;

use crate::api::encode_b64;
use crate::error::ServerError;
use crate::state::AppState;
use crate::storage::AccountId;

/// Accounts kept; past this the cache starts over (simple and bounded).
const MAX_ACCOUNTS: usize = 4096;

/// Entries fetched per storage call while catching up.
const PAGE: usize = 1000;

/// Verified ledger states by account.
#[derive(Default)]
pub(crate) struct LedgerCache {
    states: Mutex<HashMap<AccountId, LedgerState>>,
}

impl AppState {
    /// The verified ledger of `account_id`, current with storage.
    pub(crate) async fn ledger(&self, account_id: &AccountId) -> Result<LedgerState, ServerError> {
        let account = self
            .storage()
            .account(account_id)
            .await?
            .ok_or(ServerError::NotFound)?;
        let cached = self
            .ledger_cache()
            .states
            .lock()
            .map_err(|_| ServerError::Internal("ledger cache poisoned".into()))?
            .get(account_id)
            .cloned();
        let mut state: Option<LedgerState> =
            cached.filter(|state| state.head().seq <= account.head.seq);
        if let Some(current) = &state
            && current.head().seq == account.head.seq
            && current.head().hash.0 == account.head.hash
        {
            return Ok(current.clone());
        }
        let mut next = state.as_ref().map_or(0, |s| s.head().seq.saturating_add(1));
        loop {
            let page = self
                .storage()
                .ledger_entries(account_id, next, PAGE)
                .await?;
            let full_page = page.len() == PAGE;
            // Another node may have appended since `account` was read: its entries belong to a
            // later head, so stop at the head read (entries are written with their head, once).
            let page: Vec<_> = page
                .into_iter()
                .filter(|stored| stored.seq <= account.head.seq)
                .collect();
            let entries = page
                .iter()
                .map(|stored| LedgerEntry::decode(&stored.bytes))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| {
                    ServerError::Internal(format!("stored ledger unreadable: {error}"))
                })?;
            let Some(last) = page.last() else { break };
            next = last.seq.saturating_add(1);
            let unverifiable =
                |error| ServerError::Internal(format!("stored ledger does not verify: {error}"));
            state = Some(match state.take() {
                Some(mut current) => {
                    current.apply(&entries).map_err(unverifiable)?;
                    current
                }
                None => verify_chain(&entries).map_err(unverifiable)?,
            });
            if !full_page || next > account.head.seq {
                break;
            }
        }
        let state = state.ok_or_else(|| ServerError::Internal("account has no ledger".into()))?;
        if state.head().hash.0 != account.head.hash {
            return Err(ServerError::Internal("stored ledger head mismatch".into()));
        }
        let mut states = self
            .ledger_cache()
            .states
            .lock()
            .map_err(|_| ServerError::Internal("ledger cache poisoned".into()))?;
        if states.len() >= MAX_ACCOUNTS {
            states.clear();
        }
        states.insert(*account_id, state.clone());
        Ok(state)
    }

    /// The refusal for a device `ledger` marks removed (`device_removed`, or `device_replaced`),
    /// carrying the entry that removed it as proof; `None` for a device that was not removed.
    pub(crate) async fn removal(
        &self,
        account_id: &AccountId,
        ledger: &LedgerState,
        device_id: [u8; 16],
    ) -> Result<Option<ServerError>, ServerError> {
        let Some(record) = ledger.device(&DeviceId::from_bytes(device_id)) else {
            return Ok(None);
        };
        let replaced = match record.state {
            DeviceState::Replaced => true,
            DeviceState::Revoked | DeviceState::Retired => false,
            DeviceState::Pending
            | DeviceState::Review
            | DeviceState::Active
            | DeviceState::Suspended => return Ok(None),
        };
        let seq = record
            .removed_at
            .ok_or_else(|| ServerError::Internal("removed device without its removal".into()))?;
        let stored = self
            .storage()
            .ledger_entries(account_id, seq, 1)
            .await?
            .into_iter()
            .find(|stored| stored.seq == seq)
            .ok_or_else(|| ServerError::Internal("removing entry missing".into()))?;
        Ok(Some(ServerError::DeviceRemoved {
            replaced,
            entry: encode_b64(&stored.bytes),
        }))
    }
}
