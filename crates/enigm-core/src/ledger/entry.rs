//! Ledger entries: what each kind of change says, who signed it, and the bytes signatures cover.
//!
//! An entry is `{seq, prev_hash, kind, signatures}`. Signatures cover the domain-separated
//! message `"enigm/ledger/v1" || account_id || unsigned entry bytes`, where the unsigned bytes are
//! the canonical encoding without the signature list. Binding the account id means a signature
//! made for one account can never be replayed into another account's ledger, even though
//! entries after genesis do not repeat the account id. The entry hash covers the whole encoding,
//! signatures included (see [`LedgerEntry::hash`]).

use core::fmt;

use ed25519_dalek::{Signature, Signer as _, SigningKey};
use sha2::{Digest, Sha256};

use crate::Error;
use crate::identity::{DeviceId, DevicePublicKeys, DeviceSecrets, SigningPublicKey};

use super::encoding;

/// Domain separator of every ledger signature (DESIGN §4).
pub const SIGNATURE_DOMAIN: &[u8] = b"enigm/ledger/v1";

/// A random 128-bit account id (DESIGN §3).
pub type AccountId = [u8; 16];

/// The SHA-256 hash of an entry's canonical encoding; entries chain by it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EntryHash(pub [u8; 32]);

impl EntryHash {
    /// The `prev_hash` of the genesis entry: nothing comes before it.
    pub const ZERO: EntryHash = EntryHash([0; 32]);

    /// Lower-case hex, the form the CLI prints as `head.hash`.
    pub fn to_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.0)
    }
}

impl fmt::Debug for EntryHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EntryHash({})", self.to_hex())
    }
}

/// Why a device was revoked. A closed set rather than free text: the ledger is read by the
/// service and by every device, so it must not become a channel for arbitrary (possibly
/// identifying) text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RevokeReason {
    /// No reason given.
    Unspecified,
    /// The device was lost.
    Lost,
    /// The device was stolen.
    Stolen,
    /// The device's keys may be known to someone else.
    Compromised,
    /// The device is no longer used.
    Decommissioned,
}

impl RevokeReason {
    /// The lower-case name the app and the CLI show.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Lost => "lost",
            Self::Stolen => "stolen",
            Self::Compromised => "compromised",
            Self::Decommissioned => "decommissioned",
        }
    }
}

/// The change an entry makes. Each variant's signer rules are in [`super::LedgerState`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// Creates the account: its first device and its recovery key.
    Genesis {
        /// The account this ledger belongs to.
        account_id: AccountId,
        /// The device that registered the account.
        first_device: DevicePublicKeys,
        /// The signing-only key derived from the recovery phrase.
        recovery_pub: SigningPublicKey,
    },
    /// Enrolls a device approved by an active one.
    AddDevice {
        /// The new device's public keys.
        device: DevicePublicKeys,
        /// The active device that approved the enrollment.
        approved_by: DeviceId,
        /// The device this one supersedes once it becomes active.
        replaces: Option<DeviceId>,
    },
    /// Temporarily withdraws trust from a device.
    Suspend {
        /// The device suspended.
        device: DeviceId,
    },
    /// Restores trust in a suspended device.
    Resume {
        /// The device resumed.
        device: DeviceId,
    },
    /// Removes a device for good.
    Revoke {
        /// The device revoked.
        device: DeviceId,
        /// Why.
        reason: RevokeReason,
    },
    /// Archives a revoked or replaced device.
    Retire {
        /// The device retired.
        device: DeviceId,
    },
    /// The organization's decision on a device awaiting review.
    Review {
        /// The device reviewed.
        device: DeviceId,
        /// `true` activates it, `false` revokes it.
        approve: bool,
    },
    /// Restores access with the recovery key: adds a device and revokes the ones marked lost.
    Recover {
        /// The device that performed the recovery.
        new_device: DevicePublicKeys,
        /// Devices to revoke at the same time.
        revoke: Vec<DeviceId>,
    },
    /// Replaces the recovery key (a regenerated phrase).
    RotateRecovery {
        /// The new recovery key.
        new_recovery_pub: SigningPublicKey,
    },
    /// Puts the account under an organization's management, with the user's consent.
    JoinOrganization {
        /// The organization's signing key, pinned from here on.
        org_pub: SigningPublicKey,
        /// New devices need the organization's review before they become active.
        managed_mode: bool,
        /// The organization may order this account's devices to wipe themselves.
        remote_wipe_allowed: bool,
    },
    /// Ends the organization's management.
    LeaveOrganization,
}

/// Whose key made a signature. The verifier resolves it against the ledger state, so an entry
/// can never bring its own key for an existing role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signer {
    /// A device of the account (for `AddDevice`/`Recover`/`Genesis`, also the new device's own
    /// proof of possession).
    Device(DeviceId),
    /// The account's current recovery key (for `Genesis`, the key being pinned).
    Recovery,
    /// The pinned organization key (for `JoinOrganization`, the key being pinned).
    Organization,
    /// The recovery key a `RotateRecovery` introduces, proving its possession.
    NewRecovery,
}

