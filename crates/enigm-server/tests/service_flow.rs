//! End to end over loopback against the real `enigm server`: OPAQUE registration and login,
//! signed requests and their refusals, the ledger, rate limits, and what ends up on disk and in
//! the logs.

use crate::common;

use common::enigm::{self, SignOptions, b64, login, login_start, register, signed, unb64};
use common::{Http, Service, contains, read_tree};
use enigm_core::audit::{AuditAction, AuditRecord};
use enigm_core::identity::DeviceSecrets;
use enigm_core::ledger::{EntryKind, LedgerEntry, verify_chain};
use enigm_core::opaque::{
    CREDENTIAL_FINALIZATION_LEN, ClientLoginFinishParameters, CredentialResponse,
};
use rand_core::OsRng;
use serde_json::json;

const USERNAME: &str = "Alice.Example";
const PASSWORD: &str = "correct horse battery staple 42";

#[test]
fn register_login_ledger_and_nothing_leaks() {
    let mut server = Service::start();
    let http = Http::new(server.addr);
    let account = register(&http, USERNAME, PASSWORD);
    // The same username, differently cased, is the same account.
    let retry = enigm::login(&http, "alice.example", PASSWORD, &account.device).unwrap();
    assert_eq!(retry.kind, "full");
    let session = login(&http, USERNAME, PASSWORD, &account.device).unwrap();
    let device = &account.device;

    let status = enigm::send(&http, &session, device, "GET", "/v1/sessions/current", b"");
    assert_eq!(status.status, 200, "{:?}", status.json());
    let status = status.json();
    assert_eq!(status["device_state"], "active");
    assert_eq!(status["decisions"]["sync"]["outcome"], "allow");

    // Read the ledger: the genesis, verifiable by the client.
    let page = enigm::send(&http, &session, device, "GET", "/v1/ledger?since=0", b"");
    assert_eq!(page.status, 200, "{:?}", page.json());
    let page = page.json();
    let entries = enigm::page_entries(&page);
    let state = verify_chain(&entries).unwrap();
    assert_eq!(page["head"]["seq"], 0);
    assert_eq!(page["head"]["hash"], state.head().hash.to_hex());

    // Append: add a phone approved by the laptop.
    let (phone, add) = enigm::add_device_entry(&state, &account.account_id, device);
    let appended = enigm::post_entries(&http, &session, device, &[&add]);
    assert_eq!(appended.status, 201, "{:?}", appended.json());
    assert_eq!(appended.json()["head"]["seq"], 1);
    assert_eq!(appended.json()["head"]["hash"], add.hash().to_hex());

    let since = enigm::send(&http, &session, device, "GET", "/v1/ledger?since=1", b"");
    let since = since.json();
    assert_eq!(since["entries"].as_array().unwrap().len(), 1);
    assert_eq!(unb64(since["entries"][0].as_str().unwrap()), add.encode());

    // A conflicting append (built on the old head) gets 409 with the current head.
    let (tablet, rival) = enigm::add_device_entry(&state, &account.account_id, device);
    let conflict = enigm::post_entries(&http, &session, device, &[&rival]);
    assert_eq!(conflict.status, 409, "{:?}", conflict.json());
    assert_eq!(conflict.error_code(), "ledger_conflict");
    assert_eq!(conflict.json()["error"]["head"]["seq"], 1);
    assert_eq!(
        conflict.json()["error"]["head"]["hash"],
        add.hash().to_hex()
    );

    // A forged entry (bad signature) is refused precisely and changes nothing.
    let mut after = state.clone();
    after.apply(std::slice::from_ref(&add)).unwrap();
    let mut forged = after.next_entry(EntryKind::Suspend {
        device: phone.device_id(),
    });
    forged.sign_device(&account.account_id, &tablet);
    let refused = enigm::post_entries(&http, &session, device, &[&forged]);
    assert_eq!(refused.status, 400, "{:?}", refused.json());
    assert_eq!(refused.error_code(), "invalid_ledger_entry");

    // Revoking the phone refuses its sessions: log it in, revoke it, its next request fails.
    let phone_session = login(&http, USERNAME, PASSWORD, &phone).unwrap();
    assert_eq!(phone_session.kind, "full");
    let mut revoke = after.next_entry(EntryKind::Revoke {
        device: phone.device_id(),
        reason: enigm_core::ledger::RevokeReason::Lost,
    });
    revoke.sign_device(&account.account_id, device);
    let revoked = enigm::post_entries(&http, &session, device, &[&revoke]);
    assert_eq!(revoked.status, 201, "{:?}", revoked.json());
    let gone = enigm::send(&http, &phone_session, &phone, "GET", "/v1/ledger", b"");
    // Its session is kept so that its next request, signed with its key, hears what happened:
    // refused, with the entry that removed it as proof.
    assert_eq!(gone.status, 403);
    assert_eq!(gone.error_code(), "device_removed");
    let proof = gone.json()["error"]["entry"].as_str().unwrap().to_owned();
    assert_eq!(LedgerEntry::decode(&unb64(&proof)).unwrap(), revoke);
    let again = login(&http, USERNAME, PASSWORD, &phone).unwrap_err();
    assert_eq!(again.status, 403);
    assert_eq!(again.error_code(), "device_removed");
    assert_eq!(again.json()["error"]["entry"], proof.as_str());
    // Without the phone's key the kept session tells nothing.
    let stranger = enigm::send(
        &http,
        &phone_session,
        &DeviceSecrets::generate(&mut OsRng),
        "GET",
        "/v1/ledger",
        b"",
    );
    assert_eq!(stranger.status, 401);
    assert_eq!(stranger.error_code(), "bad_signature");

    // The audit trail: the caller's own records, pseudonyms only.
    let audit = enigm::send(&http, &session, device, "GET", "/v1/audit", b"");
    assert_eq!(audit.status, 200, "{:?}", audit.json());
    let audit = audit.json();
    let pseudonym = audit["account"].as_str().unwrap().to_owned();
    assert!(pseudonym.starts_with("acct_"));
    let records: Vec<AuditRecord> = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let record: AuditRecord = serde_json::from_value(item["record"].clone()).unwrap();
            assert_eq!(
                item["hash"],
                hex::encode(record.hash()),
                "hash covers the record"
            );
            record
        })
        .collect();
    assert_eq!(records[0].action, AuditAction::AccountRegistered);
    let actions: Vec<serde_json::Value> = records
        .iter()
        .map(|record| serde_json::to_value(&record.action).unwrap())
        .collect();
    assert!(actions.contains(&json!({"ledger_appended": {"kind": "device_added"}})));
    assert!(actions.contains(&json!({"ledger_appended": {"kind": "device_revoked"}})));
    assert!(actions.contains(&json!("login_succeeded")));
    for record in &records {
        assert_eq!(record.actor.as_str(), pseudonym);
        assert!(
            record
                .subject
                .as_ref()
                .is_none_or(|s| s.as_str().starts_with("dev_"))
        );
    }

    // The password never left the client, in any form the test can recognise.
    let sent = http.all_sent();
    assert!(!contains(&sent, PASSWORD.as_bytes()));
    assert!(!contains(&sent, b64(PASSWORD.as_bytes()).as_bytes()));
    assert!(!contains(&sent, hex::encode(PASSWORD).as_bytes()));

    // Neither the data directory nor the logs hold the username or the device keys.
    server.stop();
    let stderr = server.logs();
    assert!(stderr.contains("session issued"), "logging works: {stderr}");
    let files = read_tree(&server.data_dir);
    let lower = USERNAME.to_lowercase();
    for device in [device, &phone] {
        let public = hex::encode(device.public().signing.as_bytes());
        let device_id = device.device_id().to_hex();
        for needle in [public.as_str(), device_id.as_str()] {
            assert!(
                !contains(&files, needle.as_bytes()),
                "data dir holds a device key or id"
            );
            assert!(!stderr.contains(needle), "log holds a device key or id");
        }
    }
    for needle in [USERNAME, lower.as_str(), PASSWORD] {
        assert!(
            !contains(&files, needle.as_bytes()),
            "data dir holds {needle}"
        );
        assert!(!stderr.contains(needle), "log holds {needle}");
    }
    assert!(
        !stderr.contains(&hex::encode(account.account_id)),
        "log holds the account id"
    );
}

