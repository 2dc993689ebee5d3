//! Schemas for the fields whose types live in enigm-core (which has no OpenAPI dependency):
//! their wire names are read from the core's own lists, so the document cannot drift from
//! them. Also the named string formats the document's fields refer to.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

/// Declares string schemas: a name, a description, the pattern the service's decoder accepts
/// and whether the string is base64url. None is empty (one byte is two base64url characters).
macro_rules! string_schemas {
    ($($(#[doc = $doc:literal])+ $name:ident: $pattern:literal, base64url: $base64url:literal;)+) => {
        $(
            $(#[doc = $doc])+
            pub struct $name;

            impl PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    let mut builder = ObjectBuilder::new()
                        .schema_type(Type::String)
                        .description(Some(concat!($($doc),+).trim()))
                        .pattern(Some($pattern))
                        .min_length(Some(2));
                    if $base64url {
                        builder = builder.content_encoding("base64url");
                    }
                    builder.into()
                }
            }

            impl ToSchema for $name {}
        )+
    };
}

string_schemas! {
    /// 16 bytes (ids), lower-case hex.
    Hex16: "^[0-9a-f]{32}$", base64url: false;
    /// 32 bytes (hashes, keys), lower-case hex.
    Hex32: "^[0-9a-f]{64}$", base64url: false;
    /// Bytes, unpadded base64url.
    Base64Url: "^[A-Za-z0-9_-]*$", base64url: true;
    /// Exactly 16 bytes (login and recovery ids), canonical unpadded base64url.
    Base64Url16: "^[A-Za-z0-9_-]{21}[AQgw]$", base64url: true;
    /// Exactly 32 bytes (Ed25519 and X25519 keys, commitments, MACs, OPAQUE registration
    /// requests), canonical unpadded base64url.
    Base64Url32: "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$", base64url: true;
    /// Exactly 56 bytes (registration ids), canonical unpadded base64url.
    Base64Url56: "^[A-Za-z0-9_-]{74}[AEIMQUYcgkosw048]$", base64url: true;
    /// Exactly 64 bytes (Ed25519 signatures, OPAQUE credential finalizations), canonical
    /// unpadded base64url.
    Base64Url64: "^[A-Za-z0-9_-]{85}[AQgw]$", base64url: true;
    /// Exactly 96 bytes (OPAQUE credential requests), unpadded base64url.
    Base64Url96: "^[A-Za-z0-9_-]{128}$", base64url: true;
    /// Exactly 192 bytes (OPAQUE registration uploads), unpadded base64url.
    Base64Url192: "^[A-Za-z0-9_-]{256}$", base64url: true;
    /// An encoded ledger entry (1 to 2,048 bytes), canonical unpadded base64url.
    LedgerEntryText: "^(?:[A-Za-z0-9_-]{4}){0,682}(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$", base64url: true;
    /// Sealed bytes (1 to 1,024), canonical unpadded base64url.
    SealedText: "^(?:[A-Za-z0-9_-]{4}){0,341}(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$", base64url: true;
    /// A username as typed: 3 to 64 letters and digits, or `.`, `_`, `-` after the first. The
    /// service also takes the letters and digits of every script (case-folded, NFKC); the
    /// pattern shows the ASCII ones.
    Username: "^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$", base64url: false;
    /// A session's handle: its pseudonym, `ses_` and 16 lower-case base32 characters.
    SessionHandle: "^ses_[a-z2-7]{16}$", base64url: false;
}

/// A string schema listing `values`, for enums whose wire names their own type knows.
pub(crate) fn string_enum<'a>(
    description: &str,
    values: impl IntoIterator<Item = &'a str>,
) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(values))
        .into()
}

/// What a session was issued for: enigm-core's `SessionKind`, its wire names read from it.
pub struct SessionKind;

impl PartialSchema for SessionKind {
    fn schema() -> RefOr<Schema> {
        string_enum(
            "What a session was issued for: `full` after a full login of an active device, \
             `enrollment_restricted` for a device that is enrolling and may do nothing else.",
            enigm_core::trust::SessionKind::ALL.map(enigm_core::trust::SessionKind::as_str),
        )
    }
}

impl ToSchema for SessionKind {}

/// Where a device stands in its account (DESIGN §5): enigm-core's `DeviceState`, its wire
/// names read from it.
pub struct DeviceState;

impl PartialSchema for DeviceState {
    fn schema() -> RefOr<Schema> {
        string_enum(
            "Where a device stands in its account (DESIGN §5).",
            enigm_core::lifecycle::DeviceState::ALL.map(enigm_core::lifecycle::DeviceState::as_str),
        )
    }
}

impl ToSchema for DeviceState {}

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
