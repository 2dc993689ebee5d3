//! This app instance's profile and the one [`Engine`] over it.
//!
//! The directory is `ENIGM_PROFILE` when set (several instances side by side, tests), otherwise
//! `profiles/default` under the platform's app data directory. The service address is the one
//! saved in the profile, or `ENIGM_SERVER` (tests), or what the user types on the first screen.
//! Opening the store touches the keychain, so it happens on a blocking thread, and it may fail
//! (locked keychain) and be retried later.

use std::path::{Path, PathBuf};

use enigm_client::{ClientError, DeviceList, Engine, ServiceClient, WatchUpdate};
use enigm_store::{Keychain, Store, StoreInfo};
use tauri::async_runtime::JoinHandle;
use tauri::{AppHandle, Emitter};

use crate::error::{AppCode, IpcError};
use crate::ipc::SessionUpdate;

/// Where the app saves the service address inside the profile store.
const SERVER_META_KEY: &str = "app.server";

/// The event the UI listens to for live session changes.
pub const SESSION_UPDATE_EVENT: &str = "session-update";

/// The profile directory and, once opened, its engine.
pub struct Profile {
    dir: PathBuf,
    server_override: Option<String>,
    opened: tokio::sync::Mutex<Option<Opened>>,
    watch: std::sync::Mutex<Option<JoinHandle<()>>>,
}

/// What is known once the store has been opened.
#[derive(Clone)]
pub struct Opened {
    /// The store's encryption and keychain.
    pub info: StoreInfo,
    /// The service address, once known.
    pub server: Option<String>,
    /// Whether the profile belongs to an account.
    pub has_account: bool,
    /// The engine, once the service address is known.
    pub engine: Option<Engine>,
}

impl Profile {
    /// Finds the profile directory for this instance: `ENIGM_PROFILE`, or the profile this
    /// computer's user shares with the CLI.
    pub fn locate() -> Result<Self, tauri::Error> {
        let dir = match std::env::var_os("ENIGM_PROFILE") {
            Some(dir) => PathBuf::from(dir),
            None => enigm_client::default_profile_dir().ok_or(tauri::Error::UnknownPath)?,
        };
        Ok(Self {
            dir,
            server_override: std::env::var("ENIGM_SERVER").ok(),
            opened: tokio::sync::Mutex::new(None),
            watch: std::sync::Mutex::new(None),
        })
    }

    /// The opened profile, opening (or creating) its store on first use.
    pub async fn open(&self) -> Result<Opened, IpcError> {
        let mut slot = self.opened.lock().await;
        if let Some(opened) = slot.as_ref() {
            return Ok(opened.clone());
        }
        let dir = self.dir.clone();
        let (store, saved, has_account) = blocking(move || {
            let store = open_store(&dir)?;
            let saved = store
                .meta(SERVER_META_KEY)?
                .and_then(|bytes| String::from_utf8(bytes).ok());
            let has_account = store.account_id()?.is_some();
            Ok((store, saved, has_account))
        })
        .await?;
        tracing::info!(created = store.info().created, "store opened");
        let info = store.info().clone();
        let server = self.server_override.clone().or(saved);
        let engine = match &server {
            Some(server) => Some(Engine::with_store(store, ServiceClient::new(server)?)),
            None => None,
        };
        let opened = Opened {
            info,
            server,
            has_account,
            engine,
        };
        *slot = Some(opened.clone());
        Ok(opened)
    }

    /// The engine, for commands that need an account; refused while the app is locked, so
    /// nothing about the account reaches the window until the password is given again.
    pub async fn engine(&self) -> Result<Engine, IpcError> {
        let engine = self.engine_while_locked().await?;
        if engine.lock_status().await?.locked {
            return Err(ClientError::Locked.into());
        }
        Ok(engine)
    }

    /// The engine whether or not the app is locked: for locking, unlocking and the status.
    pub async fn engine_while_locked(&self) -> Result<Engine, IpcError> {
        let opened = self.open().await?;
        match (opened.engine, opened.has_account) {
            (Some(engine), _) => Ok(engine),
            (None, true) => Err(IpcError::new(
                AppCode::ServerUnknown,
                "This computer belongs to an account, but the address of its Enigm service is not known. Start Enigm with ENIGM_SERVER set to it.",
            )),
            (None, false) => Err(ClientError::NoAccount.into()),
        }
    }

