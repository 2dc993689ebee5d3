//! Schemas for the fields whose types live in enigm-core (which has no OpenAPI dependency):
//! the same wire names, declared once more for the document only. A test in the service holds
//! them to the core's enums.

use utoipa::ToSchema;

/// What a session was issued for.
#[derive(ToSchema)]
#[schema(as = SessionKind)]
#[allow(dead_code)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// After a full login of an active device.
    Full,
    /// For a device that is enrolling: it may do nothing else.
    EnrollmentRestricted,
}

/// Where a device stands in its account (DESIGN §5).
#[derive(ToSchema)]
#[schema(as = DeviceState)]
#[allow(dead_code)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// Enrollment requested.
    Pending,
    /// Approved, awaiting the organization.
    Review,
    /// Trusted.
    Active,
    /// Trust withdrawn for now.
    Suspended,
    /// Removed for good.
    Revoked,
    /// Superseded by a successor.
    Replaced,
    /// Archived.
    Retired,
}

/// `POST /v1/enrollments/{id}/mac`: the approver's MAC with the head it vouches for, or the
/// new device's MAC with its signature (the service tells them apart by who posts).
#[derive(ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
pub enum EnrollmentMac {
    /// From the approving device.
    Approver(crate::ApproverMac),
    /// From the new device.
    NewDevice(crate::NewDeviceMac),
}

/// `GET /v1/audit/export`: enigm-core's signed `AuditExport`, whose encoding is part of what
/// it signs.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AuditExport {
    /// The account's audit records, from record 0.
    records: Vec<Object>,
    /// Where the chain ended when exported (`null`: it had no record).
    head: Option<Object>,
    /// When the export was made (unix seconds).
    exported_at: u64,
    /// The service's Ed25519 audit key (hex).
    #[schema(pattern = "^[0-9a-f]{64}$")]
    service_key: String,
    /// Its signature over the export (hex).
    #[schema(pattern = "^[0-9a-f]{128}$")]
    signature: String,
}

/// Any JSON object (audit records and heads, whose fields enigm-core defines).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Object {}
