//! The real app, started under a virtual display with a fresh profile, loads its UI, which asks
//! the backend for the store's status through the ACL-checked IPC; the backend creates the
//! encrypted store with its key in the real keychain. Each link of that chain (WebView, CSP,
//! capabilities, command, keychain, SQLCipher) must work for the "store opened" line to appear.

#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use enigm_store::{Keychain, Store};
use enigm_tests::AppProcess;

/// Generous: a cold WebKit start on a loaded two-core CI machine.
const START_TIMEOUT: Duration = Duration::from_secs(120);

#[test]
#[ignore = "needs the built app (ENIGM_APP_BIN), Xvfb and a Secret Service session; run by cargo xtask test"]
fn app_creates_an_encrypted_profile_in_the_real_keychain_at_start() {
    use std::os::unix::process::CommandExt;

    let app = std::env::var_os("ENIGM_APP_BIN")
        .expect("ENIGM_APP_BIN must name the built enigm-app binary (cargo xtask test sets it)");
    let profile = tempfile::tempdir().unwrap();
    let child = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x800x24"])
        .arg(&app)
        .env("ENIGM_PROFILE", profile.path())
        .env("ENIGM_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("xvfb-run must be installed (cargo xtask setup installs it)");
    let mut app_process = AppProcess(child);

    let stderr = app_process.0.stderr.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = Vec::new();
    loop {
        match received.recv_timeout(START_TIMEOUT) {
            Ok(line) if line.contains("store opened") => {
                assert!(line.contains("created=true"), "a fresh profile: {line}");
                break;
            }
            Ok(line) => log.push(line),
            Err(error) => panic!(
                "the app did not open its store ({error}); its log:\n{}",
                log.join("\n")
            ),
        }
    }
    drop(app_process);

    let profile_text = profile.path().to_string_lossy().into_owned();
    assert!(
        log.iter().all(|line| !line.contains(&profile_text)),
        "the app logged its profile path"
    );

    let store = Store::open(profile.path(), &Keychain::platform().unwrap())
        .expect("the profile the app created opens with the key it left in the keychain");
    let info = store.info();
    assert!(info.encrypted);
    assert!(!info.cipher_version.is_empty());
    assert_eq!(info.keychain_backend.as_deref(), Some("Secret Service"));
    assert!(!info.created, "the app, not this test, created the profile");
}
