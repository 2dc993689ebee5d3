//! The encrypted store with the real OS keychain (gnome-keyring over Secret Service), across
//! processes.
//!
//! Tests marked `#[ignore]` need a Secret Service session with an unlocked login keyring;
//! `cargo xtask test` runs them inside `dbus-run-session` with gnome-keyring. By hand:
//!
//! ```text
//! dbus-run-session -- sh -c 'printf pw | gnome-keyring-daemon --unlock --components=secrets \
//!   >/dev/null; cargo test -p enigm-tests -- --include-ignored'
//! ```
//!
//! Every store is created and read by the `store-probe` binary in separate processes; this test
//! process only inspects the files and tampers with the keychain entry through `keyring`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test on any setup error"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use enigm_tests::{Probe, run_probe};

const TIMEOUT: Duration = Duration::from_secs(60);

fn probe_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_store-probe"))
}

fn probe(args: &[&str]) -> Probe {
    run_probe(&probe_bin(), args, &[], TIMEOUT).unwrap()
}

fn write(dir: &Path, marker: &str) -> Probe {
    let out = probe(&["write", dir.to_str().unwrap(), marker]);
    assert!(out.success, "store-probe write failed: {out:?}");
    out
}

fn read(dir: &Path) -> Probe {
    probe(&["read", dir.to_str().unwrap()])
}

fn profile_id(dir: &Path) -> String {
    fs::read_to_string(dir.join("profile.id"))
        .unwrap()
        .trim()
        .to_owned()
}

/// The profile's keychain entry, reached independently of enigm-store.
fn keychain_entry(dir: &Path) -> keyring::Entry {
    keyring::Entry::new("enigm", &profile_id(dir)).unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// A store written in a fresh directory with `marker`: the directory, its database file and
/// that file's bytes.
fn written(marker: &str) -> (tempfile::TempDir, PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), marker);
    let db = dir.path().join("store.db");
    let bytes = fs::read(&db).unwrap();
    (dir, db, bytes)
}

/// Every file of the profile directory, concatenated.
fn all_profile_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            all.extend(fs::read(path).unwrap());
        }
    }
    all
}

#[test]
#[ignore = "needs a Secret Service session; run by cargo xtask test"]
fn created_in_one_process_and_read_in_another() {
    let dir = tempfile::tempdir().unwrap();
    let marker = "ENIGM-PLAINTEXT-MARKER-6b1f2e";
    let first = write(dir.path(), marker);
    assert_eq!(first.get("created"), Some("true"));
    assert_eq!(first.get("encrypted"), Some("true"));
    assert_eq!(first.get("keychain_backend"), Some("Secret Service"));
    let cipher = first.get("cipher_version").unwrap();
    assert!(!cipher.trim().is_empty(), "PRAGMA cipher_version is empty");

    let second = read(dir.path());
    assert!(second.success, "{second:?}");
    assert_eq!(second.get("created"), Some("false"));
    assert_eq!(second.get("profile_id"), first.get("profile_id"));
    assert_eq!(second.get("device_id"), first.get("device_id"));
    assert_eq!(second.get("marker"), Some(marker));
    assert_eq!(
        second.get("account_id"),
        Some(hex_repeat("5a", 16).as_str())
    );
    assert_eq!(
        second.get("head"),
        Some(format!("7:{}", hex_repeat("11", 32)).as_str())
    );

    // The key is really in the keychain, under the profile id, and it is 256 bits.
    let key = keychain_entry(dir.path()).get_secret().unwrap();
    assert_eq!(key.len(), 32);

    // On disk: no plaintext SQLite header, no plaintext marker, no key, anywhere.
    let db = fs::read(dir.path().join("store.db")).unwrap();
    assert!(db.len() >= 4096, "database has at least one page");
    assert_ne!(&db[..16], b"SQLite format 3\0");
    let everything = all_profile_bytes(dir.path());
    assert!(!contains(&everything, marker.as_bytes()));
    assert!(!contains(&everything, &key));
    assert!(!contains(&everything, hex::encode(&key).as_bytes()));
}

fn hex_repeat(byte: &str, n: usize) -> String {
    byte.repeat(n)
}

#[test]
#[ignore = "needs a Secret Service session; run by cargo xtask test"]
fn plain_sqlite_cannot_read_the_store() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "python-check");
    let output = Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1])\n\
             c.execute('SELECT count(*) FROM sqlite_master').fetchall()\n",
        )
        .arg(dir.path().join("store.db"))
        .output()
        .expect("python3 is needed for this test");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "plain sqlite3 read the store");
    assert!(
        stderr.contains("file is not a database"),
        "unexpected python error: {stderr}"
    );
}

