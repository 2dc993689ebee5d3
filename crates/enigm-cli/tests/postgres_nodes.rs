//! Two real `enigm server` nodes on one PostgreSQL database (DESIGN §13): what one node
//! accepts or writes, the other one honours — sessions, nonces (a replay is refused whichever
//! node it reaches), the ledger's compare-and-swap, and push (a revocation through one node
//! closes the device's socket on the other).
//!
//! Needs a PostgreSQL server: `cargo xtask test` starts one and sets `ENIGM_TEST_POSTGRES_URL`.
//! Plain `cargo test` skips these tests (ignored); asked for without the variable, they fail.

use crate::common;

use common::enigm::{self, login, register, unb64};
use common::{Http, ServerProcess};
use enigm_core::ledger::{EntryKind, LedgerEntry, verify_chain};
use rand_core::{OsRng, RngCore};

const PASSWORD: &str = "correct horse battery staple 42";

/// A fresh username (each test has its own schema; this keeps the logs' usernames distinct).
fn fresh_username(prefix: &str) -> String {
    format!("{prefix}-{:016x}", OsRng.next_u64())
}

/// Two nodes on a fresh schema, sharing one data directory for the service's secrets (pepper,
/// OPAQUE setup), as a deployment would: the first creates them, the second starts once they
/// exist.
struct TwoNodes {
    _dir: tempfile::TempDir,
    data: std::path::PathBuf,
    node1: ServerProcess,
    node2: ServerProcess,
    http1: Http,
    http2: Http,
}

impl TwoNodes {
    fn start() -> Self {
        let url = common::fresh_postgres_url();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let node1 = ServerProcess::start_in(&data, &["--database", &url]);
        let node2 = ServerProcess::start_in(&data, &["--database", &url]);
        let (http1, http2) = (Http::new(node1.addr), Http::new(node2.addr));
        Self {
            _dir: dir,
            data,
            node1,
            node2,
            http1,
            http2,
        }
    }
}

#[test]
#[ignore = "needs PostgreSQL; run by cargo xtask test"]
fn two_nodes_share_sessions_nonces_and_the_ledger() {
    let nodes = TwoNodes::start();
    let TwoNodes {
        data,
        node1,
        node2,
        http1,
        http2,
        ..
    } = &nodes;
    assert!(
        !data.join("enigm.db").exists(),
        "no SQLite file with --database"
    );

    // Register and log in through node 1; the session is valid on node 2.
    let username = fresh_username("nodes");
    let (account, session) = enigm::signed_up(http1, &username, PASSWORD);
    let device = &account.device;
    let read = enigm::send(http2, &session, device, "GET", "/v1/ledger?since=0", b"");
    assert_eq!(read.status, 200, "{:?}", read.json());

    // A request accepted by node 1 and replayed against node 2 is refused: shared nonces.
    enigm::replay(http1, http2, &session, device).assert_refused(401, "replayed");

    // An append through node 1 is what node 2 serves next.
    let genesis = LedgerEntry::genesis(account.account_id, device, &account.recovery);
    let mut chain = vec![genesis];
    let state = verify_chain(&chain).unwrap();
    let (_, add) = enigm::add_device_entry(&state, &account.account_id, device);
    let appended = enigm::post_entries(http1, &session, device, &[&add]);
    assert_eq!(appended.status, 201, "{:?}", appended.json());
    let seen = enigm::send(http2, &session, device, "GET", "/v1/ledger?since=1", b"");
    assert_eq!(seen.status, 200, "{:?}", seen.json());
    let seen = seen.json();
    assert_eq!(seen["head"]["seq"], 1);
    assert_eq!(seen["head"]["hash"], add.hash().to_hex());
    assert_eq!(seen["entries"].as_array().unwrap().len(), 1);
    assert_eq!(unb64(seen["entries"][0].as_str().unwrap()), add.encode());
    chain.push(add);

    // Conflicting appends raced through both nodes at once: exactly one wins, the others get
    // 409 with the winner's head, and both nodes then serve the same head.
    let state = verify_chain(&chain).unwrap();
    let requests: Vec<(Http, String, Vec<u8>)> = (0..8)
        .map(|index| {
            let (_, add) = enigm::add_device_entry(&state, &account.account_id, device);
            let (header, body) = enigm::signed_append(&session, device, &[&add]);
            let http = if index % 2 == 0 { http1 } else { http2 };
            (http.clone(), header, body)
        })
        .collect();
    let head = enigm::one_append_won(&enigm::race_appends(&requests));
    assert_eq!(head["seq"], 2);
    for http in [&http1, &http2] {
        let page = enigm::send(http, &session, device, "GET", "/v1/ledger?since=0", b"");
        assert_eq!(page.status, 200, "{:?}", page.json());
        let page = page.json();
        assert_eq!(page["head"], head);
        let entries = enigm::page_entries(&page);
        assert_eq!(entries.len(), 3);
        verify_chain(&entries).unwrap();
    }

    // Neither node logged the username (log lines carry pseudonyms only).
    for node in [&node1, &node2] {
        let log = node.stderr();
        assert!(!log.contains(&username), "username in the log");
    }
}

