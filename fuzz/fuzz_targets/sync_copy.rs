//! Sealed sync-key copies (signed and bare) and sealed shared items as the service hands them
//! over: parsing never panics and keeps the exact bytes; verifying, opening and decrypting never
//! panic, and whatever opens is bound to this account, this recipient and this item.
#![no_main]

use std::sync::OnceLock;

use enigm_core::ledger::LedgerEntry;
use enigm_core::sync_copy::SignedSyncKey;
use enigm_core::sync_key::{SealedItem, SealedSyncKey, SyncKey};
use enigm_fuzz::{ACCOUNT, ITEM_EPOCH, ITEM_KEY, ITEM_NAME, device, ledger};
use libfuzzer_sys::fuzz_target;

/// The verified ledger copies are checked against, signed once rather than per input.
fn entries() -> &'static [LedgerEntry] {
    static ENTRIES: OnceLock<Vec<LedgerEntry>> = OnceLock::new();
    ENTRIES.get_or_init(ledger)
}

fuzz_target!(|data: &[u8]| {
    if let Ok(copy) = SignedSyncKey::from_bytes(data) {
        assert_eq!(copy.as_bytes(), data);
        assert_eq!(
            SignedSyncKey::from_bytes(copy.as_bytes()).ok(),
            Some(copy.clone())
        );
        let entries = entries();
        if copy.open(&ACCOUNT, &device(2), entries).is_ok() {
            // Bound to the account and the recipient.
            assert!(copy.open(&[0x5A; 16], &device(2), entries).is_err());
            assert!(copy.open(&ACCOUNT, &device(3), entries).is_err());
        }
    }
    if let Ok(sealed) = SealedSyncKey::from_bytes(data) {
        assert_eq!(sealed.as_bytes(), data);
        if sealed.open(&ACCOUNT, &device(2)).is_ok() {
            assert!(sealed.open(&[0x5A; 16], &device(2)).is_err());
            assert!(sealed.open(&ACCOUNT, &device(1)).is_err());
        }
    }
    if let Ok(item) = SealedItem::from_bytes(data) {
        assert_eq!(item.as_bytes(), data);
        let key = SyncKey::from_bytes(ITEM_EPOCH, &ITEM_KEY);
        if key.decrypt(&ACCOUNT, ITEM_NAME, &item).is_ok() {
            assert!(key.decrypt(&ACCOUNT, "other", &item).is_err());
            assert!(key.decrypt(&[0x5A; 16], ITEM_NAME, &item).is_err());
        }
    }
});
