//! Account recovery against the real `enigm server` (DESIGN §8): a new device holding only the
//! username and the recovery phrase sets a new password, adds itself and revokes a lost device;
//! every earlier session ends (live sockets close with reason `recovery`), the old password
//! stops working, a device that was not revoked signs in again and keeps working. Refusals
//! change nothing: a wrong recovery key, a replayed recovery id, a stale head, a rotated phrase.

use crate::common;

use std::collections::HashSet;

use common::enigm::{self, Session, add_device, append, b64, ledger, login, login_start, unb64};
use common::push::{Socket, connect, expect_closed, expect_ended, next_event};
use common::{Http, Response, Service, contains, read_tree};
use enigm_core::identity::{DeviceId, DeviceSecrets};
use enigm_core::ledger::{EntryKind, LedgerEntry, LedgerState, Signer, verify_chain};
use enigm_core::opaque::{ClientLoginFinishParameters, ClientRegistration, CredentialResponse};
use enigm_core::recovery::{
    RecoveryKey, RecoveryPhrase, recovery_authorization_message, recovery_proof_message,
};
use enigm_server::push::{EndReason, PushEvent};
use rand_core::OsRng;
use serde_json::json;

const USERNAME: &str = "Robin.Recovers";
const PASSWORD: &str = "first password, soon forgotten";
const NEW_PASSWORD: &str = "a brand new password 77";

// --- the recovering device's side of the protocol ---

/// A recovery between `start` and `finish`, as the new device holds it.
struct Recovery {
    id: [u8; 16],
    registration: ClientRegistration,
    reply: Response,
}

/// `POST /v1/recovery/start` with a registration request for `password`.
fn start(http: &Http, username: &str, password: &str) -> Recovery {
    let started = ClientRegistration::start(&mut OsRng, password.as_bytes()).unwrap();
    let reply = http.post_json(
        "/v1/recovery/start",
        &json!({
            "username": username,
            "registration_request": b64(&started.message.serialize()),
        }),
    );
    let id = if reply.status == 200 {
        unb64(reply.json()["recovery_id"].as_str().unwrap())
            .try_into()
            .unwrap()
    } else {
        [0; 16]
    };
    Recovery {
        id,
        registration: started.state,
        reply,
    }
}

/// `POST /v1/recovery/ledger`, proving `key`.
fn disclose(http: &Http, recovery: &Recovery, key: &RecoveryKey) -> Response {
    let proof = key.sign(&recovery_proof_message(&recovery.id));
    http.post_json(
        "/v1/recovery/ledger",
        &json!({
            "recovery_id": b64(&recovery.id),
            "recovery_signature": b64(&proof.to_bytes()),
        }),
    )
}

/// The disclosed ledger, verified by the device; checks it pins `key` and matches `head`.
fn verified_ledger(reply: &Response, key: &RecoveryKey) -> ([u8; 16], LedgerState) {
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    let body = reply.json();
    let entries = enigm::page_entries(&body);
    let state = verify_chain(&entries).unwrap();
    assert_eq!(state.recovery_key(), &key.public());
    assert_eq!(body["head"]["seq"], state.head().seq);
    assert_eq!(body["head"]["hash"], state.head().hash.to_hex());
    assert_eq!(body["account_id"], hex::encode(state.account_id()));
    (*state.account_id(), state)
}

/// What a finish request is made of; tests tamper with it.
struct Finish {
    upload: Vec<u8>,
    entry: LedgerEntry,
    recovery_signature: Vec<u8>,
    device_signature: Vec<u8>,
}

/// Builds the `Recover` entry on `ledger`'s head for `device`, revoking `lost`, signed by
/// `entry_key`, with the authorization signed by `authorizing_key`.
fn build_finish(
    recovery: Recovery,
    password: &str,
    ledger: &LedgerState,
    device: &DeviceSecrets,
    lost: Vec<DeviceId>,
    entry_key: &RecoveryKey,
    authorizing_key: &RecoveryKey,
) -> Finish {
    let upload = enigm::registration_upload(
        recovery.registration,
        password,
        recovery.reply.json()["registration_response"]
            .as_str()
            .unwrap(),
    );
    let account_id = *ledger.account_id();
    let mut entry = ledger.next_entry(EntryKind::Recover {
        new_device: device.public(),
        revoke: lost,
    });
    entry.sign_with(&account_id, Signer::Recovery, entry_key.signing_key());
    entry.sign_device(&account_id, device);
    let message = recovery_authorization_message(&account_id, &recovery.id, &upload, &entry.hash());
    Finish {
        recovery_signature: authorizing_key.sign(&message).to_bytes().to_vec(),
        device_signature: device.sign(&message).to_bytes().to_vec(),
        upload,
        entry,
    }
}

