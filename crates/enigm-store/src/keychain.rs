//! Key custody: the store key and the OS keychain that keeps it.
//!
//! Each profile has one 256-bit [`StoreKey`], created from the OS RNG the first time the profile
//! is opened and kept in the OS keychain under service `"enigm"` and user = the profile's random
//! [`ProfileId`] (never a user name). The platform keychain is the one the `keyring` crate
//! selects: Secret Service on Linux, the login Keychain on macOS, Credential Manager on Windows.
//! Tests hand in any `keyring_core` store instead, usually `keyring_core::mock::Store`.
//!
//! While the user has set a device unlock PIN, a second entry beside it (user = the profile id
//! plus [`PIN_ENTRY_SUFFIX`]) holds the 32-byte secret that keys the PIN's verifier, so the
//! store file alone is not enough to test PIN guesses.
//!
//! Every call here blocks (D-Bus round trips, possibly a user prompt). Async callers must run
//! them on a blocking thread (`tokio::task::spawn_blocking`), never on an async worker.

use std::fmt;
use std::sync::Arc;

use enigm_core::unlock::PIN_SECRET_LEN;
use keyring_core::{CredentialStore, Entry};
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use crate::Error;
use crate::profile::ProfileId;

/// The keychain service name under which every profile key is stored.
pub const KEYCHAIN_SERVICE: &str = "enigm";

/// Appended to the profile id to name the entry of its device unlock PIN secret
/// (`enigm_core::unlock::PinVerifier`), kept only while a PIN is set.
pub const PIN_ENTRY_SUFFIX: &str = ".unlock-pin";

/// A profile's 256-bit SQLCipher key. Zeroized on drop; `Debug` never prints it.
#[derive(Clone)]
pub struct StoreKey(Zeroizing<[u8; StoreKey::LEN]>);

impl StoreKey {
    /// Length of the key in bytes.
    pub const LEN: usize = 32;

