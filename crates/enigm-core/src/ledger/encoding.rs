//! The canonical, versioned binary encoding of ledger entries (versions 1 and 2).
//!
//! Every entry has exactly one encoding, because its hash and its signatures are computed over
//! bytes: fixed field order, fixed-width big-endian integers, explicit one-byte tags and counts,
//! no maps, no floats, no optional padding. The decoder is the mirror image and refuses anything
//! the encoder would not produce (trailing bytes, unknown tags, flags other than 0/1,
//! unsorted signatures, oversize inputs, invalid keys), and it never panics.
//!
//! ```text
//! entry     = version:u8(=1) seq:u64 prev_hash:[32]                kind:u8 body  sig_count:u8 signature*
//!           | version:u8(=2) seq:u64 prev_hash:[32] signed_at:u64  kind:u8 body  sig_count:u8 signature*
//! signature = signer:u8 (device_id:[16] if signer = 0) sig:[64]
//! keys      = ed25519:[32] x25519:[32]
//! body      0 Genesis           account_id:[16] keys recovery_pub:[32]
//!           1 AddDevice         keys approved_by:[16] has_replaces:u8 (replaces:[16])
//!           2 Suspend           device:[16]          3 Resume   device:[16]
//!           4 Revoke            device:[16] reason:u8
//!           5 Retire            device:[16]          6 Review   device:[16] approve:u8
//!           7 Recover           keys count:u8 device:[16]*count
//!           8 RotateRecovery    new_recovery_pub:[32]
//!           9 JoinOrganization  org_pub:[32] managed_mode:u8 remote_wipe_allowed:u8
//!          10 LeaveOrganization (empty)
//! list      = count:u32 (len:u32 entry)*
//! ```

use ed25519_dalek::Signature;

use crate::Error;
use crate::identity::{AgreementPublicKey, DeviceId, DevicePublicKeys, SigningPublicKey};

use super::entry::{EntryHash, EntryKind, EntrySignature, LedgerEntry, RevokeReason, Signer};

/// The encoding version this build writes for an entry that carries its signer's clock time
/// (version 2). Entries without one keep version 1, the only version older builds read, so an
/// old entry's bytes, hash and signatures never change.
pub const ENCODING_VERSION: u8 = 2;

/// The version of an entry without its signer's time.
const UNTIMED_VERSION: u8 = 1;

/// Largest encoded entry accepted. The largest legal entry (a `Recover` revoking
/// [`MAX_REVOKE_LIST`] devices with [`MAX_SIGNATURES`] signatures) is about 1.5 KiB.
pub const MAX_ENTRY_LEN: usize = 2048;

/// Most devices one `Recover` may revoke; an account never needs more and the bound keeps entry
/// size fixed-small.
pub const MAX_REVOKE_LIST: usize = 64;

/// Most signatures on one entry; no kind requires more than two.
pub const MAX_SIGNATURES: usize = 4;

/// Most entries in one encoded list (a full ledger as the service relays it).
pub const MAX_LIST_ENTRIES: usize = 1_000_000;

const TAG_GENESIS: u8 = 0;
const TAG_ADD_DEVICE: u8 = 1;
const TAG_SUSPEND: u8 = 2;
const TAG_RESUME: u8 = 3;
const TAG_REVOKE: u8 = 4;
const TAG_RETIRE: u8 = 5;
const TAG_REVIEW: u8 = 6;
const TAG_RECOVER: u8 = 7;
const TAG_ROTATE_RECOVERY: u8 = 8;
const TAG_JOIN_ORGANIZATION: u8 = 9;
const TAG_LEAVE_ORGANIZATION: u8 = 10;

const SIGNER_DEVICE: u8 = 0;
const SIGNER_RECOVERY: u8 = 1;
const SIGNER_ORGANIZATION: u8 = 2;
const SIGNER_NEW_RECOVERY: u8 = 3;

