//! The account's devices: the verified list, changes to a device, labels, and their history.

use enigm_client::{ClientError, DeviceChange};
use enigm_core::ledger::RevokeReason;
use tauri::State;

use crate::error::IpcError;
use crate::ipc::{DeviceAction, DeviceItem, DeviceListView, DeviceTimelineView};
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

/// Gives a device a new label, encrypted by the engine under the account sync key so the
/// service cannot read it.
#[tauri::command]
pub async fn rename_device(
    profile: State<'_, Profile>,
    device_id: String,
    label: String,
) -> Result<DeviceItem, IpcError> {
    let engine = profile.engine().await?;
    engine.rename_device(&device_id, &label).await?.try_into()
}

/// The devices' history from the ledger, verified after syncing, one lane per device.
#[tauri::command]
pub async fn device_history(profile: State<'_, Profile>) -> Result<DeviceTimelineView, IpcError> {
    let engine = profile.engine().await?;
    let history = engine.ledger_history().await?;
    DeviceTimelineView::new(&history, &engine.devices().await?)
}