    /// A fresh key from the operating system's RNG.
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; Self::LEN]);
        OsRng.fill_bytes(key.as_mut());
        Self(key)
    }

    /// Wraps key bytes the caller already holds (for [`crate::Store::open_with_key`]).
    pub fn from_bytes(bytes: [u8; Self::LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    /// Reads a key from a keychain secret; a secret of the wrong length cannot be this
    /// profile's key, so it is [`Error::WrongKey`].
    fn from_secret(secret: &[u8]) -> Result<Self, Error> {
        let bytes: [u8; Self::LEN] = secret.try_into().map_err(|_| Error::WrongKey)?;
        Ok(Self::from_bytes(bytes))
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKey(<redacted>)")
    }
}

/// A handle on the credential store that keeps profile keys, with its user-facing name.
#[derive(Clone)]
pub struct Keychain {
    store: Arc<CredentialStore>,
    backend: String,
}

impl Keychain {
    /// The platform keychain selected by the `keyring` crate (Secret Service, macOS Keychain,
    /// Windows Credential Manager).
    ///
    /// The `keyring` crate initialises the platform store once per process: if it was not
    /// reachable then, it stays unavailable until the process restarts. Blocking.
    ///
    /// # Errors
    /// [`Error::KeychainUnavailable`] if no platform keychain could be initialised (on Linux:
    /// no session bus, or no Secret Service on it).
    pub fn platform() -> Result<Self, Error> {
        if keyring::Entry::store_status().is_err() {
            tracing::warn!("platform keychain unavailable");
            return Err(Error::KeychainUnavailable);
        }
        let store = keyring_core::get_default_store().ok_or(Error::KeychainUnavailable)?;
        Ok(Self::from_credential_store(store))
    }

    /// Whatever store is currently set as `keyring_core`'s default (for example the mock store a
    /// test installed with `keyring_core::set_default_store`).
    ///
    /// # Errors
    /// [`Error::KeychainUnavailable`] if no default store is set.
    pub fn default_store() -> Result<Self, Error> {
        let store = keyring_core::get_default_store().ok_or(Error::KeychainUnavailable)?;
        Ok(Self::from_credential_store(store))
    }

    /// Uses the given `keyring_core` credential store (for tests: `keyring_core::mock::Store`).
    pub fn from_credential_store(store: Arc<CredentialStore>) -> Self {
        let backend = backend_name(&store.vendor());
        Self { store, backend }
    }

    /// The user-facing name of the backend in use: "Secret Service", "macOS Keychain",
    /// "Windows Credential Manager", "mock", or the store's own vendor name otherwise.
    pub fn backend_name(&self) -> &str {
        &self.backend
    }

    fn entry(&self, profile: &ProfileId) -> Result<Entry, Error> {
        Ok(self
            .store
            .build(KEYCHAIN_SERVICE, &profile.to_hex(), None)?)
    }

    /// Reads the profile's key. Blocking.
    ///
    /// # Errors
    /// [`Error::KeyMissing`] if there is no entry, [`Error::KeychainLocked`],
    /// [`Error::KeychainUnavailable`], [`Error::WrongKey`] if the entry is not 32 bytes,
    /// [`Error::KeychainFailure`] otherwise.
    pub(crate) fn load(&self, profile: &ProfileId) -> Result<StoreKey, Error> {
        let secret = Zeroizing::new(self.entry(profile)?.get_secret()?);
        StoreKey::from_secret(&secret)
    }

    /// Stores a new key for the profile and reads it back, so a keychain that silently drops
    /// writes is caught before any data depends on the key. Blocking.
    pub(crate) fn save(&self, profile: &ProfileId, key: &StoreKey) -> Result<(), Error> {
        let entry = self.entry(profile)?;
        entry.set_secret(key.as_bytes())?;
        let read_back = Zeroizing::new(entry.get_secret()?);
        if read_back.as_slice() != key.as_bytes() {
            return Err(Error::KeychainFailure(keyring_core::Error::BadStoreFormat(
                "the keychain did not return the key just stored".to_owned(),
            )));
        }
        Ok(())
    }

    /// The entry of the profile's device unlock PIN secret: the same service, the profile id
    /// with a suffix as user name, so it sits beside the store key.
    fn pin_entry(&self, profile: &ProfileId) -> Result<Entry, Error> {
        Ok(self.store.build(
            KEYCHAIN_SERVICE,
            &format!("{}{PIN_ENTRY_SUFFIX}", profile.to_hex()),
            None,
        )?)
    }

    /// Reads the secret that keys the profile's PIN verifier. Blocking.
    ///
    /// # Errors
    /// [`Error::KeyMissing`] if there is no entry, [`Error::WrongKey`] if it is not 32 bytes;
    /// the keychain's other errors.
    pub fn load_pin_secret(
        &self,
        profile: &ProfileId,
    ) -> Result<Zeroizing<[u8; PIN_SECRET_LEN]>, Error> {
        let secret = Zeroizing::new(self.pin_entry(profile)?.get_secret()?);
        let bytes: [u8; PIN_SECRET_LEN] =
            secret.as_slice().try_into().map_err(|_| Error::WrongKey)?;
        Ok(Zeroizing::new(bytes))
    }

    /// Stores the secret of a new PIN and reads it back, like [`Keychain::save`]. Blocking.
    pub(crate) fn save_pin_secret(
        &self,
        profile: &ProfileId,
        secret: &[u8; PIN_SECRET_LEN],
    ) -> Result<(), Error> {
        let entry = self.pin_entry(profile)?;
        entry.set_secret(secret)?;
        let read_back = Zeroizing::new(entry.get_secret()?);
        if read_back.as_slice() != secret.as_slice() {
            return Err(Error::KeychainFailure(keyring_core::Error::BadStoreFormat(
                "the keychain did not return the PIN secret just stored".to_owned(),
            )));
        }
        Ok(())
    }

    /// Deletes the PIN secret; a missing entry is fine. Blocking.
    pub(crate) fn delete_pin_secret(&self, profile: &ProfileId) -> Result<(), Error> {
        match self.pin_entry(profile)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }

    /// Deletes the profile's key entry (used only by an explicit wipe). Blocking.
    ///
    /// A missing entry is not an error: the goal state is reached.
    pub(crate) fn delete(&self, profile: &ProfileId) -> Result<(), Error> {
        match self.entry(profile)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }
}

impl fmt::Debug for Keychain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keychain")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// Maps a `keyring_core` vendor string to the name the app shows.
fn backend_name(vendor: &str) -> String {
    let head = vendor.split(", http").next().unwrap_or(vendor).trim();
    if head.starts_with("Secret Service") {
        "Secret Service".to_owned()
    } else if head.starts_with("macOS Keychain") {
        "macOS Keychain".to_owned()
    } else if head.starts_with("Windows Credential Manager") {
        "Windows Credential Manager".to_owned()
    } else if head.starts_with("Mock") {
        "mock".to_owned()
    } else {
        head.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_are_short_and_human() {
        assert_eq!(
            backend_name(
                "Secret Service store, https://crates.io/crates/zbus-secret-service-keyring-store"
            ),
            "Secret Service"
        );
        assert_eq!(
            backend_name(
                "macOS Keychain Store, https://crates.io/crates/apple-native-keyring-store"
            ),
            "macOS Keychain"
        );
        assert_eq!(
            backend_name(
                "Windows Credential Manager, https://crates.io/crates/windows-native-keyring-store"
            ),
            "Windows Credential Manager"
        );
        assert_eq!(
            backend_name("Mock store, https://crates.io/crates/keyring-core"),
            "mock"
        );
        assert_eq!(backend_name("Other"), "Other");
    }

    #[test]
    fn store_key_never_prints() {
        let key = StoreKey::from_bytes([0xAB; 32]);
        let printed = format!("{key:?}");
        assert!(!printed.to_lowercase().contains("ab"), "{printed}");
    }
}
