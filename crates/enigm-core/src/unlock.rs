//! Unlocking the app on this device (the app's Lock): the optional device PIN and the wait
//! after wrong tries.
//!
//! The account password is never kept on the device in any form: the service checks it online
//! (OPAQUE), under its own guess budget. What unlocks offline is a separate, device-local
//! [`Pin`] of 6 to 12 digits. Its [`PinVerifier`] is Argon2id(PIN, salt), then HMAC-SHA256
//! keyed by a random 32-byte secret kept in the OS keychain beside the store's key: the store
//! file alone (or a copy of it) is not enough to test guesses, and a PIN's few digits are not
//! enough to matter anywhere else.
//!
//! Wrong PINs slow down ([`UnlockAttempts`]) and, after [`PIN_TRIES`] in a row, the PIN is
//! erased ([`after_wrong_pin`]): the account password, checked online, is then the only way in.
//! Time is passed in; nothing here reads a clock.

use argon2::{Algorithm, Argon2, Params, Version};
use hmac::{Hmac, Mac};
use rand_core::CryptoRngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::Error;

/// Format version of an encoded [`PinVerifier`].
const VERIFIER_VERSION: u8 = 2;
/// Salt length in bytes.
const SALT_LEN: usize = 16;
/// Hash and tag length in bytes.
const HASH_LEN: usize = 32;
/// Encoded length: version, three u32 parameters, salt, tag.
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

/// The fewest digits a PIN may have.
pub const PIN_MIN_DIGITS: usize = 6;
/// The most digits a PIN may have.
pub const PIN_MAX_DIGITS: usize = 12;
/// Wrong PINs in a row after which the PIN is erased.
pub const PIN_TRIES: u32 = 5;
/// Length of the keychain secret that keys a [`PinVerifier`].
pub const PIN_SECRET_LEN: usize = 32;

/// Wrong tries allowed without any wait.
pub const FREE_ATTEMPTS: u32 = 3;
/// The wait after the first wrong try beyond [`FREE_ATTEMPTS`], doubled for each further one.
pub const FIRST_WAIT_SECS: u64 = 5;
/// The longest wait between two attempts (15 minutes).
pub const MAX_WAIT_SECS: u64 = 15 * 60;

/// A device unlock PIN: 6 to 12 ASCII digits, checked when it is made. Zeroized on drop;
/// `Debug` never shows it.
pub struct Pin(Zeroizing<String>);