/// `POST /v1/recovery/finish`.
fn send_finish(http: &Http, id: &[u8; 16], finish: &Finish) -> Response {
    http.post_json(
        "/v1/recovery/finish",
        &json!({
            "recovery_id": b64(id),
            "registration_upload": b64(&finish.upload),
            "entry": b64(&finish.entry.encode()),
            "recovery_signature": b64(&finish.recovery_signature),
            "device_signature": b64(&finish.device_signature),
        }),
    )
}

/// The whole recovery with `phrase`, as a client would run it; the finish reply.
fn recover(
    http: &Http,
    phrase: &RecoveryPhrase,
    device: &DeviceSecrets,
    lost: Vec<DeviceId>,
) -> Response {
    let key = phrase.recovery_key();
    let recovery = start(http, USERNAME, NEW_PASSWORD);
    assert_eq!(recovery.reply.status, 200, "{:?}", recovery.reply.json());
    let (_, ledger) = verified_ledger(&disclose(http, &recovery, &key), &key);
    let id = recovery.id;
    let finish = build_finish(recovery, NEW_PASSWORD, &ledger, device, lost, &key, &key);
    send_finish(http, &id, &finish)
}

/// Whether the service's OPAQUE record accepts `password` (the client finds out: a wrong
/// password fails on the client's side of the login).
fn password_accepted(http: &Http, password: &str) -> bool {
    let started = login_start(http, USERNAME, password);
    assert_eq!(started.reply.status, 200, "{:?}", started.reply.json());
    let response = CredentialResponse::deserialize(&unb64(
        started.reply.json()["credential_response"]
            .as_str()
            .unwrap(),
    ))
    .unwrap();
    started
        .state
        .finish(
            password.as_bytes(),
            response,
            ClientLoginFinishParameters::default(),
        )
        .is_ok()
}

// --- requests and sockets, as in push.rs ---

fn get(http: &Http, session: &Session, device: &DeviceSecrets, path: &str) -> Response {
    enigm::send(http, session, device, "GET", path, b"")
}

/// What a trusted socket hears about a recovery, in order, then its close.
async fn expect_recovery_told(
    socket: &mut Socket,
    entry: &LedgerEntry,
    changed: &[(String, &str)],
) {
    assert_eq!(next_event(socket).await, PushEvent::RecoveryStarted {});
    assert_eq!(
        next_event(socket).await,
        PushEvent::LedgerAppended {
            seq: entry.seq,
            hash: entry.hash().to_hex(),
            kind: "account_recovered".into(),
        }
    );
    let mut heard = HashSet::new();
    for _ in changed {
        let PushEvent::DeviceStateChanged { device_id, state } = next_event(socket).await else {
            panic!("expected device_state_changed");
        };
        heard.insert((device_id, state));
    }
    let expected: HashSet<(String, enigm_core::lifecycle::DeviceState)> = changed
        .iter()
        .map(|(id, state)| {
            (
                id.clone(),
                enigm_core::lifecycle::DeviceState::parse(state).unwrap(),
            )
        })
        .collect();
    assert_eq!(heard, expected);
    assert_eq!(
        next_event(socket).await,
        PushEvent::SessionEnded {
            reason: EndReason::Recovery,
            entry: None,
        }
    );
    expect_closed(socket, EndReason::Recovery).await;
}

// --- the tests ---

