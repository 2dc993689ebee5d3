//! The one error type of enigm-core.
//!
//! Every variant names one precise reason, so callers (and tests) can tell a forged ledger from
//! a stale one, a wrong recovery word from a bad checksum. No variant carries secret material:
//! messages are safe to log and to show.

use crate::lifecycle::{DeviceState, LifecycleEvent};

/// Everything that can go wrong in the pure core.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    // --- keys and signatures (identity.rs) ---
    /// A public key is not a valid curve point encoding.
    #[error("public key is not a valid curve point")]
    InvalidPublicKey,
    /// A public key uses a non-canonical encoding; accepting it would allow malleable identities.
    #[error("public key encoding is not canonical")]
    NonCanonicalPublicKey,
    /// A public key has small order: signatures under it prove nothing.
    #[error("public key is a weak (small-order) point")]
    WeakPublicKey,
    /// A signature did not verify under strict Ed25519 rules.
    #[error("signature is invalid")]
    InvalidSignature,
    /// A key agreement produced the all-zero secret (the peer sent a low-order point).
    #[error("key agreement was not contributory")]
    NonContributoryKeyAgreement,

    // --- device lifecycle (lifecycle.rs) ---
    /// The lifecycle state machine refused a transition.
    #[error("a {from} device cannot {event}")]
    IllegalTransition {
        /// The state the device was in.
        from: DeviceState,
        /// What was attempted.
        event: LifecycleEvent,
    },

    // --- client session (session.rs) ---
    /// The client's session state machine refused an event.
    #[error("this event cannot happen while the session is {state}")]
    IllegalSessionEvent {
        /// The state the session was in (`SessionState::as_str`).
        state: &'static str,
    },

    // --- recovery phrase (recovery.rs) ---
    /// The recovery phrase does not have 24 words. Counted after normalisation, so stray
    /// whitespace never changes the count.
    #[error("recovery phrase has {found} words; it must have 24")]
    RecoveryPhraseWordCount {
        /// How many words were entered.
        found: usize,
    },
    /// A word of the recovery phrase is not in the BIP39 English word list (nor an unambiguous
    /// prefix of one). The typed word is deliberately absent: it is part of a secret.
    #[error("word {position} of the recovery phrase is not in the word list")]
    RecoveryPhraseUnknownWord {
        /// 1-based position of the word in the phrase.
        position: usize,
        /// Up to three close words from the list, for the UI; `Debug` redacts them because
        /// they are close to the secret word.
        suggestions: crate::recovery::WordSuggestions,
    },
    /// Every word is valid but the BIP39 checksum does not match: a word is wrong or words are
    /// out of order.
    #[error("recovery phrase checksum does not match; a word is wrong or out of order")]
    RecoveryPhraseChecksum,

    // --- SAS (sas.rs) ---
    /// The new device's revealed ephemeral key and device keys do not match the commitment it
    /// made in its enrollment request: someone substituted a key after seeing ours.
    #[error("the new device's keys do not match its enrollment commitment")]
    SasCommitmentMismatch,
    /// The peer's key-confirmation MAC did not verify: the keys it claims are not the ones the
    /// confirmed short code covered.
    #[error("the peer's SAS key confirmation did not verify")]
    SasMacMismatch,
    /// The existing device MACed a signing key whose device id is not the one named in the
    /// SAS transcript.
    #[error("the approving device's key does not match the device named in the request")]
    SasDeviceMismatch,
    /// The enrollment request id is longer than the transcript encoding allows.
    #[error("enrollment request id is longer than {max} bytes")]
    SasRequestIdTooLong {
        /// The largest accepted length in bytes.
        max: usize,
    },

    // --- ledger (ledger/) ---
    /// An encoded ledger entry or list ended before a field was complete.
    #[error("ledger encoding is truncated")]
    LedgerTruncated,
    /// Bytes follow a complete ledger encoding; accepting them would give one entry two encodings.
    #[error("ledger encoding has trailing bytes")]
    LedgerTrailingBytes,
    /// The encoding's version byte is not one this build understands.
    #[error("ledger encoding version {version} is not supported")]
    LedgerUnsupportedVersion {
        /// The version byte found.
        version: u8,
    },
    /// A tag byte (entry kind, signer, revoke reason, flag) has no meaning in this version.
    #[error("ledger encoding has an unknown {field} tag {tag}")]
    LedgerUnknownTag {
        /// Which field carried the tag.
        field: &'static str,
        /// The tag found.
        tag: u8,
    },
    /// An input is larger than the documented limit, refused before it is parsed further.
    #[error("ledger {what} is too large ({len} > {max})")]
    LedgerTooLarge {
        /// What was too large (entry, list, signatures, revoke list).
        what: &'static str,
        /// The size found.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Signatures are not in canonical order or a signer appears twice: one entry must have one encoding.
    #[error("ledger entry signatures are not in canonical order")]
    LedgerUnsortedSignatures,
    /// The chain is empty: there is no genesis to anchor it.
    #[error("ledger is empty")]
    LedgerEmpty,
    /// A genesis entry appears anywhere but first, or the first entry is not a genesis.
    #[error("ledger entry {seq}: genesis must be the first entry and only the first")]
    LedgerGenesisMisplaced {
        /// Sequence number of the offending entry.
        seq: u64,
    },
    /// An entry's sequence number is not the one after the current head.
    #[error("ledger entry has sequence number {found}, expected {expected}")]
    LedgerWrongSeq {
        /// The sequence number the chain requires.
        expected: u64,
        /// The sequence number found.
        found: u64,
    },
    /// An entry's previous-hash does not match the hash of the entry before it.
    #[error("ledger entry {seq} does not extend the previous entry (hash chain broken)")]
    LedgerBrokenChain {
        /// Sequence number of the offending entry.
        seq: u64,
    },
    /// A signature did not verify under strict Ed25519 rules.
    #[error("ledger entry {seq} carries an invalid signature")]
    LedgerBadSignature {
        /// Sequence number of the offending entry.
        seq: u64,
    },
    /// A signature names a device the ledger does not know.
    #[error("ledger entry {seq} is signed by an unknown device")]
    LedgerUnknownSigner {
        /// Sequence number of the offending entry.
        seq: u64,
    },
    /// A signature comes from a device that is not active (pending, suspended, revoked, ...).
    #[error("ledger entry {seq} is signed by a {state} device")]
    LedgerSignerNotActive {
        /// Sequence number of the offending entry.
        seq: u64,
        /// The signer's state when it signed.
        state: DeviceState,
    },
    /// A signature the entry's kind requires is absent.
    #[error("ledger entry {seq} is missing a required signature")]
    LedgerMissingSignature {
        /// Sequence number of the offending entry.
        seq: u64,
    },
    /// A signature the entry's kind does not allow is present.
    #[error("ledger entry {seq} carries a signature its kind does not allow")]
    LedgerUnexpectedSignature {
        /// Sequence number of the offending entry.
        seq: u64,
    },
    /// An entry names a device the ledger does not know.
    #[error("ledger entry {seq} names an unknown device")]
    LedgerUnknownDevice {
        /// Sequence number of the offending entry.
        seq: u64,
    },
    /// An entry adds a device id that is already in the ledger (device ids are never reused).
    #[error("ledger entry {seq} adds a device that is already in the ledger")]
    LedgerDuplicateDevice {
        /// Sequence number of the offending entry.
        seq: u64,
    },
    /// An organization action on an account that is not managed by an organization.
    #[error("ledger entry {seq} is an organization action but the account is not managed")]
    LedgerNotManaged {
        /// Sequence number of the offending entry.
        seq: u64,
    },
    /// The account tries to join an organization while it is already in one.
    #[error("ledger entry {seq} joins an organization while the account already has one")]
    LedgerAlreadyInOrganization {
        /// Sequence number of the offending entry.
        seq: u64,
    },
    /// A key entering the ledger has a small-order component; honest keys never do, and such
    /// keys would let batch and strict verification disagree.
    #[error("ledger entry {seq} introduces a key with a small-order component")]
    LedgerKeyNotTorsionFree {
        /// Sequence number of the offending entry.
        seq: u64,
    },
    /// A device entering the ledger has a low-order X25519 agreement key: anything sealed to it
    /// would be sealed under an all-zero shared secret, readable by anyone.
    #[error("ledger entry {seq} introduces a device whose agreement key is a low-order point")]
    LedgerLowOrderAgreementKey {
        /// Sequence number of the offending entry.
        seq: u64,
    },
    /// The presented ledger disagrees with the pinned head at the same sequence number.
    #[error("ledger fork at entry {seq}: the presented history differs from the verified one")]
    LedgerFork {
        /// Sequence number where the histories differ.
        seq: u64,
    },
    /// The presented ledger is shorter than the pinned head: someone is hiding entries.
    #[error("ledger rollback: presented head {presented} is older than verified head {pinned}")]
    LedgerRollback {
        /// Sequence number of the pinned head.
        pinned: u64,
        /// Sequence number of the presented head.
        presented: u64,
    },

    // --- trust evaluation (trust.rs) and pseudonyms (pseudonym.rs) ---
    /// The username is shorter than the minimum once normalised. Only the count is reported:
    /// the username itself never appears in an error.
    #[error("username has {length} characters after normalisation; at least {min} are required")]
    UsernameTooShort {
        /// Characters after normalisation.
        length: usize,
        /// The minimum.
        min: usize,
    },
    /// The username is longer than the maximum (after normalisation, or already as entered).
    #[error("username has {length} characters; at most {max} are allowed")]
    UsernameTooLong {
        /// Characters counted.
        length: usize,
        /// The maximum.
        max: usize,
    },
    /// A character of the normalised username is outside the allowed set (or is a separator
    /// in first position).
    #[error("username character {position} is not allowed")]
    UsernameInvalidCharacter {
        /// 1-based position, in characters of the normalised username.
        position: usize,
    },
    /// A string presented as a pseudonym does not have a pseudonym's shape.
    #[error("not a valid pseudonym")]
    InvalidPseudonym,

    // --- requests, audit, OPAQUE (request.rs, audit.rs, opaque.rs) ---
    /// A signed request's timestamp is further from the verifier's clock than the allowed skew
    /// (too old or in the future). The client should resync its clock and sign again.
    #[error("request timestamp is outside the allowed clock skew")]
    RequestStale,
    /// The `Authorization` value of a signed request is not well formed. `reason` is a fixed
    /// text naming what is wrong; it never echoes the input.
    #[error("request authorization header is malformed: {reason}")]
    RequestHeaderMalformed {
        /// What is wrong, e.g. "duplicate field" or "nonce is not 16 bytes".
        reason: &'static str,
    },
    /// A session id is not 16 bytes in the expected text encoding.
    #[error("not a valid session id")]
    InvalidSessionId,
    /// An audit code (ledger kind tag, rejection reason) is empty, too long or uses characters
    /// other than `a-z`, `0-9` and `_`.
    #[error("not a valid audit code")]
    InvalidAuditCode,
    /// An audit record's sequence number is not the one after the previous record.
    #[error("audit record has sequence number {found}, expected {expected}")]
    AuditWrongSeq {
        /// The sequence number the chain requires.
        expected: u64,
        /// The sequence number found.
        found: u64,
    },
    /// An audit record's previous-hash does not match the hash of the record before it (or is
    /// not all zeros for the first record).
    #[error("audit record {seq} does not extend the previous record (hash chain broken)")]
    AuditBrokenChain {
        /// Sequence number of the offending record.
        seq: u64,
    },
    /// An audit export is signed by a key other than the one the verifier expects.
    #[error("audit export is signed by an unexpected service key")]
    AuditExportWrongKey,
    /// An audit export's signature does not verify: it was altered after signing.
    #[error("audit export signature is invalid")]
    AuditExportBadSignature,
    /// An audit export's records run past the chain head it names, or reach it with another
    /// hash, or its `complete` flag contradicts them.
    #[error("audit export does not match the chain head it names")]
    AuditExportHeadMismatch,
    /// An OPAQUE protocol message has the wrong length or is not a valid encoding.
    #[error("OPAQUE message is malformed")]
    OpaqueMalformedMessage,
    /// The OPAQUE exchange failed: wrong password, unknown account, or a tampered message.
    /// Deliberately one variant, so nobody learns which.
    #[error("password authentication failed")]
    OpaqueFailed,

    // --- unlocking the app (unlock.rs) ---
    /// Argon2 refused to hash (parameters it does not accept).
    #[error("the PIN could not be hashed")]
    PinHashFailed,
    /// A stored PIN verifier has another length or version, or parameters out of range.
    #[error("the stored PIN verifier is malformed")]
    MalformedPinVerifier,
    /// A device unlock PIN that is not 6 to 12 digits.
    #[error("a PIN is 6 to 12 digits (0-9), nothing else")]
    InvalidPin,

    // --- account sync key (sync_key.rs) ---
    /// A sealed sync key or shared item has the wrong length or an unknown version.
    #[error("sealed sync key or shared item is malformed")]
    SyncKeyMalformed,
    /// A shared item is larger than items may be.
    #[error("shared item is larger than {max} bytes")]
    SyncItemTooLarge {
        /// The largest accepted plaintext in bytes.
        max: usize,
    },
    /// A sealed sync key names another device as its recipient.
    #[error("the sealed sync key was sealed to another device")]
    SyncKeyWrongRecipient,
    /// A sealed sync key or shared item did not decrypt: it was altered, or it belongs to
    /// another account, item or key.
    #[error("sealed data did not decrypt; it was altered or belongs elsewhere")]
    SyncKeyDecryptFailed,
    /// A shared item was written under a sync-key epoch this key is not: a device removed
    /// before that epoch cannot read it.
    #[error("shared item is from sync-key epoch {need}, this key is epoch {have}")]
    SyncKeyEpochMismatch {
        /// The epoch of the key at hand.
        have: u64,
        /// The epoch the item was written under.
        need: u64,
    },

    // --- signed sync-key copies (sync_copy.rs) ---
    /// A sync-key copy was checked against the ledger of another account.
    #[error("the sync key copy was checked against another account's ledger")]
    SyncKeyCopyWrongAccount,
    /// A sync-key copy's signer is not a device active in this device's verified ledger, now
    /// and at the head the copy names.
    #[error("the sync key copy was not signed by a device active in the verified ledger")]
    SyncKeyCopySignerNotActive,
    /// A sync-key copy's signature does not verify under its signer's key.
    #[error("the sync key copy's signature is invalid")]
    SyncKeyCopyBadSignature,
    /// A validly signed sync-key copy names a ledger head after the one this device verified:
    /// its signer saw entries this device was not shown.
    #[error("the sync key copy names ledger head {claimed}, this device verified up to {verified}")]
    SyncKeyCopyHeadAhead {
        /// The seq the signer verified.
        claimed: u64,
        /// The seq this device verified.
        verified: u64,
    },
    /// A validly signed sync-key copy names another entry at a seq this device verified: its
    /// signer was shown a different history.
    #[error("the sync key copy names another ledger entry at seq {seq} than this device verified")]
    SyncKeyCopyHeadForked {
        /// The seq of the differing entry.
        seq: u64,
    },
}
