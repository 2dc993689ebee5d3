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
    let (session, lock) = match &opened.engine {
        Some(engine) => {
            let state = engine.session_state().await?;
            // Locked or not: a revocation must reach this computer and erase its keys.
            if matches!(state, SessionState::Active { .. }) {
                profile.start_watch(&app, engine.clone());
            }
            (state, engine.lock_status().await?)
        }
        None => (SessionState::SignedOut, LockStatus::default()),
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
    })
}
