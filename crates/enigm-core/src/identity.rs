//! Device identity: the keys a device creates for itself and the identifiers derived from them.
//!
//! A device has an Ed25519 signing key (it signs ledger entries and requests) and an X25519
//! key-agreement key (other devices seal the account sync key to it). Private halves live only
//! in [`DeviceSecrets`], which zeroizes on drop and never prints. Public halves are validated
//! strictly on the way in: non-canonical and small-order Ed25519 keys are refused, because a
//! device identity must have exactly one encoding and signatures under it must bind.

use core::fmt;

use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::Error;

/// Domain separator for [`DeviceId`] derivation (DESIGN §3).
const DEVICE_ID_DOMAIN: &[u8] = b"enigm/device-id/v1";

/// A device's stable identifier: the first 16 bytes of `SHA-256("enigm/device-id/v1" || ed25519_pub)`.
///
/// It is derived, never assigned, so nobody (including the service) can bind an id to a key
/// other than the one it was computed from. `Debug` shows only a short prefix: full ids belong in
/// the ledger, not in logs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId([u8; 16]);

impl DeviceId {
    /// Length of a device id in bytes.
    pub const LEN: usize = 16;

    /// Derives the id of the device whose signing key is `key`.
    pub fn derive(key: &SigningPublicKey) -> Self {
        let digest = Sha256::new()
            .chain_update(DEVICE_ID_DOMAIN)
            .chain_update(key.as_bytes())
            .finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        Self(id)
    }

    /// Wraps raw bytes read from a trusted encoding (the ledger codec, the local store).
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Lower-case hex, the form the CLI accepts and prints as `device_id`.
    pub fn to_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.0)
    }

    /// Parses the lower- or upper-case hex form.
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = data_encoding::HEXLOWER_PERMISSIVE
            .decode(text.as_bytes())
            .ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// The short, human-comparable form shown in the UI: 80 bits as four groups of four
    /// base32 characters (`K3PQ 7WXD 2M9A HF4T`). Base32 avoids 0/O and 1/l confusions.
    pub fn fingerprint(&self) -> String {
        let encoded = data_encoding::BASE32_NOPAD.encode(&self.0[..10]);
        let groups: Vec<&str> = encoded
            .as_bytes()
            .chunks(4)
            .filter_map(|chunk| core::str::from_utf8(chunk).ok())
            .collect();
        groups.join(" ")
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceId({}…)", &self.to_hex()[..6])
    }
}

/// An Ed25519 public key that passed strict validation: a canonical encoding of a point that
/// is not of small order. Every signature check through it uses `verify_strict`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SigningPublicKey(VerifyingKey);

impl SigningPublicKey {
    /// Validates `bytes` as a device or recovery signing key.
    ///
    /// # Errors
    /// [`Error::InvalidPublicKey`] if it is not a point, [`Error::NonCanonicalPublicKey`] if the
    /// encoding is not the canonical one, [`Error::WeakPublicKey`] for small-order points.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, Error> {
        let point = CompressedEdwardsY(*bytes)
            .decompress()
            .ok_or(Error::InvalidPublicKey)?;
        if point.compress().as_bytes() != bytes {
            return Err(Error::NonCanonicalPublicKey);
        }
        if point.is_small_order() {
            return Err(Error::WeakPublicKey);
        }
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| Error::InvalidPublicKey)?;
        Ok(Self(key))
    }

    /// The 32-byte encoding.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The underlying dalek key, for batch verification.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }

    /// Verifies `signature` over `message` with strict Ed25519 rules (no malleable signatures,
    /// no small-order components).
    ///
    /// # Errors
    /// [`Error::InvalidSignature`] if it does not verify.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), Error> {
        self.0
            .verify_strict(message, signature)
            .map_err(|_| Error::InvalidSignature)
    }
}

impl fmt::Debug for SigningPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningPublicKey({}…)",
            &data_encoding::HEXLOWER.encode(self.as_bytes())[..6]
        )
    }
}

impl From<&SigningKey> for SigningPublicKey {
    fn from(key: &SigningKey) -> Self {
        Self(key.verifying_key())
    }
}

/// An X25519 public key other devices seal secrets to.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AgreementPublicKey(x25519_dalek::PublicKey);

