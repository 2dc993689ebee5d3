//! Enigm's pure core: the protocol and policy every other crate builds on.
//!
//! Nothing here performs I/O, reads a clock, spawns a task or touches a global RNG: time is a
//! parameter and randomness comes from a caller-supplied [`rand_core::CryptoRngCore`]. That keeps
//! every rule deterministic, testable with fixed vectors, and shared unchanged by the service
//! (which enforces it) and the clients (which display and verify it).

/// Serializes a byte identifier as its lower-case hex (`to_hex`), and declares it a `string`
/// to the app's TypeScript: the form the CLI's JSON and the app show.
macro_rules! serialize_as_hex {
    ($($ty:ty),*) => {$(
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.to_hex())
            }
        }

        #[cfg(feature = "ts")]
        impl ts_rs::TS for $ty {
            type WithoutGenerics = Self;
            type OptionInnerType = Self;
            fn name(_: &ts_rs::Config) -> String {
                "string".to_owned()
            }
            fn inline(config: &ts_rs::Config) -> String {
                Self::name(config)
            }
        }
    )*};
}

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

serialize_as_hex!(identity::DeviceId, ledger::EntryHash);
