//! The account sync key on the real `enigm server` (DESIGN §3): epochs move one at a time, each
//! with exactly one sealed copy per active device; a device reads only its own copy; shared
//! items are written only under the current epoch; a suspended or revoked device can read and
//! write none of it; every refusal is precise and changes nothing; rotations are pushed and
//! audited with pseudonyms only.
//!
//! The service sees only opaque bytes, so the copies here are bytes with the sealed key's
//! header (a version byte, then the epoch, big-endian). Every test runs on SQLite and on
//! PostgreSQL (in a schema of its own); the PostgreSQL variants are ignored unless asked for
//! (`--run-ignored`, with `ENIGM_TEST_POSTGRES_URL` set, as `cargo xtask test` does).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::enigm::{self, Account, Session, SignOptions, b64, login, register, signed, unb64};
use common::push::{connect, next_event};
use common::{Http, ServerProcess, contains};
use enigm_core::audit::{AuditAction, AuditRecord};
use enigm_core::identity::DeviceSecrets;
use enigm_core::ledger::{EntryKind, RevokeReason};
use enigm_server::push::PushEvent;
use rand_core::{OsRng, RngCore};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple 42";

/// A device with its session.
struct Device {
    secrets: DeviceSecrets,
    session: Session,
}

impl Device {
    fn id(&self) -> String {
        self.secrets.device_id().to_hex()
    }

    /// Sends a signed request with a JSON body (`Value::Null` for none).
    fn call(&self, http: &Http, method: &str, path: &str, body: &Value) -> common::Response {
        let bytes = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        signed(
            http,
            &self.session,
            &self.secrets,
            method,
            path,
            &bytes,
            &SignOptions::default(),
        )
    }

    /// Expects `status`; returns the body.
    fn expect(&self, http: &Http, method: &str, path: &str, body: Value, status: u16) -> Value {
        let reply = self.call(http, method, path, &body);
        assert_eq!(reply.status, status, "{method} {path}: {:?}", reply.json());
        reply.json()
    }

    /// Expects a refusal with `status` and `code`; returns the body.
    fn refused(
        &self,
        http: &Http,
        method: &str,
        path: &str,
        body: Value,
        status: u16,
        code: &str,
    ) -> Value {
        let reply = self.call(http, method, path, &body);
        assert_eq!(
            (reply.status, reply.error_code().as_str()),
            (status, code),
            "{method} {path}: {:?}",
            reply.json()
        );
        reply.json()
    }
}

/// Bytes shaped like a sealed key for `epoch` (the service reads only the header).
fn sealed(epoch: u64, tag: u8) -> Vec<u8> {
    let mut bytes = vec![1];
    bytes.extend_from_slice(&epoch.to_be_bytes());
    bytes.extend_from_slice(&[tag; 80]);
    bytes
}

fn copy(device: &Device, epoch: u64, tag: u8) -> Value {
    copy_for(&device.id(), epoch, tag)
}

fn copy_for(device_id: &str, epoch: u64, tag: u8) -> Value {
    json!({ "device_id": device_id, "sealed": b64(&sealed(epoch, tag)) })
}

fn rotation(epoch: u64, copies: Vec<Value>) -> Value {
    json!({ "epoch": epoch, "copies": copies })
}

/// An account with its first device signed in.
fn sign_up(http: &Http) -> (Account, Device) {
    let username = format!("sync-{:016x}", OsRng.next_u64());
    let account = register(http, &username, PASSWORD);
    let session = login(http, &username, PASSWORD, &account.device).unwrap();
    let secrets = DeviceSecrets::from_bytes(&account.device.to_bytes());
    (account, Device { secrets, session })
}

/// Appends one ledger entry of `kind` signed by `by`.
fn change(http: &Http, account: &Account, by: &Device, kind: EntryKind) {
    let state = enigm::ledger(http, &by.session, &by.secrets);
    let mut entry = state.next_entry(kind);
    entry.sign_device(&account.account_id, &by.secrets);
    enigm::append(http, &by.session, &by.secrets, &entry);
}

