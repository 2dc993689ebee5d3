//! Account recovery with the recovery key (DESIGN §8): `POST /v1/recovery/{start,ledger,finish}`.

use serde::{Deserialize, Serialize};

use crate::ledger::Head;

/// The first step: the username and an OPAQUE registration request for the new password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RecoveryStart {
    /// The username as typed.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Username))]
    pub username: String,
    /// OPAQUE's registration request (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url32))]
    pub registration_request: String,
}

/// The service's answer to [`RecoveryStart`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryStartReply {
    /// The recovery in progress (base64url); the recovery key signs over it.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url16))]
    pub recovery_id: String,
    /// OPAQUE's registration response (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url))]
    pub registration_response: String,
    /// When the recovery must be finished (unix seconds).
    pub expires_at: u64,
}

/// The second step: proof of the recovery key, in exchange for the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RecoveryLedger {
    /// From [`RecoveryStartReply`].
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url16))]
    pub recovery_id: String,
    /// The recovery key's signature over the disclosure message (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url64))]
    pub recovery_signature: String,
}

/// The account's whole ledger, for the recovering device to verify.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryLedgerReply {
    /// The account id (hex).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Hex16))]
    pub account_id: String,
    /// Every entry (base64url), from the genesis.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::schema::LedgerEntryText>))]
    pub entries: Vec<String>,
    /// The head.
    pub head: Head,
}

/// The last step: the new password's upload and the signed `Recover` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RecoveryFinish {
    /// From [`RecoveryStartReply`].
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url16))]
    pub recovery_id: String,
    /// OPAQUE's registration upload (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url192))]
    pub registration_upload: String,
    /// The `Recover` entry (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::LedgerEntryText))]
    pub entry: String,
    /// The recovery key's signature over the finish message (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url64))]
    pub recovery_signature: String,
    /// The new device's signature over the same message (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url64))]
    pub device_signature: String,
}

/// The recovered account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryFinishReply {
    /// The account id (hex).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Hex16))]
    pub account_id: String,
    /// The head: the `Recover` entry.
    pub head: Head,
}
