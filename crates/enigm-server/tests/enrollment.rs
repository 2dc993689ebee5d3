//! The enrollment relay (DESIGN §7) against the real `enigm server`: a new device B (restricted
//! session) and an active device A run enigm-core's SAS through the service, compare the short
//! codes, exchange MACs, append `AddDevice` and hand over the sealed key; and every way to stop
//! or abuse it (reject, cancel by either side, replays, steps out of order, the wrong device,
//! another account, limits) is refused with a precise code. Expiry is tested in process on a
//! manual clock (`crates/enigm-server/tests/expiries.rs`).
//!
//! Every test runs on SQLite and on PostgreSQL (in a schema of its own); the PostgreSQL variants
//! are ignored unless asked for (`--include-ignored`, with `ENIGM_TEST_POSTGRES_URL` set, as
//! `cargo xtask test` does).

use crate::common;

use common::enigm::{self, Device, b64, login, sign_up, unb64};
use common::relay::{
    PASSWORD, Requested, accept, b32, connect, create_body, expect_event, id_bytes, new_device,
    request, updated,
};
use common::{Http, Service, contains, fresh_postgres_url};
use ed25519_dalek::Signature;
use enigm_core::audit::AuditAction;
use enigm_core::identity::{DeviceId, DeviceSecrets, SigningPublicKey};
use enigm_core::ledger::{
    EntryHash, EntryKind, EntrySignature, Head, LedgerEntry, LedgerState, Signer, verify_chain,
};
use enigm_core::sas::{
    EnrollmentContext, LedgerHeadClaim, NewDeviceCommitted, SasMac, SasPublicKey,
};
use enigm_core::sync_copy::SignedSyncKey;
use enigm_core::sync_key::SyncKey;
use enigm_server::push::PushEvent;
use rand_core::OsRng;
use serde_json::{Value, json};

/// The account's verified ledger as `device` reads it.
fn ledger(http: &Http, device: &Device) -> LedgerState {
    let page = device.get(http, "/v1/ledger");
    let entries = enigm::page_entries(&page);
    verify_chain(&entries).unwrap()
}