#[test]
fn wrong_password_and_unknown_username_look_the_same() {
    let server = Service::start();
    let http = Http::new(server.addr);
    register(&http, "bob", PASSWORD);

    let wrong = login_start(&http, "bob", "not the password");
    let unknown = login_start(&http, "nobody-here", PASSWORD);
    for started in [&wrong, &unknown] {
        assert_eq!(started.reply.status, 200);
    }
    let (wrong_body, unknown_body) = (wrong.reply.json(), unknown.reply.json());
    let keys = |value: &serde_json::Value| {
        value
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&wrong_body), keys(&unknown_body));
    let response_len =
        |value: &serde_json::Value| value["credential_response"].as_str().unwrap().len();
    assert_eq!(response_len(&wrong_body), response_len(&unknown_body));

    // The client notices on its own, the same way in both cases.
    for (started, password) in [(wrong, "not the password"), (unknown, PASSWORD)] {
        let response = CredentialResponse::deserialize(&unb64(
            started.reply.json()["credential_response"]
                .as_str()
                .unwrap(),
        ))
        .unwrap();
        let login_id = started.login_id.clone();
        assert!(
            started
                .state
                .finish(
                    password.as_bytes(),
                    response,
                    ClientLoginFinishParameters::default()
                )
                .is_err()
        );
        // A client that finishes anyway gets one precise answer, the same for both.
        let finish_anyway = || {
            http.post_json(
                "/v1/sessions/login/finish",
                &json!({
                    "login_id": login_id,
                    "credential_finalization": b64(&[0u8; CREDENTIAL_FINALIZATION_LEN]),
                    "device_key": b64(DeviceSecrets::generate(&mut OsRng).public().signing.as_bytes()),
                    "device_signature": b64(&[0u8; 64]),
                }),
            )
        };
        let reply = finish_anyway();
        assert_eq!(reply.status, 401);
        assert_eq!(
            reply.json(),
            json!({"error": {"code": "invalid_credentials", "message": "the username or password is wrong"}})
        );
        // The login id is spent.
        let reused = finish_anyway();
        assert_eq!(reused.error_code(), "login_expired");
    }
}

