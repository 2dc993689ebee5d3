//! The verified ledger of an account, as this node last saw it.
//!
//! Trust is evaluated on every request against the account's ledger, so verifying the whole
//! chain each time would be wasteful. The cache keeps one [`LedgerState`] per account and, on
//! every use, compares its head with the head in storage (the source of truth, shared by all
//! nodes): if storage moved on, only the new entries are fetched and applied. A stale cache can
//! therefore never be used.
//!
//! The cache holds at most [`MAX_ACCOUNTS`] accounts and evicts the least recently used one
//! past that, so the accounts in use stay verified however many others come and go.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::sync::Mutex;

use enigm_core::identity::DeviceId;
use enigm_core::ledger::{LedgerEntry, LedgerState, verify_chain};
use enigm_core::lifecycle::DeviceState;

use crate::api::encode_b64;
use crate::error::ServerError;
use crate::state::AppState;
use crate::storage::AccountId;

/// Accounts kept; past this the least recently used one goes.
const MAX_ACCOUNTS: usize = 4096;

/// Entries fetched per storage call while catching up.
const PAGE: usize = 1000;

/// Verified ledger states by account.
pub(crate) struct LedgerCache {
    states: Mutex<Lru<AccountId, LedgerState>>,
}

impl Default for LedgerCache {
    fn default() -> Self {
        Self {
            states: Mutex::new(Lru::new(MAX_ACCOUNTS)),
        }
    }
}

/// A map of at most `capacity` entries that drops the least recently used one (read or
/// written) to make room. Each use stamps its entry with the next tick; `order` finds the
/// oldest stamp in O(log n).
struct Lru<K, V> {
    capacity: usize,
    tick: u64,
    entries: HashMap<K, (V, u64)>,
    order: BTreeMap<u64, K>,
}

impl<K: Copy + Eq + Hash, V: Clone> Lru<K, V> {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            tick: 0,
            entries: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    /// The next stamp, recorded as `key`'s last use.
    fn touch(&mut self, key: K) -> u64 {
        self.tick = self.tick.wrapping_add(1);
        self.order.insert(self.tick, key);
        self.tick
    }

    /// A copy of `key`'s value, marking it used.
    fn get(&mut self, key: &K) -> Option<V> {
        let old = self.entries.get(key)?.1;
        self.order.remove(&old);
        let stamp = self.touch(*key);
        let (value, used) = self.entries.get_mut(key)?;
        *used = stamp;
        Some(value.clone())
    }

    /// Stores `value` for `key`, marking it used, and drops the least recently used entries
    /// past the capacity.
    fn insert(&mut self, key: K, value: V) {
        let stamp = self.touch(key);
        if let Some((_, old)) = self.entries.insert(key, (value, stamp)) {
            self.order.remove(&old);
        }
        while self.entries.len() > self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
    }
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
            .get(account_id);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_entry_goes_first() {
        let mut lru = Lru::new(3);
        for key in [1u8, 2, 3] {
            lru.insert(key, u32::from(key) * 10);
        }
        assert_eq!(lru.get(&1), Some(10), "1 is now the most recently used");
        lru.insert(4, 40);
        assert_eq!(lru.get(&2), None, "2 was the least recently used");
        assert_eq!(lru.get(&3), Some(30));
        lru.insert(1, 11);
        lru.insert(5, 50);
        assert_eq!(lru.get(&4), None, "4 was used before 3, 1 and 5");
        assert_eq!(
            [1, 3, 5].map(|key| lru.get(&key)),
            [Some(11), Some(30), Some(50)]
        );
        assert_eq!((lru.entries.len(), lru.order.len()), (3, 3));
    }

    #[test]
    fn a_full_cache_keeps_the_accounts_in_use() {
        let mut lru = Lru::new(MAX_ACCOUNTS);
        for key in 0..u16::try_from(MAX_ACCOUNTS).unwrap() {
            lru.insert(key, ());
            // One busy account used between every other.
            lru.insert(u16::MAX, ());
        }
        assert!(lru.get(&u16::MAX).is_some(), "the busy account stayed");
        assert_eq!(lru.entries.len(), MAX_ACCOUNTS);
        assert!(lru.get(&0).is_none(), "the oldest quiet one went");
    }
}
