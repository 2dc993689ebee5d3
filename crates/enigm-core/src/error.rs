//! The one error type of enigm-core.
//!
//! Every variant names one precise reason, so callers (and tests) can tell a forged ledger from
//! a stale one, a wrong recovery word from a bad checksum. No variant carries secret material:
//! messages are safe to log and to show.

use crate::lifecycle::{DeviceState, LifecycleEvent};

/// Everything that can go wrong in the pure core.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
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
}
