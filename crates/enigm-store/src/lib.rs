//! Enigm's encrypted local store and its key custody (DESIGN §12).
//!
//! Each profile directory holds one SQLCipher database, opened with a raw 256-bit key
//! (`PRAGMA key = "x'…'"`, no passphrase KDF), in WAL mode, with schema migrations on
//! `PRAGMA user_version` run inside one transaction. The key is created from the OS RNG on
//! first use and kept in the OS keychain ([`Keychain`]): one entry per profile, service
//! `"enigm"`, user = the profile's random id. A key check value beside the database lets
//! [`Store::open`] tell a wrong or missing key from a damaged file, each with its own
//! [`Error`] variant and remedy; nothing is deleted or recreated automatically, and there is
//! never a plaintext fallback.
//!
//! Every call blocks (keychain and disk). Async callers run them with
//! `tokio::task::spawn_blocking`.
//!
//! ```
//! use enigm_store::{Keychain, PinnedHead, Store};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! // The app uses Keychain::platform(); tests use keyring-core's mock store.
//! let keychain = Keychain::from_credential_store(keyring_core::mock::Store::new()?);
//!
//! let mut store = Store::open(dir.path(), &keychain)?; // first use: creates everything
//! assert!(store.info().encrypted && store.info().created);
//! assert_eq!(store.info().keychain_backend.as_deref(), Some("mock"));
//! store.pin_head(PinnedHead { seq: 0, hash: [7; 32] })?;
//! store.close()?;
//!
//! let store = Store::open(dir.path(), &keychain)?; // re-open: key from the keychain
//! assert!(!store.info().created);
//! assert_eq!(store.pinned_head()?.map(|head| head.seq), Some(0));
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod keychain;
mod profile;
mod schema;
mod store;

pub use error::Error;
pub use keychain::{KEYCHAIN_SERVICE, Keychain, StoreKey};
pub use profile::ProfileId;
pub use schema::LATEST as SCHEMA_VERSION;
pub use store::{LockState, PinSecret, PinnedHead, RevokedMark, SavedSession, Store, StoreInfo};

#[cfg(test)]
mod tests;
