//! Registration over OPAQUE (DESIGN §3): `POST /v1/accounts/register/{start,finish}`.

use serde::{Deserialize, Serialize};

use crate::ledger::Head;

/// The first registration step: the username and OPAQUE's registration request (base64url).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterStart {
    /// The username as typed (the service normalizes it and never stores it).
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")
    )]
    pub username: String,
    /// OPAQUE's registration request.
    #[cfg_attr(
        feature = "openapi",
        schema(
            content_encoding = "base64url",
            pattern = "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$"
        )
    )]
    pub registration_request: String,
}

/// The service's answer to [`RegisterStart`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterStartReply {
    /// Ties the finish to this start (opaque to the client).
    #[cfg_attr(
        feature = "openapi",
        schema(
            content_encoding = "base64url",
            pattern = "^[A-Za-z0-9_-]{74}[AEIMQUYcgkosw048]$"
        )
    )]
    pub registration_id: String,
    /// OPAQUE's registration response.
    #[cfg_attr(feature = "openapi", schema(content_encoding = "base64url"))]
    pub registration_response: String,
}

/// The second registration step: OPAQUE's upload and the account's genesis ledger entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterFinish {
    /// From [`RegisterStartReply`].
    #[cfg_attr(
        feature = "openapi",
        schema(
            content_encoding = "base64url",
            pattern = "^[A-Za-z0-9_-]{74}[AEIMQUYcgkosw048]$"
        )
    )]
    pub registration_id: String,
    /// The same username as the start (see [`RegisterStart::username`]).
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")
    )]
    pub username: String,
    /// OPAQUE's registration upload.
    #[cfg_attr(
        feature = "openapi",
        schema(content_encoding = "base64url", pattern = "^[A-Za-z0-9_-]{256}$")
    )]
    pub registration_upload: String,
    /// The genesis entry (base64url).
    #[cfg_attr(
        feature = "openapi",
        schema(
            content_encoding = "base64url",
            pattern = "^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$",
            min_length = 2,
            max_length = 2731
        )
    )]
    pub genesis: String,
}

/// The new account (`201`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterFinishReply {
    /// The account id (hex).
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-f]{32}$"))]
    pub account_id: String,
    /// The ledger head: the genesis.
    pub head: Head,
}
