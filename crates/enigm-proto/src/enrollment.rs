//! The enrollment relay (DESIGN §7): a new device asks, an existing device approves, both
//! compare a short code. `/v1/enrollments/…`.

use serde::{Deserialize, Serialize};

use crate::ledger::Head;

/// Where a request stands on the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The new device asked; waiting for an existing device.
    Requested,
    /// An existing device accepted; waiting for the new device's ephemeral key.
    Accepted,
    /// Both ephemeral keys are known: both screens show the code.
    Revealed,
    /// The approver confirmed the codes and posted its MAC.
    ApproverConfirmed,
    /// The new device confirmed too.
    Confirmed,
    /// The new device is in the ledger and can fetch its sealed key.
    Completed,
    /// The existing device said no.
    Rejected,
    /// Either side withdrew (`cancelled_by`, `cancel_reason`).
    Cancelled,
    /// Nobody finished in time.
    Expired,
}

impl Stage {
    /// The wire string.
    pub const fn as_str(self) -> &'static str {
        match self {
            Stage::Requested => "requested",
            Stage::Accepted => "accepted",
            Stage::Revealed => "revealed",
            Stage::ApproverConfirmed => "approver_confirmed",
            Stage::Confirmed => "confirmed",
            Stage::Completed => "completed",
            Stage::Rejected => "rejected",
            Stage::Cancelled => "cancelled",
            Stage::Expired => "expired",
        }
    }
}

/// A side of an enrollment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The device asking to join, on its enrollment-restricted session.
    NewDevice,
    /// An active device of the account.
    ExistingDevice,
}

/// Why a side withdrew: both sides show it, because different codes may mean that someone is
/// in between.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// It gave up or was interrupted (requests stored before reasons existed read as this).
    #[default]
    Withdrawn,
    /// Its user saw a code that differs from the other device's.
    CodesDiffer,
}

/// `POST /v1/enrollments`: the new device's request, committing to its ephemeral key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateEnrollment {
    /// The SAS commitment (base64url, 32 bytes).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url32))]
    pub commitment: String,
    /// The new device's Ed25519 key (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url32))]
    pub signing_key: String,
    /// The new device's X25519 key (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url32))]
    pub agreement_key: String,
    /// Its platform class, shown on the approving device.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9._ -]+$")
    )]
    pub platform: String,
    /// The device it replaces (hex), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schema::Hex16>))]
    pub replaces: Option<String>,
}

/// `POST …/accept` and `…/reveal`: a side's ephemeral X25519 key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Ephemeral {
    /// The key (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url32))]
    pub ephemeral: String,
}

/// `POST …/reject`, which carries nothing: `{}` or an empty body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// `POST …/cancel`: `{}`, or the reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Cancel {
    /// Why.
    #[serde(default)]
    pub reason: CancelReason,
}

/// `POST …/approver-mac`: the approver's key-confirmation MAC over its key and the head it
/// vouches for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApproverMac {
    /// The MAC (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url32))]
    pub mac: String,
    /// The head the approver vouches for.
    pub head: Head,
}

/// `POST …/device-mac`: the new device's MAC and its signature over the `AddDevice` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewDeviceMac {
    /// The MAC (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url32))]
    pub mac: String,
    /// The signature (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Base64Url64))]
    pub signature: String,
}

/// `POST …/complete`: the account sync key sealed to the new device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Complete {
    /// The sealed key (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::SealedText))]
    pub sealed_key: String,
}

/// `GET /v1/enrollments`: the account's open requests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollmentList {
    /// The requests, as the existing device sees them.
    pub requests: Vec<EnrollmentView>,
}

/// A request as one side sees it: everything posted so far (`null` until posted).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollmentView {
    /// The request id (hex).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Hex16))]
    pub id: String,
    /// Where it stands.
    pub state: Stage,
    /// When it was asked (unix seconds, the service's clock).
    pub created_at: u64,
    /// When it expires.
    pub expires_at: u64,
    /// The new device's platform class.
    pub platform: String,
    /// The new device's id (hex).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Hex16))]
    pub device_id: String,
    /// The new device's fingerprint, as the service computes it (the approver recomputes it).
    pub fingerprint: String,
    /// The new device's Ed25519 key (base64url).
    pub signing_key: String,
    /// The new device's X25519 key (base64url).
    pub agreement_key: String,
    /// The SAS commitment (base64url).
    pub commitment: String,
    /// The device it replaces (hex).
    pub replaces: Option<String>,
    /// The approving device, once one accepted.
    pub approver: Option<ApproverView>,
    /// The new device's ephemeral key (base64url), once revealed.
    pub new_ephemeral: Option<String>,
    /// The approver's MAC, once posted.
    pub approver_mac: Option<ApproverMac>,
    /// The new device's MAC, once posted.
    pub new_device_mac: Option<NewDeviceMac>,
    /// Who cancelled, if cancelled.
    pub cancelled_by: Option<Party>,
    /// Why, if cancelled.
    pub cancel_reason: Option<CancelReason>,
    /// The sealed sync key (base64url): to the new device only, once completed.
    pub sealed_key: Option<String>,
}

/// The approving device as the relay shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApproverView {
    /// Its id (hex).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Hex16))]
    pub device_id: String,
    /// Its Ed25519 key (base64url).
    pub signing_key: String,
    /// Its ephemeral X25519 key (base64url).
    pub ephemeral: String,
}