/// Encodes everything but the signature list.
pub(crate) fn encode_unsigned(entry: &LedgerEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.push(match entry.signed_at {
        Some(_) => ENCODING_VERSION,
        None => UNTIMED_VERSION,
    });
    out.extend_from_slice(&entry.seq.to_be_bytes());
    out.extend_from_slice(&entry.prev_hash.0);
    if let Some(signed_at) = entry.signed_at {
        out.extend_from_slice(&signed_at.to_be_bytes());
    }
    encode_kind(&mut out, &entry.kind);
    out
}

/// Encodes the whole entry.
pub(crate) fn encode_entry(entry: &LedgerEntry) -> Vec<u8> {
    let mut out = encode_unsigned(entry);
    // Counts above u8::MAX cannot be decoded anyway; saturating keeps encoding total.
    out.push(u8::try_from(entry.signatures.len()).unwrap_or(u8::MAX));
    for signature in &entry.signatures {
        encode_signer(&mut out, &signature.signer);
        out.extend_from_slice(&signature.signature.to_bytes());
    }
    out
}

fn encode_kind(out: &mut Vec<u8>, kind: &EntryKind) {
    match kind {
        EntryKind::Genesis {
            account_id,
            first_device,
            recovery_pub,
        } => {
            out.push(TAG_GENESIS);
            out.extend_from_slice(account_id);
            encode_keys(out, first_device);
            out.extend_from_slice(recovery_pub.as_bytes());
        }
        EntryKind::AddDevice {
            device,
            approved_by,
            replaces,
        } => {
            out.push(TAG_ADD_DEVICE);
            encode_keys(out, device);
            out.extend_from_slice(approved_by.as_bytes());
            match replaces {
                Some(id) => {
                    out.push(1);
                    out.extend_from_slice(id.as_bytes());
                }
                None => out.push(0),
            }
        }
        EntryKind::Suspend { device } => {
            out.push(TAG_SUSPEND);
            out.extend_from_slice(device.as_bytes());
        }
        EntryKind::Resume { device } => {
            out.push(TAG_RESUME);
            out.extend_from_slice(device.as_bytes());
        }
        EntryKind::Revoke { device, reason } => {
            out.push(TAG_REVOKE);
            out.extend_from_slice(device.as_bytes());
            out.push(reason_tag(*reason));
        }
        EntryKind::Retire { device } => {
            out.push(TAG_RETIRE);
            out.extend_from_slice(device.as_bytes());
        }
        EntryKind::Review { device, approve } => {
            out.push(TAG_REVIEW);
            out.extend_from_slice(device.as_bytes());
            out.push(u8::from(*approve));
        }
        EntryKind::Recover { new_device, revoke } => {
            out.push(TAG_RECOVER);
            encode_keys(out, new_device);
            out.push(u8::try_from(revoke.len()).unwrap_or(u8::MAX));
            for id in revoke {
                out.extend_from_slice(id.as_bytes());
            }
        }
        EntryKind::RotateRecovery { new_recovery_pub } => {
            out.push(TAG_ROTATE_RECOVERY);
            out.extend_from_slice(new_recovery_pub.as_bytes());
        }
        EntryKind::JoinOrganization {
            org_pub,
            managed_mode,
            remote_wipe_allowed,
        } => {
            out.push(TAG_JOIN_ORGANIZATION);
            out.extend_from_slice(org_pub.as_bytes());
            out.push(u8::from(*managed_mode));
            out.push(u8::from(*remote_wipe_allowed));
        }
        EntryKind::LeaveOrganization => out.push(TAG_LEAVE_ORGANIZATION),
    }
}

fn encode_keys(out: &mut Vec<u8>, keys: &DevicePublicKeys) {
    out.extend_from_slice(keys.signing.as_bytes());
    out.extend_from_slice(keys.agreement.as_bytes());
}

fn encode_signer(out: &mut Vec<u8>, signer: &Signer) {
    match signer {
        Signer::Device(id) => {
            out.push(SIGNER_DEVICE);
            out.extend_from_slice(id.as_bytes());
        }
        Signer::Recovery => out.push(SIGNER_RECOVERY),
        Signer::Organization => out.push(SIGNER_ORGANIZATION),
        Signer::NewRecovery => out.push(SIGNER_NEW_RECOVERY),
    }
}

