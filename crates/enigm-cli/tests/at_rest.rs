//! What the service leaves on disk (issue 13, item 11): a data directory only its user can
//! enter, database and secret files only its user can read, and no OPAQUE login state in clear
//! in the database while a login is between its start and its finish.

use crate::common;

use common::enigm::{self, login_start, register};
use common::{Http, ServerProcess};
use enigm_core::identity::DeviceSecrets;
use rand_core::OsRng;

const PASSWORD: &str = "a long enough password";

/// The permission bits of `path`.
#[cfg(unix)]
fn mode(path: &std::path::Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    format!(
        "{:o}",
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    )
}

/// The stored state of the one pending login, read from the database file.
fn stored_login_state(server: &ServerProcess) -> Vec<u8> {
    let conn = rusqlite::Connection::open(server.data_dir.join("enigm.db")).unwrap();
    conn.query_row("SELECT state FROM pending_logins", [], |row| row.get(0))
        .unwrap()
}

#[cfg(unix)]
#[test]
fn data_directory_and_files_are_private_to_the_service() {
    let server = ServerProcess::start();
    let http = Http::new(server.addr);
    register(&http, "ivan", PASSWORD);
    assert_eq!(mode(&server.data_dir), "700", "data directory");
    for name in [
        "enigm.db",
        "enigm.db-wal",
        "pepper",
        "pseudonym-master",
        "audit-signing-key",
        "opaque-setup",
    ] {
        assert_eq!(mode(&server.data_dir.join(name)), "600", "{name}");
    }
}

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
fn a_pending_login_keeps_no_session_key_in_the_database() {
    let server = ServerProcess::start();
    let http = Http::new(server.addr);
    let account = register(&http, "judy", PASSWORD);
    let started = login_start(&http, "judy", PASSWORD);
    assert_eq!(started.reply.status, 200);
    let stored = stored_login_state(&server);
    let (reply, session_key) = enigm::login_finish(&http, started, PASSWORD, &account.device);
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    assert!(
        !stored
            .windows(session_key.len())
            .any(|window| window == session_key.as_slice()),
        "the OPAQUE session key is stored in clear"
    );
}

#[test]
fn a_tampered_pending_login_is_expired() {
    let server = ServerProcess::start();
    let http = Http::new(server.addr);
    let account = register(&http, "kim", PASSWORD);
    let started = login_start(&http, "kim", PASSWORD);
    let mut stored = stored_login_state(&server);
    let last = stored.len() - 9;
    stored[last] ^= 1;
    let conn = rusqlite::Connection::open(server.data_dir.join("enigm.db")).unwrap();
    conn.execute("UPDATE pending_logins SET state = ?1", [&stored])
        .unwrap();
    let (reply, _) = enigm::login_finish(&http, started, PASSWORD, &account.device);
    assert_eq!(reply.status, 401, "{:?}", reply.json());
    assert_eq!(reply.error_code(), "login_expired");
}

#[test]
fn a_login_in_flight_across_a_restart_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start_in(&data, &[]);
    let http = Http::new(server.addr);
    let account = register(&http, "lena", PASSWORD);
    let started = login_start(&http, "lena", PASSWORD);
    server.stop();
    let restarted = ServerProcess::start_in(&data, &[]);
    let http = Http::new(restarted.addr);
    let (reply, _) = enigm::login_finish(&http, started, PASSWORD, &account.device);
    assert_eq!(reply.error_code(), "login_expired");
    let device = DeviceSecrets::generate(&mut OsRng);
    enigm::login(&http, "lena", PASSWORD, &device).unwrap();
}
