//! Tauri's build step, told where our capabilities live (tauri.conf.json sits at the repository
//! root, src-tauri/ beside it) and which app commands exist, so the ACL covers every command.

fn main() {
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("./src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(&[
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
        ]));
    if let Err(error) = tauri_build::try_build(attributes) {
        println!("cargo::error=tauri-build failed: {error:#}");
    }
}