const fn reason_tag(reason: RevokeReason) -> u8 {
    match reason {
        RevokeReason::Unspecified => 0,
        RevokeReason::Lost => 1,
        RevokeReason::Stolen => 2,
        RevokeReason::Compromised => 3,
        RevokeReason::Decommissioned => 4,
    }
}

/// Decodes exactly one entry; `bytes` must hold nothing else.
pub(crate) fn decode_entry(bytes: &[u8]) -> Result<LedgerEntry, Error> {
    if bytes.len() > MAX_ENTRY_LEN {
        return Err(Error::LedgerTooLarge {
            what: "entry",
            len: bytes.len(),
            max: MAX_ENTRY_LEN,
        });
    }
    let mut reader = Reader { rest: bytes };
    let version = reader.u8()?;
    if version != ENCODING_VERSION && version != UNTIMED_VERSION {
        return Err(Error::LedgerUnsupportedVersion { version });
    }
    let seq = u64::from_be_bytes(reader.array()?);
    let prev_hash = EntryHash(reader.array()?);
    let signed_at = (version == ENCODING_VERSION)
        .then(|| reader.array().map(u64::from_be_bytes))
        .transpose()?;
    let kind = decode_kind(&mut reader)?;
    let count = usize::from(reader.u8()?);
    if count > MAX_SIGNATURES {
        return Err(Error::LedgerTooLarge {
            what: "signature list",
            len: count,
            max: MAX_SIGNATURES,
        });
    }
    let mut signatures: Vec<EntrySignature> = Vec::with_capacity(count);
    for _ in 0..count {
        let signer = decode_signer(&mut reader)?;
        if signatures.last().is_some_and(|last| last.signer >= signer) {
            return Err(Error::LedgerUnsortedSignatures);
        }
        let signature = Signature::from_bytes(&reader.array()?);
        signatures.push(EntrySignature { signer, signature });
    }
    reader.finish()?;
    Ok(LedgerEntry {
        seq,
        prev_hash,
        signed_at,
        kind,
        signatures,
    })
}

fn decode_kind(reader: &mut Reader<'_>) -> Result<EntryKind, Error> {
    let tag = reader.u8()?;
    let kind = match tag {
        TAG_GENESIS => EntryKind::Genesis {
            account_id: reader.array()?,
            first_device: reader.keys()?,
            recovery_pub: reader.signing_key()?,
        },
        TAG_ADD_DEVICE => EntryKind::AddDevice {
            device: reader.keys()?,
            approved_by: reader.device_id()?,
            replaces: if reader.flag("replaces")? {
                Some(reader.device_id()?)
            } else {
                None
            },
        },
        TAG_SUSPEND => EntryKind::Suspend {
            device: reader.device_id()?,
        },
        TAG_RESUME => EntryKind::Resume {
            device: reader.device_id()?,
        },
        TAG_REVOKE => EntryKind::Revoke {
            device: reader.device_id()?,
            reason: decode_reason(reader.u8()?)?,
        },
        TAG_RETIRE => EntryKind::Retire {
            device: reader.device_id()?,
        },
        TAG_REVIEW => EntryKind::Review {
            device: reader.device_id()?,
            approve: reader.flag("approve")?,
        },
        TAG_RECOVER => {
            let new_device = reader.keys()?;
            let count = usize::from(reader.u8()?);
            if count > MAX_REVOKE_LIST {
                return Err(Error::LedgerTooLarge {
                    what: "revoke list",
                    len: count,
                    max: MAX_REVOKE_LIST,
                });
            }
            let mut revoke = Vec::with_capacity(count);
            for _ in 0..count {
                revoke.push(reader.device_id()?);
            }
            EntryKind::Recover { new_device, revoke }
        }
        TAG_ROTATE_RECOVERY => EntryKind::RotateRecovery {
            new_recovery_pub: reader.signing_key()?,
        },
        TAG_JOIN_ORGANIZATION => EntryKind::JoinOrganization {
            org_pub: reader.signing_key()?,
            managed_mode: reader.flag("managed_mode")?,
            remote_wipe_allowed: reader.flag("remote_wipe_allowed")?,
        },
        TAG_LEAVE_ORGANIZATION => EntryKind::LeaveOrganization,
        other => {
            return Err(Error::LedgerUnknownTag {
                field: "entry kind",
                tag: other,
            });
        }
    };
    Ok(kind)
}

