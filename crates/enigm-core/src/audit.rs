//! Hash-chained audit records and signed exports (DESIGN §9, §13).
//!
//! Each [`AuditRecord`] names who did what to whom with [`Pseudonym`]s only (never usernames,
//! raw keys or device ids) and carries the hash of the record before it, so records cannot be
//! dropped, reordered or altered without [`verify_audit_chain`] noticing. The first record has
//! sequence number 0 and an all-zero previous hash.
//!
//! An [`AuditExport`] is a chain plus the service's Ed25519 signature over a domain-separated
//! digest of it. Anyone holding the service's public key can check it offline
//! (`enigm audit verify FILE`): the chain first (so a tampered or missing record is reported
//! with its sequence number), then the signature (which also catches records cut off the end
//! or altered in the last record). A signed export proves what the service exported, not that
//! the service never rewrote its own history: pin exported heads to detect that.
//!
//! # Canonical record encoding (hashed with SHA-256)
//!
//! ```text
//! "enigm/audit/v1" || u64_be(seq) || prev_hash (32) || u64_be(at) || str(actor)
//! || u8(action tag) [|| str(code) for ledger_appended and request_rejected]
//! || u8(0) | u8(1) || str(subject) || u8(outcome: 0 success, 1 denied)
//! ```
//!
//! where `str(s) = u64_be(len(s)) || utf8(s)`. Tags are listed in [`AuditAction::tag`].

use core::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Error;
use crate::identity::SigningPublicKey;
use crate::pseudonym::Pseudonym;

/// Domain tag of the canonical record encoding.
const RECORD_DOMAIN: &[u8] = b"enigm/audit/v1";

/// Domain tag of the message an export's signature covers.
const EXPORT_DOMAIN: &[u8] = b"enigm/audit-export/v2";

/// The longest [`AuditCode`], in bytes.
pub const MAX_AUDIT_CODE_LEN: usize = 48;

/// A short machine code carried by an action (a ledger entry kind, a rejection reason):
/// 1 to [`MAX_AUDIT_CODE_LEN`] characters of `a-z`, `0-9` and `_`. The narrow alphabet keeps
/// free text (and with it anything personal) out of audit records.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AuditCode(String);

