//! The account sync key (DESIGN §3): one 32-byte key shared by the account's trusted devices,
//! which encrypts what they share through the service (device labels, settings) so the service
//! only ever holds ciphertext.
//!
//! Each device receives its own copy sealed to its X25519 key ([`SyncKey::seal_to`]). The key
//! is replaced by a new one with the next epoch on every suspend, revoke, replace and recovery,
//! sealed only to the devices trusted after the change; items are bound to the epoch they were
//! written under, so a device removed before an epoch cannot read anything written in it.
//!
//! Both formats are public bytes with a version and the epoch in front, so the service can
//! check which epoch a blob belongs to without being able to open it:
//! - sealed key: `version(1) || epoch(8, BE) || recipient device id(16) || ephemeral X25519(32)
//!   || ChaCha20-Poly1305(key)(48)`; the AEAD key is HKDF-SHA256 over the X25519 secret, bound
//!   to the account, the header and the recipient's key, used once (hence the fixed nonce);
//! - item: `version(1) || epoch(8, BE) || nonce(24) || XChaCha20-Poly1305(plaintext)`; the item
//!   key is HKDF-SHA256 of the sync key bound to the account and epoch, and the item's name is
//!   in the associated data, so ciphertext moved to another item does not decrypt.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce, XChaCha20Poly1305, XNonce};
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::Error;
use crate::identity::{AgreementPublicKey, DeviceId, DevicePublicKeys, DeviceSecrets};
use crate::recovery::hkdf_sha256;

/// The format version of both blobs.
const VERSION: u8 = 1;
/// HKDF salt of the sealing key.
const SEAL_SALT: &[u8] = b"enigm/sync-key/seal/v1";
/// HKDF salt of the per-epoch item key, and prefix of the items' associated data.
const ITEM_SALT: &[u8] = b"enigm/sync-key/item/v1";
/// `version || epoch`.
const PREFIX_LEN: usize = 1 + 8;
/// Everything of a sealed key before the ciphertext.
const SEAL_HEADER_LEN: usize = PREFIX_LEN + 16 + 32;
/// AEAD tag length of both ciphers.
const TAG_LEN: usize = 16;
/// Length of a sealed key.
pub(crate) const SEALED_LEN: usize = SEAL_HEADER_LEN + 32 + TAG_LEN;
/// Everything of an item before the ciphertext.
const ITEM_HEADER_LEN: usize = PREFIX_LEN + 24;
/// Largest shared item plaintext: labels and settings are small; this bounds what a hostile
/// service can make a client decrypt.
pub const MAX_ITEM_LEN: usize = 64 * 1024;

/// The account sync key of one epoch. The key bytes are zeroized on drop and never printed.
pub struct SyncKey {
    epoch: u64,
    key: Zeroizing<[u8; 32]>,
}