impl Pin {
    /// Checks the format of a typed PIN.
    ///
    /// # Errors
    /// [`Error::InvalidPin`] unless it is 6 to 12 digits (0-9 only, nothing else).
    pub fn parse(typed: &str) -> Result<Self, Error> {
        let digits = typed.len();
        if !(PIN_MIN_DIGITS..=PIN_MAX_DIGITS).contains(&digits)
            || !typed.bytes().all(|byte| byte.is_ascii_digit())
        {
            return Err(Error::InvalidPin);
        }
        Ok(Self(Zeroizing::new(typed.to_owned())))
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

/// What checks a PIN on this device: Argon2id of the PIN under a random salt, then HMAC-SHA256
/// keyed by the keychain secret. `Debug` shows the parameters, never the tag.
#[derive(Clone, PartialEq, Eq)]
pub struct PinVerifier {
    m_cost: u32,
    t_cost: u32,
    p_cost: u32,
    salt: [u8; SALT_LEN],
    tag: [u8; HASH_LEN],
}

impl PinVerifier {
    /// A verifier for `pin` under a fresh random salt and the keychain `secret`.
    ///
    /// # Errors
    /// [`Error::PinHashFailed`] if Argon2 refuses (it does not for these parameters).
    pub fn create(
        pin: &Pin,
        secret: &[u8; PIN_SECRET_LEN],
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self, Error> {
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        let tag = pin_tag(pin, secret, &salt, M_COST_KIB, T_COST, P_COST)?;
        Ok(Self {
            m_cost: M_COST_KIB,
            t_cost: T_COST,
            p_cost: P_COST,
            salt,
            tag,
        })
    }

    /// Whether `pin` with `secret` is what this verifier was made from (compared in constant
    /// time).
    pub fn verify(&self, pin: &Pin, secret: &[u8; PIN_SECRET_LEN]) -> bool {
        match pin_tag(
            pin,
            secret,
            &self.salt,
            self.m_cost,
            self.t_cost,
            self.p_cost,
        ) {
            Ok(tag) => bool::from(tag.as_slice().ct_eq(self.tag.as_slice())),
            Err(_) => false,
        }
    }

    /// The stored form: version, parameters (big-endian), salt, tag.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(ENCODED_LEN);
        bytes.push(VERIFIER_VERSION);
        bytes.extend_from_slice(&self.m_cost.to_be_bytes());
        bytes.extend_from_slice(&self.t_cost.to_be_bytes());
        bytes.extend_from_slice(&self.p_cost.to_be_bytes());
        bytes.extend_from_slice(&self.salt);
        bytes.extend_from_slice(&self.tag);
        bytes
    }

    /// Reads the stored form back.
    ///
    /// # Errors
    /// [`Error::MalformedPinVerifier`] for another length or version, or parameters outside
    /// what this build accepts (too weak, or so costly that checking would stall).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() != ENCODED_LEN || bytes.first() != Some(&VERIFIER_VERSION) {
            return Err(Error::MalformedPinVerifier);
        }
        let word = |at: usize| -> Result<u32, Error> {
            bytes
                .get(at..at + 4)
                .and_then(|slice| slice.try_into().ok())
                .map(u32::from_be_bytes)
                .ok_or(Error::MalformedPinVerifier)
        };
        let (m_cost, t_cost, p_cost) = (word(1)?, word(5)?, word(9)?);
        let in_range = (M_COST_KIB..=MAX_M_COST_KIB).contains(&m_cost)
            && (T_COST..=MAX_T_COST).contains(&t_cost)
            && (P_COST..=MAX_P_COST).contains(&p_cost);
        if !in_range {
            return Err(Error::MalformedPinVerifier);
        }
        let salt = bytes
            .get(13..13 + SALT_LEN)
            .and_then(|slice| slice.try_into().ok())
            .ok_or(Error::MalformedPinVerifier)?;
        let tag = bytes
            .get(13 + SALT_LEN..)
            .and_then(|slice| slice.try_into().ok())
            .ok_or(Error::MalformedPinVerifier)?;
        Ok(Self {
            m_cost,
            t_cost,
            p_cost,
            salt,
            tag,
        })
    }
}

impl std::fmt::Debug for PinVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinVerifier")
            .field("m_cost", &self.m_cost)
            .field("t_cost", &self.t_cost)
            .field("p_cost", &self.p_cost)
            .finish_non_exhaustive()
    }
}

/// HMAC-SHA256(secret, Argon2id(pin, salt)).
fn pin_tag(
    pin: &Pin,
    secret: &[u8; PIN_SECRET_LEN],
    salt: &[u8],
    m_cost: u32,
    t_cost: u32,
    p_cost: u32,
) -> Result<[u8; HASH_LEN], Error> {
    let params =
        Params::new(m_cost, t_cost, p_cost, Some(HASH_LEN)).map_err(|_| Error::PinHashFailed)?;
    let mut hash = Zeroizing::new([0u8; HASH_LEN]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(pin.as_bytes(), salt, hash.as_mut_slice())
        .map_err(|_| Error::PinHashFailed)?;
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).map_err(|_| Error::PinHashFailed)?;
    mac.update(b"enigm/unlock-pin/v1");
    mac.update(hash.as_slice());
    Ok(mac.finalize().into_bytes().into())
}

/// What a wrong PIN leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WrongPin {
    /// The PIN stays; the next try waits `wait` seconds, and `left` tries remain.
    Retry {
        /// Seconds before the next try is accepted (0: now).
        wait: u64,
        /// Tries left before the PIN is erased.
        left: u32,
    },
    /// That was the last try: the PIN (verifier and keychain secret) is erased.
    Erased,
}

/// The decision after `failures` wrong PINs in a row (this one included).
pub fn after_wrong_pin(failures: u32) -> WrongPin {
    if failures >= PIN_TRIES {
        return WrongPin::Erased;
    }
    WrongPin::Retry {
        wait: UnlockAttempts::wait_after(failures),
        left: PIN_TRIES - failures,
    }
}

/// Wrong PINs typed to unlock since the last success, and when the last one was typed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnlockAttempts {
    /// Wrong PINs in a row.
    pub failures: u32,
    /// When the last wrong PIN was typed (seconds since the epoch).
    pub last_failure_at: u64,
}

