//! `GET /v1/devices/seen`: when each device of the account last made a request, to the day.

use serde::{Deserialize, Serialize};

/// The days the account's devices were last seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SeenDevices {
    /// One per device seen.
    pub devices: Vec<SeenDevice>,
}

/// One device's last day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SeenDevice {
    /// The device id (hex).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Hex16))]
    pub device_id: String,
    /// Days since the Unix epoch (UTC).
    pub seen_day: u64,
}
