//! Sign-in over OPAQUE and the session (DESIGN §4, §6): `POST /v1/sessions/{start,finish}`,
//! `GET|DELETE /v1/sessions/current`, `POST /v1/sessions/refresh`; where the account is
//! signed in, `GET /v1/sessions`, `DELETE /v1/sessions/{id}` and
//! `POST /v1/sessions/others/end`; and `GET /v1/health`.

use std::collections::BTreeMap;

use enigm_core::lifecycle::DeviceState;
use enigm_core::trust::{Decision, Operation, SessionKind};
use serde::{Deserialize, Serialize};

use crate::ledger::Head;

/// The first login step. An enrolled device also signs the start with its key, so it draws on
/// its own guess budget rather than the account's (the three `device_*` fields come together).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginStart {
    /// The username as typed.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Username))]
    pub username: String,
    /// OPAQUE's credential request (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url96))]
    pub credential_request: String,
    /// The device's Ed25519 key (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::Base64Url32>))]
    pub device_key: Option<String>,
    /// When the device signed (unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_timestamp: Option<u64>,
    /// The device's signature over `login_start_message(device_timestamp, credential_request)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::Base64Url64>))]
    pub device_signature: Option<String>,
}

/// The service's answer to [`LoginStart`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginStartReply {
    /// Ties the finish to this start (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url16))]
    pub login_id: String,
    /// OPAQUE's credential response (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url))]
    pub credential_response: String,
}

/// The second login step: OPAQUE's finalization and the device key the session binds to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginFinish {
    /// From [`LoginStartReply`].
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url16))]
    pub login_id: String,
    /// OPAQUE's credential finalization (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url64))]
    pub credential_finalization: String,
    /// The device's Ed25519 key (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url32))]
    pub device_key: String,
    /// Its signature over the session binding message (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url64))]
    pub device_signature: String,
}

/// A newly issued session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionIssued {
    /// The session id (base64url), which every later request names.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url))]
    pub session_id: String,
    /// Full, or restricted to enrollment.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::SessionKind))]
    pub kind: SessionKind,
    /// When it expires (unix seconds).
    pub expires_at: u64,
    /// The account id (hex).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Hex16))]
    pub account_id: String,
    /// The ledger head when it was issued.
    pub head: Head,
}

/// `POST /v1/sessions/refresh`: the new expiry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshReply {
    /// When the session now expires (unix seconds).
    pub expires_at: u64,
}

/// `GET /v1/sessions/current`: the session, its device and what trust allows it, operation by
/// operation, as the service evaluates it now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionStatus {
    /// The session.
    pub session: SessionInfo,
    /// The account id (hex).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Hex16))]
    pub account_id: String,
    /// How many times the account was recovered.
    pub recovery_epoch: u64,
    /// The session's device id (hex).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Hex16))]
    pub device_id: String,
    /// The device's state in the ledger.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::DeviceState))]
    pub device_state: DeviceState,
    /// Each operation's verdict.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub decisions: BTreeMap<Operation, Decision>,
}

/// A session's kind and lifetime.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    /// Full, or restricted to enrollment.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::SessionKind))]
    pub kind: SessionKind,
    /// When it was issued (unix seconds).
    pub issued_at: u64,
    /// When it expires (unix seconds).
    pub expires_at: u64,
}

/// `GET /v1/health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// Always `ok` when the service answers.
    pub status: String,
    /// The service's version.
    pub version: String,
}

/// `GET /v1/sessions`: where the account is signed in now, one entry per live session of one
/// of its trusted devices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionList {
    /// The sessions, oldest first.
    pub sessions: Vec<SessionSummary>,
}

/// One signed-in session, as its account's own devices see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionSummary {
    /// Its handle (`ses_…`, a pseudonym of the session id, which never leaves the service and
    /// the device holding it): what `DELETE /v1/sessions/{id}` takes.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::SessionHandle))]
    pub id: String,
    /// The device signed in (hex).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Hex16))]
    pub device_id: String,
    /// When it was issued (unix seconds).
    pub issued_at: u64,
    /// When it expires unless refreshed (unix seconds).
    pub expires_at: u64,
    /// The day it was last used (days since the Unix epoch, UTC).
    pub seen_day: u64,
    /// Whether it is the session that asked.
    pub current: bool,
}

/// `POST /v1/sessions/others/end`: how many sessions it ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionsEnded {
    /// Sessions ended (the asking one stays).
    pub ended: u64,
}
