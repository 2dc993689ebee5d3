//! Changing the password inside a signed-in session (DESIGN §3, §6):
//! `POST /v1/accounts/password/{start,finish}`, both signed, both needing a password proved
//! within the step-up window (a fresh login), so a stolen unlocked session cannot change it.

use serde::{Deserialize, Serialize};

/// The first step: OPAQUE's registration request for the new password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasswordStart {
    /// OPAQUE's registration request (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url32))]
    pub registration_request: String,
}

/// The service's answer to [`PasswordStart`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordStartReply {
    /// Ties the finish to this start (opaque to the client).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url56))]
    pub registration_id: String,
    /// OPAQUE's registration response (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url))]
    pub registration_response: String,
}

/// The second step: OPAQUE's upload for the new password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasswordFinish {
    /// From [`PasswordStartReply`].
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url56))]
    pub registration_id: String,
    /// OPAQUE's registration upload (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url192))]
    pub registration_upload: String,
}

/// The password changed: every other session of the account ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordChanged {
    /// How many other sessions ended (each device signs in again with the new password).
    pub sessions_ended: u64,
}