#[tokio::test]
async fn recovery_sets_a_new_password_revokes_the_lost_device_and_ends_every_session() {
    let server = Service::start();
    let http = Http::new(server.addr);
    let (account, laptop_session, phone, phone_session) =
        enigm::two_devices(&http, USERNAME, PASSWORD);
    let laptop = &account.device;
    let mut laptop_socket = connect(server.addr, &laptop_session, laptop).await;
    let mut phone_socket = connect(server.addr, &phone_session, &phone).await;
    // A device still enrolling holds a restricted session: it is told too, and ended.
    let newcomer = DeviceSecrets::generate(&mut OsRng);
    let newcomer_session = login(&http, USERNAME, PASSWORD, &newcomer).unwrap();
    assert_eq!(newcomer_session.kind, "enrollment_restricted");
    let mut newcomer_socket = connect(server.addr, &newcomer_session, &newcomer).await;

    // The user lost the laptop and forgot the password. On a new computer they type the
    // username and the 24 words (as shown at registration; typed back, parsed by enigm-core).
    let words = account.phrase.words();
    let typed = RecoveryPhrase::parse(&words.to_uppercase()).unwrap();
    let key = typed.recovery_key();
    assert_eq!(key.public(), account.phrase.recovery_key().public());
    let desktop = DeviceSecrets::generate(&mut OsRng);

    let recovery = start(&http, USERNAME, NEW_PASSWORD);
    assert_eq!(recovery.reply.status, 200, "{:?}", recovery.reply.json());
    let (account_id, before) = verified_ledger(&disclose(&http, &recovery, &key), &key);
    assert_eq!(account_id, account.account_id);
    assert_eq!(before.active_devices().count(), 2);
    let id = recovery.id;
    let finish = build_finish(
        recovery,
        NEW_PASSWORD,
        &before,
        &desktop,
        vec![laptop.device_id()],
        &key,
        &key,
    );
    let reply = send_finish(&http, &id, &finish);
    assert_eq!(reply.status, 201, "{:?}", reply.json());
    let entry = &finish.entry;
    assert_eq!(reply.json()["head"]["seq"], entry.seq);
    assert_eq!(reply.json()["head"]["hash"], entry.hash().to_hex());
    assert_eq!(reply.json()["account_id"], hex::encode(account.account_id));

    // Every connected device hears it at once, then its socket closes with reason recovery.
    let changed = [
        (hex::encode(laptop.device_id().as_bytes()), "revoked"),
        (hex::encode(desktop.device_id().as_bytes()), "active"),
    ];
    expect_recovery_told(&mut laptop_socket, entry, &changed).await;
    expect_recovery_told(&mut phone_socket, entry, &changed).await;
    assert_eq!(
        next_event(&mut newcomer_socket).await,
        PushEvent::RecoveryStarted {}
    );
    expect_ended(&mut newcomer_socket, EndReason::Recovery).await;

    // Sessions from before the recovery are refused with a precise code; the laptop the
    // recovery revoked is told so, with the `Recover` entry as proof.
    let refused = get(&http, &phone_session, &phone, "/v1/ledger");
    assert_eq!(refused.status, 401);
    assert_eq!(refused.error_code(), "session_before_recovery");
    let refused = get(&http, &laptop_session, laptop, "/v1/ledger");
    assert_eq!(refused.status, 403);
    assert_eq!(refused.error_code(), "device_removed");
    assert_eq!(
        refused.json()["error"]["entry"],
        b64(&entry.encode()).as_str()
    );
    // A replay of the finish is refused: the recovery id was used.
    let replay = send_finish(&http, &id, &finish);
    assert_eq!(replay.status, 401);
    assert_eq!(replay.error_code(), "recovery_expired");

    // The old password is gone; the new one works.
    assert!(!password_accepted(&http, PASSWORD));
    assert!(password_accepted(&http, NEW_PASSWORD));
    // The new device signs in normally with the new password and is active.
    let desktop_session = login(&http, USERNAME, NEW_PASSWORD, &desktop).unwrap();
    assert_eq!(desktop_session.kind, "full");
    let status = get(&http, &desktop_session, &desktop, "/v1/sessions/current").json();
    assert_eq!(status["device_state"], "active");
    let after = ledger(&http, &desktop_session, &desktop);
    assert_eq!(after.head().hash, entry.hash());
    assert_eq!(after.recovery_epoch(), 1);
    // The phone was not revoked: it signs in again and keeps working.
    let phone_again = login(&http, USERNAME, NEW_PASSWORD, &phone).unwrap();
    assert_eq!(phone_again.kind, "full");
    assert_eq!(ledger(&http, &phone_again, &phone).head(), after.head());
    // The lost laptop is refused for good.
    let refused = login(&http, USERNAME, NEW_PASSWORD, laptop).unwrap_err();
    assert_eq!(refused.status, 403);
    assert_eq!(refused.error_code(), "device_removed");

    // The audit trail says a recovery happened, and who did it (pseudonyms only).
    let audit = get(&http, &desktop_session, &desktop, "/v1/audit").json();
    let actions: Vec<String> = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["record"]["action"].to_string())
        .collect();
    for expected in [
        r#""recovery_started""#,
        r#"{"ledger_appended":{"kind":"account_recovered"}}"#,
        r#""recovery_completed""#,
    ] {
        assert!(
            actions.iter().any(|action| action == expected),
            "{actions:?}"
        );
    }

    // Neither password nor the phrase ever crossed the wire; the username and the phrase are in
    // no log and nowhere on the service's disk.
    let sent = http.all_sent();
    for secret in [PASSWORD, NEW_PASSWORD, words.as_str()] {
        assert!(!contains(&sent, secret.as_bytes()), "a secret was sent");
    }
    let first_words: String = words.split(' ').take(3).collect::<Vec<_>>().join(" ");
    assert!(!contains(&sent, first_words.as_bytes()));
    let logs = server.logs();
    assert!(logs.contains("account recovered"), "{logs}");
    let disk = read_tree(&server.data_dir);
    for text in [USERNAME, &USERNAME.to_lowercase(), words.as_str()] {
        assert!(!logs.contains(text), "in the logs");
        assert!(!contains(&disk, text.as_bytes()), "on disk");
    }
}

