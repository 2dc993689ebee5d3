//! Where a profile lives by default. The desktop app and the `enigm` CLI share one: a person
//! using both on one computer is one device of their account, not two. The store is in WAL mode
//! with a busy timeout and the engine re-reads what it needs per operation, so the CLI can use
//! the profile while the app runs.

use std::path::PathBuf;

/// The desktop app's bundle identifier (`identifier` in tauri.conf.json): Tauri keeps the app's
/// data under a directory of this name, and so does the default profile.
pub const APP_IDENTIFIER: &str = "org.enigm.desktop";

/// The default profile: `<data dir>/org.enigm.desktop/profiles/default`, where the data dir is
/// `$XDG_DATA_HOME` or `~/.local/share` on Linux, `~/Library/Application Support` on macOS and
/// the roaming AppData on Windows (the directory Tauri's `app_data_dir` names). `None` when the
/// platform has no data directory (no home).
pub fn default_profile_dir() -> Option<PathBuf> {
    Some(
        dirs::data_dir()?
            .join(APP_IDENTIFIER)
            .join("profiles")
            .join("default"),
    )
}

/// Where the CLI kept its default profile before it shared the app's (`<data dir>/enigm/
/// profiles/default`), so a profile made there is still found.
pub fn former_cli_profile_dir() -> Option<PathBuf> {
    Some(
        dirs::data_dir()?
            .join("enigm")
            .join("profiles")
            .join("default"),
    )
}
