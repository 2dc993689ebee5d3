//! The Enigm desktop shell: a thin Tauri layer over the engine crates.
//!
//! Commands parse their arguments, call the engine on a blocking thread where it touches the
//! keychain or the disk, and map errors to `{code, message}`. No protocol or policy logic lives
//! here; it lives in enigm-core and is shared with the CLI and the service.

#[macro_use]
mod commands;
mod error;
mod ipc;
mod profile;

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Tauri's handler for the commands of [`app_commands`].
macro_rules! handlers {
    ($(
        $(#[doc = $doc:literal])*
        $module:ident::$name:ident($($injected:ident),*; $($arg:ident: $ty:ty),*) -> $reply:ty
    ),* $(,)?) => {
        tauri::generate_handler![$(commands::$module::$name),*]
    };
}

/// Starts the app: logging, the profile, the window and its commands.
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("ENIGM_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let result = tauri::Builder::default()
        .plugin(tauri_plugin_notification::init())
        .manage(commands::enroll::EnrollmentFlow::default())
        .manage(commands::recover::PendingRecovery::default())
        .setup(|app| {
            let profile = profile::Profile::locate()?;
            tracing::info!("profile located");
            tauri::Manager::manage(app, profile);
            Ok(())
        })
        .invoke_handler(app_commands!(handlers))
        .run(tauri::generate_context!());
    if let Err(error) = result {
        tracing::error!(%error, "the app stopped with an error");
        std::process::exit(1);
    }
}
