//! Enigm's pure core: the protocol and policy every other crate builds on.
//!
//! Nothing here performs I/O, reads a clock, spawns a task or touches a global RNG: time is a
//! parameter and randomness comes from a caller-supplied [`rand_core::CryptoRngCore`]. That keeps
//! every rule deterministic, testable with fixed vectors, and shared unchanged by the service
//! (which enforces it) and the clients (which display and verify it).

pub mod audit;
pub mod error;
pub mod identity;
pub mod ledger;
pub mod lifecycle;
pub mod opaque;
pub mod pseudonym;
pub mod recovery;
pub mod request;
pub mod sas;
pub mod session;
pub mod sync_copy;
pub mod sync_key;
pub mod trust;
pub mod unlock;

pub use error::Error;
