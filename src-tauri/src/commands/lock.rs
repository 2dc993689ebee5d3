//! Locking the app and unlocking it with the account password (the engine checks it, offline
//! when it can).

use tauri::State;
use zeroize::Zeroizing;

use crate::error::IpcError;
use crate::ipc::LockView;
use crate::profile::Profile;

/// Locks the app: the window shows only the Locked screen until the password is given again.
#[tauri::command]
pub async fn lock_app(profile: State<'_, Profile>) -> Result<LockView, IpcError> {
    let engine = profile.engine_while_locked().await?;
    engine.lock().await?;
    Ok(engine.lock_status().await?.into())
}

/// Sets how many minutes without use lock the app (0: never; at most a day).
#[tauri::command]
pub async fn set_auto_lock(
    profile: State<'_, Profile>,
    minutes: u32,
) -> Result<LockView, IpcError> {
    let engine = profile.engine().await?;
    engine.set_auto_lock(minutes).await?;
    Ok(engine.lock_status().await?.into())
}

/// Unlocks the app with `password`; `username` is needed only when this computer cannot
/// check the password by itself (a profile from before the Lock).
#[tauri::command]
pub async fn unlock_app(
    profile: State<'_, Profile>,
    username: Option<String>,
    password: String,
) -> Result<LockView, IpcError> {
    let password = Zeroizing::new(password);
    let engine = profile.engine_while_locked().await?;
    engine.unlock(username.as_deref(), &password).await?;
    Ok(engine.lock_status().await?.into())
}
