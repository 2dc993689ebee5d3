//! What the service acknowledged survives `kill -9`: the account, the session, the ledger and
//! the nonces a replay check needs; and a `kill -9` in the middle of concurrent appends loses
//! no acknowledged entry and leaves no partial one, on SQLite and on PostgreSQL (ignored
//! unless `ENIGM_TEST_POSTGRES_URL` is set; `cargo xtask test` sets it).
// The helpers below are test code too: a failed step should stop the test loudly.

use crate::common;

use std::sync::mpsc;

use common::enigm::{self, Account, Session, b64, login};
use common::{Http, ServerProcess};
use enigm_core::identity::DeviceSecrets;
use enigm_core::ledger::{EntryKind, LedgerEntry, LedgerState, verify_chain};
use rand_core::{OsRng, RngCore};

#[test]
fn acknowledged_appends_survive_kill_9() {
    let mut server = ServerProcess::start();
    let http = Http::new(server.addr);
    let (account, session) = enigm::signed_up(&http, "heidi", "a long enough password");
    let page = enigm::send(&http, &session, &account.device, "GET", "/v1/ledger", b"");
    let entries = enigm::page_entries(&page.json());
    let state = verify_chain(&entries).unwrap();
    let (_, add) = enigm::add_device_entry(&state, &account.account_id, &account.device);
    let (header, body) = enigm::signed_append(&session, &account.device, &[&add]);
    let appended = http.request("POST", "/v1/ledger", &[("Authorization", &header)], &body);
    assert_eq!(appended.status, 201, "{:?}", appended.json());
    server.kill();

    let restarted = server.restart(&[]);
    let http = Http::new(restarted.addr);
    // The session and the ledger are still there...
    let page = enigm::send(
        &http,
        &session,
        &account.device,
        "GET",
        "/v1/ledger?since=1",
        b"",
    );
    assert_eq!(page.status, 200, "{:?}", page.json());
    assert_eq!(page.json()["head"]["seq"], 1);
    assert_eq!(page.json()["entries"][0], b64(&add.encode()));
    // ...and so is the nonce: the acknowledged request cannot be replayed after the crash.
    let replay = http.request("POST", "/v1/ledger", &[("Authorization", &header)], &body);
    assert_eq!(replay.error_code(), "replayed");
    // Logging in again works with the same secrets (pepper, OPAQUE setup).
    login(&http, "heidi", "a long enough password", &account.device).unwrap();
}

/// Clients appending at once, each to its own account.
const WRITERS: usize = 4;

/// Acknowledged appends (all writers together) before the kill.
const ACKS_BEFORE_KILL: usize = 40;

const PASSWORD: &str = "a long enough password";

/// The whole ledger of an account, page by page, as the service serves it.
fn read_ledger(http: &Http, session: &Session, device: &DeviceSecrets) -> Vec<Vec<u8>> {
    let mut entries = Vec::new();
    loop {
        let path = format!("/v1/ledger?since={}", entries.len());
        let page = enigm::send(http, session, device, "GET", &path, b"");
        assert_eq!(page.status, 200, "{:?}", page.json());
        let page = page.json();
        for text in page["entries"].as_array().unwrap() {
            entries.push(enigm::unb64(text.as_str().unwrap()));
        }
        if page["more"] != true {
            return entries;
        }
    }
}

/// What one writer did: the entries acknowledged with 201, in order, and the one it was
/// sending when the service died (no response), if any.
struct Written {
    acknowledged: Vec<LedgerEntry>,
    in_flight: Option<LedgerEntry>,
}

/// Appends Suspend/Resume of `phone` to `account`'s ledger, one entry per request, until a
/// request gets no response; reports each acknowledgement on `acks`.
fn write_until_killed(
    http: &Http,
    account: &Account,
    session: &Session,
    phone: &DeviceSecrets,
    mut state: LedgerState,
    acks: &mpsc::Sender<()>,
) -> Written {
    let mut acknowledged = Vec::new();
    loop {
        let kind = if acknowledged.len() % 2 == 0 {
            EntryKind::Suspend {
                device: phone.device_id(),
            }
        } else {
            EntryKind::Resume {
                device: phone.device_id(),
            }
        };
        let mut entry = state.next_entry(kind);
        entry.sign_device(&account.account_id, &account.device);
        let (header, body) = enigm::signed_append(session, &account.device, &[&entry]);
        let Some(reply) =
            http.try_request("POST", "/v1/ledger", &[("Authorization", &header)], &body)
        else {
            return Written {
                acknowledged,
                in_flight: Some(entry),
            };
        };
        // Until the kill, every append to one's own account is accepted.
        assert_eq!(reply.status, 201, "{:?}", reply.json());
        state.apply(std::slice::from_ref(&entry)).unwrap();
        acknowledged.push(entry);
        // The receiver may be gone once it has seen enough.
        let _ = acks.send(());
    }
}