#[test]
fn signed_requests_refuse_replays_stale_times_and_tampering() {
    let server = Service::start();
    let http = Http::new(server.addr);
    let (account, session) = enigm::signed_up(&http, "carol", PASSWORD);
    let device = &account.device;

    let unsigned = http.get("/v1/ledger");
    unsigned.assert_refused(401, "missing_authorization");
    let garbage = http.request("GET", "/v1/ledger", &[("Authorization", "Bearer abc")], b"");
    assert_eq!(garbage.error_code(), "malformed_authorization");

    // Replay: the very same request twice.
    enigm::replay(&http, &http, &session, device).assert_refused(401, "replayed");

    // Stale and future timestamps.
    for timestamp in [enigm::now() - 3_600, enigm::now() + 3_600] {
        let options = SignOptions {
            timestamp: Some(timestamp),
            ..SignOptions::default()
        };
        let stale = signed(&http, &session, device, "GET", "/v1/ledger", b"", &options);
        stale.assert_refused(401, "stale_timestamp");
    }

    // Tampered body, tampered path, wrong key.
    let body = br#"{"entries":[]}"#;
    let options = SignOptions {
        send_body: Some(br#"{"entries":[ ]}"#.to_vec()),
        ..SignOptions::default()
    };
    let tampered = signed(
        &http,
        &session,
        device,
        "POST",
        "/v1/ledger",
        body,
        &options,
    );
    tampered.assert_refused(401, "bad_signature");
    let header = enigm::authorization(
        &session,
        device,
        "GET",
        "/v1/ledger?since=0",
        b"",
        &SignOptions::default(),
    );
    let moved = http.request(
        "GET",
        "/v1/ledger?since=1",
        &[("Authorization", &header)],
        b"",
    );
    assert_eq!(moved.error_code(), "bad_signature");
    let stranger = DeviceSecrets::generate(&mut OsRng);
    let wrong_key = enigm::send(&http, &session, &stranger, "GET", "/v1/ledger", b"");
    assert_eq!(wrong_key.error_code(), "bad_signature");

    // Strict schema on a signed request: unknown fields are refused without echoing them.
    let body = br#"{"entries":[],"carol":1}"#;
    let strict = enigm::send(&http, &session, device, "POST", "/v1/ledger", body);
    strict.assert_refused(400, "malformed_request");
    assert!(!String::from_utf8_lossy(&strict.body).contains("carol"));

    // A key the ledger does not know gets a session that can only enroll: it may read the
    // ledger (to check the device it would replace) but nothing sealed or shared.
    let newcomer = DeviceSecrets::generate(&mut OsRng);
    let restricted = login(&http, "carol", PASSWORD, &newcomer).unwrap();
    assert_eq!(restricted.kind, "enrollment_restricted");
    let ledger = enigm::send(&http, &restricted, &newcomer, "GET", "/v1/ledger", b"");
    assert_eq!(ledger.status, 200, "{:?}", ledger.json());
    let denied = enigm::send(&http, &restricted, &newcomer, "GET", "/v1/shared", b"");
    denied.assert_refused(403, "trust_denied");
    assert!(
        denied.json()["error"]["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("session_restricted"))
    );
    let status = enigm::send(
        &http,
        &restricted,
        &newcomer,
        "GET",
        "/v1/sessions/current",
        b"",
    );
    assert_eq!(status.json()["decisions"]["enroll"]["outcome"], "allow");

    // Sign out: the session is gone.
    let out = enigm::send(
        &http,
        &session,
        device,
        "DELETE",
        "/v1/sessions/current",
        b"",
    );
    assert_eq!(out.status, 204);
    let after = enigm::send(&http, &session, device, "GET", "/v1/ledger", b"");
    assert_eq!(after.error_code(), "unknown_session");
}

#[test]
fn login_attempts_back_off_per_account() {
    let server = Service::start();
    let http = Http::new(server.addr);
    // Unknown usernames are limited exactly like known ones.
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(login_start(&http, "dave", PASSWORD).reply);
    }
    assert!(statuses[..6].iter().all(|reply| reply.status == 200));
    let limited = &statuses[6];
    assert_eq!(limited.status, 429);
    assert_eq!(limited.error_code(), "rate_limited");
    let retry_after = limited.retry_after();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    // Another account is not affected.
    assert_eq!(login_start(&http, "erin", PASSWORD).reply.status, 200);
}

#[test]
fn registration_refuses_bad_input_precisely() {
    let server = Service::start();
    let http = Http::new(server.addr);
    let short = http.post_json(
        "/v1/accounts/register/start",
        &json!({ "username": "x", "registration_request": "" }),
    );
    short.assert_refused(400, "invalid_username");
    let junk = http.post_json(
        "/v1/accounts/register/start",
        &json!({ "username": "frank", "registration_request": "!!" }),
    );
    assert_eq!(junk.error_code(), "malformed_request");
    let not_json = http.request("POST", "/v1/accounts/register/start", &[], b"{nope");
    assert_eq!(not_json.error_code(), "malformed_request");

    register(&http, "grace", PASSWORD);
    let taken = enigm::try_register(&http, "GRACE", PASSWORD).err().unwrap();
    taken.assert_refused(409, "username_taken");
}

#[test]
fn registration_is_throttled_per_source() {
    let server = Service::start();
    let http = Http::new(server.addr);
    let request = |name: &str| {
        let start = enigm_core::opaque::ClientRegistration::start(&mut OsRng, b"pw").unwrap();
        http.post_json(
            "/v1/accounts/register/start",
            &json!({ "username": name, "registration_request": b64(&start.message.serialize()) }),
        )
    };
    for n in 0..31 {
        assert_eq!(request(&format!("user{n}")).status, 200, "attempt {n}");
    }
    let limited = request("one-more");
    limited.assert_refused(429, "rate_limited");
}

#[test]
fn concurrent_conflicting_appends_let_exactly_one_win() {
    let server = Service::start();
    let http = Http::new(server.addr);
    let (account, session) = enigm::signed_up(&http, "judy", PASSWORD);
    let genesis = LedgerEntry::genesis(account.account_id, &account.device, &account.recovery);
    let state = verify_chain(&[genesis]).unwrap();
    let requests: Vec<(Http, String, Vec<u8>)> = (0..6)
        .map(|_| {
            let (_, add) = enigm::add_device_entry(&state, &account.account_id, &account.device);
            let (header, body) = enigm::signed_append(&session, &account.device, &[&add]);
            (http.clone(), header, body)
        })
        .collect();
    let head = enigm::one_append_won(&enigm::race_appends(&requests));
    assert_eq!(head["seq"], 1);
}