impl SyncKey {
    /// A fresh key for `epoch` (epochs start at 1, at registration).
    pub fn generate(rng: &mut impl CryptoRngCore, epoch: u64) -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(key.as_mut());
        Self { epoch, key }
    }

    /// A key read back from the encrypted local store.
    pub fn from_bytes(epoch: u64, key: &[u8; 32]) -> Self {
        Self {
            epoch,
            key: Zeroizing::new(*key),
        }
    }

    /// The key bytes, for the encrypted local store only.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(*self.key)
    }

    /// The epoch this key belongs to.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Seals this key to one device, so only that device's X25519 secret opens it.
    #[allow(
        clippy::expect_used,
        reason = "ChaCha20-Poly1305 fails only for messages over 256 GiB; this one is 32 bytes"
    )]
    pub fn seal_to(
        &self,
        rng: &mut impl CryptoRngCore,
        account_id: &[u8; 16],
        recipient: &DevicePublicKeys,
    ) -> SealedSyncKey {
        let ephemeral = x25519_dalek::EphemeralSecret::random_from_rng(&mut *rng);
        let ephemeral_public = x25519_dalek::PublicKey::from(&ephemeral);
        let shared = ephemeral.diffie_hellman(recipient.agreement.inner());
        let mut bytes = Vec::with_capacity(SEALED_LEN);
        bytes.push(VERSION);
        bytes.extend_from_slice(&self.epoch.to_be_bytes());
        bytes.extend_from_slice(recipient.device_id().as_bytes());
        bytes.extend_from_slice(ephemeral_public.as_bytes());
        let cipher = seal_cipher(shared.as_bytes(), account_id, &bytes, &recipient.agreement);
        let ciphertext = cipher
            .encrypt(
                &Nonce::default(),
                Payload {
                    msg: self.key.as_ref(),
                    aad: &bytes,
                },
            )
            .expect("ChaCha20-Poly1305 encrypts a 32-byte message");
        bytes.extend_from_slice(&ciphertext);
        SealedSyncKey {
            epoch: self.epoch,
            bytes,
        }
    }

    /// Encrypts one shared item under this epoch. `item` names what it is (for example
    /// `label.<device id>`) and must be given again to decrypt.
    ///
    /// # Errors
    /// [`Error::SyncItemTooLarge`] if `plaintext` is longer than [`MAX_ITEM_LEN`].
    pub fn encrypt(
        &self,
        rng: &mut impl CryptoRngCore,
        account_id: &[u8; 16],
        item: &str,
        plaintext: &[u8],
    ) -> Result<SealedItem, Error> {
        if plaintext.len() > MAX_ITEM_LEN {
            return Err(Error::SyncItemTooLarge { max: MAX_ITEM_LEN });
        }
        let mut nonce = XNonce::default();
        rng.fill_bytes(&mut nonce);
        let mut bytes = Vec::with_capacity(ITEM_HEADER_LEN + plaintext.len() + TAG_LEN);
        bytes.push(VERSION);
        bytes.extend_from_slice(&self.epoch.to_be_bytes());
        bytes.extend_from_slice(&nonce);
        let aad = item_aad(account_id, item, &bytes);
        let ciphertext = self
            .item_cipher(account_id)
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| Error::SyncItemTooLarge { max: MAX_ITEM_LEN })?;
        bytes.extend_from_slice(&ciphertext);
        Ok(SealedItem {
            epoch: self.epoch,
            bytes,
        })
    }

    /// Decrypts one shared item written under this key's epoch.
    ///
    /// # Errors
    /// [`Error::SyncKeyEpochMismatch`] when the item is from another epoch;
    /// [`Error::SyncKeyDecryptFailed`] when it was altered, or written for another account or
    /// item.
    pub fn decrypt(
        &self,
        account_id: &[u8; 16],
        item: &str,
        sealed: &SealedItem,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        if sealed.epoch() != self.epoch {
            return Err(Error::SyncKeyEpochMismatch {
                have: self.epoch,
                need: sealed.epoch(),
            });
        }
        let (header, ciphertext) = sealed.bytes.split_at(ITEM_HEADER_LEN);
        let nonce = XNonce::from_slice(&header[PREFIX_LEN..]);
        let aad = item_aad(account_id, item, header);
        self.item_cipher(account_id)
            .decrypt(
                nonce,
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| Error::SyncKeyDecryptFailed)
    }

    /// The item cipher of this account and epoch.
    fn item_cipher(&self, account_id: &[u8; 16]) -> XChaCha20Poly1305 {
        let mut info = [0u8; 24];
        info[..16].copy_from_slice(account_id);
        info[16..].copy_from_slice(&self.epoch.to_be_bytes());
        let key = hkdf_sha256(ITEM_SALT, self.key.as_ref(), &info);
        XChaCha20Poly1305::new(key.as_ref().into())
    }
}

impl std::fmt::Debug for SyncKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncKey")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

/// The one-time cipher of a sealed key: bound to the account, the header (version, epoch,
/// recipient, ephemeral key) and the recipient's X25519 key.
fn seal_cipher(
    shared: &[u8; 32],
    account_id: &[u8; 16],
    header: &[u8],
    recipient: &AgreementPublicKey,
) -> ChaCha20Poly1305 {
    let mut info = Vec::with_capacity(16 + SEAL_HEADER_LEN + 32);
    info.extend_from_slice(account_id);
    info.extend_from_slice(header);
    info.extend_from_slice(recipient.as_bytes());
    let key = hkdf_sha256(SEAL_SALT, shared, &info);
    ChaCha20Poly1305::new(key.as_ref().into())
}

/// Associated data of an item: the domain, the account, the item's name (length-prefixed) and
/// the item's header.
fn item_aad(account_id: &[u8; 16], item: &str, header: &[u8]) -> Vec<u8> {
    let name = item.as_bytes();
    let mut aad = Vec::with_capacity(ITEM_SALT.len() + 16 + 8 + name.len() + header.len());
    aad.extend_from_slice(ITEM_SALT);
    aad.extend_from_slice(account_id);
    aad.extend_from_slice(&(name.len() as u64).to_be_bytes());
    aad.extend_from_slice(name);
    aad.extend_from_slice(header);
    aad
}

/// Parses public bytes that start with `version || epoch`: the epoch and a copy of the bytes,
/// if `length_ok` (the caller's check of the whole length) and the version is this one.
fn parse_versioned(bytes: &[u8], length_ok: bool) -> Result<(u64, Vec<u8>), Error> {
    match bytes.split_first() {
        Some((&VERSION, rest)) if length_ok && rest.len() >= 8 => {
            let mut epoch = [0u8; 8];
            epoch.copy_from_slice(&rest[..8]);
            Ok((u64::from_be_bytes(epoch), bytes.to_vec()))
        }
        _ => Err(Error::SyncKeyMalformed),
    }
}

