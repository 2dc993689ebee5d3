//! What the real `enigm server` does with its data directory across runs (issue 13, item 11):
//! an open one from an earlier version is tightened, a shared one is refused, and a login in
//! flight across a restart starts over. The rest of what it leaves on disk is enigm-server's
//! `at_rest.rs`.

use crate::common;

use common::enigm::{self, login_start, register};
#[cfg(unix)]
use common::mode;
use common::{Http, ServerProcess};
use enigm_core::identity::DeviceSecrets;
use rand_core::OsRng;

const PASSWORD: &str = "a long enough password";

#[cfg(unix)]
#[test]
fn an_open_data_directory_from_an_earlier_version_is_tightened() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // What an earlier version left with umask 022: everything readable by everyone.
    let first = ServerProcess::start_in(&data, &[]);
    drop(first);
    for name in ["", "enigm.db", "pepper", "audit-signing-key"] {
        let mode = if name.is_empty() { 0o755 } else { 0o644 };
        std::fs::set_permissions(data.join(name), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let server = ServerProcess::start_in(&data, &[]);
    assert_eq!(Http::new(server.addr).get("/v1/health").status, 200);
    assert_eq!(mode(&data), "700", "data directory");
    for name in ["enigm.db", "pepper", "audit-signing-key"] {
        assert_eq!(mode(&data.join(name)), "600", "{name}");
    }
}

#[cfg(unix)]
#[test]
fn a_shared_directory_is_refused_not_tightened() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not the service's").unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_enigm"))
        .args(["server", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // It must give up at start; a server that starts is stopped and the test fails.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if child.try_wait().unwrap().is_none() {
        child.kill().unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "no listening line");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("chmod 700"), "{stderr}");
    assert_eq!(mode(dir.path()), "755", "left as it was");
    assert!(!dir.path().join("pepper").exists(), "nothing written");
}

#[test]
fn a_login_in_flight_across_a_restart_starts_over() {
    let mut server = ServerProcess::start();
    let http = Http::new(server.addr);
    let account = register(&http, "lena", PASSWORD);
    let started = login_start(&http, "lena", PASSWORD);
    server.stop();
    let restarted = server.restart(&[]);
    let http = Http::new(restarted.addr);
    let (reply, _) = enigm::login_finish(&http, started, PASSWORD, &account.device);
    assert_eq!(reply.error_code(), "login_expired");
    let device = DeviceSecrets::generate(&mut OsRng);
    enigm::login(&http, "lena", PASSWORD, &device).unwrap();
}