#[test]
#[ignore = "needs a Secret Service session; run by cargo xtask test"]
fn overwritten_keychain_entry_is_wrong_key_and_the_file_is_untouched() {
    let (dir, db, before) = written("wrong-key");
    let kcv_before = fs::read(dir.path().join("store.kcv")).unwrap();
    let entry = keychain_entry(dir.path());
    let original = entry.get_secret().unwrap();
    entry.set_secret(&[0x42; 32]).unwrap();

    let out = read(dir.path());
    assert!(!out.success);
    assert_eq!(out.error(), Some("wrong_key"), "{out:?}");
    assert_eq!(fs::read(&db).unwrap(), before);
    assert_eq!(fs::read(dir.path().join("store.kcv")).unwrap(), kcv_before);

    // Putting the original key back restores access: nothing was lost.
    entry.set_secret(&original).unwrap();
    let out = read(dir.path());
    assert_eq!(out.get("marker"), Some("wrong-key"), "{out:?}");
}

#[test]
#[ignore = "needs a Secret Service session; run by cargo xtask test"]
fn deleted_keychain_entry_is_key_missing() {
    let (dir, db, before) = written("key-missing");
    keychain_entry(dir.path()).delete_credential().unwrap();

    let out = read(dir.path());
    assert_eq!(out.error(), Some("key_missing"), "{out:?}");
    // No new key was made up for the existing store, and the store is as it was.
    assert!(matches!(
        keychain_entry(dir.path()).get_secret(),
        Err(keyring::Error::NoEntry)
    ));
    assert_eq!(fs::read(&db).unwrap(), before);
}

/// Runs without a Secret Service on purpose, so it is not ignored: the bus address points at a
/// socket that does not exist, as in a headless session.
#[test]
fn unreachable_secret_service_is_keychain_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-bus");
    let address = format!("unix:path={}", missing.display());
    let store_dir = dir.path().join("profile");
    let out = run_probe(
        &probe_bin(),
        &["write", store_dir.to_str().unwrap(), "x"],
        &[("DBUS_SESSION_BUS_ADDRESS", &address)],
        TIMEOUT,
    )
    .unwrap();
    assert!(!out.success);
    assert_eq!(out.error(), Some("keychain_unavailable"), "{out:?}");
    let message = out.get("message").unwrap();
    assert!(!message.contains(dir.path().to_str().unwrap()));
    // Never a plaintext fallback: no database was written.
    assert!(!store_dir.join("store.db").exists());
}

#[test]
#[ignore = "needs a Secret Service session; run by cargo xtask test"]
fn plaintext_sqlite_in_place_is_refused() {
    let (dir, db, _) = written("plaintext");
    fs::remove_file(&db).unwrap();
    let status = Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1])\n\
             c.execute('CREATE TABLE meta (key TEXT, value BLOB)')\n\
             c.commit()\n",
        )
        .arg(&db)
        .status()
        .unwrap();
    assert!(status.success());
    let before = fs::read(&db).unwrap();
    assert_eq!(&before[..16], b"SQLite format 3\0");

    let out = read(dir.path());
    assert_eq!(out.error(), Some("store_plaintext"), "{out:?}");
    assert_eq!(fs::read(&db).unwrap(), before);
}

#[test]
#[ignore = "needs a Secret Service session; run by cargo xtask test"]
fn damaged_database_with_the_right_key_is_corrupted() {
    let (dir, db, good) = written("corrupted");

    // Truncated in the middle of page 1.
    fs::write(&db, &good[..1500]).unwrap();
    let out = read(dir.path());
    assert_eq!(out.error(), Some("store_corrupted"), "{out:?}");
    assert_eq!(fs::read(&db).unwrap(), &good[..1500], "nothing is repaired");

    // Garbled page 1 behind an intact salt.
    let mut garbled = good.clone();
    for byte in &mut garbled[64..1024] {
        *byte = byte.wrapping_add(1);
    }
    fs::write(&db, &garbled).unwrap();
    let out = read(dir.path());
    assert_eq!(out.error(), Some("store_corrupted"), "{out:?}");

    // The original bytes open again: the key was never the problem.
    fs::write(&db, &good).unwrap();
    let out = read(dir.path());
    assert_eq!(out.get("marker"), Some("corrupted"), "{out:?}");
}
