//! The device ledger (DESIGN §4): the account's append-only, hash-chained, signed device list,
//! verified by every client itself.
//!
//! The service stores and relays the ledger but cannot forge it: every entry is signed by the
//! keys the rules in [`LedgerState`] require, chained by [`EntryHash`], and encoded in exactly
//! one way ([`encoding`]-module format, version [`ENCODING_VERSION`]). Clients verify a whole
//! chain once ([`verify_chain`]), then only what follows their pinned [`Head`]
//! ([`LedgerState::apply`]), and refuse histories that roll back or fork from it
//! ([`check_presented_head`], [`compare_heads`]).
//!
//! ```
//! use enigm_core::identity::DeviceSecrets;
//! use enigm_core::ledger::{EntryKind, LedgerEntry, verify_chain};
//! use rand_core::OsRng;
//!
//! let account_id = [7u8; 16];
//! let laptop = DeviceSecrets::generate(&mut OsRng);
//! let recovery = ed25519_dalek::SigningKey::generate(&mut OsRng);
//! let genesis = LedgerEntry::genesis(account_id, &laptop, &recovery);
//! let mut state = verify_chain(&[genesis]).unwrap();
//!
//! let phone = DeviceSecrets::generate(&mut OsRng);
//! let mut add = state.next_entry(EntryKind::AddDevice {
//!     device: phone.public(),
//!     approved_by: laptop.device_id(),
//!     replaces: None,
//! });
//! add.sign_device(&account_id, &laptop);
//! add.sign_device(&account_id, &phone);
//! state.apply(&[add]).unwrap();
//! assert_eq!(state.active_devices().count(), 2);
//! ```

mod encoding;
mod entry;
mod removal;
mod state;
mod verify;

pub use encoding::{
    ENCODING_VERSION, MAX_ENTRY_LEN, MAX_LIST_ENTRIES, MAX_REVOKE_LIST, MAX_SIGNATURES,
    decode_entries, encode_entries,
};
pub use entry::{
    AccountId, EntryHash, EntryKind, EntrySignature, LedgerEntry, RevokeReason, SIGNATURE_DOMAIN,
    Signer,
};
pub use removal::{Removal, RemovalCause, Remover, verify_removal, verify_suspension};
pub use state::{DeviceOrigin, DeviceRecord, Head, LedgerState, Organization};
pub use verify::{
    BATCH_THRESHOLD, TORSION_ROUNDS, check_presented_head, compare_heads, verify_chain,
};

#[cfg(test)]
pub(crate) mod test_support;
