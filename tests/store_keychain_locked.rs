//! A locked keychain gives `KeychainLocked`, not a generic failure, and unlocking it restores
//! access.
//!
//! This locks the Secret Service's default collection (gnome-keyring's login keyring) through
//! its D-Bus API (`gdbus`), has `store-probe` open a store in another process, then unlocks it
//! again by replacing the daemon with `gnome-keyring-daemon --replace --unlock` (a running
//! daemon ignores a second `--unlock`), reading the keyring password from
//! `ENIGM_TEST_KEYRING_PASSWORD` (default `pw`, the one `cargo xtask test` uses). It lives in its
//! own test binary so that no other keychain test runs while the keyring is locked.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test on any setup error"
)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use enigm_tests::run_probe;

const TIMEOUT: Duration = Duration::from_secs(60);

fn gdbus_secrets(method: &str, args: &[&str]) -> String {
    let output = Command::new("gdbus")
        .args([
            "call",
            "--session",
            "--dest",
            "org.freedesktop.secrets",
            "--object-path",
            "/org/freedesktop/secrets",
            "--method",
        ])
        .arg(format!("org.freedesktop.Secret.Service.{method}"))
        .args(args)
        .output()
        .expect("gdbus (libglib2.0-bin) is needed for this test");
    assert!(
        output.status.success(),
        "gdbus {method} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn default_collection() -> String {
    // "(objectpath '/org/freedesktop/secrets/collection/login',)"
    let reply = gdbus_secrets("ReadAlias", &["default"]);
    let path = reply.split('\'').nth(1).expect("an object path").to_owned();
    assert!(
        path.starts_with("/org/freedesktop/secrets/collection/"),
        "{reply}"
    );
    path
}

fn unlock_login_keyring() {
    let password = std::env::var("ENIGM_TEST_KEYRING_PASSWORD").unwrap_or_else(|_| "pw".into());
    let mut child = Command::new("gnome-keyring-daemon")
        .args(["--replace", "--unlock", "--components=secrets"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(password.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
#[ignore = "needs a Secret Service session; run by cargo xtask test"]
fn locked_keychain_is_keychain_locked_and_unlocking_restores_access() {
    let probe = PathBuf::from(env!("CARGO_BIN_EXE_store-probe"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let created = run_probe(&probe, &["write", path, "locked"], &[], TIMEOUT).unwrap();
    assert!(created.success, "{created:?}");

    let collection = default_collection();
    gdbus_secrets("Lock", &[&format!("['{collection}']")]);
    let locked = run_probe(&probe, &["read", path], &[], TIMEOUT);
    unlock_login_keyring();

    let locked = locked.unwrap();
    assert_eq!(locked.error(), Some("keychain_locked"), "{locked:?}");
    let reopened = run_probe(&probe, &["read", path], &[], TIMEOUT).unwrap();
    assert_eq!(reopened.get("marker"), Some("locked"), "{reopened:?}");
}