/// A revocation appended through node 1 closes the revoked device's socket on node 2 with
/// `session_ended`, and the account's other sockets on node 2 hear the entry: push crosses
/// nodes through the database (LISTEN/NOTIFY). No sleeps: every wait is a socket read with a
/// deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL; run by cargo xtask test"]
async fn push_crosses_nodes() {
    use common::enigm::{append, ledger};
    use common::push::{add_device, connect, expect_closed, expect_revoked, next_event};
    use enigm_core::ledger::RevokeReason;
    use enigm_server::push::{EndReason, PushEvent};

    let nodes = TwoNodes::start();
    let TwoNodes {
        node1,
        node2,
        http1,
        http2,
        ..
    } = &nodes;

    let username = fresh_username("push");
    let (account, laptop_session) = enigm::signed_up(http1, &username, PASSWORD);
    let laptop = &account.device;
    let phone = add_device(http1, &account, &laptop_session);
    let phone_session = login(http1, &username, PASSWORD, &phone).unwrap();
    let tablet = add_device(http1, &account, &laptop_session);
    let tablet_session = login(http1, &username, PASSWORD, &tablet).unwrap();

    // The phone and the tablet listen on node 2; the laptop, which revokes, on node 1.
    let mut phone_socket = connect(node2.addr, &phone_session, &phone).await;
    let mut tablet_socket = connect(node2.addr, &tablet_session, &tablet).await;
    let mut laptop_socket = connect(node1.addr, &laptop_session, laptop).await;

    let revoke = enigm::revoke(
        http1,
        &laptop_session,
        &account.account_id,
        laptop,
        &phone,
        RevokeReason::Lost,
    );

    expect_revoked(&mut phone_socket, &revoke).await;
    let appended = PushEvent::LedgerAppended {
        seq: revoke.seq,
        hash: revoke.hash().to_hex(),
        kind: "device_revoked".into(),
    };
    let changed = PushEvent::DeviceStateChanged {
        device_id: hex::encode(phone.device_id().as_bytes()),
        state: enigm_core::lifecycle::DeviceState::Revoked,
    };
    // Node 2's other socket hears it through the database, node 1's socket directly, and
    // each exactly once (the next event is the one after).
    for socket in [&mut tablet_socket, &mut laptop_socket] {
        assert_eq!(next_event(socket).await, appended);
        assert_eq!(next_event(socket).await, changed);
    }

    // An append through node 2 now reaches node 1's socket the same way.
    let state = ledger(http2, &tablet_session, &tablet);
    let mut suspend = state.next_entry(EntryKind::Suspend {
        device: tablet.device_id(),
    });
    suspend.sign_device(&account.account_id, laptop);
    append(http2, &laptop_session, laptop, &suspend);
    assert_eq!(
        next_event(&mut laptop_socket).await,
        PushEvent::LedgerAppended {
            seq: suspend.seq,
            hash: suspend.hash().to_hex(),
            kind: "device_suspended".into(),
        }
    );
    assert_eq!(
        next_event(&mut tablet_socket).await,
        PushEvent::SessionEnded {
            reason: EndReason::Suspended,
            entry: Some(enigm::b64(&suspend.encode())),
        }
    );
    expect_closed(&mut tablet_socket, EndReason::Suspended).await;

    // Logs carry pseudonyms only: no username, no account or device id (the nodes log at
    // debug level, where tokio-postgres would print query parameters if not held back).
    for node in [&node1, &node2] {
        let log = node.stderr();
        assert!(!log.contains(&username), "username in the log");
        assert!(
            !log.contains(&hex::encode(account.account_id)),
            "account id in the log"
        );
        assert!(!log.contains(&hex::encode(phone.device_id().as_bytes())));
    }
}

/// Pending logins are sealed (issue 13, item 11) under a key every node derives from the
/// shared pepper, so a login started on one node still finishes on the other.
#[test]
#[ignore = "needs PostgreSQL; run by cargo xtask test"]
fn a_sealed_login_started_on_one_node_finishes_on_another() {
    let nodes = TwoNodes::start();
    let TwoNodes { http1, http2, .. } = &nodes;
    let username = fresh_username("sealed");
    let account = register(http1, &username, PASSWORD);
    let started = enigm::login_start(http1, &username, PASSWORD);
    assert_eq!(started.reply.status, 200);
    let (finished, _) = enigm::login_finish(http2, started, PASSWORD, &account.device);
    assert_eq!(finished.status, 200, "{:?}", finished.json());
}