impl AuditCode {
    /// Validates `code`.
    ///
    /// # Errors
    /// [`Error::InvalidAuditCode`] if it is empty, too long or has another character.
    pub fn new(code: &str) -> Result<Self, Error> {
        let valid = !code.is_empty()
            && code.len() <= MAX_AUDIT_CODE_LEN
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if valid {
            Ok(Self(code.to_owned()))
        } else {
            Err(Error::InvalidAuditCode)
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AuditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<AuditCode> for String {
    fn from(code: AuditCode) -> Self {
        code.0
    }
}

impl TryFrom<String> for AuditCode {
    type Error = Error;

    fn try_from(code: String) -> Result<Self, Error> {
        Self::new(&code)
    }
}

/// What happened. Serialized in lower snake case (`"login_failed"`,
/// `{"ledger_appended":{"kind":"device_added"}}`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// An account was created.
    AccountRegistered,
    /// An OPAQUE login completed.
    LoginSucceeded,
    /// An OPAQUE login failed (wrong password or unknown account; not told apart).
    LoginFailed,
    /// A login was refused by a rate limit before any password check.
    LoginRateLimited,
    /// A device session began.
    SessionStarted,
    /// A device session ended (logout, expiry or revocation).
    SessionEnded,
    /// An entry was appended to the account's device ledger.
    LedgerAppended {
        /// The entry kind, e.g. `device_added`.
        kind: AuditCode,
    },
    /// A new device asked to enroll.
    EnrollmentRequested,
    /// An existing device approved an enrollment.
    EnrollmentApproved,
    /// An existing device rejected an enrollment.
    EnrollmentRejected,
    /// The new device cancelled its enrollment.
    EnrollmentCancelled,
    /// An enrollment request timed out.
    EnrollmentExpired,
    /// A device was suspended.
    DeviceSuspended,
    /// A suspended device was resumed.
    DeviceResumed,
    /// A device was revoked.
    DeviceRevoked,
    /// A device was retired by its user.
    DeviceRetired,
    /// Account recovery began.
    RecoveryStarted,
    /// Account recovery completed.
    RecoveryCompleted,
    /// A request was refused (bad signature, stale, replayed, policy, ...).
    RequestRejected {
        /// The stable error code, e.g. `request_stale`.
        reason: AuditCode,
    },
    /// A remote wipe was requested.
    WipeRequested,
    /// A device confirmed a remote wipe.
    WipeReceipt,
    /// An enrollment finished: the new device is in the ledger and its sealed account sync key
    /// was handed over.
    EnrollmentCompleted,
    /// The account sync key moved to a new epoch (a device of the account sealed it to every
    /// active device).
    SyncKeyRotated,
    /// The account's password was changed from a signed-in session (every other session
    /// ended).
    PasswordChanged,
}

impl AuditAction {
    /// The action's tag in the canonical encoding. Fixed forever: new actions get new tags.
    pub const fn tag(&self) -> u8 {
        match self {
            AuditAction::AccountRegistered => 1,
            AuditAction::LoginSucceeded => 2,
            AuditAction::LoginFailed => 3,
            AuditAction::LoginRateLimited => 4,
            AuditAction::SessionStarted => 5,
            AuditAction::SessionEnded => 6,
            AuditAction::LedgerAppended { .. } => 7,
            AuditAction::EnrollmentRequested => 8,
            AuditAction::EnrollmentApproved => 9,
            AuditAction::EnrollmentRejected => 10,
            AuditAction::EnrollmentCancelled => 11,
            AuditAction::EnrollmentExpired => 12,
            AuditAction::DeviceSuspended => 13,
            AuditAction::DeviceResumed => 14,
            AuditAction::DeviceRevoked => 15,
            AuditAction::DeviceRetired => 16,
            AuditAction::RecoveryStarted => 17,
            AuditAction::RecoveryCompleted => 18,
            AuditAction::RequestRejected { .. } => 19,
            AuditAction::WipeRequested => 20,
            AuditAction::WipeReceipt => 21,
            AuditAction::EnrollmentCompleted => 22,
            AuditAction::SyncKeyRotated => 23,
            AuditAction::PasswordChanged => 24,
        }
    }

    /// The code the action carries, if any.
    fn code(&self) -> Option<&AuditCode> {
        match self {
            AuditAction::LedgerAppended { kind } => Some(kind),
            AuditAction::RequestRejected { reason } => Some(reason),
            AuditAction::AccountRegistered
            | AuditAction::LoginSucceeded
            | AuditAction::LoginFailed
            | AuditAction::LoginRateLimited
            | AuditAction::SessionStarted
            | AuditAction::SessionEnded
            | AuditAction::EnrollmentRequested
            | AuditAction::EnrollmentApproved
            | AuditAction::EnrollmentRejected
            | AuditAction::EnrollmentCancelled
            | AuditAction::EnrollmentExpired
            | AuditAction::DeviceSuspended
            | AuditAction::DeviceResumed
            | AuditAction::DeviceRevoked
            | AuditAction::DeviceRetired
            | AuditAction::RecoveryStarted
            | AuditAction::RecoveryCompleted
            | AuditAction::WipeRequested
            | AuditAction::WipeReceipt
            | AuditAction::EnrollmentCompleted
            | AuditAction::SyncKeyRotated
            | AuditAction::PasswordChanged => None,
        }
    }
}

/// Whether the action was allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// It happened.
    Success,
    /// It was refused.
    Denied,
}

/// One audit record, linked to the one before it by hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the chain, from 0.
    pub seq: u64,
    /// [`AuditRecord::hash`] of the previous record; all zeros for record 0.
    #[serde(with = "hex32")]
    pub prev_hash: [u8; 32],
    /// When it happened, unix seconds (as the service's clock read it; not required to be
    /// monotonic across nodes).
    pub at: u64,
    /// Who acted (an account, device or admin pseudonym).
    pub actor: Pseudonym,
    /// What happened.
    pub action: AuditAction,
    /// Whom or what it was done to, if anyone.
    pub subject: Option<Pseudonym>,
    /// Whether it was allowed.
    pub outcome: AuditOutcome,
}

