//! The device ledger (DESIGN §4): `GET /v1/ledger`, `GET /v1/ledger/removal`, `POST /v1/ledger`.

use serde::{Deserialize, Serialize};

/// A ledger head: the last entry's sequence number and hash (lower-case hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Head {
    /// Its sequence number; 0 is the genesis.
    pub seq: u64,
    /// Its hash, 64 hex digits.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Hex32))]
    pub hash: String,
}

/// A page of the ledger: entries from `since`, the head, and whether more follow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LedgerPage {
    /// Encoded entries (base64url), in order.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::schema::LedgerEntryText>))]
    pub entries: Vec<String>,
    /// The head the page reads up to (for a removal read, the removing entry).
    pub head: Head,
    /// Whether a further page exists.
    pub more: bool,
}

/// `POST /v1/ledger`: entries that extend the current head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Append {
    /// Encoded entries (base64url), in order.
    #[cfg_attr(
        feature = "openapi",
        schema(min_items = 1, max_items = 16, value_type = Vec<crate::schema::LedgerEntryText>)
    )]
    pub entries: Vec<String>,
}

/// The head after an append.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppendReply {
    /// The new head.
    pub head: Head,
}