/// The whole flow, both sides driven by enigm-core's SAS types, ending with B in the ledger
/// and holding the sealed key; then replays of every step.
async fn happy_path(server: &Service) {
    let http = Http::new(server.addr);
    let (account, a) = sign_up(&http, "enroll", PASSWORD);
    let b = new_device(&http, &account);
    // The account's sync key is at epoch 1, held by A.
    let sync_key = SyncKey::generate(&mut OsRng, 1);
    // Signed by A; the relay checks neither the signature nor the (placeholder) head.
    let seal = |key: &SyncKey, to: &DeviceSecrets| {
        let head = Head {
            seq: 0,
            hash: EntryHash::ZERO,
        };
        SignedSyncKey::seal(
            key,
            &mut OsRng,
            &account.account_id,
            &to.public(),
            &a.secrets,
            head,
        )
        .as_bytes()
        .to_vec()
    };
    let first = json!({ "epoch": 1, "copies": [{
        "device_id": a.secrets.device_id().to_hex(),
        "sealed": b64(&seal(&sync_key, &a.secrets)),
    }] });
    a.post(&http, "/v1/sync-keys", first, 201);
    let mut a_socket = connect(server.addr, &a).await;
    // B listens on its restricted session.
    let mut b_socket = connect(server.addr, &b).await;

    // 1. B commits and asks.
    let Requested { id, committed } = request(&http, &b);
    expect_event(
        &mut a_socket,
        &PushEvent::EnrollmentRequested { id: id.clone() },
    )
    .await;
    // Re-posting the same request (a lost reply) answers it again.
    let again = b.post(&http, "/v1/enrollments", create_body(&b, &committed), 200);
    assert_eq!(again["id"], id);
    let path = |step: &str| format!("/v1/enrollments/{id}/{step}");
    // A step refused as `POST /v1/enrollments/{id}/{step}`, with its status and error code.
    let refused = |device: &Device, step: &str, body: Value, status: u16, code: &str| {
        device.refused(&http, "POST", &path(step), body, status, code)
    };

    // 2. A sees it with what the user needs to decide, and accepts.
    let listed = a.get(&http, "/v1/enrollments");
    let requests = listed["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 1);
    let view = &requests[0];
    assert_eq!(view["id"], id);
    assert_eq!(view["platform"], "linux");
    assert_eq!(view["device_id"], b.secrets.device_id().to_hex());
    assert_eq!(view["fingerprint"], b.secrets.device_id().fingerprint());
    assert!(view["created_at"].as_u64().unwrap() <= enigm::now());
    let offered = accept(&http, &account, &a, view);
    expect_event(&mut b_socket, &updated(&id, "accepted")).await;

    // 3. B reveals; both derive the code.
    let seen = b.get(&http, &format!("/v1/enrollments/{id}"));
    assert_eq!(seen["state"], "accepted");
    assert_eq!(
        seen["approver"]["device_id"],
        a.secrets.device_id().to_hex()
    );
    let context = EnrollmentContext::new(
        account.account_id,
        &id_bytes(&id),
        DeviceId::from_hex(seen["approver"]["device_id"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let (b_ephemeral, b_exchanged) = committed
        .receive_existing_key(
            context,
            SasPublicKey::from_bytes(b32(&seen["approver"]["ephemeral"])),
        )
        .unwrap();
    let reveal = json!({ "ephemeral": b64(b_ephemeral.as_bytes()) });
    let reply = b.post(&http, &path("reveal"), reveal.clone(), 200);
    assert_eq!(reply["state"], "revealed");
    expect_event(&mut a_socket, &updated(&id, "revealed")).await;

    let seen = a.get(&http, &format!("/v1/enrollments/{id}"));
    let a_exchanged = offered
        .receive_new_device_key(SasPublicKey::from_bytes(b32(&seen["new_ephemeral"])))
        .unwrap();
    // The users compare the codes: they match.
    assert_eq!(a_exchanged.short_code(), b_exchanged.short_code());
    assert_eq!(
        a_exchanged.short_code().emoji(),
        b_exchanged.short_code().emoji()
    );

    // 4. A confirms and MACs its key and the head; B verifies, signs AddDevice and MACs.
    let a_confirmed = a_exchanged.confirm();
    let state = ledger(&http, &a);
    let head = LedgerHeadClaim {
        seq: state.head().seq,
        hash: state.head().hash.0,
    };
    let a_mac = a_confirmed.mac(&a.secrets.public().signing, &head).unwrap();
    let approver_mac = json!({
        "mac": b64(a_mac.as_bytes()),
        "head": { "seq": head.seq, "hash": hex::encode(head.hash) },
    });
    // Out of order: B's MAC before A's.
    let early = json!({ "mac": b64(&[0; 32]), "signature": b64(&[0; 64]) });
    refused(&b, "mac", early, 409, "enrollment_out_of_order");
    let reply = a.post(&http, &path("mac"), approver_mac.clone(), 200);
    assert_eq!(reply["state"], "approver_confirmed");
    expect_event(&mut b_socket, &updated(&id, "approver_confirmed")).await;

    let seen = b.get(&http, &format!("/v1/enrollments/{id}"));
    let b_confirmed = b_exchanged.confirm();
    let b_mac = b_confirmed.mac();
    let vouched = LedgerHeadClaim {
        seq: seen["approver_mac"]["head"]["seq"].as_u64().unwrap(),
        hash: hex::decode(seen["approver_mac"]["head"]["hash"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap(),
    };
    let verified = b_confirmed
        .verify_existing_device(
            SigningPublicKey::from_bytes(&b32(&seen["approver"]["signing_key"])).unwrap(),
            vouched,
            &SasMac::from_bytes(b32(&seen["approver_mac"]["mac"])),
        )
        .unwrap();
    assert_eq!(verified.head, head);
    let b_entry = LedgerEntry::new(
        vouched.seq + 1,
        EntryHash(vouched.hash),
        EntryKind::AddDevice {
            device: b.secrets.public(),
            approved_by: DeviceId::derive(&verified.key),
            replaces: None,
        },
    );
    let b_signature = b
        .secrets
        .sign(&b_entry.signing_message(&account.account_id));
    let new_device_mac = json!({
        "mac": b64(b_mac.as_bytes()),
        "signature": b64(&b_signature.to_bytes()),
    });
    let reply = b.post(&http, &path("mac"), new_device_mac.clone(), 200);
    assert_eq!(reply["state"], "confirmed");

    // 5. A verifies B's MAC, appends AddDevice with both signatures, hands over the key.
    let seen = a.get(&http, &format!("/v1/enrollments/{id}"));
    let verified_new = a_confirmed
        .verify_new_device(&SasMac::from_bytes(b32(&seen["new_device_mac"]["mac"])))
        .unwrap();
    let sealed = seal(&sync_key, &b.secrets);
    let complete = json!({ "sealed_key": b64(&sealed) });
    // Not before the device is in the ledger.
    refused(
        &a,
        "complete",
        complete.clone(),
        409,
        "enrollment_not_in_ledger",
    );
    let mut add = state.next_entry(EntryKind::AddDevice {
        device: verified_new.device,
        approved_by: a.secrets.device_id(),
        replaces: None,
    });
    add.sign_device(&account.account_id, &a.secrets);
    let signature: [u8; 64] = unb64(seen["new_device_mac"]["signature"].as_str().unwrap())
        .try_into()
        .unwrap();
    add.insert_signature(EntrySignature {
        signer: Signer::Device(b.secrets.device_id()),
        signature: Signature::from_bytes(&signature),
    });
    // A built exactly the entry B signed.
    assert_eq!(
        add.signing_message(&account.account_id),
        b_entry.signing_message(&account.account_id)
    );
    a.post(
        &http,
        "/v1/ledger",
        json!({ "entries": [b64(&add.encode())] }),
        201,
    );
    // The key handed over must be the account's current epoch, sealed to B.
    for (key, to, code) in [
        (
            SyncKey::generate(&mut OsRng, 2),
            &b.secrets,
            "stale_sync_epoch",
        ),
        (
            SyncKey::generate(&mut OsRng, 1),
            &a.secrets,
            "sync_key_copies_mismatch",
        ),
    ] {
        refused(
            &a,
            "complete",
            json!({ "sealed_key": b64(&seal(&key, to)) }),
            409,
            code,
        );
    }
    let reply = a.post(&http, &path("complete"), complete.clone(), 200);
    assert_eq!(reply["state"], "completed");
    assert!(reply["sealed_key"].is_null(), "the key is for B only");
    expect_event(&mut b_socket, &updated(&id, "completed")).await;

    // 6. B fetches the sealed key, signs in again and is a full device.
    let seen = b.get(&http, &format!("/v1/enrollments/{id}"));
    assert_eq!(seen["state"], "completed");
    assert_eq!(unb64(seen["sealed_key"].as_str().unwrap()), sealed);
    let b_full = login(&http, &account.username, PASSWORD, &b.secrets).unwrap();
    assert_eq!(b_full.kind, "full");
    let b_full = Device {
        secrets: DeviceSecrets::from_bytes(&b.secrets.to_bytes()),
        session: b_full,
    };
    // The handed-over key is also B's copy of the current epoch, and opens for B.
    let copy = b_full.get(&http, "/v1/sync-keys/mine");
    assert_eq!(copy["epoch"], 1);
    let copy = SignedSyncKey::from_bytes(&unb64(copy["sealed"].as_str().unwrap())).unwrap();
    assert_eq!(copy.as_bytes(), sealed.as_slice());
    let opened = copy
        .sealed()
        .open(&account.account_id, &b_full.secrets)
        .unwrap();
    assert_eq!(opened.to_bytes(), sync_key.to_bytes());
    let after = ledger(&http, &b_full);
    assert_eq!(after.head().hash, add.hash());
    assert_eq!(after.active_devices().count(), 2);
    assert!(
        a.get(&http, "/v1/enrollments")["requests"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Replays: every step re-posted as it was is answered with the same state...
    let accept_again = json!({ "ephemeral": b64(&offered_key(&seen)) });
    for (device, step, message) in [
        (&a, "accept", accept_again),
        (&b, "reveal", reveal),
        (&a, "mac", approver_mac),
        (&b, "mac", new_device_mac),
        (&a, "complete", complete),
    ] {
        let replayed = device.post(&http, &path(step), message, 200);
        assert_eq!(replayed["state"], "completed", "{step}");
    }
    // ... and a different message for a taken step is a conflict; a finished request is closed.
    let other_key = json!({ "ephemeral": b64(&[9; 32]) });
    for (device, step, message) in [
        (&a, "accept", other_key.clone()),
        (&b, "reveal", other_key),
        (&a, "complete", json!({ "sealed_key": b64(&[1; 8]) })),
    ] {
        refused(device, step, message, 409, "enrollment_conflict");
    }
    let closed = refused(&b, "cancel", json!({}), 409, "enrollment_closed");
    assert_eq!(closed["error"]["state"], "completed");

    // Audited with pseudonyms: requested, approved, completed.
    let actions = a.audit_actions(&http);
    for wanted in [
        AuditAction::EnrollmentRequested,
        AuditAction::EnrollmentApproved,
        AuditAction::EnrollmentCompleted,
    ] {
        assert!(actions.contains(&wanted), "{wanted:?} in {actions:?}");
    }
    // Logs name no username, device id or key.
    let logs = server.logs();
    for secret in [
        account.username.as_bytes(),
        b.secrets.device_id().to_hex().as_bytes(),
        b64(b.secrets.public().signing.as_bytes()).as_bytes(),
        hex::encode(b.secrets.public().agreement.as_bytes()).as_bytes(),
    ] {
        assert!(!contains(logs.as_bytes(), secret), "a secret in the logs");
    }
    assert!(logs.contains("enrollment"), "steps are logged");
}

/// A's ephemeral key as the view shows it.
fn offered_key(view: &Value) -> Vec<u8> {
    unb64(view["approver"]["ephemeral"].as_str().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_by_approval_end_to_end() {
    let server = Service::start();
    happy_path(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL; run by cargo xtask test"]
async fn enrollment_by_approval_end_to_end_on_postgres() {
    // A schema of its own: rate limits and accounts left by other runs on a shared database
    // do not leak in.
    happy_path(&Service::on_backend(true)).await;
}

/// One `#[test]` on SQLite and one, ignored unless asked for, on PostgreSQL.
macro_rules! on_both_backends {
    ($check:ident) => {
        mod $check {
            #[test]
            fn sqlite() {
                super::$check(false);
            }

            #[test]
            #[ignore = "needs PostgreSQL; run by cargo xtask test"]
            fn postgres() {
                super::$check(true);
            }
        }
    };
}

on_both_backends!(reject_and_cancel_by_either_side_close_the_request);
on_both_backends!(steps_out_of_order_wrong_parties_and_other_accounts_are_refused);
on_both_backends!(open_requests_and_creations_are_limited);

fn reject_and_cancel_by_either_side_close_the_request(postgres: bool) {
    let server = Service::on_backend(postgres);
    let http = Http::new(server.addr);
    let (account, a) = sign_up(&http, "enroll", PASSWORD);
    let b = new_device(&http, &account);
    let path = |id: &str, step: &str| format!("/v1/enrollments/{id}/{step}");
    // A step refused as `POST /v1/enrollments/{id}/{step}`, with its status and error code.
    let refused = |device: &Device, id: &str, step: &str, body: Value, status: u16, code: &str| {
        device.refused(&http, "POST", &path(id, step), body, status, code)
    };

    // A rejects: B sees it; nothing more can happen; a repeat is fine.
    let first = request(&http, &b);
    let reply = a.post(&http, &path(&first.id, "reject"), json!({}), 200);
    assert_eq!(reply["state"], "rejected");
    a.post(&http, &path(&first.id, "reject"), Value::Null, 200);
    assert_eq!(
        b.get(&http, &format!("/v1/enrollments/{}", first.id))["state"],
        "rejected"
    );
    let reveal = json!({ "ephemeral": b64(&[1; 32]) });
    let closed = refused(
        &b,
        &first.id,
        "reveal",
        reveal.clone(),
        409,
        "enrollment_closed",
    );
    assert_eq!(closed["error"]["state"], "rejected");
    let accept_body = json!({ "ephemeral": b64(&[2; 32]) });
    refused(
        &a,
        &first.id,
        "accept",
        accept_body.clone(),
        409,
        "enrollment_closed",
    );

    // B cancels after A accepted: A's next step is refused.
    let second = request(&http, &b);
    let view = a.get(&http, &format!("/v1/enrollments/{}", second.id));
    accept(&http, &account, &a, &view);
    // Accepted already: rejecting now is a different decision for the same step.
    refused(
        &a,
        &second.id,
        "reject",
        json!({}),
        409,
        "enrollment_conflict",
    );
    // B's user saw a different code. A reason the service does not know changes nothing.
    refused(
        &b,
        &second.id,
        "cancel",
        json!({ "reason": "bored" }),
        400,
        "malformed_request",
    );
    let reply = b.post(
        &http,
        &path(&second.id, "cancel"),
        json!({ "reason": "codes_differ" }),
        200,
    );
    assert_eq!(
        (
            reply["state"].as_str(),
            reply["cancelled_by"].as_str(),
            reply["cancel_reason"].as_str()
        ),
        (Some("cancelled"), Some("new_device"), Some("codes_differ"))
    );
    // A repeat is answered as done; the first reason stands, and A reads it.
    b.post(&http, &path(&second.id, "cancel"), json!({}), 200);
    let seen_by_a = a.get(&http, &format!("/v1/enrollments/{}", second.id));
    assert_eq!(seen_by_a["cancel_reason"], "codes_differ");
    let mac = json!({ "mac": b64(&[0; 32]), "head": { "seq": 0, "hash": "00".repeat(32) } });
    refused(&a, &second.id, "mac", mac, 409, "enrollment_closed");

    // A cancels before anything else: B's reveal is refused.
    let third = request(&http, &b);
    let reply = a.post(&http, &path(&third.id, "cancel"), json!({}), 200);
    assert_eq!(reply["cancelled_by"], "existing_device");
    assert_eq!(reply["cancel_reason"], "withdrawn");
    refused(&b, &third.id, "reveal", reveal, 409, "enrollment_closed");
    assert!(
        a.get(&http, "/v1/enrollments")["requests"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // The audit trail has the rejection and the cancellations.
    let actions = a.audit_actions(&http);
    assert!(actions.contains(&AuditAction::EnrollmentRejected));
    assert_eq!(
        actions
            .iter()
            .filter(|action| **action == AuditAction::EnrollmentCancelled)
            .count(),
        2
    );
}

fn steps_out_of_order_wrong_parties_and_other_accounts_are_refused(postgres: bool) {
    let server = Service::on_backend(postgres);
    let http = Http::new(server.addr);
    let (account, a) = sign_up(&http, "enroll", PASSWORD);
    let b = new_device(&http, &account);
    let Requested { id, .. } = request(&http, &b);
    let path = |step: &str| format!("/v1/enrollments/{id}/{step}");
    // A step refused as `POST /v1/enrollments/{id}/{step}`, with its status and error code.
    let refused = |device: &Device, step: &str, body: Value, status: u16, code: &str| {
        device.refused(&http, "POST", &path(step), body, status, code)
    };

    // Out of order.
    let reveal = json!({ "ephemeral": b64(&[1; 32]) });
    refused(&b, "reveal", reveal.clone(), 409, "enrollment_out_of_order");
    let approver_mac =
        json!({ "mac": b64(&[0; 32]), "head": { "seq": 0, "hash": "00".repeat(32) } });
    refused(
        &a,
        "mac",
        approver_mac.clone(),
        409,
        "enrollment_out_of_order",
    );
    refused(
        &a,
        "complete",
        json!({ "sealed_key": b64(&[1; 8]) }),
        409,
        "enrollment_out_of_order",
    );
    // B cannot take A's steps (its restricted session may not approve at all).
    let accept_body = json!({ "ephemeral": b64(&[2; 32]) });
    refused(
        &b,
        "accept",
        accept_body.clone(),
        403,
        "enrollment_wrong_party",
    );
    // B cannot list the account's requests.
    let reply = b.call(&http, "GET", "/v1/enrollments", &Value::Null);
    reply.assert_refused(403, "trust_denied");

    // A second active device of the account cannot continue what A accepted.
    let phone = DeviceSecrets::generate(&mut OsRng);
    let state = ledger(&http, &a);
    let mut add = state.next_entry(EntryKind::AddDevice {
        device: phone.public(),
        approved_by: a.secrets.device_id(),
        replaces: None,
    });
    add.sign_device(&account.account_id, &a.secrets);
    add.sign_device(&account.account_id, &phone);
    a.post(
        &http,
        "/v1/ledger",
        json!({ "entries": [b64(&add.encode())] }),
        201,
    );
    let phone = Device {
        session: login(&http, &account.username, PASSWORD, &phone).unwrap(),
        secrets: phone,
    };
    let view = a.get(&http, &format!("/v1/enrollments/{id}"));
    accept(&http, &account, &a, &view);
    refused(&phone, "accept", accept_body, 403, "enrollment_wrong_party");
    refused(&phone, "cancel", json!({}), 403, "enrollment_wrong_party");
    // Malformed messages change nothing.
    refused(
        &b,
        "reveal",
        json!({ "ephemeral": b64(&[1; 31]) }),
        400,
        "malformed_request",
    );
    refused(
        &b,
        "reveal",
        json!({ "ephemeral": b64(&[1; 32]), "extra": 1 }),
        400,
        "malformed_request",
    );
    assert_eq!(
        b.get(&http, &format!("/v1/enrollments/{id}"))["state"],
        "accepted"
    );

    // Another account's device sees nothing and can do nothing: 404, as for an unknown id.
    let (_, stranger) = sign_up(&http, "stranger", PASSWORD);
    let reply = stranger.call(&http, "GET", &format!("/v1/enrollments/{id}"), &Value::Null);
    reply.assert_refused(404, "not_found");
    for step in ["accept", "reject", "cancel", "mac", "complete"] {
        let reply = stranger.call(&http, "POST", &path(step), &json!({}));
        assert_eq!(
            (reply.status, reply.error_code().as_str()),
            (404, "not_found"),
            "{step}"
        );
    }
    assert!(
        stranger.get(&http, "/v1/enrollments")["requests"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let unknown = format!("/v1/enrollments/{}", "ab".repeat(16));
    let reply = a.call(&http, "GET", &unknown, &Value::Null);
    assert_eq!(reply.status, 404);
    let reply = a.call(&http, "GET", "/v1/enrollments/not-an-id", &Value::Null);
    assert_eq!(reply.error_code(), "malformed_request");

    // A request must carry the session's own key and a plain platform; `replaces` must name a
    // device of the account that can be replaced (an active one)...
    let other = new_device(&http, &account);
    let committed = NewDeviceCommitted::start(&mut OsRng, other.secrets.public());
    for (field, value) in [
        (
            "signing_key",
            json!(b64(b.secrets.public().signing.as_bytes())),
        ),
        ("platform", json!("linux\u{1b}[31m")),
        ("replaces", json!("ab".repeat(16))),
    ] {
        let mut body = create_body(&other, &committed);
        body[field] = value;
        other.refused(
            &http,
            "POST",
            "/v1/enrollments",
            body,
            400,
            "malformed_request",
        );
    }
    // ... and is shown to the approver as asked.
    let mut body = create_body(&other, &committed);
    body["replaces"] = json!(phone.secrets.device_id().to_hex());
    let created = other.post(&http, "/v1/enrollments", body, 201);
    assert_eq!(created["replaces"], phone.secrets.device_id().to_hex());
    let listed = a.get(
        &http,
        &format!("/v1/enrollments/{}", created["id"].as_str().unwrap()),
    );
    assert_eq!(listed["replaces"], phone.secrets.device_id().to_hex());
    // ... but not approved by the device it replaces, whose session ends when the entry lands,
    // before it could hand the sync key over; the request stays open for another device.
    let shown = format!("/v1/enrollments/{}", created["id"].as_str().unwrap());
    phone.refused(
        &http,
        "POST",
        &format!("{shown}/accept"),
        json!({ "ephemeral": b64(&[7; 32]) }),
        403,
        "enrollment_self_replacement",
    );
    assert_eq!(a.get(&http, &shown)["state"], "requested");
    // An active device does not enroll.
    a.refused(
        &http,
        "POST",
        "/v1/enrollments",
        create_body(&a, &committed),
        403,
        "trust_denied",
    );
}

fn open_requests_and_creations_are_limited(postgres: bool) {
    let server = Service::start_with(|config| {
        config.enrollment_max_open = 2;
        if postgres {
            config.database = Some(fresh_postgres_url());
        }
    });
    let http = Http::new(server.addr);
    let (account, _a) = sign_up(&http, "enroll", PASSWORD);
    let first = new_device(&http, &account);
    let second = new_device(&http, &account);
    let third = new_device(&http, &account);
    let mut attempts = 0;

    let one = request(&http, &first);
    request(&http, &second);
    attempts += 2;
    // A new request from `device`, refused as a conflict with `code`.
    let create_refused = |device: &Device, code: &str| {
        let committed = NewDeviceCommitted::start(&mut OsRng, device.secrets.public());
        let body = create_body(device, &committed);
        device.refused(&http, "POST", "/v1/enrollments", body, 409, code)
    };
    let refused = create_refused(&third, "enrollment_limit_reached");
    assert_eq!(refused["error"]["max"], 2);
    attempts += 1;
    // One open request per device: a different one names the open one.
    let refused = create_refused(&first, "enrollment_already_open");
    assert_eq!(refused["error"]["id"], one.id);
    attempts += 1;

    // Creations are rate limited per account (every attempt that passed validation counts).
    first.post(
        &http,
        &format!("/v1/enrollments/{}/cancel", one.id),
        json!({}),
        200,
    );
    loop {
        let committed = NewDeviceCommitted::start(&mut OsRng, first.secrets.public());
        let reply = first.call(
            &http,
            "POST",
            "/v1/enrollments",
            &create_body(&first, &committed),
        );
        attempts += 1;
        // Ten are free; the eleventh starts the backoff, so the twelfth must wait.
        if attempts <= 11 {
            assert_eq!(reply.status, 201, "{:?}", reply.json());
            let id = reply.json()["id"].as_str().unwrap().to_owned();
            first.post(
                &http,
                &format!("/v1/enrollments/{id}/cancel"),
                json!({}),
                200,
            );
        } else {
            reply.assert_refused(429, "rate_limited");
            assert!(reply.header("retry-after").is_some());
            break;
        }
    }
}