impl AuditRecord {
    /// The record that follows `prev` (or the first record, if `prev` is `None`).
    pub fn next(
        prev: Option<&AuditRecord>,
        at: u64,
        actor: Pseudonym,
        action: AuditAction,
        subject: Option<Pseudonym>,
        outcome: AuditOutcome,
    ) -> Self {
        let (seq, prev_hash) = match prev {
            // A chain of 2^64 records is out of reach; saturating keeps this total.
            Some(prev) => (prev.seq.saturating_add(1), prev.hash()),
            None => (0, [0u8; 32]),
        };
        Self {
            seq,
            prev_hash,
            at,
            actor,
            action,
            subject,
            outcome,
        }
    }

    /// The canonical encoding (see the module docs).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        out.extend_from_slice(RECORD_DOMAIN);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.prev_hash);
        out.extend_from_slice(&self.at.to_be_bytes());
        put_str(&mut out, self.actor.as_str());
        out.push(self.action.tag());
        if let Some(code) = self.action.code() {
            put_str(&mut out, code.as_str());
        }
        match &self.subject {
            Some(subject) => {
                out.push(1);
                put_str(&mut out, subject.as_str());
            }
            None => out.push(0),
        }
        out.push(match self.outcome {
            AuditOutcome::Success => 0,
            AuditOutcome::Denied => 1,
        });
        out
    }

    /// SHA-256 of [`AuditRecord::encode`]; the next record's `prev_hash`.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.encode()).into()
    }
}

/// Appends `u64_be(len) || bytes`.
fn put_str(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u64).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// Checks that `records` is one unbroken chain from record 0: sequence numbers 0, 1, 2, ... and
/// each `prev_hash` the hash of the record before (all zeros for record 0). An empty slice is a
/// valid (empty) chain.
///
/// # Errors
/// [`Error::AuditWrongSeq`] at the first sequence number out of place (a record dropped,
/// duplicated or moved); [`Error::AuditBrokenChain`] at the first record whose `prev_hash`
/// does not match (the record before it was altered).
pub fn verify_audit_chain(records: &[AuditRecord]) -> Result<(), Error> {
    let mut expected_seq = 0u64;
    let mut expected_prev = [0u8; 32];
    for record in records {
        if record.seq != expected_seq {
            return Err(Error::AuditWrongSeq {
                expected: expected_seq,
                found: record.seq,
            });
        }
        if record.prev_hash != expected_prev {
            return Err(Error::AuditBrokenChain { seq: record.seq });
        }
        expected_seq = expected_seq.saturating_add(1);
        expected_prev = record.hash();
    }
    Ok(())
}

/// Where an audit chain ended when it was exported: its last record's position and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainHead {
    /// The last record's sequence number.
    pub seq: u64,
    /// The last record's hash.
    pub hash: [u8; 32],
}

/// A signed, offline-verifiable audit export. JSON via serde: hashes, the key and the signature
/// as lower-case hex. The service's own public key is the one raw key an export carries.
///
/// An export holds the chain from record 0, at most as far as the service sends in one export,
/// and names (signed) where the chain ended when it was made, so a reader can tell a whole
/// chain from a cut one ([`AuditExport::complete`]) instead of taking the first part for all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ExportWire", into = "ExportWire")]
pub struct AuditExport {
    /// The chain, from record 0.
    pub records: Vec<AuditRecord>,
    /// Where the chain ended when exported (`None`: it had no record).
    pub head: Option<ChainHead>,
    /// When the export was made, unix seconds.
    pub exported_at: u64,
    /// The service key that signed it.
    pub service_key: SigningPublicKey,
    /// Ed25519 signature over [`AuditExport::signed_message`].
    pub signature: Signature,
}

