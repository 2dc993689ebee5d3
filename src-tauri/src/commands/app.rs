//! What the window shows at start: the app version and the state of the encrypted store.

use enigm_store::{Keychain, Store};
use serde::Serialize;
use tauri::State;

use crate::error::IpcError;
use crate::profile::Profile;

/// The app version and its store.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    app_version: &'static str,
    store: StoreStatus,
}

/// The encrypted store and the keychain that holds its key.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreStatus {
    encrypted: bool,
    cipher_version: String,
    keychain_backend: String,
}

/// Opens (or creates) this computer's profile store and reports on it.
#[tauri::command]
pub async fn app_status(profile: State<'_, Profile>) -> Result<AppStatus, IpcError> {
    let dir = profile.dir.clone();
    let slot = profile.store.clone();
    let info = tauri::async_runtime::spawn_blocking(move || {
        let mut slot = slot.lock().map_err(|error| IpcError::internal(&error))?;
        let store = match slot.take() {
            Some(store) => store,
            None => {
                let store = Store::open(&dir, &Keychain::platform()?)?;
                tracing::info!(created = store.info().created, "store opened");
                store
            }
        };
        let info = store.info().clone();
        *slot = Some(store);
        Ok::<_, IpcError>(info)
    })
    .await
    .map_err(|error| IpcError::internal(&error))??;
    Ok(AppStatus {
        app_version: env!("CARGO_PKG_VERSION"),
        store: StoreStatus {
            encrypted: info.encrypted,
            cipher_version: info.cipher_version,
            keychain_backend: info.keychain_backend.unwrap_or_else(|| "none".to_owned()),
        },
    })
}
