//! Where this app instance keeps its profile: `ENIGM_PROFILE` when set (several instances side
//! by side, tests), otherwise `profiles/default` under the platform's app data directory.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use enigm_store::Store;
use tauri::Manager;

/// The profile directory and its store, opened on first use. Opening touches the keychain, so
/// it happens on a blocking thread, and it may fail (locked keychain) and be retried later.
pub struct Profile {
    /// The profile directory.
    pub dir: PathBuf,
    /// The open store, once a command has opened it.
    pub store: Arc<Mutex<Option<Store>>>,
}

impl Profile {
    /// Finds the profile directory for this instance.
    pub fn locate(app: &tauri::AppHandle) -> Result<Self, tauri::Error> {
        let dir = match std::env::var_os("ENIGM_PROFILE") {
            Some(dir) => PathBuf::from(dir),
            None => app.path().app_data_dir()?.join("profiles").join("default"),
        };
        Ok(Self {
            dir,
            store: Arc::new(Mutex::new(None)),
        })
    }
}
