//! The account sync key and the items sealed under it (DESIGN §3): `/v1/sync-keys/…` and
//! `/v1/shared/…`. The service stores what it cannot open.

use serde::{Deserialize, Serialize};

/// `POST /v1/sync-keys`: a new epoch, with one sealed copy per active device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RotateSyncKey {
    /// The new epoch: the current one plus one.
    pub epoch: u64,
    /// Exactly one copy per active device.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 256))]
    pub copies: Vec<SealedCopy>,
}

/// One device's copy of the sync key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SealedCopy {
    /// The recipient device (hex).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Hex16))]
    pub device_id: String,
    /// The signed, sealed copy (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::SealedText))]
    pub sealed: String,
}

/// The epoch a rotation took (`201`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RotatedSyncKey {
    /// The new epoch.
    pub epoch: u64,
}

/// `GET /v1/sync-keys/mine`: this device's copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncKeyCopyReply {
    /// Its epoch.
    pub epoch: u64,
    /// The signed, sealed copy (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url))]
    pub sealed: String,
}

/// `GET /v1/sync-keys/missing`: the active devices without a copy of the current epoch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MissingCopies {
    /// The current epoch (0: no sync key yet).
    pub epoch: u64,
    /// Device ids (hex).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::schema::Hex16>))]
    pub devices: Vec<String>,
}

/// `PUT /v1/shared/{name}`: an item sealed under the sync key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SharedWrite {
    /// The epoch it is sealed under.
    pub epoch: u64,
    /// The sealed item (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::SealedText))]
    pub ciphertext: String,
}

/// What a write stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SharedWritten {
    /// The item's name.
    pub name: String,
    /// Its epoch.
    pub epoch: u64,
}

/// `GET /v1/shared`: every item of the account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SharedItems {
    /// The items.
    pub items: Vec<SharedItem>,
}

/// One sealed item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SharedItem {
    /// Its name.
    pub name: String,
    /// The epoch it is sealed under.
    pub epoch: u64,
    /// The sealed item (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url))]
    pub ciphertext: String,
}
