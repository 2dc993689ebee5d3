//! Pending logins are sealed before they are stored (issue 13, item 11).
//!
//! Between `login/start` and `login/finish` the service keeps OPAQUE's server login state,
//! which holds the expected client MAC key (`km3`) and the session key. Stored in clear, a copy
//! of the database (a backup, a replica, a stolen disk) taken during those two minutes would
//! hand over the session key, which authenticates the device binding of that login. So the
//! state is sealed with XChaCha20-Poly1305 under a key that is never written to the database,
//! with the login id, the lookup key and the account id as associated data (a row moved to
//! another login or account does not open). A state that does not open is treated as an
//! unknown login: `login_expired`, and the client starts over.
//!
//! Where the key comes from depends on who must open the seal:
//!
//! - embedded SQLite (one node): a random key generated at start and held only in memory. The
//!   database sits beside the secrets in the data directory, so a key derived from them would
//!   protect nothing from whoever copies the directory; logins in flight across a restart
//!   simply start over.
//! - PostgreSQL (several nodes): a login may start on one node and finish on another
//!   ([`crate::storage::Storage::take_pending_login`]), so every node must derive the same
//!   key. It is derived with HKDF-SHA256 from the pepper every node already shares (the
//!   `pepper` file or `ENIGM_PEPPER`), with an info string of its own; it lives in memory only,
//!   and the pepper lives on the nodes, not in the database, so a copy of the database alone
//!   still reveals nothing.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use rand_core::{OsRng, RngCore};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::ServerError;
use crate::storage::AccountId;

/// The sealed format's version, its first byte.
const VERSION: u8 = 1;

/// XChaCha20-Poly1305's nonce length.
const NONCE_LEN: usize = 24;

/// The HKDF info string of the key derived from the pepper (no other key uses it).
const INFO: &[u8] = b"enigm-server pending-login seal v1";

/// The key that seals pending logins; its `Debug` says nothing.
pub(crate) struct LoginSeal {
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for LoginSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginSeal(<redacted>)")
    }
}

/// Which login a sealed state belongs to (the associated data).
#[derive(Clone, Copy, Debug)]
pub(crate) struct LoginBinding<'a> {
    /// The login id handed to the client.
    pub(crate) login_id: &'a [u8; 16],
    /// The lookup key the login is for.
    pub(crate) lookup_key: &'a [u8; 32],
    /// The account, when the username exists.
    pub(crate) account_id: Option<&'a AccountId>,
}

impl LoginBinding<'_> {
    /// `login_id || lookup_key || 0` or `login_id || lookup_key || 1 || account_id`.
    fn associated_data(&self) -> Vec<u8> {
        let mut data = Vec::with_capacity(16 + 32 + 1 + 16);
        data.extend_from_slice(self.login_id);
        data.extend_from_slice(self.lookup_key);
        match self.account_id {
            Some(account_id) => {
                data.push(1);
                data.extend_from_slice(account_id);
            }
            None => data.push(0),
        }
        data
    }
}

impl LoginSeal {
    /// A fresh random key, for a service that is the only one to open its seals.
    pub(crate) fn random() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(key.as_mut());
        Self { key }
    }

    /// The key every node sharing `pepper` derives alike.
    pub(crate) fn derived(pepper: &[u8; 32]) -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        // HKDF-SHA256 can expand up to 8160 bytes; 32 always fits, so the error cannot occur.
        let _ = Hkdf::<Sha256>::new(None, pepper).expand(INFO, key.as_mut());
        Self { key }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.key.as_ref().into())
    }

    /// Seals `state` for `login`: `version(1) || nonce(24) || ciphertext`.
    ///
    /// # Errors
    /// [`ServerError::Internal`] if the cipher refuses (it does not for a login state's size).
    pub(crate) fn seal(
        &self,
        login: LoginBinding<'_>,
        state: &[u8],
    ) -> Result<Vec<u8>, ServerError> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let aad = login.associated_data();
        let ciphertext = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: state,
                    aad: &aad,
                },
            )
            .map_err(|_| ServerError::Internal("sealing the login state failed".into()))?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens what [`LoginSeal::seal`] sealed for the same `login`; `None` for anything else
    /// (another key, another login, altered bytes).
    pub(crate) fn open(
        &self,
        login: LoginBinding<'_>,
        sealed: &[u8],
    ) -> Option<Zeroizing<Vec<u8>>> {
        let (&version, rest) = sealed.split_first()?;
        if version != VERSION || rest.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let aad = login.associated_data();
        self.cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .ok()
            .map(Zeroizing::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGIN: [u8; 16] = [1; 16];
    const LOOKUP: [u8; 32] = [2; 32];
    const ACCOUNT: AccountId = [3; 16];

    fn binding<'a>(login_id: &'a [u8; 16], account_id: Option<&'a AccountId>) -> LoginBinding<'a> {
        LoginBinding {
            login_id,
            lookup_key: &LOOKUP,
            account_id,
        }
    }

    #[test]
    fn a_sealed_state_opens_only_for_its_login_and_key() {
        let seal = LoginSeal::random();
        let state = b"server login state".to_vec();
        let sealed = seal.seal(binding(&LOGIN, Some(&ACCOUNT)), &state).unwrap();
        assert!(!sealed.windows(state.len()).any(|window| window == state));
        let opened = seal.open(binding(&LOGIN, Some(&ACCOUNT)), &sealed).unwrap();
        assert_eq!(*opened, state);
        assert!(
            seal.open(binding(&[9; 16], Some(&ACCOUNT)), &sealed)
                .is_none()
        );
        assert!(seal.open(binding(&LOGIN, None), &sealed).is_none());
        assert!(
            LoginSeal::random()
                .open(binding(&LOGIN, Some(&ACCOUNT)), &sealed)
                .is_none()
        );
        for index in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[index] ^= 1;
            assert!(
                seal.open(binding(&LOGIN, Some(&ACCOUNT)), &tampered)
                    .is_none()
            );
        }
        assert!(
            seal.open(binding(&LOGIN, Some(&ACCOUNT)), &sealed[..20])
                .is_none()
        );
    }

    #[test]
    fn nodes_sharing_a_pepper_derive_one_key() {
        let one = LoginSeal::derived(&[7; 32]);
        let other = LoginSeal::derived(&[7; 32]);
        let sealed = one.seal(binding(&LOGIN, None), b"state").unwrap();
        assert_eq!(
            *other.open(binding(&LOGIN, None), &sealed).unwrap(),
            b"state"
        );
        assert!(
            LoginSeal::derived(&[8; 32])
                .open(binding(&LOGIN, None), &sealed)
                .is_none()
        );
        // The key is not the pepper itself.
        assert_ne!(*one.key, [7; 32]);
    }
}
