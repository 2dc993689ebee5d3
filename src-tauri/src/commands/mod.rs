//! Tauri commands, one module per domain; each is a few lines over the engine.

pub mod account;
pub mod activity;
pub mod app;
pub mod devices;
pub mod enroll;
pub mod lock;
pub mod recover;
pub mod session;

#[cfg(test)]
mod tests {
    /// Every command `lib.rs` registers.
    const COMMANDS: &[&str] = &[
        "app_status",
        "create_account",
        "sign_in",
        "list_devices",
        "change_device",
        "session_status",
        "sign_out",
        "regenerate_recovery_phrase",
        "enroll_this_computer",
        "enrollment_requests",
        "approve_enrollment",
        "reject_enrollment",
        "confirm_short_code",
        "cancel_enrollment",
        "rename_device",
        "device_history",
        "recovery_words",
        "check_recovery_phrase",
        "begin_recovery",
        "finish_recovery",
        "cancel_recovery",
        "lock_app",
        "unlock_app",
        "set_auto_lock",
        "unlock_with_pin",
        "set_pin",
        "remove_pin",
        "replaceable_devices",
        "abandon_joining",
        "download_activity",
    ];

    /// A command missing from the build's app manifest or from the window's capability is
    /// refused at runtime; catch it here instead.
    #[test]
    fn every_command_is_in_the_acl() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let build = std::fs::read_to_string(root.join("src-tauri/build.rs")).unwrap();
        let capability =
            std::fs::read_to_string(root.join("src-tauri/capabilities/main.json")).unwrap();
        let lib = std::fs::read_to_string(root.join("src-tauri/src/lib.rs")).unwrap();
        for command in COMMANDS {
            assert!(
                build.contains(&format!("\"{command}\"")),
                "{command} not in build.rs"
            );
            let permission = format!("\"allow-{}\"", command.replace('_', "-"));
            assert!(
                capability.contains(&permission),
                "{permission} not in main.json"
            );
            assert!(
                lib.contains(&format!("::{command}")),
                "{command} not registered"
            );
        }
    }
}
