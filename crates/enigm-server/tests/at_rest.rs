//! What the service leaves on disk (issue 13, item 11): a data directory only its user can
//! enter, database and secret files only its user can read, and no OPAQUE login state in clear
//! in the database while a login is between its start and its finish. What happens across runs
//! is enigm-cli's `at_rest.rs`.

use crate::common;

use common::enigm::{self, login_start, register};
#[cfg(unix)]
use common::mode;
use common::{Http, Service};

const PASSWORD: &str = "a long enough password";

/// A service with one account whose login has started and not finished: the service, a client,
/// the account and the started login.
fn pending_login(username: &str) -> (Service, Http, enigm::Account, enigm::LoginStarted) {
    let server = Service::start();
    let http = Http::new(server.addr);
    let account = register(&http, username, PASSWORD);
    let started = login_start(&http, username, PASSWORD);
    assert_eq!(started.reply.status, 200);
    (server, http, account, started)
}

/// The stored state of the one pending login, read from the database file.
fn stored_login_state(server: &Service) -> Vec<u8> {
    let conn = rusqlite::Connection::open(server.data_dir.join("enigm.db")).unwrap();
    conn.query_row("SELECT state FROM pending_logins", [], |row| row.get(0))
        .unwrap()
}

#[cfg(unix)]
#[test]
fn data_directory_and_files_are_private_to_the_service() {
    let server = Service::start();
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

#[test]
fn a_pending_login_keeps_no_session_key_in_the_database() {
    let (server, http, account, started) = pending_login("judy");
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
    let (server, http, account, started) = pending_login("kim");
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
