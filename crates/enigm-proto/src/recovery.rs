//! Account recovery with the recovery key (DESIGN §8): `POST /v1/recovery/{start,ledger,finish}`.

use serde::{Deserialize, Serialize};

use crate::ledger::Head;

/// The first step: the username and an OPAQUE registration request for the new password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RecoveryStart {
    /// The username as typed: 3 to 64 letters and digits, or `.`, `_`, `-` after the first.
    /// The service also takes the letters and digits of every script (case-folded, NFKC); the
    /// pattern shows the ASCII ones.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")
    )]
    pub username: String,
    /// OPAQUE's registration request (base64url).
    #[cfg_attr(
        feature = "openapi",
        schema(
            content_encoding = "base64url",
            pattern = "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$"
        )
    )]
    pub registration_request: String,
}

/// The service's answer to [`RecoveryStart`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryStartReply {
    /// The recovery in progress (base64url); the recovery key signs over it.
    #[cfg_attr(
        feature = "openapi",
        schema(content_encoding = "base64url", pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")
    )]
    pub recovery_id: String,
    /// OPAQUE's registration response (base64url).
    #[cfg_attr(feature = "openapi", schema(content_encoding = "base64url"))]
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
    #[cfg_attr(
        feature = "openapi",
        schema(content_encoding = "base64url", pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")
    )]
    pub recovery_id: String,
    /// The recovery key's signature over the disclosure message (base64url).
    #[cfg_attr(
        feature = "openapi",
        schema(content_encoding = "base64url", pattern = "^[A-Za-z0-9_-]{85}[AQgw]$")
    )]
    pub recovery_signature: String,
}

/// The account's whole ledger, for the recovering device to verify.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryLedgerReply {
    /// The account id (hex).
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-f]{32}$"))]
    pub account_id: String,
    /// Every entry (base64url), from the genesis.
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
    #[cfg_attr(
        feature = "openapi",
        schema(content_encoding = "base64url", pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")
    )]
    pub recovery_id: String,
    /// OPAQUE's registration upload (base64url).
    #[cfg_attr(
        feature = "openapi",
        schema(content_encoding = "base64url", pattern = "^[A-Za-z0-9_-]{256}$")
    )]
    pub registration_upload: String,
    /// The `Recover` entry (base64url).
    #[cfg_attr(
        feature = "openapi",
        schema(
            content_encoding = "base64url",
            pattern = "^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$",
            min_length = 2,
            max_length = 2731
        )
    )]
    pub entry: String,
    /// The recovery key's signature over the finish message (base64url).
    #[cfg_attr(
        feature = "openapi",
        schema(content_encoding = "base64url", pattern = "^[A-Za-z0-9_-]{85}[AQgw]$")
    )]
    pub recovery_signature: String,
    /// The new device's signature over the same message (base64url).
    #[cfg_attr(
        feature = "openapi",
        schema(content_encoding = "base64url", pattern = "^[A-Za-z0-9_-]{85}[AQgw]$")
    )]
    pub device_signature: String,
}

/// The recovered account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryFinishReply {
    /// The account id (hex).
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-f]{32}$"))]
    pub account_id: String,
    /// The head: the `Recover` entry.
    pub head: Head,
}
