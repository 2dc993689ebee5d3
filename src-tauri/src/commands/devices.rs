//! The account's devices: the verified list and changes to a device.

use enigm_client::{ClientError, DeviceChange};
use enigm_core::ledger::RevokeReason;
use tauri::State;

use crate::error::IpcError;
use crate::ipc::{DeviceAction, DeviceItem, DeviceListView};
use crate::profile::Profile;

/// The device list, verified against the service; the copy verified last time when the
/// service cannot be reached (`synced` false). A ledger that fails verification is an error.
#[tauri::command]
pub async fn list_devices(profile: State<'_, Profile>) -> Result<DeviceListView, IpcError> {
    let engine = profile.engine().await?;
    match engine.sync().await {
        Ok(list) => DeviceListView::new(list, true),
        Err(ClientError::Unreachable(_)) => DeviceListView::new(engine.devices().await?, false),
        Err(error) => Err(error.into()),
    }
}

/// Suspends, resumes, revokes or retires a device of the account.
#[tauri::command]
pub async fn change_device(
    profile: State<'_, Profile>,
    device_id: String,
    action: DeviceAction,
) -> Result<DeviceItem, IpcError> {
    let change = match action {
        DeviceAction::Suspend => DeviceChange::Suspend,
        DeviceAction::Resume => DeviceChange::Resume,
        DeviceAction::Revoke => DeviceChange::Revoke(RevokeReason::Unspecified),
        DeviceAction::Retire => DeviceChange::Retire,
    };
    let engine = profile.engine().await?;
    engine.change_device(&device_id, change).await?.try_into()
}
