//! The Enigm desktop shell: a thin Tauri layer over the engine crates.
//!
//! Commands parse their arguments, call the engine on a blocking thread where it touches the
//! keychain or the disk, and map errors to `{code, message}`. No protocol or policy logic lives
//! here; it lives in enigm-core and is shared with the CLI and the service.

mod commands;
mod error;
mod ipc;
mod profile;

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

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
            let profile = profile::Profile::locate(app.handle())?;
            tracing::info!("profile located");
            tauri::Manager::manage(app, profile);
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app::app_status,
            commands::account::create_account,
            commands::account::sign_in,
            commands::devices::list_devices,
            commands::devices::change_device,
            commands::session::session_status,
            commands::session::sign_out,
            commands::session::regenerate_recovery_phrase,
            commands::enroll::enroll_this_computer,
            commands::enroll::enrollment_requests,
            commands::enroll::approve_enrollment,
            commands::enroll::reject_enrollment,
            commands::enroll::confirm_short_code,
            commands::enroll::cancel_enrollment,
            commands::devices::rename_device,
            commands::devices::device_history,
            commands::recover::recovery_words,
            commands::recover::check_recovery_phrase,
            commands::recover::begin_recovery,
            commands::recover::finish_recovery,
            commands::recover::cancel_recovery,
            commands::lock::lock_app,
            commands::lock::unlock_app,
            commands::lock::set_auto_lock,
            commands::lock::unlock_with_pin,
            commands::lock::set_pin,
            commands::lock::remove_pin,
            commands::enroll::replaceable_devices,
            commands::enroll::abandon_joining,
            commands::activity::download_activity,
        ])
        .run(tauri::generate_context!());
    if let Err(error) = result {
        tracing::error!(%error, "the app stopped with an error");
        std::process::exit(1);
    }
}