impl AgreementPublicKey {
    /// Wraps a 32-byte X25519 public key. Low-order points are caught at agreement time
    /// ([`Error::NonContributoryKeyAgreement`]), and refused when a device enters the ledger
    /// ([`AgreementPublicKey::is_low_order`]), so no device is sealed to one.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(x25519_dalek::PublicKey::from(bytes))
    }

    /// Whether this is a low-order point (the all-zero key among them): X25519 with it gives
    /// the all-zero shared secret whatever the other side's secret, so a secret sealed to it is
    /// readable by anyone. Checked as X25519 does, with a fixed scalar: a clamped scalar is a
    /// multiple of the cofactor, so the product is the identity exactly for low-order points.
    pub fn is_low_order(&self) -> bool {
        let probe = x25519_dalek::StaticSecret::from([0x42; 32]);
        !probe.diffie_hellman(&self.0).was_contributory()
    }

    /// The 32-byte encoding.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The underlying dalek key.
    pub fn inner(&self) -> &x25519_dalek::PublicKey {
        &self.0
    }
}

impl fmt::Debug for AgreementPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AgreementPublicKey({}…)",
            &data_encoding::HEXLOWER.encode(self.as_bytes())[..6]
        )
    }
}

/// The public half of a device identity, as it appears in the ledger.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct DevicePublicKeys {
    /// Signs ledger entries and requests.
    pub signing: SigningPublicKey,
    /// Receives sealed account sync keys.
    pub agreement: AgreementPublicKey,
}

impl DevicePublicKeys {
    /// The id derived from the signing key.
    pub fn device_id(&self) -> DeviceId {
        DeviceId::derive(&self.signing)
    }
}

/// A device's private keys. Zeroized on drop (by the dalek types themselves); `Debug` prints
/// only the device id.
pub struct DeviceSecrets {
    signing: SigningKey,
    agreement: x25519_dalek::StaticSecret,
}

impl DeviceSecrets {
    /// Length of [`DeviceSecrets::to_bytes`].
    pub const ENCODED_LEN: usize = 64;

    /// Creates a fresh identity from the caller's RNG.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let signing = SigningKey::generate(rng);
        let agreement = x25519_dalek::StaticSecret::random_from_rng(rng);
        Self { signing, agreement }
    }

    /// Restores an identity saved with [`DeviceSecrets::to_bytes`].
    pub fn from_bytes(bytes: &[u8; Self::ENCODED_LEN]) -> Self {
        let mut signing = Zeroizing::new([0u8; 32]);
        let mut agreement = Zeroizing::new([0u8; 32]);
        signing.copy_from_slice(&bytes[..32]);
        agreement.copy_from_slice(&bytes[32..]);
        Self {
            signing: SigningKey::from_bytes(&signing),
            agreement: x25519_dalek::StaticSecret::from(*agreement),
        }
    }

    /// The secret encoding (signing seed || X25519 scalar) for the encrypted local store.
    pub fn to_bytes(&self) -> Zeroizing<[u8; Self::ENCODED_LEN]> {
        let mut out = Zeroizing::new([0u8; Self::ENCODED_LEN]);
        out[..32].copy_from_slice(self.signing.as_bytes());
        out[32..].copy_from_slice(self.agreement.as_bytes());
        out
    }

    /// The public half.
    pub fn public(&self) -> DevicePublicKeys {
        DevicePublicKeys {
            signing: SigningPublicKey::from(&self.signing),
            agreement: AgreementPublicKey(x25519_dalek::PublicKey::from(&self.agreement)),
        }
    }

    /// This device's id.
    pub fn device_id(&self) -> DeviceId {
        self.public().device_id()
    }

    /// Signs `message` (callers pass domain-separated messages).
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.signing.sign(message)
    }

    /// X25519 agreement with a peer's key.
    ///
    /// # Errors
    /// [`Error::NonContributoryKeyAgreement`] if the peer key is a low-order point.
    pub fn agree(&self, peer: &AgreementPublicKey) -> Result<Zeroizing<[u8; 32]>, Error> {
        let shared = self.agreement.diffie_hellman(peer.inner());
        if !shared.was_contributory() {
            return Err(Error::NonContributoryKeyAgreement);
        }
        Ok(Zeroizing::new(*shared.as_bytes()))
    }
}

