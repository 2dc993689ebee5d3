//! Locking the app and unlocking it with the account password (checked online by the service)
//! or this computer's PIN (checked here, offline); setting and removing the PIN.

use tauri::State;
use zeroize::Zeroizing;

use enigm_client::{ClientError, LockStatus};

use crate::error::IpcError;
use crate::profile::Profile;

/// Locks the app: the window shows only the Locked screen until the password is given again.
#[tauri::command]
pub async fn lock_app(profile: State<'_, Profile>) -> Result<LockStatus, IpcError> {
    let engine = profile.engine_while_locked().await?;
    engine.lock().await?;
    Ok(engine.lock_status().await?)
}

/// Sets how many minutes without use lock the app (0: never; at most a day).
#[tauri::command]
pub async fn set_auto_lock(
    profile: State<'_, Profile>,
    minutes: u32,
) -> Result<LockStatus, IpcError> {
    let engine = profile.engine().await?;
    engine.set_auto_lock(minutes).await?;
    Ok(engine.lock_status().await?)
}

/// Unlocks the app with `password`, checked online by the service; `username` is needed only
/// when this computer does not know it yet.
#[tauri::command]
pub async fn unlock_app(
    profile: State<'_, Profile>,
    username: Option<String>,
    password: String,
) -> Result<LockStatus, IpcError> {
    let password = Zeroizing::new(password);
    let engine = profile.engine_while_locked().await?;
    engine.unlock(username.as_deref(), &password).await?;
    Ok(engine.lock_status().await?)
}

/// The way out of a forgotten password on a locked computer: it is signed out (when the service
/// can be told) and its profile erased, so the account can be restored on it with the recovery
/// phrase, which sets a new password. Only while locked (unlocked, the password is known). The
/// Lock hides the account; it cannot keep someone at this computer from deleting its files, so
/// this gives nothing away.
#[tauri::command]
pub async fn erase_to_restore(profile: State<'_, Profile>) -> Result<(), IpcError> {
    let opened = profile.open().await?;
    let engine = profile.engine_while_locked().await?;
    if !engine.lock_status().await?.locked {
        return Err(ClientError::NotAllowed(
            "this computer is not locked; its password is known, so nothing needs erasing",
        )
        .into());
    }
    if let Err(error) = engine.sign_out().await {
        tracing::info!(
            code = error.code(),
            "could not sign out before erasing; erasing anyway"
        );
    }
    drop(engine);
    profile.erase().await?;
    if let Some(server) = opened.server {
        profile.bind(&server).await?;
    }
    Ok(())
}

/// Unlocks the app with this computer's PIN, checked here (works offline).
#[tauri::command]
pub async fn unlock_with_pin(
    profile: State<'_, Profile>,
    pin: String,
) -> Result<LockStatus, IpcError> {
    let pin = Zeroizing::new(pin);
    let engine = profile.engine_while_locked().await?;
    engine.unlock_with_pin(&pin).await?;
    Ok(engine.lock_status().await?)
}

/// Sets or changes this computer's unlock PIN (6 to 12 digits); only while unlocked.
#[tauri::command]
pub async fn set_pin(profile: State<'_, Profile>, pin: String) -> Result<LockStatus, IpcError> {
    let pin = Zeroizing::new(pin);
    let engine = profile.engine().await?;
    engine.set_pin(&pin).await?;
    Ok(engine.lock_status().await?)
}

/// Removes this computer's unlock PIN; only while unlocked.
#[tauri::command]
pub async fn remove_pin(profile: State<'_, Profile>) -> Result<LockStatus, IpcError> {
    let engine = profile.engine().await?;
    engine.remove_pin().await?;
    Ok(engine.lock_status().await?)
}