async fn epochs_copies_and_shared_items(server: ServerProcess) {
    let http = Http::new(server.addr);
    let (account, a) = sign_up(&http);
    let mine = "/v1/sync-keys/mine";

    // Before the first epoch: no copy, no items, and nothing can be written under an epoch.
    a.refused(&http, "GET", mine, Value::Null, 404, "no_sync_key");
    assert_eq!(
        a.expect(&http, "GET", "/v1/shared", Value::Null, 200),
        json!({ "items": [] })
    );
    let label_a = format!("/v1/shared/label.{}", a.id());
    let item = |epoch: u64, tag: u8| json!({ "epoch": epoch, "ciphertext": b64(&[tag; 48]) });
    let stale = a.refused(&http, "PUT", &label_a, item(1, 1), 409, "stale_sync_epoch");
    assert_eq!(stale["error"]["epoch"], 0);

    // The first epoch is 1, with exactly A's copy, sealed at epoch 1.
    let post = |device: &Device, body: Value, status: u16| {
        device.expect(&http, "POST", "/v1/sync-keys", body, status)
    };
    let refuse = |device: &Device, body: Value, code: &str| {
        device.refused(&http, "POST", "/v1/sync-keys", body, 409, code)
    };
    let skipped = refuse(&a, rotation(2, vec![copy(&a, 2, 1)]), "sync_epoch_conflict");
    assert_eq!(skipped["error"]["epoch"], 0);
    let stranger = DeviceSecrets::generate(&mut OsRng).device_id().to_hex();
    for copies in [
        vec![copy_for(&stranger, 1, 1)],
        vec![copy(&a, 1, 1), copy_for(&stranger, 1, 2)],
        vec![copy(&a, 2, 1)],
        vec![copy(&a, 1, 1), copy(&a, 1, 2)],
    ] {
        refuse(&a, rotation(1, copies), "sync_key_copies_mismatch");
    }
    for malformed in [
        rotation(0, vec![copy(&a, 0, 1)]),
        rotation(1, vec![]),
        json!({ "epoch": 1, "copies": [{ "device_id": a.id(), "sealed": b64(&[1; 8]) }] }),
        json!({ "epoch": 1, "copies": [{ "device_id": a.id().to_uppercase(), "sealed": b64(&sealed(1, 1)) }] }),
        json!({ "epoch": 1, "copies": [{ "device_id": a.id(), "sealed": b64(&[1; 2000]) }] }),
        json!({ "epoch": 1, "copies": [copy(&a, 1, 1)], "extra": true }),
    ] {
        a.refused(
            &http,
            "POST",
            "/v1/sync-keys",
            malformed,
            400,
            "malformed_request",
        );
    }
    a.refused(&http, "GET", mine, Value::Null, 404, "no_sync_key");
    assert_eq!(
        post(&a, rotation(1, vec![copy(&a, 1, 1)]), 201),
        json!({ "epoch": 1 })
    );
    let again = refuse(&a, rotation(1, vec![copy(&a, 1, 9)]), "sync_epoch_conflict");
    assert_eq!(again["error"]["epoch"], 1);
    let read = a.expect(&http, "GET", mine, Value::Null, 200);
    assert_eq!(read["epoch"], 1);
    assert_eq!(unb64(read["sealed"].as_str().unwrap()), sealed(1, 1));

    // B joins; a rotation must now include it, and both hear of it.
    let b_secrets = enigm::add_device(&http, &a.session, account.account_id, &a.secrets);
    let b = Device {
        session: login(&http, &account.username, PASSWORD, &b_secrets).unwrap(),
        secrets: b_secrets,
    };
    assert_eq!(b.session.kind, "full");
    b.refused(&http, "GET", mine, Value::Null, 404, "no_sync_key");
    let mut a_socket = connect(&server, &a.session, &a.secrets).await;
    let mut b_socket = connect(&server, &b.session, &b.secrets).await;
    refuse(
        &a,
        rotation(2, vec![copy(&a, 2, 2)]),
        "sync_key_copies_mismatch",
    );
    post(&b, rotation(2, vec![copy(&a, 2, 2), copy(&b, 2, 3)]), 201);
    for socket in [&mut a_socket, &mut b_socket] {
        assert_eq!(
            next_event(socket).await,
            PushEvent::SyncKeyRotated { epoch: 2 }
        );
    }
    // Each device reads its own copy; older epochs stay readable by who held them.
    let read = b.expect(&http, "GET", mine, Value::Null, 200);
    assert_eq!(read["epoch"], 2);
    assert_eq!(unb64(read["sealed"].as_str().unwrap()), sealed(2, 3));
    b.refused(
        &http,
        "GET",
        &format!("{mine}?epoch=1"),
        Value::Null,
        404,
        "no_sync_key",
    );
    let old = a.expect(&http, "GET", &format!("{mine}?epoch=1"), Value::Null, 200);
    assert_eq!(unb64(old["sealed"].as_str().unwrap()), sealed(1, 1));
    a.refused(
        &http,
        "GET",
        &format!("{mine}?since=1"),
        Value::Null,
        400,
        "malformed_request",
    );

    // Shared items: only under the current epoch, named for a device of the account.
    let label_b = format!("/v1/shared/label.{}", b.id());
    let stale = a.refused(&http, "PUT", &label_b, item(1, 4), 409, "stale_sync_epoch");
    assert_eq!(stale["error"]["epoch"], 2);
    for (path, body) in [
        (format!("/v1/shared/label.{stranger}"), item(2, 4)),
        ("/v1/shared/settings".to_owned(), item(2, 4)),
        (
            format!("/v1/shared/label.{}", b.id().to_uppercase()),
            item(2, 4),
        ),
        (label_b.clone(), json!({ "epoch": 2, "ciphertext": "" })),
        (
            label_b.clone(),
            json!({ "epoch": 2, "ciphertext": b64(&[1; 1025]) }),
        ),
    ] {
        a.refused(&http, "PUT", &path, body, 400, "malformed_request");
    }
    a.expect(&http, "PUT", &label_b, item(2, 4), 200);
    let updated = PushEvent::SharedUpdated {
        name: format!("label.{}", b.id()),
    };
    for socket in [&mut a_socket, &mut b_socket] {
        assert_eq!(next_event(socket).await, updated);
    }
    b.expect(&http, "PUT", &label_a, item(2, 5), 200);
    let items = b.expect(&http, "GET", "/v1/shared", Value::Null, 200);
    let mut expected = vec![
        json!({ "name": format!("label.{}", a.id()), "epoch": 2, "ciphertext": b64(&[5; 48]) }),
        json!({ "name": format!("label.{}", b.id()), "epoch": 2, "ciphertext": b64(&[4; 48]) }),
    ];
    expected.sort_by_key(|item| item["name"].as_str().unwrap().to_owned());
    assert_eq!(items, json!({ "items": expected }));

    // A suspended device reads and writes none of it, and is left out of the next epoch.
    change(
        &http,
        &account,
        &a,
        EntryKind::Suspend {
            device: b.secrets.device_id(),
        },
    );
    b.refused(&http, "GET", mine, Value::Null, 403, "trust_denied");
    b.refused(&http, "GET", "/v1/shared", Value::Null, 403, "trust_denied");
    b.refused(&http, "PUT", &label_b, item(2, 6), 403, "trust_denied");
    b.refused(
        &http,
        "POST",
        "/v1/sync-keys",
        rotation(3, vec![copy(&a, 3, 6)]),
        403,
        "trust_denied",
    );
    refuse(
        &a,
        rotation(3, vec![copy(&a, 3, 6), copy(&b, 3, 7)]),
        "sync_key_copies_mismatch",
    );
    post(&a, rotation(3, vec![copy(&a, 3, 6)]), 201);

    // Revoked: its session is over; the service never hands it the new epoch.
    change(
        &http,
        &account,
        &a,
        EntryKind::Revoke {
            device: b.secrets.device_id(),
            reason: RevokeReason::Lost,
        },
    );
    let gone = b.call(&http, "GET", mine, &Value::Null);
    assert_eq!(gone.status, 401, "{:?}", gone.json());
    let relogin = login(&http, &account.username, PASSWORD, &b.secrets);
    let refused = relogin.expect_err("a revoked device cannot sign in");
    assert_eq!(refused.error_code(), "device_removed");
    post(&a, rotation(4, vec![copy(&a, 4, 8)]), 201);

    // Rotations are audited, with pseudonyms only; logs name no username or device id.
    let audit = a.expect(&http, "GET", "/v1/audit", Value::Null, 200);
    let rotations = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| serde_json::from_value::<AuditRecord>(record["record"].clone()).unwrap())
        .filter(|record| record.action == AuditAction::SyncKeyRotated)
        .count();
    assert_eq!(rotations, 4);
    let logs = server.stderr();
    for secret in [account.username.clone(), a.id(), b.id()] {
        assert!(
            !contains(logs.as_bytes(), secret.as_bytes()),
            "a secret in the logs"
        );
    }
    assert!(logs.contains("sync key rotated"), "rotations are logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_key_epochs_copies_and_shared_items() {
    epochs_copies_and_shared_items(ServerProcess::start()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL; run by cargo xtask test"]
async fn sync_key_epochs_copies_and_shared_items_on_postgres() {
    let url = common::fresh_postgres_url();
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start_in(&dir.path().join("data"), &["--database", &url]);
    epochs_copies_and_shared_items(server).await;
}
