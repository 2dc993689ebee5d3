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

    // --- SAS (sas.rs) ---

    // --- ledger (ledger/) ---

    // --- trust evaluation (trust.rs) and pseudonyms (pseudonym.rs) ---
}