impl AuditExport {
    /// Signs `records`, from a chain that ended at `head`, as exported at `exported_at` with
    /// the service's key. Does not check the chain: a broken chain, or records that do not lead
    /// to `head`, still fail [`AuditExport::verify`].
    pub fn sign(
        records: Vec<AuditRecord>,
        head: Option<ChainHead>,
        exported_at: u64,
        signer: &SigningKey,
    ) -> Self {
        let service_key = SigningPublicKey::from(signer);
        let message = Self::message(&records, head, exported_at, &service_key);
        let signature = signer.sign(&message);
        Self {
            records,
            head,
            exported_at,
            service_key,
            signature,
        }
    }

    /// Whether the export holds the whole chain, up to its head.
    pub fn complete(&self) -> bool {
        self.chain_length() == self.records.len() as u64
    }

    /// How many records the chain held when exported.
    pub fn chain_length(&self) -> u64 {
        self.head.map_or(0, |head| head.seq.saturating_add(1))
    }

    /// The exact bytes the signature covers:
    /// `"enigm/audit-export/v2" || u64_be(exported_at) || service_key (32) || u64_be(count)
    /// || SHA-256(hash(record 0) || hash(record 1) || ...) || head`, where `head` is `0x00`
    /// for an empty chain, else `0x01 || u64_be(seq) || hash (32)`.
    pub fn signed_message(&self) -> Vec<u8> {
        Self::message(
            &self.records,
            self.head,
            self.exported_at,
            &self.service_key,
        )
    }

    /// See [`AuditExport::signed_message`].
    fn message(
        records: &[AuditRecord],
        head: Option<ChainHead>,
        exported_at: u64,
        service_key: &SigningPublicKey,
    ) -> Vec<u8> {
        let mut digest = Sha256::new();
        for record in records {
            digest.update(record.hash());
        }
        let mut out = Vec::with_capacity(EXPORT_DOMAIN.len() + 8 + 32 + 8 + 32 + 41);
        out.extend_from_slice(EXPORT_DOMAIN);
        out.extend_from_slice(&exported_at.to_be_bytes());
        out.extend_from_slice(service_key.as_bytes());
        out.extend_from_slice(&(records.len() as u64).to_be_bytes());
        out.extend_from_slice(&digest.finalize());
        match head {
            None => out.push(0),
            Some(head) => {
                out.push(1);
                out.extend_from_slice(&head.seq.to_be_bytes());
                out.extend_from_slice(&head.hash);
            }
        }
        out
    }

    /// Verifies the export offline: the signer is `expected_key` (when given; without it the
    /// export only proves it was signed by the key it names), the records form one chain from
    /// record 0 that ends at the named head or stops short of it, and the signature covers
    /// exactly these records, this head, this time and this key.
    ///
    /// # Errors
    /// [`Error::AuditExportWrongKey`] if signed by another key than `expected_key`;
    /// [`Error::AuditWrongSeq`] or [`Error::AuditBrokenChain`] from [`verify_audit_chain`];
    /// [`Error::AuditExportHeadMismatch`] if the records run past the head, or reach it with
    /// another hash; [`Error::AuditExportBadSignature`] if the signature does not verify
    /// strictly.
    pub fn verify(&self, expected_key: Option<&SigningPublicKey>) -> Result<(), Error> {
        if let Some(expected) = expected_key
            && expected != &self.service_key
        {
            return Err(Error::AuditExportWrongKey);
        }
        verify_audit_chain(&self.records)?;
        let held = self.records.len() as u64;
        let consistent = match (self.head, self.records.last()) {
            (None, None) => true,
            (None, Some(_)) => false,
            (Some(head), last) => {
                held < self.chain_length()
                    || last.is_some_and(|last| last.seq == head.seq && last.hash() == head.hash)
            }
        };
        if !consistent {
            return Err(Error::AuditExportHeadMismatch);
        }
        self.service_key
            .verify(&self.signed_message(), &self.signature)
            .map_err(|_| Error::AuditExportBadSignature)
    }
}