impl fmt::Debug for DeviceSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceSecrets")
            .field("device_id", &self.device_id())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn device_id_is_sha256_prefix_of_domain_and_key() {
        // RFC 8032 test 1 public key.
        let key_bytes: [u8; 32] =
            hex::decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
                .unwrap()
                .try_into()
                .unwrap();
        let key = SigningPublicKey::from_bytes(&key_bytes).unwrap();
        let mut hasher = Sha256::new();
        hasher.update(b"enigm/device-id/v1");
        hasher.update(key_bytes);
        let expected = &hasher.finalize()[..16];
        assert_eq!(DeviceId::derive(&key).as_bytes(), expected);
        assert_eq!(
            DeviceId::derive(&key).to_hex(),
            "914ab6f5bc50dd3f4b3d344febf594b0",
            "device-id derivation drifted"
        );
    }

    #[test]
    fn fingerprint_is_four_groups_of_four() {
        let id = DeviceId::from_bytes([0xAB; 16]);
        let fp = id.fingerprint();
        assert_eq!(fp.len(), 19);
        assert_eq!(fp.split(' ').count(), 4);
        assert!(fp.split(' ').all(|g| g.len() == 4));
    }

    #[test]
    fn hex_round_trips_and_rejects_garbage() {
        let id = DeviceId::from_bytes([7; 16]);
        assert_eq!(DeviceId::from_hex(&id.to_hex()), Some(id));
        assert_eq!(DeviceId::from_hex("zz"), None);
        assert_eq!(DeviceId::from_hex("0707"), None);
    }

    #[test]
    fn small_order_keys_are_refused() {
        // The identity point and a point of order 8: both decompress, both are weak.
        let identity = [
            1u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0,
        ];
        assert_eq!(
            SigningPublicKey::from_bytes(&identity),
            Err(Error::WeakPublicKey)
        );
        let order8: [u8; 32] =
            hex::decode("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
                .unwrap()
                .try_into()
                .unwrap();
        assert_eq!(
            SigningPublicKey::from_bytes(&order8),
            Err(Error::WeakPublicKey)
        );
    }

    #[test]
    fn non_canonical_encoding_is_refused() {
        // y = p + 2 encodes the same field element as y = 2 but is not canonical.
        let mut bytes = [0xffu8; 32];
        bytes[0] = 0xed + 2;
        bytes[31] = 0x7f;
        let result = SigningPublicKey::from_bytes(&bytes);
        assert!(
            matches!(
                result,
                Err(Error::NonCanonicalPublicKey) | Err(Error::InvalidPublicKey)
            ),
            "{result:?}"
        );
        assert!(result.is_err());
    }

    #[test]
    fn secrets_round_trip_and_never_print() {
        let secrets = DeviceSecrets::generate(&mut OsRng);
        let restored = DeviceSecrets::from_bytes(&secrets.to_bytes());
        assert_eq!(secrets.public(), restored.public());
        let printed = format!("{secrets:?}");
        let seed_hex = hex::encode(&secrets.to_bytes()[..32]);
        assert!(!printed.contains(&seed_hex[..8]));
        assert!(printed.contains("DeviceSecrets"));
    }

    #[test]
    fn signatures_verify_strictly_and_bind_the_message() {
        let secrets = DeviceSecrets::generate(&mut OsRng);
        let signature = secrets.sign(b"hello");
        let public = secrets.public();
        assert_eq!(public.signing.verify(b"hello", &signature), Ok(()));
        assert_eq!(
            public.signing.verify(b"hellp", &signature),
            Err(Error::InvalidSignature)
        );
    }

    #[test]
    fn agreement_is_symmetric_and_refuses_low_order_peers() {
        let a = DeviceSecrets::generate(&mut OsRng);
        let b = DeviceSecrets::generate(&mut OsRng);
        let ab = a.agree(&b.public().agreement).unwrap();
        let ba = b.agree(&a.public().agreement).unwrap();
        assert_eq!(*ab, *ba);
        let zero = AgreementPublicKey::from_bytes([0; 32]);
        assert_eq!(a.agree(&zero), Err(Error::NonContributoryKeyAgreement));
    }

    #[test]
    fn low_order_agreement_keys_are_told_apart_from_honest_ones() {
        let order_8: [u8; 32] =
            hex::decode("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")
                .unwrap()
                .try_into()
                .unwrap();
        let mut one = [0u8; 32];
        one[0] = 1;
        for weak in [[0u8; 32], one, order_8] {
            assert!(
                AgreementPublicKey::from_bytes(weak).is_low_order(),
                "{weak:?}"
            );
        }
        let honest = DeviceSecrets::generate(&mut OsRng).public().agreement;
        assert!(!honest.is_low_order());
    }
}