/// One signature and who made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntrySignature {
    /// The signer role.
    pub signer: Signer,
    /// The Ed25519 signature over [`LedgerEntry::signing_message`].
    pub signature: Signature,
}

/// One link of the ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerEntry {
    /// Position in the chain; genesis is 0.
    pub seq: u64,
    /// Hash of the entry at `seq - 1` ([`EntryHash::ZERO`] for genesis).
    pub prev_hash: EntryHash,
    /// When its first signer made it, by that device's clock (seconds since the epoch): signed
    /// with the entry, so nobody can change it afterwards, but only the signer's word. It dates
    /// the change for people ("around 14:03"); order comes from `seq` alone. `None` in entries
    /// made before entries carried it (encoding version 1).
    pub signed_at: Option<u64>,
    /// The change.
    pub kind: EntryKind,
    /// Signatures, kept sorted by signer so the encoding is canonical.
    pub signatures: Vec<EntrySignature>,
}

impl LedgerEntry {
    /// An entry without signatures yet; sign it with [`LedgerEntry::sign_device`] and friends.
    pub fn new(seq: u64, prev_hash: EntryHash, kind: EntryKind) -> Self {
        Self {
            seq,
            prev_hash,
            signed_at: None,
            kind,
            signatures: Vec::new(),
        }
    }

    /// Dates the entry with the signer's clock (seconds since the epoch), before it is signed:
    /// the signatures cover the time, so dating a signed entry voids them.
    #[must_use]
    pub fn signed_at(mut self, secs: u64) -> Self {
        self.signed_at = Some(secs);
        self
    }

    /// A complete, signed genesis: the first device and the recovery key both sign it, so the
    /// ledger never pins a key whose holder did not take part.
    pub fn genesis(
        account_id: AccountId,
        first_device: &DeviceSecrets,
        recovery: &SigningKey,
    ) -> Self {
        Self::dated_genesis(account_id, first_device, recovery, None)
    }

    /// [`LedgerEntry::genesis`], dated `signed_at` by the first device's clock when given.
    pub fn dated_genesis(
        account_id: AccountId,
        first_device: &DeviceSecrets,
        recovery: &SigningKey,
        signed_at: Option<u64>,
    ) -> Self {
        let mut entry = Self::new(
            0,
            EntryHash::ZERO,
            EntryKind::Genesis {
                account_id,
                first_device: first_device.public(),
                recovery_pub: SigningPublicKey::from(recovery),
            },
        );
        entry.signed_at = signed_at;
        entry.sign_device(&account_id, first_device);
        entry.sign_with(&account_id, Signer::Recovery, recovery);
        entry
    }

    /// The canonical encoding without signatures: what signatures cover (after the domain and
    /// account id).
    pub fn unsigned_bytes(&self) -> Vec<u8> {
        encoding::encode_unsigned(self)
    }

    /// The full canonical encoding, signatures included.
    pub fn encode(&self) -> Vec<u8> {
        encoding::encode_entry(self)
    }

    /// Parses one canonical encoding strictly.
    ///
    /// # Errors
    /// A decode error (`Ledger*` encoding variants or a key validation error) naming what is
    /// wrong; never panics, whatever the input.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        encoding::decode_entry(bytes)
    }

    /// The message every signature on this entry covers.
    pub fn signing_message(&self, account_id: &AccountId) -> Vec<u8> {
        let unsigned = self.unsigned_bytes();
        let mut message = Vec::with_capacity(SIGNATURE_DOMAIN.len() + 16 + unsigned.len());
        message.extend_from_slice(SIGNATURE_DOMAIN);
        message.extend_from_slice(account_id);
        message.extend_from_slice(&unsigned);
        message
    }

    /// SHA-256 of the full encoding, signatures included.
    ///
    /// Signatures are hashed because the head a client pins must pin *who authorized* each
    /// change, not only what changed: otherwise a service could swap, say, a device's
    /// revocation signature for the organization's without the pinned head noticing, and
    /// two clients could hold different audit views under one hash.
    pub fn hash(&self) -> EntryHash {
        EntryHash(Sha256::digest(self.encode()).into())
    }

    /// Signs as a device of the account (an approver, or a new device proving possession).
    pub fn sign_device(&mut self, account_id: &AccountId, secrets: &DeviceSecrets) {
        let signature = secrets.sign(&self.signing_message(account_id));
        self.insert_signature(EntrySignature {
            signer: Signer::Device(secrets.device_id()),
            signature,
        });
    }

    /// Signs with a raw Ed25519 key in the given role (recovery or organization keys, which
    /// their owners' modules hold).
    pub fn sign_with(&mut self, account_id: &AccountId, signer: Signer, key: &SigningKey) {
        let signature = key.sign(&self.signing_message(account_id));
        self.insert_signature(EntrySignature { signer, signature });
    }

    /// Adds or replaces the signature of `signature.signer`, keeping the list sorted.
    pub fn insert_signature(&mut self, signature: EntrySignature) {
        match self
            .signatures
            .binary_search_by(|existing| existing.signer.cmp(&signature.signer))
        {
            Ok(index) => self.signatures[index] = signature,
            Err(index) => self.signatures.insert(index, signature),
        }
    }
}