impl UnlockAttempts {
    /// The wait that follows `failures` wrong PINs in a row: none for the first
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

    /// The attempts after one more wrong PIN at `now`.
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

    const SECRET: [u8; PIN_SECRET_LEN] = [7; PIN_SECRET_LEN];

    fn pin(text: &str) -> Pin {
        Pin::parse(text).unwrap()
    }

    #[test]
    fn a_pin_is_six_to_twelve_digits_and_nothing_else() {
        for good in ["000000", "123456", "123456789012"] {
            assert!(Pin::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "12345",
            "1234567890123",
            "12345a",
            " 123456",
            "123456 ",
            "12 3456",
            "１２３４５６",
            "-123456",
            "12345.6",
        ] {
            assert_eq!(Pin::parse(bad).unwrap_err(), Error::InvalidPin, "{bad:?}");
        }
        assert_eq!(
            Error::InvalidPin.to_string(),
            "a PIN is 6 to 12 digits (0-9), nothing else"
        );
        assert_eq!(format!("{:?}", pin("424242")), "Pin(<redacted>)");
    }

    #[test]
    fn the_pin_and_secret_it_was_made_from_verify_and_nothing_else_does() {
        let verifier = PinVerifier::create(&pin("424242"), &SECRET, &mut OsRng).unwrap();
        assert!(verifier.verify(&pin("424242"), &SECRET));
        assert!(!verifier.verify(&pin("424243"), &SECRET));
        assert!(!verifier.verify(&pin("4242420"), &SECRET));
        // The store file alone is not enough: without the keychain secret the PIN fails.
        assert!(!verifier.verify(&pin("424242"), &[8; PIN_SECRET_LEN]));
        let again = PinVerifier::from_bytes(&verifier.to_bytes()).unwrap();
        assert_eq!(again, verifier);
        assert!(again.verify(&pin("424242"), &SECRET));
    }

    #[test]
    fn each_verifier_has_its_own_salt_and_debug_hides_the_tag() {
        let one = PinVerifier::create(&pin("123456"), &SECRET, &mut OsRng).unwrap();
        let two = PinVerifier::create(&pin("123456"), &SECRET, &mut OsRng).unwrap();
        assert_ne!(one.to_bytes(), two.to_bytes());
        let shown = format!("{one:?}");
        let tag_hex = hex::encode(&one.to_bytes()[13 + SALT_LEN..]);
        assert!(!shown.contains(&tag_hex));
        assert!(shown.contains("m_cost"));
    }

    #[test]
    fn a_damaged_weakened_or_old_verifier_is_refused() {
        let bytes = PinVerifier::create(&pin("123456"), &SECRET, &mut OsRng)
            .unwrap()
            .to_bytes();
        assert_eq!(
            PinVerifier::from_bytes(&bytes[..bytes.len() - 1]),
            Err(Error::MalformedPinVerifier)
        );
        // Version 1 was the account password's verifier: never read as a PIN's.
        let mut version = bytes.clone();
        version[0] = 1;
        assert_eq!(
            PinVerifier::from_bytes(&version),
            Err(Error::MalformedPinVerifier)
        );
        // A memory cost lowered to 8 KiB would make guessing cheap: refused.
        let mut weak = bytes.clone();
        weak[1..5].copy_from_slice(&8u32.to_be_bytes());
        assert_eq!(
            PinVerifier::from_bytes(&weak),
            Err(Error::MalformedPinVerifier)
        );
        // So is one that would take minutes per check.
        let mut costly = bytes;
        costly[5..9].copy_from_slice(&1000u32.to_be_bytes());
        assert_eq!(
            PinVerifier::from_bytes(&costly),
            Err(Error::MalformedPinVerifier)
        );
    }

    #[test]
    fn the_fifth_wrong_pin_in_a_row_erases_it() {
        let decisions: Vec<WrongPin> = (1..=6).map(after_wrong_pin).collect();
        assert_eq!(
            decisions,
            [
                WrongPin::Retry { wait: 0, left: 4 },
                WrongPin::Retry { wait: 0, left: 3 },
                WrongPin::Retry { wait: 5, left: 2 },
                WrongPin::Retry { wait: 10, left: 1 },
                WrongPin::Erased,
                WrongPin::Erased,
            ]
        );
        assert_eq!(after_wrong_pin(u32::MAX), WrongPin::Erased);
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
