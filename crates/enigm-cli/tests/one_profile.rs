//! One computer, one device (issue 16): without `--profile`, the CLI uses the profile the
//! desktop app uses, and a profile an earlier CLI made in its own place keeps being found.

use std::path::Path;
use std::process::Output;

use crate::common::cli;

/// `enigm --json device list` with no `--profile` and `data` as the data directory.
fn list_without_profile(data: &Path) -> Output {
    let mut command = cli::command(None, Some("http://127.0.0.1:9"), &["device", "list"]);
    command
        .env_remove("ENIGM_PROFILE")
        .env("XDG_DATA_HOME", data)
        .env("HOME", data);
    command.output().unwrap()
}

#[test]
#[ignore = "needs a Secret Service session; run with `cargo xtask test`"]
fn the_cli_uses_the_apps_profile_by_default() {
    let data = tempfile::tempdir().unwrap();
    let output = list_without_profile(data.path());
    // No account yet: refused, but the store was made where the app keeps its own.
    assert!(!output.status.success(), "{output:?}");
    assert!(
        data.path()
            .join("org.enigm.desktop/profiles/default")
            .is_dir(),
        "{output:?}"
    );
    assert!(!data.path().join("enigm").exists());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .find("note:")
            .is_none()
    );
}

#[test]
#[ignore = "needs a Secret Service session; run with `cargo xtask test`"]
fn a_profile_an_earlier_cli_made_is_still_used_and_the_user_is_told_where_to_move_it() {
    let data = tempfile::tempdir().unwrap();
    let former = data.path().join("enigm/profiles/default");
    let made = cli::command(
        Some(&former),
        Some("http://127.0.0.1:9"),
        &["device", "list"],
    )
    .output()
    .unwrap();
    assert!(former.join("store.db").exists(), "{made:?}");
    let output = list_without_profile(data.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("note: using the profile an earlier enigm kept"),
        "{stderr}"
    );
    assert!(
        stderr.contains("org.enigm.desktop/profiles/default"),
        "{stderr}"
    );
    assert!(
        !data.path().join("org.enigm.desktop").exists(),
        "{output:?}"
    );
}
