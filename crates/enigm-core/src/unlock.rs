//! Unlocking the app with the account password, offline (the app's Lock).
//!
//! The service never sees the password (OPAQUE), so a locked app cannot ask it whether a
//! password is right without a network. Instead the device keeps a [`PasswordVerifier`]: an
//! Argon2id hash of the password under a random salt, kept inside the encrypted store, written
//! whenever the engine holds the password (registration, sign-in, recovery). It proves nothing
//! to anyone but this device, and guessing against it needs the store's key from the keychain.
//!
//! Repeated wrong passwords slow down: [`UnlockAttempts`] says how long the next try must wait.
//! Time is passed in; nothing here reads a clock.

use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::CryptoRngCore;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::Error;

/// Format version of an encoded [`PasswordVerifier`].
const VERIFIER_VERSION: u8 = 1;
/// Salt length in bytes.
const SALT_LEN: usize = 16;
/// Hash length in bytes.
const HASH_LEN: usize = 32;
/// Encoded length: version, three u32 parameters, salt, hash.
const ENCODED_LEN: usize = 1 + 3 * 4 + SALT_LEN + HASH_LEN;
/// Memory cost of new verifiers in KiB (19 MiB, OWASP's minimum for Argon2id).
const M_COST_KIB: u32 = 19 * 1024;
/// Passes of new verifiers.
const T_COST: u32 = 2;
/// Lanes of new verifiers.
const P_COST: u32 = 1;
/// The most memory a stored verifier may ask for (1 GiB), so a damaged one cannot exhaust it.
const MAX_M_COST_KIB: u32 = 1024 * 1024;
/// The most passes a stored verifier may ask for.
const MAX_T_COST: u32 = 16;
/// The most lanes a stored verifier may ask for.
const MAX_P_COST: u32 = 16;

/// Wrong passwords allowed without any wait.
pub const FREE_ATTEMPTS: u32 = 3;
/// The wait after the first wrong password beyond [`FREE_ATTEMPTS`], doubled for each further one.
pub const FIRST_WAIT_SECS: u64 = 5;
/// The longest wait between two attempts (15 minutes).
pub const MAX_WAIT_SECS: u64 = 15 * 60;

/// An Argon2id hash of the account password with its salt and parameters, to check a typed
/// password against on this device only. `Debug` shows the parameters, never the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordVerifier {
    m_cost: u32,
    t_cost: u32,
    p_cost: u32,
    salt: [u8; SALT_LEN],
    hash: Zeroizing<[u8; HASH_LEN]>,
}

impl PasswordVerifier {
    /// A verifier for `password` under a fresh random salt, with the current parameters.
    ///
    /// # Errors
    /// [`Error::PasswordHashFailed`] if Argon2 refuses (it does not for these parameters).
    pub fn create(password: &[u8], rng: &mut impl CryptoRngCore) -> Result<Self, Error> {
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        let hash = argon2_hash(password, &salt, M_COST_KIB, T_COST, P_COST)?;
        Ok(Self {
            m_cost: M_COST_KIB,
            t_cost: T_COST,
            p_cost: P_COST,
            salt,
            hash,
        })
    }

    /// Whether `password` is the one this verifier was made from (compared in constant time).
    pub fn verify(&self, password: &[u8]) -> bool {
        match argon2_hash(password, &self.salt, self.m_cost, self.t_cost, self.p_cost) {
            Ok(hash) => bool::from(hash.as_slice().ct_eq(self.hash.as_slice())),
            Err(_) => false,
        }
    }

    /// The stored form: version, parameters (big-endian), salt, hash.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(ENCODED_LEN);
        bytes.push(VERIFIER_VERSION);
        bytes.extend_from_slice(&self.m_cost.to_be_bytes());
        bytes.extend_from_slice(&self.t_cost.to_be_bytes());
        bytes.extend_from_slice(&self.p_cost.to_be_bytes());
        bytes.extend_from_slice(&self.salt);
        bytes.extend_from_slice(self.hash.as_slice());
        bytes
    }

    /// Reads the stored form back.
    ///
    /// # Errors
    /// [`Error::MalformedPasswordVerifier`] for another length or version, or parameters
    /// outside what this build accepts (too weak, or so costly that checking would stall).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() != ENCODED_LEN || bytes.first() != Some(&VERIFIER_VERSION) {
            return Err(Error::MalformedPasswordVerifier);
        }
        let word = |at: usize| -> Result<u32, Error> {
            bytes
                .get(at..at + 4)
                .and_then(|slice| slice.try_into().ok())
                .map(u32::from_be_bytes)
                .ok_or(Error::MalformedPasswordVerifier)
        };
        let (m_cost, t_cost, p_cost) = (word(1)?, word(5)?, word(9)?);
        let in_range = (M_COST_KIB..=MAX_M_COST_KIB).contains(&m_cost)
            && (T_COST..=MAX_T_COST).contains(&t_cost)
            && (P_COST..=MAX_P_COST).contains(&p_cost);
        if !in_range {
            return Err(Error::MalformedPasswordVerifier);
        }
        let salt = bytes
            .get(13..13 + SALT_LEN)
            .and_then(|slice| slice.try_into().ok())
            .ok_or(Error::MalformedPasswordVerifier)?;
        let hash: [u8; HASH_LEN] = bytes
            .get(13 + SALT_LEN..)
            .and_then(|slice| slice.try_into().ok())
            .ok_or(Error::MalformedPasswordVerifier)?;
        Ok(Self {
            m_cost,
            t_cost,
            p_cost,
            salt,
            hash: Zeroizing::new(hash),
        })
    }
}