/// A sync key sealed to one device: public bytes the service stores and relays.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SealedSyncKey {
    epoch: u64,
    bytes: Vec<u8>,
}

impl SealedSyncKey {
    /// Parses a sealed key received from the service.
    ///
    /// # Errors
    /// [`Error::SyncKeyMalformed`] for a wrong length or unknown version.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let (epoch, bytes) = parse_versioned(bytes, bytes.len() == SEALED_LEN)?;
        Ok(Self { epoch, bytes })
    }

    /// The bytes to send.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The epoch of the sealed key.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The device it was sealed to.
    pub fn recipient(&self) -> DeviceId {
        let mut id = [0u8; 16];
        id.copy_from_slice(&self.bytes[PREFIX_LEN..PREFIX_LEN + 16]);
        DeviceId::from_bytes(id)
    }

    /// Opens the key with this device's secrets.
    ///
    /// # Errors
    /// [`Error::SyncKeyWrongRecipient`] when it names another device;
    /// [`Error::NonContributoryKeyAgreement`] for a low-order ephemeral key;
    /// [`Error::SyncKeyDecryptFailed`] when it was altered or sealed for another account.
    pub fn open(&self, account_id: &[u8; 16], recipient: &DeviceSecrets) -> Result<SyncKey, Error> {
        let public = recipient.public();
        if self.recipient() != public.device_id() {
            return Err(Error::SyncKeyWrongRecipient);
        }
        let (header, ciphertext) = self.bytes.split_at(SEAL_HEADER_LEN);
        let mut ephemeral = [0u8; 32];
        ephemeral.copy_from_slice(&header[PREFIX_LEN + 16..]);
        let shared = recipient.agree(&AgreementPublicKey::from_bytes(ephemeral))?;
        let key = seal_cipher(&shared, account_id, header, &public.agreement)
            .decrypt(
                &Nonce::default(),
                Payload {
                    msg: ciphertext,
                    aad: header,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| Error::SyncKeyDecryptFailed)?;
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes.copy_from_slice(&key);
        Ok(SyncKey {
            epoch: self.epoch,
            key: bytes,
        })
    }
}

/// One shared item encrypted under a sync-key epoch: public bytes the service stores.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SealedItem {
    epoch: u64,
    bytes: Vec<u8>,
}

