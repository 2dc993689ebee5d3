//! Registration over OPAQUE (DESIGN §3): `POST /v1/accounts/register/{start,finish}`.

use serde::{Deserialize, Serialize};

use crate::ledger::Head;

/// The first registration step: the username and OPAQUE's registration request (base64url).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterStart {
    /// The username as typed (the service normalizes it and never stores it).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Username))]
    pub username: String,
    /// OPAQUE's registration request.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url32))]
    pub registration_request: String,
}

/// The service's answer to [`RegisterStart`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterStartReply {
    /// Ties the finish to this start (opaque to the client).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url56))]
    pub registration_id: String,
    /// OPAQUE's registration response.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url))]
    pub registration_response: String,
}

/// The second registration step: OPAQUE's upload and the account's genesis ledger entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterFinish {
    /// From [`RegisterStartReply`].
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url56))]
    pub registration_id: String,
    /// The same username as the start (see [`RegisterStart::username`]).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Username))]
    pub username: String,
    /// OPAQUE's registration upload.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url192))]
    pub registration_upload: String,
    /// The genesis entry (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::LedgerEntryText))]
    pub genesis: String,
}

/// The new account (`201`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterFinishReply {
    /// The account id (hex).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Hex16))]
    pub account_id: String,
    /// The ledger head: the genesis.
    pub head: Head,
}
