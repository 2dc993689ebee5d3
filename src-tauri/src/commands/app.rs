//! What the window needs at start: the store, the service address, the account and session.

use tauri::{AppHandle, State};

use crate::error::IpcError;
use enigm_client::LockStatus;
use enigm_core::session::SessionState;

use crate::ipc::{AppStatus, StoreStatus};
use crate::profile::Profile;

/// Opens (or creates) this computer's profile and reports on it; starts following the session
/// live when there is one.
#[tauri::command]
pub async fn app_status(
    app: AppHandle,
    profile: State<'_, Profile>,
) -> Result<AppStatus, IpcError> {
    let opened = profile.open().await?;
    let (session, lock, username) = match &opened.engine {
        Some(engine) => {
            let state = engine.session_state().await?;
            // Locked or not: a revocation must reach this computer and erase its keys.
            if matches!(state, SessionState::Active { .. }) {
                profile.start_watch(&app, engine.clone());
            }
            (state, engine.lock_status().await?, engine.username().await?)
        }
        None => (SessionState::SignedOut, LockStatus::default(), None),
    };
    Ok(AppStatus {
        app_version: env!("CARGO_PKG_VERSION").to_owned(),
        server: opened.server,
        store: StoreStatus {
            encrypted: opened.info.encrypted,
            cipher_version: opened.info.cipher_version,
            keychain_backend: opened
                .info
                .keychain_backend
                .unwrap_or_else(|| "none".to_owned()),
        },
        has_account: opened.has_account,
        session,
        lock,
        username,
    })
}

/// Sets up a computer that was removed from its account again: its profile (keys already
/// erased, the record of the removal) is erased and a new one opened on the same service, so
/// the window starts from the first-run choices. Refused for a computer that was not removed.
#[tauri::command]
pub async fn set_up_again(profile: State<'_, Profile>) -> Result<(), IpcError> {
    let opened = profile.open().await?;
    let Some(engine) = opened.engine else {
        return Err(enigm_client::ClientError::NotAllowed(
            "this computer belongs to no account yet; choose how to set it up",
        )
        .into());
    };
    engine.ensure_removed().await?;
    profile.erase().await?;
    if let Some(server) = opened.server {
        profile.bind(&server).await?;
    }
    Ok(())
}

/// The longest name suggested (a device label is at most 64 characters).
const MAX_SUGGESTED: usize = 64;

/// The name this computer suggests for itself while it joins an account: its own name and
/// platform ("Dana's ThinkPad, Linux"; its host name when it has no such name), for the user to
/// keep or change; only the platform when the system has no name for it at all.
#[tauri::command]
pub async fn suggested_device_name() -> Result<String, IpcError> {
    let platform = whoami::platform().to_string();
    // The "pretty" name when the system has one, else its host name.
    let own = [whoami::devicename(), whoami::hostname()]
        .into_iter()
        .filter_map(Result::ok)
        .map(|name| name.trim().to_owned())
        .find(|name| !name.is_empty());
    let name = match own {
        Some(own) => format!("{own}, {platform}"),
        None => platform,
    };
    Ok(name.chars().take(MAX_SUGGESTED).collect())
}
