//! Registration over OPAQUE (DESIGN §3): `POST /v1/accounts/register/{start,finish}`.

use serde::{Deserialize, Serialize};

use crate::ledger::Head;

/// The first registration step: the username and OPAQUE's registration request (base64url).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterStart {
    /// The username as typed (the service normalizes it and never stores it).
    pub username: String,
    /// OPAQUE's registration request.
    pub registration_request: String,
}

/// The service's answer to [`RegisterStart`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterStartReply {
    /// Ties the finish to this start (opaque to the client).
    pub registration_id: String,
    /// OPAQUE's registration response.
    pub registration_response: String,
}

/// The second registration step: OPAQUE's upload and the account's genesis ledger entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterFinish {
    /// From [`RegisterStartReply`].
    pub registration_id: String,
    /// The same username as the start.
    pub username: String,
    /// OPAQUE's registration upload.
    pub registration_upload: String,
    /// The genesis entry (base64url).
    pub genesis: String,
}

/// The new account (`201`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterFinishReply {
    /// The account id (hex).
    pub account_id: String,
    /// The ledger head: the genesis.
    pub head: Head,
}
