//! Tauri's build step, told where our capabilities live (tauri.conf.json sits at the repository
//! root, src-tauri/ beside it) and which app commands exist (the one list in
//! src/commands/list.rs), so the ACL covers every command.

include!("src/commands/list.rs");

/// Every command's name.
const COMMANDS: &[&str] = app_commands!(command_names);

fn main() {
    println!("cargo::rerun-if-changed=src-tauri/src/commands/list.rs");
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("./src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        println!("cargo::error=tauri-build failed: {error:#}");
    }
}