impl std::fmt::Debug for PasswordVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordVerifier")
            .field("m_cost", &self.m_cost)
            .field("t_cost", &self.t_cost)
            .field("p_cost", &self.p_cost)
            .finish_non_exhaustive()
    }
}

fn argon2_hash(
    password: &[u8],
    salt: &[u8],
    m_cost: u32,
    t_cost: u32,
    p_cost: u32,
) -> Result<Zeroizing<[u8; HASH_LEN]>, Error> {
    let params = Params::new(m_cost, t_cost, p_cost, Some(HASH_LEN))
        .map_err(|_| Error::PasswordHashFailed)?;
    let mut hash = Zeroizing::new([0u8; HASH_LEN]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password, salt, hash.as_mut_slice())
        .map_err(|_| Error::PasswordHashFailed)?;
    Ok(hash)
}

/// Wrong passwords typed to unlock since the last success, and when the last one was typed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnlockAttempts {
    /// Wrong passwords in a row.
    pub failures: u32,
    /// When the last wrong password was typed (seconds since the epoch).
    pub last_failure_at: u64,
}

impl UnlockAttempts {
    /// The wait that follows `failures` wrong passwords in a row: none for the first
    /// [`FREE_ATTEMPTS`], then [`FIRST_WAIT_SECS`] doubling up to [`MAX_WAIT_SECS`].
    pub fn wait_after(failures: u32) -> u64 {
        let Some(beyond) = failures.checked_sub(FREE_ATTEMPTS) else {
            return 0;
        };
        if beyond >= 16 {
            return MAX_WAIT_SECS;
        }
        (FIRST_WAIT_SECS << beyond).min(MAX_WAIT_SECS)
    }

    /// When the next attempt may be made (seconds since the epoch; in the past when now).
    pub fn retry_at(&self) -> u64 {
        self.last_failure_at
            .saturating_add(Self::wait_after(self.failures))
    }

    /// Seconds left at `now` before the next attempt may be made; 0 when it may be made now.
    /// A clock set back to before the last failure waits the whole delay, not longer.
    pub fn wait_at(&self, now: u64) -> u64 {
        let wait = Self::wait_after(self.failures);
        if now < self.last_failure_at {
            return wait;
        }
        self.retry_at().saturating_sub(now)
    }

    /// The attempts after one more wrong password at `now`.
    #[must_use]
    pub fn failed(self, now: u64) -> Self {
        Self {
            failures: self.failures.saturating_add(1),
            last_failure_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn the_password_it_was_made_from_verifies_and_nothing_else_does() {
        let verifier = PasswordVerifier::create(b"correct horse", &mut OsRng).unwrap();
        assert!(verifier.verify(b"correct horse"));
        assert!(!verifier.verify(b"correct horsE"));
        assert!(!verifier.verify(b""));
        let again = PasswordVerifier::from_bytes(&verifier.to_bytes()).unwrap();
        assert_eq!(again, verifier);
        assert!(again.verify(b"correct horse"));
    }

    #[test]
    fn each_verifier_has_its_own_salt_and_debug_hides_the_hash() {
        let one = PasswordVerifier::create(b"pw", &mut OsRng).unwrap();
        let two = PasswordVerifier::create(b"pw", &mut OsRng).unwrap();
        assert_ne!(one.to_bytes(), two.to_bytes());
        let shown = format!("{one:?}");
        let hash_hex = hex::encode(&one.to_bytes()[13 + SALT_LEN..]);
        assert!(!shown.contains(&hash_hex));
        assert!(shown.contains("m_cost"));
    }

    #[test]
    fn a_damaged_or_weakened_verifier_is_refused() {
        let bytes = PasswordVerifier::create(b"pw", &mut OsRng)
            .unwrap()
            .to_bytes();
        assert_eq!(
            PasswordVerifier::from_bytes(&bytes[..bytes.len() - 1]),
            Err(Error::MalformedPasswordVerifier)
        );
        let mut version = bytes.clone();
        version[0] = 2;
        assert_eq!(
            PasswordVerifier::from_bytes(&version),
            Err(Error::MalformedPasswordVerifier)
        );
        // A memory cost lowered to 8 KiB would make guessing cheap: refused.
        let mut weak = bytes.clone();
        weak[1..5].copy_from_slice(&8u32.to_be_bytes());
        assert_eq!(
            PasswordVerifier::from_bytes(&weak),
            Err(Error::MalformedPasswordVerifier)
        );
        // So is one that would take minutes per check.
        let mut costly = bytes;
        costly[5..9].copy_from_slice(&1000u32.to_be_bytes());
        assert_eq!(
            PasswordVerifier::from_bytes(&costly),
            Err(Error::MalformedPasswordVerifier)
        );
    }

    #[test]
    fn waits_grow_after_the_free_attempts_and_stop_growing() {
        let waits: Vec<u64> = (0..=12).map(UnlockAttempts::wait_after).collect();
        assert_eq!(waits, [0, 0, 0, 5, 10, 20, 40, 80, 160, 320, 640, 900, 900]);
        assert_eq!(UnlockAttempts::wait_after(u32::MAX), MAX_WAIT_SECS);
    }

    #[test]
    fn the_wait_counts_from_the_last_wrong_password() {
        let mut attempts = UnlockAttempts::default();
        for at in [100, 101, 102] {
            assert_eq!(attempts.wait_at(at), 0);
            attempts = attempts.failed(at);
        }
        assert_eq!(attempts.retry_at(), 107);
        assert_eq!(attempts.wait_at(102), 5);
        assert_eq!(attempts.wait_at(105), 2);
        assert_eq!(attempts.wait_at(107), 0);
        // A clock moved back does not lengthen the wait beyond the delay itself.
        assert_eq!(attempts.wait_at(50), 5);
    }
}
