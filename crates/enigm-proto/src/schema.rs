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
