//! The account's own audit trail (DESIGN §12): `GET /v1/audit/key`, `GET /v1/audit/records`.
//! The signed export (`GET /v1/audit/export`) is enigm-core's `AuditExport`, whose encoding is
//! part of what it signs.

use serde::{Deserialize, Serialize};

/// The key audit exports are signed with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditKey {
    /// The Ed25519 public key (hex).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Hex32))]
    pub key: String,
    /// Always `ed25519`.
    pub algorithm: String,
}

/// A page of the account's audit records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditRecords {
    /// The account's pseudonym (records never name the account itself).
    pub account: String,
    /// The records from `since`, in order.
    pub records: Vec<AuditRecordView>,
}

/// One record with its place in the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditRecordView {
    /// Its sequence number in the account's chain.
    pub seq: u64,
    /// Its hash (hex).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Hex32))]
    pub hash: String,
    /// The record (enigm-core's `AuditRecord`; `null` if it no longer decodes).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub record: Option<enigm_core::audit::AuditRecord>,
}