impl SealedItem {
    /// Parses an item received from the service.
    ///
    /// # Errors
    /// [`Error::SyncKeyMalformed`] for a wrong length or unknown version.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let lengths = ITEM_HEADER_LEN + TAG_LEN..=ITEM_HEADER_LEN + MAX_ITEM_LEN + TAG_LEN;
        let (epoch, bytes) = parse_versioned(bytes, lengths.contains(&bytes.len()))?;
        Ok(Self { epoch, bytes })
    }

    /// The bytes to send.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The epoch the item was written under.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rand_core::OsRng;

    use super::*;

    const ACCOUNT: [u8; 16] = [7; 16];

    fn device() -> DeviceSecrets {
        DeviceSecrets::generate(&mut OsRng)
    }

    #[test]
    fn a_sealed_key_opens_only_for_its_device_and_account() {
        let key = SyncKey::generate(&mut OsRng, 3);
        let (b, c) = (device(), device());
        let sealed = key.seal_to(&mut OsRng, &ACCOUNT, &b.public());
        assert_eq!(sealed.epoch(), 3);
        assert_eq!(sealed.recipient(), b.device_id());

        let opened = sealed.open(&ACCOUNT, &b).expect("the recipient opens it");
        assert_eq!(opened.epoch(), 3);
        assert_eq!(*opened.to_bytes(), *key.to_bytes());
        assert_eq!(
            sealed.open(&ACCOUNT, &c).map(|k| k.epoch()),
            Err(Error::SyncKeyWrongRecipient)
        );
        assert_eq!(
            sealed.open(&[8; 16], &b).map(|k| k.epoch()),
            Err(Error::SyncKeyDecryptFailed)
        );
    }

    #[test]
    fn a_sealed_key_renamed_to_another_device_or_epoch_does_not_open() {
        let key = SyncKey::generate(&mut OsRng, 1);
        let (b, c) = (device(), device());
        let sealed = key.seal_to(&mut OsRng, &ACCOUNT, &b.public());

        let mut other_recipient = sealed.as_bytes().to_vec();
        other_recipient[PREFIX_LEN..PREFIX_LEN + 16].copy_from_slice(c.device_id().as_bytes());
        assert_eq!(
            open_forged(&other_recipient, &c),
            Err(Error::SyncKeyDecryptFailed)
        );

        let mut later_epoch = sealed.as_bytes().to_vec();
        later_epoch[8] ^= 1;
        assert_eq!(
            open_forged(&later_epoch, &b),
            Err(Error::SyncKeyDecryptFailed)
        );
    }

    /// Opens well-formed sealed `bytes` someone altered, as `device`: the epoch or the error.
    fn open_forged(bytes: &[u8], device: &DeviceSecrets) -> Result<u64, Error> {
        let forged = SealedSyncKey::from_bytes(bytes).expect("well formed");
        forged.open(&ACCOUNT, device).map(|k| k.epoch())
    }

    #[test]
    fn a_low_order_ephemeral_key_is_refused() {
        let key = SyncKey::generate(&mut OsRng, 1);
        let b = device();
        let mut bytes = key
            .seal_to(&mut OsRng, &ACCOUNT, &b.public())
            .as_bytes()
            .to_vec();
        bytes[PREFIX_LEN + 16..SEAL_HEADER_LEN].fill(0);
        assert_eq!(
            open_forged(&bytes, &b),
            Err(Error::NonContributoryKeyAgreement)
        );
    }

    #[test]
    fn malformed_blobs_are_refused_before_any_crypto() {
        let key = SyncKey::generate(&mut OsRng, 1);
        let sealed = key.seal_to(&mut OsRng, &ACCOUNT, &device().public());
        let bytes = sealed.as_bytes();
        assert_eq!(
            SealedSyncKey::from_bytes(&bytes[..SEALED_LEN - 1]),
            Err(Error::SyncKeyMalformed)
        );
        let mut wrong_version = bytes.to_vec();
        wrong_version[0] = 2;
        assert_eq!(
            SealedSyncKey::from_bytes(&wrong_version),
            Err(Error::SyncKeyMalformed)
        );
        assert_eq!(
            SealedItem::from_bytes(&[VERSION; ITEM_HEADER_LEN]),
            Err(Error::SyncKeyMalformed)
        );
        let too_long = vec![VERSION; ITEM_HEADER_LEN + MAX_ITEM_LEN + TAG_LEN + 1];
        assert_eq!(
            SealedItem::from_bytes(&too_long),
            Err(Error::SyncKeyMalformed)
        );
        assert_eq!(
            key.encrypt(&mut OsRng, &ACCOUNT, "settings", &[0; MAX_ITEM_LEN + 1]),
            Err(Error::SyncItemTooLarge { max: MAX_ITEM_LEN })
        );
    }

    #[test]
    fn an_item_is_bound_to_its_epoch_account_and_name() {
        let epoch1 = SyncKey::generate(&mut OsRng, 1);
        let epoch2 = SyncKey::generate(&mut OsRng, 2);
        let item = epoch2
            .encrypt(&mut OsRng, &ACCOUNT, "label.aa", b"Work laptop")
            .unwrap();
        assert_eq!(item.epoch(), 2);
        let parsed = SealedItem::from_bytes(item.as_bytes()).expect("well formed");
        assert_eq!(
            epoch2
                .decrypt(&ACCOUNT, "label.aa", &parsed)
                .expect("same key, account and name")
                .as_slice(),
            b"Work laptop"
        );
        // A device that only held the earlier epoch cannot read what was written after.
        assert_eq!(
            epoch1.decrypt(&ACCOUNT, "label.aa", &parsed),
            Err(Error::SyncKeyEpochMismatch { have: 1, need: 2 })
        );
        // Nor can a different key claiming the same epoch.
        let impostor = SyncKey::generate(&mut OsRng, 2);
        assert_eq!(
            impostor.decrypt(&ACCOUNT, "label.aa", &parsed),
            Err(Error::SyncKeyDecryptFailed)
        );
        assert_eq!(
            epoch2.decrypt(&ACCOUNT, "label.bb", &parsed),
            Err(Error::SyncKeyDecryptFailed)
        );
        assert_eq!(
            epoch2.decrypt(&[0; 16], "label.aa", &parsed),
            Err(Error::SyncKeyDecryptFailed)
        );
    }

    #[test]
    fn debug_never_prints_the_key() {
        let key = SyncKey::from_bytes(4, &[0xab; 32]);
        let printed = format!("{key:?}");
        assert!(printed.contains("epoch: 4"));
        assert!(!printed.to_lowercase().contains("ab, ") && !printed.contains("171"));
    }

    proptest! {
        #[test]
        fn any_single_byte_change_to_an_item_is_refused(
            plaintext in proptest::collection::vec(any::<u8>(), 0..256),
            position in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let key = SyncKey::generate(&mut OsRng, 5);
            let item = key.encrypt(&mut OsRng, &ACCOUNT, "settings", &plaintext).unwrap();
            let mut bytes = item.as_bytes().to_vec();
            let at = position.index(bytes.len());
            bytes[at] ^= flip;
            let refused = SealedItem::from_bytes(&bytes)
                .and_then(|tampered| key.decrypt(&ACCOUNT, "settings", &tampered));
            prop_assert!(refused.is_err());
        }
    }
}