/// The JSON shape of [`AuditExport`]. `complete` is derived from the rest, for a reader of the
/// raw JSON; coming in, it is ignored, and the signed head decides ([`AuditExport::verify`]).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportWire {
    records: Vec<AuditRecord>,
    head: Option<HeadWire>,
    complete: bool,
    exported_at: u64,
    #[serde(with = "hex32")]
    service_key: [u8; 32],
    #[serde(with = "hex64")]
    signature: [u8; 64],
}

/// The JSON shape of [`ChainHead`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeadWire {
    seq: u64,
    #[serde(with = "hex32")]
    hash: [u8; 32],
}

impl From<AuditExport> for ExportWire {
    fn from(export: AuditExport) -> Self {
        Self {
            complete: export.complete(),
            head: export.head.map(|head| HeadWire {
                seq: head.seq,
                hash: head.hash,
            }),
            records: export.records,
            exported_at: export.exported_at,
            service_key: *export.service_key.as_bytes(),
            signature: export.signature.to_bytes(),
        }
    }
}

impl TryFrom<ExportWire> for AuditExport {
    type Error = Error;

    fn try_from(wire: ExportWire) -> Result<Self, Error> {
        Ok(Self {
            records: wire.records,
            head: wire.head.map(|head| ChainHead {
                seq: head.seq,
                hash: head.hash,
            }),
            exported_at: wire.exported_at,
            service_key: SigningPublicKey::from_bytes(&wire.service_key)?,
            signature: Signature::from_bytes(&wire.signature),
        })
    }
}

/// Serde for fixed-size byte arrays as lower-case hex strings.
macro_rules! hex_array {
    ($name:ident, $len:literal) => {
        /// Serde helper: `[u8; N]` as lower-case hex.
        mod $name {
            use data_encoding::HEXLOWER;
            use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

            /// Serializes as hex.
            pub(super) fn serialize<S: Serializer>(
                bytes: &[u8; $len],
                serializer: S,
            ) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&HEXLOWER.encode(bytes))
            }

            /// Parses exactly `2 * N` lower-case hex digits.
            pub(super) fn deserialize<'de, D: Deserializer<'de>>(
                deserializer: D,
            ) -> Result<[u8; $len], D::Error> {
                let text = String::deserialize(deserializer)?;
                if text.len() != 2 * $len {
                    return Err(D::Error::custom(concat!(
                        "expected ",
                        stringify!($len),
                        " bytes of hex"
                    )));
                }
                HEXLOWER
                    .decode(text.as_bytes())
                    .ok()
                    .and_then(|bytes| bytes.try_into().ok())
                    .ok_or_else(|| D::Error::custom("invalid hex"))
            }
        }
    };
}

