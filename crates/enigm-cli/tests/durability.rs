//! What the service acknowledged survives `kill -9`: the account, the session, the ledger and
//! the nonces a replay check needs.

mod common;

use common::enigm::{self, SignOptions, b64, login, register, signed};
use common::{Http, ServerProcess};
use enigm_core::identity::DeviceSecrets;
use enigm_core::ledger::{EntryKind, LedgerEntry, verify_chain};
use rand_core::OsRng;
use serde_json::json;

#[test]
fn acknowledged_appends_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start_in(&data, &[]);
    let http = Http::new(server.addr);
    let account = register(&http, "heidi", "a long enough password");
    let session = login(&http, "heidi", "a long enough password", &account.device).unwrap();
    let page = signed(
        &http,
        &session,
        &account.device,
        "GET",
        "/v1/ledger",
        b"",
        &SignOptions::default(),
    );
    let entries: Vec<LedgerEntry> = page.json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|text| LedgerEntry::decode(&enigm::unb64(text.as_str().unwrap())).unwrap())
        .collect();
    let state = verify_chain(&entries).unwrap();
    let phone = DeviceSecrets::generate(&mut OsRng);
    let mut add = state.next_entry(EntryKind::AddDevice {
        device: phone.public(),
        approved_by: account.device.device_id(),
        replaces: None,
    });
    add.sign_device(&account.account_id, &account.device);
    add.sign_device(&account.account_id, &phone);
    let body = json!({ "entries": [b64(&add.encode())] }).to_string();
    let header = enigm::authorization(
        &session,
        &account.device,
        "POST",
        "/v1/ledger",
        body.as_bytes(),
        &SignOptions::default(),
    );
    let appended = http.request(
        "POST",
        "/v1/ledger",
        &[("Authorization", &header)],
        body.as_bytes(),
    );
    assert_eq!(appended.status, 201, "{:?}", appended.json());
    server.kill();

    let restarted = ServerProcess::start_in(&data, &[]);
    let http = Http::new(restarted.addr);
    // The session and the ledger are still there...
    let page = signed(
        &http,
        &session,
        &account.device,
        "GET",
        "/v1/ledger?since=1",
        b"",
        &SignOptions::default(),
    );
    assert_eq!(page.status, 200, "{:?}", page.json());
    assert_eq!(page.json()["head"]["seq"], 1);
    assert_eq!(page.json()["entries"][0], b64(&add.encode()));
    // ...and so is the nonce: the acknowledged request cannot be replayed after the crash.
    let replay = http.request(
        "POST",
        "/v1/ledger",
        &[("Authorization", &header)],
        body.as_bytes(),
    );
    assert_eq!(replay.error_code(), "replayed");
    // Logging in again works with the same secrets (pepper, OPAQUE setup).
    login(&http, "heidi", "a long enough password", &account.device).unwrap();
}

#[test]
fn sessions_refresh_and_report_their_expiry() {
    let server = ServerProcess::start();
    let http = Http::new(server.addr);
    let account = register(&http, "ivan", "a long enough password");
    let session = login(&http, "ivan", "a long enough password", &account.device).unwrap();
    let before = signed(
        &http,
        &session,
        &account.device,
        "GET",
        "/v1/sessions/current",
        b"",
        &SignOptions::default(),
    );
    let expires = before.json()["session"]["expires_at"].as_u64().unwrap();
    assert!(expires > enigm::now());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let refreshed = signed(
        &http,
        &session,
        &account.device,
        "POST",
        "/v1/sessions/refresh",
        b"",
        &SignOptions::default(),
    );
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.json());
    assert!(refreshed.json()["expires_at"].as_u64().unwrap() > expires);
}