/// Several writers append concurrently; the service is killed with SIGKILL mid-stream and
/// restarted on the same data: every acknowledged entry is there, the chain verifies, and
/// nothing else is, except possibly each writer's in-flight entry, whole.
fn concurrent_appends_survive_kill_9(extra: &[&str]) {
    let mut server = ServerProcess::start_with(extra);
    let http = Http::new(server.addr);
    let run = OsRng.next_u64();
    let mut writers = Vec::new();
    for index in 0..WRITERS {
        let username = format!("writer{index}-{run:016x}");
        let (account, session) = enigm::signed_up(&http, &username, PASSWORD);
        // A second device to suspend and resume.
        let genesis = LedgerEntry::genesis(account.account_id, &account.device, &account.recovery);
        let mut state = verify_chain(std::slice::from_ref(&genesis)).unwrap();
        let (phone, add) = enigm::add_device_entry(&state, &account.account_id, &account.device);
        let reply = enigm::post_entries(&http, &session, &account.device, &[&add]);
        assert_eq!(reply.status, 201, "{:?}", reply.json());
        state.apply(std::slice::from_ref(&add)).unwrap();
        writers.push((account, session, phone, vec![genesis, add], state));
    }

    let (acks, acked) = mpsc::channel();
    let results: Vec<Written> = std::thread::scope(|scope| {
        let handles: Vec<_> = writers
            .iter()
            .map(|(account, session, phone, _, state)| {
                let (http, acks, state) = (http.clone(), acks.clone(), state.clone());
                scope
                    .spawn(move || write_until_killed(&http, account, session, phone, state, &acks))
            })
            .collect();
        drop(acks);
        for _ in 0..ACKS_BEFORE_KILL {
            acked.recv().unwrap();
        }
        // The writers are still appending: kill -9 now.
        server.kill();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    });

    let restarted = server.restart(extra);
    let http = Http::new(restarted.addr);
    for ((account, session, _, setup, _), written) in writers.iter().zip(&results) {
        let stored = read_ledger(&http, session, &account.device);
        let entries: Vec<LedgerEntry> = stored
            .iter()
            .map(|bytes| LedgerEntry::decode(bytes).expect("a stored entry is whole"))
            .collect();
        let state = verify_chain(&entries).expect("the stored ledger verifies");
        let expected: Vec<Vec<u8>> = setup
            .iter()
            .chain(&written.acknowledged)
            .map(LedgerEntry::encode)
            .collect();
        assert!(
            stored.len() >= expected.len(),
            "{} of {} acknowledged entries survived",
            stored.len(),
            expected.len()
        );
        assert_eq!(
            stored[..expected.len()],
            expected[..],
            "acknowledged entries changed"
        );
        match &stored[expected.len()..] {
            [] => {}
            // Committed, but the 201 never left: it must be exactly what was sent.
            [extra] => assert_eq!(
                Some(extra),
                written.in_flight.as_ref().map(LedgerEntry::encode).as_ref(),
                "an entry nobody sent is stored"
            ),
            more => panic!("{} entries stored beyond the acknowledged ones", more.len()),
        }
        assert_eq!(state.head().seq + 1, stored.len() as u64);
    }
}

#[test]
fn kill_9_during_concurrent_appends_loses_nothing_acknowledged() {
    concurrent_appends_survive_kill_9(&[]);
}

#[test]
#[ignore = "needs PostgreSQL; run by cargo xtask test"]
fn kill_9_during_concurrent_appends_loses_nothing_acknowledged_on_postgres() {
    let url = common::fresh_postgres_url();
    concurrent_appends_survive_kill_9(&["--database", &url]);
}
