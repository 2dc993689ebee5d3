//! Deterministic keys and a history builder shared by the ledger's unit tests.

use ed25519_dalek::SigningKey;

use crate::Error;
use crate::identity::DeviceSecrets;

use super::{AccountId, EntryKind, LedgerEntry, LedgerState, Signer, verify_chain};

pub(crate) const ACCOUNT: AccountId = [0xA5; 16];

/// Device `n`, from a fixed seed.
pub(crate) fn device(n: u8) -> DeviceSecrets {
    DeviceSecrets::from_bytes(&[n; 64])
}

pub(crate) fn recovery_key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[0x80 | n; 32])
}

pub(crate) fn org_key() -> SigningKey {
    SigningKey::from_bytes(&[0x55; 32])
}

/// Who signs an entry in a test.
pub(crate) enum Key<'a> {
    Device(&'a DeviceSecrets),
    Raw(Signer, &'a SigningKey),
}

pub(crate) fn sign(entry: &mut LedgerEntry, keys: &[Key<'_>]) {
    for key in keys {
        match key {
            Key::Device(secrets) => entry.sign_device(&ACCOUNT, secrets),
            Key::Raw(signer, raw) => entry.sign_with(&ACCOUNT, *signer, raw),
        }
    }
}

/// A growing history and its incrementally verified state.
pub(crate) struct History {
    pub(crate) entries: Vec<LedgerEntry>,
    pub(crate) state: LedgerState,
}

impl History {
    /// Genesis with device 1 and recovery key 1.
    pub(crate) fn new() -> Self {
        let genesis = LedgerEntry::genesis(ACCOUNT, &device(1), &recovery_key(1));
        let state = verify_chain(std::slice::from_ref(&genesis)).unwrap();
        Self {
            entries: vec![genesis],
            state,
        }
    }

    /// Genesis, then device 2 added by device 1.
    pub(crate) fn with_two_devices() -> Self {
        let mut history = Self::new();
        history.add(2, 1).unwrap();
        history
    }

    /// The next entry, signed, not applied.
    pub(crate) fn draft(&self, kind: EntryKind, keys: &[Key<'_>]) -> LedgerEntry {
        let mut entry = self.state.next_entry(kind);
        sign(&mut entry, keys);
        entry
    }

    /// Signs and applies the next entry; on error nothing changes.
    pub(crate) fn push(&mut self, kind: EntryKind, keys: &[Key<'_>]) -> Result<(), Error> {
        let entry = self.draft(kind, keys);
        self.state.apply(std::slice::from_ref(&entry))?;
        self.entries.push(entry);
        Ok(())
    }

    /// Adds device `n` approved by device `by`.
    pub(crate) fn add(&mut self, n: u8, by: u8) -> Result<(), Error> {
        let (new, approver) = (device(n), device(by));
        self.push(
            EntryKind::AddDevice {
                device: new.public(),
                approved_by: approver.device_id(),
                replaces: None,
            },
            &[Key::Device(&approver), Key::Device(&new)],
        )
    }
}
