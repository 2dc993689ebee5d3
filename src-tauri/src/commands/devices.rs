//! The account's devices: the verified list, changes to a device, labels, their history, and
//! desktop notifications of their changes.

use enigm_client::{
    ClientError, DeviceAction, DeviceChange, DeviceList, DeviceTimelineView, DeviceView,
};
use enigm_core::ledger::RevokeReason;
use tauri::{AppHandle, State};
use tauri_plugin_notification::NotificationExt;

use crate::error::IpcError;
use crate::profile::Profile;

/// The device list, verified against the service; the copy verified last time when the
/// service cannot be reached (`synced` false). A ledger that fails verification is an error.
#[tauri::command]
pub async fn list_devices(profile: State<'_, Profile>) -> Result<DeviceList, IpcError> {
    let engine = profile.engine().await?;
    match engine.sync().await {
        Ok(list) => Ok(list),
        Err(ClientError::Unreachable(_)) => Ok(DeviceList {
            synced: false,
            ..engine.devices().await?
        }),
        Err(error) => Err(error.into()),
    }
}

/// Suspends, resumes, revokes or retires a device of the account (renaming has its own
/// command, which takes the label).
#[tauri::command]
pub async fn change_device(
    profile: State<'_, Profile>,
    device_id: String,
    action: DeviceAction,
    reason: Option<RevokeReason>,
) -> Result<DeviceView, IpcError> {
    let change = match action {
        DeviceAction::Suspend => DeviceChange::Suspend,
        DeviceAction::Resume => DeviceChange::Resume,
        DeviceAction::Revoke => DeviceChange::Revoke(reason.unwrap_or(RevokeReason::Unspecified)),
        DeviceAction::Retire => DeviceChange::Retire,
        DeviceAction::Rename => {
            return Err(IpcError::explained(
                &ClientError::NotAllowed("renaming takes a label"),
                "A new name is given with Rename, not as a change.",
            ));
        }
    };
    let engine = profile.engine().await?;
    Ok(engine.change_device(&device_id, change).await?)
}

/// Gives a device a new label, encrypted by the engine under the account sync key so the
/// service cannot read it.
#[tauri::command]
pub async fn rename_device(
    profile: State<'_, Profile>,
    device_id: String,
    label: String,
) -> Result<DeviceView, IpcError> {
    let engine = profile.engine().await?;
    Ok(engine.rename_device(&device_id, &label).await?)
}

/// The devices' history from the ledger, verified after syncing, one lane per device.
#[tauri::command]
pub async fn device_history(profile: State<'_, Profile>) -> Result<DeviceTimelineView, IpcError> {
    let engine = profile.engine().await?;
    let history = engine.ledger_history().await?;
    Ok(DeviceTimelineView::new(&history, &engine.devices().await?)?)
}

/// The longest notification title and text the window may ask for, in characters.
const MAX_TITLE: usize = 80;
const MAX_BODY: usize = 300;

/// Raises a desktop notification about a change to the account's devices, with the text of the
/// window's own notice; the window asks for none for the changes it made itself. Best effort,
/// like the join request's: without a notification service nothing is shown and the notice in
/// the window is enough.
#[tauri::command]
pub async fn notify_device_change(
    app: AppHandle,
    title: String,
    body: String,
) -> Result<(), IpcError> {
    let title: String = title.chars().take(MAX_TITLE).collect();
    let body: String = body.chars().take(MAX_BODY).collect();
    if let Err(error) = app.notification().builder().title(title).body(body).show() {
        tracing::info!(%error, "no desktop notification for the device change");
    }
    Ok(())
}