    /// The engine bound to `server`, saving the address in the profile. A profile that belongs
    /// to an account stays with its service.
    pub async fn bind(&self, server: &str) -> Result<Engine, IpcError> {
        let server = server.trim();
        let api = ServiceClient::new(server)?;
        let opened = self.open().await?;
        if let (Some(engine), Some(current)) = (&opened.engine, &opened.server)
            && current == server
        {
            return Ok(engine.clone());
        }
        if opened.has_account {
            return Err(IpcError::new(
                AppCode::ServerMismatch,
                "This computer belongs to an account on another Enigm service.",
            ));
        }
        let mut slot = self.opened.lock().await;
        self.stop_watch();
        if let Some(opened) = slot.as_mut() {
            opened.engine = None;
        }
        let dir = self.dir.clone();
        let saved = server.to_owned();
        let store = blocking(move || {
            let mut store = open_store(&dir)?;
            store.set_meta(SERVER_META_KEY, saved.as_bytes())?;
            Ok(store)
        })
        .await?;
        let engine = Engine::with_store(store, api);
        if let Some(opened) = slot.as_mut() {
            opened.server = Some(server.to_owned());
            opened.engine = Some(engine.clone());
        }
        Ok(engine)
    }

    /// Erases this profile, its store files and its keychain entry, so the next open starts a
    /// new one: for a computer that gives up joining an account before it was added.
    pub async fn erase(&self) -> Result<(), IpcError> {
        let mut slot = self.opened.lock().await;
        self.stop_watch();
        // Our engine (and with it the store) closes before its files go.
        slot.take();
        let dir = self.dir.clone();
        blocking(move || Ok(Store::wipe_profile(&dir, &Keychain::platform()?)?)).await?;
        tracing::info!("profile erased; the next open starts a new one");
        Ok(())
    }

    /// Records that the profile now belongs to an account.
    pub async fn mark_account(&self) {
        if let Some(opened) = self.opened.lock().await.as_mut() {
            opened.has_account = true;
        }
    }

    /// Follows the session live and forwards every update to the UI as a `session-update`
    /// event; a watch that is still running is kept (it ends by itself when the session needs
    /// the user, e.g. signed out, and the next sign-in starts a new one).
    pub fn start_watch(&self, app: &AppHandle, engine: Engine) {
        let Ok(mut slot) = self.watch.lock() else {
            return;
        };
        if slot
            .as_ref()
            .is_some_and(|task| !task.inner().is_finished())
        {
            return;
        }
        let app = app.clone();
        let task = tauri::async_runtime::spawn(async move {
            // The list the window was last sent, to tell what changed in the next one.
            let mut last_list: Option<DeviceList> = None;
            let result = engine
                .watch(|update| {
                    forward(&app, SessionUpdate::new(update));
                    if let WatchUpdate::Devices { list } = update {
                        if let Some(before) = &last_list {
                            for news in SessionUpdate::news(list, before) {
                                forward(&app, news);
                            }
                        }
                        last_list = Some(list.clone());
                    }
                })
                .await;
            match result {
                Ok(_) => tracing::info!("the session needs the user; watching stopped"),
                Err(error) => tracing::warn!(code = error.code(), "watching the session failed"),
            }
        });
        *slot = Some(task);
    }

    /// Stops following the session (after signing out).
    pub fn stop_watch(&self) {
        if let Ok(mut slot) = self.watch.lock()
            && let Some(task) = slot.take()
        {
            task.abort();
        }
    }
}

/// Sends one live update to the window (and raises a notification for an enrollment request).
fn forward(app: &AppHandle, update: SessionUpdate) {
    if matches!(update, SessionUpdate::EnrollmentRequested) {
        crate::commands::enroll::notify_request(app);
    }
    tracing::debug!(kind = update.kind(), "session update");
    if let Err(error) = app.emit(SESSION_UPDATE_EVENT, update) {
        tracing::warn!(%error, "a session update could not reach the window");
    }
}

fn open_store(dir: &Path) -> Result<Store, IpcError> {
    Ok(Store::open(dir, &Keychain::platform()?)?)
}

/// Runs `work` on a blocking thread (the keychain and SQLCipher block).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, IpcError> + Send + 'static,
) -> Result<T, IpcError> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|error| IpcError::internal(&error))?
}

#[cfg(test)]
mod tests {
    /// The default profile is named after the app's bundle identifier, as Tauri names the
    /// app's data directory: the app and the CLI must agree on it to share one device.
    #[test]
    fn the_shared_profile_is_named_after_the_bundle_identifier() {
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../../tauri.conf.json")).unwrap_or_default();
        assert_eq!(config["identifier"], enigm_client::APP_IDENTIFIER);
        let dir = enigm_client::default_profile_dir().unwrap_or_default();
        assert!(
            dir.ends_with("org.enigm.desktop/profiles/default"),
            "{dir:?}"
        );
    }
}