fn decode_signer(reader: &mut Reader<'_>) -> Result<Signer, Error> {
    match reader.u8()? {
        SIGNER_DEVICE => Ok(Signer::Device(reader.device_id()?)),
        SIGNER_RECOVERY => Ok(Signer::Recovery),
        SIGNER_ORGANIZATION => Ok(Signer::Organization),
        SIGNER_NEW_RECOVERY => Ok(Signer::NewRecovery),
        other => Err(Error::LedgerUnknownTag {
            field: "signer",
            tag: other,
        }),
    }
}

fn decode_reason(tag: u8) -> Result<RevokeReason, Error> {
    match tag {
        0 => Ok(RevokeReason::Unspecified),
        1 => Ok(RevokeReason::Lost),
        2 => Ok(RevokeReason::Stolen),
        3 => Ok(RevokeReason::Compromised),
        4 => Ok(RevokeReason::Decommissioned),
        other => Err(Error::LedgerUnknownTag {
            field: "revoke reason",
            tag: other,
        }),
    }
}

/// Encodes a list of entries (the form the service stores and relays).
pub fn encode_entries(entries: &[LedgerEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(
        &u32::try_from(entries.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    for entry in entries {
        let bytes = entry.encode();
        out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}

/// Decodes a list written by [`encode_entries`], each entry as strictly as
/// [`LedgerEntry::decode`]. Decoding checks form only; verification checks meaning.
///
/// # Errors
/// The first decode error, including [`Error::LedgerTooLarge`] for a count above
/// [`MAX_LIST_ENTRIES`] or an entry above [`MAX_ENTRY_LEN`].
pub fn decode_entries(bytes: &[u8]) -> Result<Vec<LedgerEntry>, Error> {
    let mut reader = Reader { rest: bytes };
    let count = usize::try_from(u32::from_be_bytes(reader.array()?)).unwrap_or(usize::MAX);
    if count > MAX_LIST_ENTRIES {
        return Err(Error::LedgerTooLarge {
            what: "entry list",
            len: count,
            max: MAX_LIST_ENTRIES,
        });
    }
    // Never trust the count for allocation: each entry needs at least 4 length bytes.
    let mut entries = Vec::with_capacity(count.min(bytes.len() / 4));
    for _ in 0..count {
        let len = usize::try_from(u32::from_be_bytes(reader.array()?)).unwrap_or(usize::MAX);
        if len > MAX_ENTRY_LEN {
            return Err(Error::LedgerTooLarge {
                what: "entry",
                len,
                max: MAX_ENTRY_LEN,
            });
        }
        entries.push(decode_entry(reader.take(len)?)?);
    }
    reader.finish()?;
    Ok(entries)
}

/// A cursor over untrusted bytes: every read is bounds-checked and fails with
/// [`Error::LedgerTruncated`] instead of panicking.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], Error> {
        if self.rest.len() < len {
            return Err(Error::LedgerTruncated);
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, Error> {
        let [byte] = self.array::<1>()?;
        Ok(byte)
    }

    fn flag(&mut self, field: &'static str) -> Result<bool, Error> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(Error::LedgerUnknownTag { field, tag }),
        }
    }

    fn device_id(&mut self) -> Result<DeviceId, Error> {
        Ok(DeviceId::from_bytes(self.array()?))
    }

    fn signing_key(&mut self) -> Result<SigningPublicKey, Error> {
        SigningPublicKey::from_bytes(&self.array()?)
    }

    fn keys(&mut self) -> Result<DevicePublicKeys, Error> {
        Ok(DevicePublicKeys {
            signing: self.signing_key()?,
            agreement: AgreementPublicKey::from_bytes(self.array()?),
        })
    }

    fn finish(self) -> Result<(), Error> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(Error::LedgerTrailingBytes)
        }
    }
}