#[test]
fn a_wrong_recovery_key_a_replay_or_an_unknown_username_changes_nothing() {
    let server = Service::start();
    let http = Http::new(server.addr);
    let (account, session) = enigm::signed_up(&http, USERNAME, PASSWORD);
    let laptop = &account.device;
    let head = ledger(&http, &session, laptop).head();
    let right = account.phrase.recovery_key();
    let wrong = RecoveryPhrase::generate(&mut OsRng).recovery_key();
    let desktop = DeviceSecrets::generate(&mut OsRng);

    // An unknown username gets a reply of the same shape, and the same refusal as a wrong key.
    let known = start(&http, USERNAME, NEW_PASSWORD);
    let unknown = start(&http, "nobody.here", NEW_PASSWORD);
    assert_eq!(unknown.reply.status, 200);
    let keys = |reply: &Response| {
        let mut keys: Vec<String> = reply.json().as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&known.reply), keys(&unknown.reply));
    assert_eq!(
        known.reply.json()["registration_response"]
            .as_str()
            .unwrap()
            .len(),
        unknown.reply.json()["registration_response"]
            .as_str()
            .unwrap()
            .len()
    );
    let refused_unknown = disclose(&http, &unknown, &wrong);
    let refused_known = disclose(&http, &known, &wrong);
    for refused in [&refused_unknown, &refused_known] {
        assert_eq!(refused.status, 403);
        assert_eq!(refused.error_code(), "recovery_refused");
    }
    assert_eq!(refused_unknown.json(), refused_known.json());
    // One proof attempt per start: the refused recovery is over.
    let over = disclose(&http, &known, &right);
    over.assert_refused(401, "recovery_expired");

    // The ledger is disclosed to the right key, but a finish authorized by another key is
    // refused (the entry itself carries the right signature).
    let recovery = start(&http, USERNAME, NEW_PASSWORD);
    let (_, state) = verified_ledger(&disclose(&http, &recovery, &right), &right);
    let id = recovery.id;
    let forged = build_finish(
        recovery,
        NEW_PASSWORD,
        &state,
        &desktop,
        vec![laptop.device_id()],
        &right,
        &wrong,
    );
    let refused = send_finish(&http, &id, &forged);
    assert_eq!(refused.status, 403, "{:?}", refused.json());
    assert_eq!(refused.error_code(), "recovery_refused");
    // The id is spent: even a correctly authorized finish with it is refused now.
    let mut fixed = forged;
    let message = recovery_authorization_message(
        &account.account_id,
        &id,
        &fixed.upload,
        &fixed.entry.hash(),
    );
    fixed.recovery_signature = right.sign(&message).to_bytes().to_vec();
    let replay = send_finish(&http, &id, &fixed);
    replay.assert_refused(401, "recovery_expired");

    // An entry signed by another recovery key, even with a valid authorization, is refused by
    // the ledger rules.
    let recovery = start(&http, USERNAME, NEW_PASSWORD);
    let id = recovery.id;
    let bad_entry = build_finish(
        recovery,
        NEW_PASSWORD,
        &state,
        &desktop,
        vec![],
        &wrong,
        &right,
    );
    let refused = send_finish(&http, &id, &bad_entry);
    assert_eq!(refused.status, 400, "{:?}", refused.json());
    assert_eq!(refused.error_code(), "invalid_ledger_entry");
    // A device signature that does not cover the authorization is refused too.
    let recovery = start(&http, USERNAME, NEW_PASSWORD);
    let id = recovery.id;
    let mut unbound = build_finish(
        recovery,
        NEW_PASSWORD,
        &state,
        &desktop,
        vec![],
        &right,
        &right,
    );
    unbound.device_signature = desktop.sign(b"something else").to_bytes().to_vec();
    let refused = send_finish(&http, &id, &unbound);
    refused.assert_refused(401, "bad_signature");

    // Nothing changed: the old password, the old session and the head all stand.
    assert!(password_accepted(&http, PASSWORD));
    assert!(!password_accepted(&http, NEW_PASSWORD));
    assert_eq!(ledger(&http, &session, laptop).head(), head);
    let again = login(&http, USERNAME, PASSWORD, laptop).unwrap();
    assert_eq!(again.kind, "full");
    let sent = http.all_sent();
    assert!(!contains(&sent, NEW_PASSWORD.as_bytes()));

    // Malformed input is a precise 400 and spends nothing.
    let malformed = http.post_json(
        "/v1/recovery/finish",
        &json!({ "recovery_id": "!!", "registration_upload": "", "entry": "",
                 "recovery_signature": "", "device_signature": "" }),
    );
    malformed.assert_refused(400, "malformed_request");

    // Starts are throttled per account, unknown usernames alike.
    let mut limited = None;
    for _ in 0..12 {
        let attempt = start(&http, "nobody.here", NEW_PASSWORD);
        if attempt.reply.status != 200 {
            limited = Some(attempt.reply);
            break;
        }
    }
    let limited = limited.expect("never rate limited");
    assert_eq!(limited.status, 429);
    assert_eq!(limited.error_code(), "rate_limited");
    assert!(limited.header("retry-after").is_some());
}