hex_array!(hex32, 32);
hex_array!(hex64, 64);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pseudonym::{Audience, PseudonymKind, audience_key, pseudonym};
    use rand_core::OsRng;

    fn who(kind: PseudonymKind, id: u8) -> Pseudonym {
        pseudonym(
            &audience_key(&[9; 32], &Audience::ServiceLogs),
            kind,
            &[id; 16],
        )
    }

    fn chain(len: usize) -> Vec<AuditRecord> {
        let actions = [
            AuditAction::AccountRegistered,
            AuditAction::LedgerAppended {
                kind: AuditCode::new("device_added").unwrap(),
            },
            AuditAction::LoginFailed,
            AuditAction::RequestRejected {
                reason: AuditCode::new("request_stale").unwrap(),
            },
            AuditAction::DeviceRevoked,
        ];
        let mut records: Vec<AuditRecord> = Vec::new();
        for i in 0..len {
            let action = actions[i % actions.len()].clone();
            let subject = (i % 2 == 1).then(|| who(PseudonymKind::Device, i as u8));
            let outcome = if i % 3 == 2 {
                AuditOutcome::Denied
            } else {
                AuditOutcome::Success
            };
            let record = AuditRecord::next(
                records.last(),
                1_700_000_000 + i as u64,
                who(PseudonymKind::Account, 1),
                action,
                subject,
                outcome,
            );
            records.push(record);
        }
        records
    }

    #[test]
    fn chain_links_and_verifies() {
        let records = chain(6);
        assert_eq!(records[0].seq, 0);
        assert_eq!(records[0].prev_hash, [0; 32]);
        assert_eq!(records[3].prev_hash, records[2].hash());
        verify_audit_chain(&records).unwrap();
        verify_audit_chain(&[]).unwrap();
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = chain(2).pop().unwrap();
        let mut variants = Vec::new();
        let mut r = base.clone();
        r.seq += 1;
        variants.push(r);
        let mut r = base.clone();
        r.prev_hash[31] ^= 1;
        variants.push(r);
        let mut r = base.clone();
        r.at += 1;
        variants.push(r);
        let mut r = base.clone();
        r.actor = who(PseudonymKind::Account, 2);
        variants.push(r);
        let mut r = base.clone();
        r.action = AuditAction::LedgerAppended {
            kind: AuditCode::new("device_revoked").unwrap(),
        };
        variants.push(r);
        let mut r = base.clone();
        r.action = AuditAction::RequestRejected {
            reason: AuditCode::new("device_added").unwrap(),
        };
        variants.push(r);
        let mut r = base.clone();
        r.subject = None;
        variants.push(r);
        let mut r = base.clone();
        r.outcome = AuditOutcome::Denied;
        variants.push(r);
        let mut hashes: Vec<[u8; 32]> = variants.iter().map(AuditRecord::hash).collect();
        hashes.push(base.hash());
        let count = hashes.len();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), count);
    }

    #[test]
    fn tampering_is_refused_with_a_specific_error() {
        let records = chain(5);
        let mut altered = records.clone();
        altered[2].outcome = AuditOutcome::Denied;
        altered[2].action = AuditAction::LoginSucceeded;
        assert_eq!(
            verify_audit_chain(&altered),
            Err(Error::AuditBrokenChain { seq: 3 })
        );
        let mut reordered = records.clone();
        reordered.swap(1, 2);
        assert_eq!(
            verify_audit_chain(&reordered),
            Err(Error::AuditWrongSeq {
                expected: 1,
                found: 2
            })
        );
        let mut dropped = records.clone();
        dropped.remove(2);
        assert_eq!(
            verify_audit_chain(&dropped),
            Err(Error::AuditWrongSeq {
                expected: 2,
                found: 3
            })
        );
        assert_eq!(
            verify_audit_chain(&records[1..]),
            Err(Error::AuditWrongSeq {
                expected: 0,
                found: 1
            })
        );
        // Renumbering after a drop still breaks the hash chain.
        let mut renumbered = dropped;
        renumbered[2].seq = 2;
        renumbered[3].seq = 3;
        assert_eq!(
            verify_audit_chain(&renumbered),
            Err(Error::AuditBrokenChain { seq: 2 })
        );
        let mut bad_genesis = records;
        bad_genesis[0].prev_hash[0] = 1;
        assert_eq!(
            verify_audit_chain(&bad_genesis),
            Err(Error::AuditBrokenChain { seq: 0 })
        );
    }

    /// A whole chain, signed with its own head.
    fn signed(records: Vec<AuditRecord>, at: u64, key: &SigningKey) -> AuditExport {
        let head = records.last().map(|last| ChainHead {
            seq: last.seq,
            hash: last.hash(),
        });
        AuditExport::sign(records, head, at, key)
    }

    #[test]
    fn a_cut_export_says_so_and_cannot_pass_for_a_whole_one() {
        let key = SigningKey::generate(&mut OsRng);
        let public = SigningPublicKey::from(&key);
        let records = chain(5);
        let head = Some(ChainHead {
            seq: 4,
            hash: records[4].hash(),
        });
        let cut = AuditExport::sign(records[..3].to_vec(), head, 1, &key);
        cut.verify(Some(&public)).unwrap();
        assert!(!cut.complete());
        assert_eq!(cut.chain_length(), 5);
        let json = serde_json::to_value(&cut).unwrap();
        assert_eq!(json["complete"], false);
        // Claiming the cut export is whole: the flag in the JSON is not what decides, and a
        // head moved back to where the records stop breaks the signature.
        let mut whole = json.clone();
        whole["complete"] = serde_json::json!(true);
        assert!(
            !serde_json::from_value::<AuditExport>(whole)
                .unwrap()
                .complete()
        );
        let mut moved = cut.clone();
        moved.head = Some(ChainHead {
            seq: 2,
            hash: records[2].hash(),
        });
        assert!(moved.complete());
        assert_eq!(
            moved.verify(Some(&public)),
            Err(Error::AuditExportBadSignature)
        );
        // Records past the head, or reaching it with another hash, do not verify.
        let short_head = Some(ChainHead {
            seq: 1,
            hash: records[1].hash(),
        });
        let past = AuditExport::sign(records.clone(), short_head, 1, &key);
        assert_eq!(past.verify(None), Err(Error::AuditExportHeadMismatch));
        let other_hash = Some(ChainHead {
            seq: 4,
            hash: [7; 32],
        });
        let forked = AuditExport::sign(records, other_hash, 1, &key);
        assert_eq!(forked.verify(None), Err(Error::AuditExportHeadMismatch));
        let headless = AuditExport::sign(chain(1), None, 1, &key);
        assert_eq!(headless.verify(None), Err(Error::AuditExportHeadMismatch));
    }

    #[test]
    fn export_signs_verifies_and_round_trips_as_json() {
        let key = SigningKey::generate(&mut OsRng);
        let export = signed(chain(5), 1_800_000_000, &key);
        let public = SigningPublicKey::from(&key);
        export.verify(Some(&public)).unwrap();
        export.verify(None).unwrap();
        let json = serde_json::to_string_pretty(&export).unwrap();
        let back: AuditExport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, export);
        back.verify(Some(&public)).unwrap();
        assert!(json.contains("\"ledger_appended\""));
        assert!(json.contains("\"login_failed\""));
        assert!(json.contains("\"request_stale\""));
        assert!(json.contains(&data_encoding::HEXLOWER.encode(public.as_bytes())));
        signed(Vec::new(), 1, &key).verify(Some(&public)).unwrap();
    }

    #[test]
    fn export_tampering_is_refused() {
        let key = SigningKey::generate(&mut OsRng);
        let public = SigningPublicKey::from(&key);
        let export = signed(chain(5), 1_800_000_000, &key);

        let mut t = export.clone();
        t.records[1].at += 1;
        assert_eq!(
            t.verify(Some(&public)),
            Err(Error::AuditBrokenChain { seq: 2 })
        );
        // The last record has no successor: the signed head catches it.
        let mut t = export.clone();
        t.records[4].outcome = AuditOutcome::Denied;
        assert_eq!(t.verify(Some(&public)), Err(Error::AuditExportHeadMismatch));
        let mut t = export.clone();
        t.records.pop();
        assert_eq!(t.verify(Some(&public)), Err(Error::AuditExportBadSignature));
        let mut t = export.clone();
        t.records.swap(3, 4);
        assert_eq!(
            t.verify(Some(&public)),
            Err(Error::AuditWrongSeq {
                expected: 3,
                found: 4
            })
        );
        let mut t = export.clone();
        t.records.remove(0);
        assert_eq!(
            t.verify(None),
            Err(Error::AuditWrongSeq {
                expected: 0,
                found: 1
            })
        );
        let mut t = export.clone();
        t.exported_at += 1;
        assert_eq!(t.verify(Some(&public)), Err(Error::AuditExportBadSignature));

        // Signed by another key: refused against the expected key, and a swapped-in key
        // field does not make the old signature verify.
        let other = SigningKey::generate(&mut OsRng);
        let forged = signed(chain(5), 1_800_000_000, &other);
        assert_eq!(
            forged.verify(Some(&public)),
            Err(Error::AuditExportWrongKey)
        );
        let mut swapped = forged;
        swapped.service_key = public;
        assert_eq!(
            swapped.verify(Some(&public)),
            Err(Error::AuditExportBadSignature)
        );
    }

    #[test]
    fn json_rejects_bad_input() {
        let key = SigningKey::generate(&mut OsRng);
        let export = signed(chain(2), 1, &key);
        let json = serde_json::to_value(&export).unwrap();
        let mut extra = json.clone();
        extra["unknown"] = serde_json::json!(1);
        assert!(serde_json::from_value::<AuditExport>(extra).is_err());
        let mut short = json.clone();
        short["signature"] = serde_json::json!("abcd");
        assert!(serde_json::from_value::<AuditExport>(short).is_err());
        let mut weak = json.clone();
        weak["service_key"] = serde_json::json!("00".repeat(32));
        assert!(serde_json::from_value::<AuditExport>(weak).is_err());
        let mut bad_code = json;
        bad_code["records"][1]["action"] =
            serde_json::json!({"ledger_appended": {"kind": "Alice Smith"}});
        assert!(serde_json::from_value::<AuditExport>(bad_code).is_err());
    }

    #[test]
    fn audit_codes_are_narrow() {
        assert!(AuditCode::new("device_added_2").is_ok());
        assert_eq!(AuditCode::new(""), Err(Error::InvalidAuditCode));
        assert_eq!(AuditCode::new("Device"), Err(Error::InvalidAuditCode));
        assert_eq!(AuditCode::new("a b"), Err(Error::InvalidAuditCode));
        assert_eq!(AuditCode::new("é"), Err(Error::InvalidAuditCode));
        assert_eq!(
            AuditCode::new(&"a".repeat(MAX_AUDIT_CODE_LEN + 1)),
            Err(Error::InvalidAuditCode)
        );
        assert!(AuditCode::new(&"a".repeat(MAX_AUDIT_CODE_LEN)).is_ok());
    }

    #[test]
    fn fixed_record_encoding() {
        let actor = who(PseudonymKind::Account, 1);
        let record = AuditRecord::next(
            None,
            1_700_000_000,
            actor.clone(),
            AuditAction::RequestRejected {
                reason: AuditCode::new("stale").unwrap(),
            },
            None,
            AuditOutcome::Denied,
        );
        let expected = [
            hex::encode(b"enigm/audit/v1"),
            "0000000000000000".into(),
            "00".repeat(32),
            "000000006553f100".into(),
            format!("{:016x}", actor.as_str().len()),
            hex::encode(actor.as_str()),
            "13".into(),
            "0000000000000005".into(),
            hex::encode(b"stale"),
            "00".into(),
            "01".into(),
        ]
        .concat();
        assert_eq!(hex::encode(record.encode()), expected);
        let digest: [u8; 32] = Sha256::digest(hex::decode(&expected).unwrap()).into();
        assert_eq!(record.hash(), digest);
    }
}
