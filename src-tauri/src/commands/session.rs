//! Where this session and device stand, with a decision per protected operation.

use tauri::State;

use crate::error::IpcError;
use crate::ipc::SessionStatusView;
use crate::profile::Profile;

/// The service's evaluation of this session and device.
#[tauri::command]
pub async fn session_status(profile: State<'_, Profile>) -> Result<SessionStatusView, IpcError> {
    let engine = profile.engine().await?;
    SessionStatusView::from_service(engine.session_status().await?)
}