#[test]
fn a_stale_head_is_a_conflict_and_a_rotated_phrase_no_longer_recovers() {
    let server = Service::start();
    let http = Http::new(server.addr);
    let (account, session) = enigm::signed_up(&http, USERNAME, PASSWORD);
    let laptop = &account.device;
    let old_key = account.phrase.recovery_key();
    let desktop = DeviceSecrets::generate(&mut OsRng);

    // A recovery reads the ledger; meanwhile the laptop adds a phone.
    let recovery = start(&http, USERNAME, NEW_PASSWORD);
    let (_, stale) = verified_ledger(&disclose(&http, &recovery, &old_key), &old_key);
    add_device(&http, &session, account.account_id, laptop);
    let current = ledger(&http, &session, laptop).head();
    let id = recovery.id;
    let finish = build_finish(
        recovery,
        NEW_PASSWORD,
        &stale,
        &desktop,
        vec![],
        &old_key,
        &old_key,
    );
    let conflict = send_finish(&http, &id, &finish);
    assert_eq!(conflict.status, 409, "{:?}", conflict.json());
    assert_eq!(conflict.error_code(), "ledger_conflict");
    assert_eq!(conflict.json()["error"]["head"]["seq"], current.seq);
    assert_eq!(
        conflict.json()["error"]["head"]["hash"],
        current.hash.to_hex()
    );
    assert!(password_accepted(&http, PASSWORD));
    assert_eq!(ledger(&http, &session, laptop).head(), current);

    // The laptop regenerates the phrase: a RotateRecovery through the ordinary append.
    let new_phrase = RecoveryPhrase::generate(&mut OsRng);
    let new_key = new_phrase.recovery_key();
    let state = ledger(&http, &session, laptop);
    let mut rotate = state.next_entry(EntryKind::RotateRecovery {
        new_recovery_pub: new_key.public(),
    });
    rotate.sign_device(&account.account_id, laptop);
    rotate.sign_with(
        &account.account_id,
        Signer::NewRecovery,
        new_key.signing_key(),
    );
    append(&http, &session, laptop, &rotate);

    // The old phrase no longer recovers; the new one does.
    let recovery = start(&http, USERNAME, NEW_PASSWORD);
    let refused = disclose(&http, &recovery, &old_key);
    refused.assert_refused(403, "recovery_refused");
    let recovered = recover(&http, &new_phrase, &desktop, vec![]);
    assert_eq!(recovered.status, 201, "{:?}", recovered.json());
    assert!(password_accepted(&http, NEW_PASSWORD));
    let stale_session = get(&http, &session, laptop, "/v1/ledger");
    assert_eq!(stale_session.error_code(), "session_before_recovery");
    // The laptop was not revoked: it signs in with the new password and keeps working.
    let laptop_again = login(&http, USERNAME, NEW_PASSWORD, laptop).unwrap();
    let after = ledger(&http, &laptop_again, laptop);
    assert_eq!(after.recovery_epoch(), 1);
    assert_eq!(after.active_devices().count(), 3);
}
