//! The account sync key on the service (DESIGN §3): epochs move one at a time, each
//! with exactly one sealed copy per active device; a device reads only its own copy; shared
//! items are written only under the current epoch; a suspended or revoked device can read and
//! write none of it; every refusal is precise and changes nothing; rotations are pushed and
//! audited with pseudonyms only.
//!
//! The copies are real signed, sealed keys (enigm-core's `SignedSyncKey::seal`): the service
//! reads their public header (epoch, recipient, signer, head), checks neither signature nor
//! head, and can open none of them. Every test runs on SQLite and on
//! PostgreSQL (in a schema of its own); the PostgreSQL variants are ignored unless asked for
//! (`--run-ignored`, with `ENIGM_TEST_POSTGRES_URL` set, as `cargo xtask test` does). The
//! engine's side, through the real `enigm` binary, is enigm-cli's `sync_keys.rs`.

use crate::common;

use common::enigm::{self, Account, Device, b64, login, sign_up, unb64};
use common::push::{connect, next_event};
use common::{Http, Service, contains};
use enigm_core::audit::AuditAction;
use enigm_core::identity::DeviceSecrets;
use enigm_core::ledger::{EntryHash, EntryKind, Head, RevokeReason};
use enigm_core::sync_copy::SignedSyncKey;
use enigm_core::sync_key::{SealedItem, SyncKey};
use enigm_server::push::PushEvent;
use rand_core::OsRng;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple 42";

/// `key` sealed to `to` and signed by `by`. The head is a placeholder: the service checks
/// neither it nor the signature (the recipient does: enigm-cli's `sync_keys.rs`).
fn seal(account: &Account, key: &SyncKey, to: &DeviceSecrets, by: &DeviceSecrets) -> Vec<u8> {
    let head = Head {
        seq: 0,
        hash: EntryHash::ZERO,
    };
    SignedSyncKey::seal(key, &mut OsRng, &account.account_id, &to.public(), by, head)
        .as_bytes()
        .to_vec()
}

/// A fresh key of `epoch` sealed to `to`, signed by `to`.
fn sealed(account: &Account, epoch: u64, to: &DeviceSecrets) -> Vec<u8> {
    seal(account, &SyncKey::generate(&mut OsRng, epoch), to, to)
}

/// A copy for `for_` (named by its id) holding `sealed`.
fn copy_of(for_: &DeviceSecrets, sealed: &[u8]) -> Value {
    json!({ "device_id": for_.device_id().to_hex(), "sealed": b64(sealed) })
}

fn rotation(epoch: u64, copies: Vec<Value>) -> Value {
    json!({ "epoch": epoch, "copies": copies })
}

/// Appends one ledger entry of `kind` signed by `by`.
fn change(http: &Http, account: &Account, by: &Device, kind: EntryKind) {
    let state = enigm::ledger(http, &by.session, &by.secrets);
    let mut entry = state.next_entry(kind);
    entry.sign_device(&account.account_id, &by.secrets);
    enigm::append(http, &by.session, &by.secrets, &entry);
}

async fn epochs_copies_and_shared_items(server: Service) {
    let http = Http::new(server.addr);
    let (account, a) = sign_up(&http, "sync", PASSWORD);
    let mine = "/v1/sync-keys/mine";
    let post = |device: &Device, body: Value, status: u16| {
        device.expect(&http, "POST", "/v1/sync-keys", body, status)
    };
    let refuse = |device: &Device, body: Value, code: &str| {
        device.refused(&http, "POST", "/v1/sync-keys", body, 409, code)
    };
    // A shared item under `key`, as the engine writes it.
    let item = |key: &SyncKey, name: &str, text: &str| {
        let sealed = key
            .encrypt(&mut OsRng, &account.account_id, name, text.as_bytes())
            .unwrap();
        json!({ "epoch": key.epoch(), "ciphertext": b64(sealed.as_bytes()) })
    };
    let epoch1 = SyncKey::generate(&mut OsRng, 1);

    // Before the first epoch: no copy, no items, and nothing can be written under an epoch.
    a.refused(&http, "GET", mine, Value::Null, 404, "no_sync_key");
    assert_eq!(
        a.expect(&http, "GET", "/v1/shared", Value::Null, 200),
        json!({ "items": [] })
    );
    let name_a = format!("label.{}", a.id());
    let label_a = format!("/v1/shared/{name_a}");
    let stale = a.refused(
        &http,
        "PUT",
        &label_a,
        item(&epoch1, &name_a, "Laptop"),
        409,
        "stale_sync_epoch",
    );
    assert_eq!(stale["error"]["epoch"], 0);

    // The first epoch is 1, with exactly A's copy, sealed to A at epoch 1.
    let a_copy1 = seal(&account, &epoch1, &a.secrets, &a.secrets);
    let skipped = refuse(
        &a,
        rotation(
            2,
            vec![copy_of(&a.secrets, &sealed(&account, 2, &a.secrets))],
        ),
        "sync_epoch_conflict",
    );
    assert_eq!(skipped["error"]["epoch"], 0);
    let stranger = DeviceSecrets::generate(&mut OsRng);
    let to_stranger = sealed(&account, 1, &stranger);
    for copies in [
        // A device the ledger does not know, instead of A or besides it.
        vec![copy_of(&stranger, &to_stranger)],
        vec![
            copy_of(&a.secrets, &a_copy1),
            copy_of(&stranger, &to_stranger),
        ],
        // A's copy sealed at another epoch, or to another device, or twice.
        vec![copy_of(&a.secrets, &sealed(&account, 2, &a.secrets))],
        vec![copy_of(&a.secrets, &to_stranger)],
        vec![copy_of(&a.secrets, &a_copy1), copy_of(&a.secrets, &a_copy1)],
    ] {
        refuse(&a, rotation(1, copies), "sync_key_copies_mismatch");
    }
    let mut truncated = a_copy1.clone();
    truncated.pop();
    let upper = json!({ "device_id": a.id().to_uppercase(), "sealed": b64(&a_copy1) });
    let unsigned = SignedSyncKey::from_bytes(&a_copy1)
        .unwrap()
        .sealed()
        .as_bytes()
        .to_vec();
    for malformed in [
        rotation(
            0,
            vec![copy_of(&a.secrets, &sealed(&account, 0, &a.secrets))],
        ),
        rotation(1, vec![]),
        rotation(1, vec![copy_of(&a.secrets, &truncated)]),
        rotation(1, vec![copy_of(&a.secrets, &unsigned)]),
        rotation(1, vec![copy_of(&a.secrets, &[1; 2000])]),
        rotation(1, vec![upper]),
        json!({ "epoch": 1, "copies": [copy_of(&a.secrets, &a_copy1)], "extra": true }),
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
        post(&a, rotation(1, vec![copy_of(&a.secrets, &a_copy1)]), 201),
        json!({ "epoch": 1 })
    );
    let again = refuse(
        &a,
        rotation(
            1,
            vec![copy_of(&a.secrets, &sealed(&account, 1, &a.secrets))],
        ),
        "sync_epoch_conflict",
    );
    assert_eq!(again["error"]["epoch"], 1);
    let read = a.expect(&http, "GET", mine, Value::Null, 200);
    assert_eq!(read["epoch"], 1);
    assert_eq!(unb64(read["sealed"].as_str().unwrap()), a_copy1);
    a.expect(
        &http,
        "PUT",
        &label_a,
        item(&epoch1, &name_a, "Laptop"),
        200,
    );

    // B joins; the next epoch must include it, and both hear of it.
    let b_secrets = enigm::add_device(&http, &a.session, account.account_id, &a.secrets);
    let b = Device {
        session: login(&http, &account.username, PASSWORD, &b_secrets).unwrap(),
        secrets: b_secrets,
    };
    assert_eq!(b.session.kind, "full");
    b.refused(&http, "GET", mine, Value::Null, 404, "no_sync_key");
    let mut a_socket = connect(server.addr, &a.session, &a.secrets).await;
    let mut b_socket = connect(server.addr, &b.session, &b.secrets).await;
    let epoch2 = SyncKey::generate(&mut OsRng, 2);
    let seal2 = |to: &Device| seal(&account, &epoch2, &to.secrets, &b.secrets);
    let (a_copy2, b_copy2) = (seal2(&a), seal2(&b));
    refuse(
        &a,
        rotation(2, vec![copy_of(&a.secrets, &a_copy2)]),
        "sync_key_copies_mismatch",
    );
    post(
        &b,
        rotation(
            2,
            vec![copy_of(&a.secrets, &a_copy2), copy_of(&b.secrets, &b_copy2)],
        ),
        201,
    );
    for socket in [&mut a_socket, &mut b_socket] {
        assert_eq!(
            next_event(socket).await,
            PushEvent::SyncKeyRotated { epoch: 2 }
        );
    }
    // Each device reads its own copy, which opens for it alone; older epochs stay readable by
    // the devices that held them.
    let read = b.expect(&http, "GET", mine, Value::Null, 200);
    assert_eq!(read["epoch"], 2);
    assert_eq!(unb64(read["sealed"].as_str().unwrap()), b_copy2);
    b.refused(
        &http,
        "GET",
        &format!("{mine}?epoch=1"),
        Value::Null,
        404,
        "no_sync_key",
    );
    let old = a.expect(&http, "GET", &format!("{mine}?epoch=1"), Value::Null, 200);
    assert_eq!(unb64(old["sealed"].as_str().unwrap()), a_copy1);
    a.refused(
        &http,
        "GET",
        &format!("{mine}?since=1"),
        Value::Null,
        400,
        "malformed_request",
    );

    // Shared items: only under the current epoch, named for a device of the account.
    let name_b = format!("label.{}", b.id());
    let label_b = format!("/v1/shared/{name_b}");
    let stale = a.refused(
        &http,
        "PUT",
        &label_b,
        item(&epoch1, &name_b, "Phone"),
        409,
        "stale_sync_epoch",
    );
    assert_eq!(stale["error"]["epoch"], 2);
    let mislabelled = json!({
        "epoch": 1,
        "ciphertext": item(&epoch2, &name_b, "Phone")["ciphertext"],
    });
    for (path, body) in [
        (
            format!("/v1/shared/label.{}", stranger.device_id().to_hex()),
            item(&epoch2, &name_b, "Phone"),
        ),
        (
            "/v1/shared/settings".to_owned(),
            item(&epoch2, "settings", "x"),
        ),
        (
            format!("/v1/shared/label.{}", b.id().to_uppercase()),
            item(&epoch2, &name_b, "Phone"),
        ),
        (label_b.clone(), json!({ "epoch": 2, "ciphertext": "" })),
        (
            label_b.clone(),
            json!({ "epoch": 2, "ciphertext": b64(&[1; 1025]) }),
        ),
        (label_b.clone(), mislabelled),
    ] {
        a.refused(&http, "PUT", &path, body, 400, "malformed_request");
    }
    a.expect(&http, "PUT", &label_b, item(&epoch2, &name_b, "Phone"), 200);
    let updated = PushEvent::SharedUpdated {
        name: name_b.clone(),
    };
    for socket in [&mut a_socket, &mut b_socket] {
        assert_eq!(next_event(socket).await, updated);
    }
    let items = b.expect(&http, "GET", "/v1/shared", Value::Null, 200);
    let items = items["items"].as_array().unwrap();
    let found: Vec<(&str, u64)> = items
        .iter()
        .map(|item| {
            (
                item["name"].as_str().unwrap(),
                item["epoch"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut wanted = vec![(name_a.as_str(), 1), (name_b.as_str(), 2)];
    wanted.sort_unstable();
    assert_eq!(found, wanted);
    // What B reads opens with B's key of that epoch, and only there.
    let b_key = SignedSyncKey::from_bytes(&b_copy2)
        .unwrap()
        .sealed()
        .open(&account.account_id, &b.secrets)
        .unwrap();
    let phone = items.iter().find(|item| item["name"] == name_b).unwrap();
    let phone = SealedItem::from_bytes(&unb64(phone["ciphertext"].as_str().unwrap())).unwrap();
    assert_eq!(
        b_key
            .decrypt(&account.account_id, &name_b, &phone)
            .unwrap()
            .as_slice(),
        b"Phone"
    );

    // A suspended device reads and writes none of it, and is left out of the next epoch.
    change(
        &http,
        &account,
        &a,
        EntryKind::Suspend {
            device: b.secrets.device_id(),
        },
    );
    let epoch3 = SyncKey::generate(&mut OsRng, 3);
    let seal3 = |to: &Device| seal(&account, &epoch3, &to.secrets, &a.secrets);
    let a_copy3 = seal3(&a);
    b.refused(&http, "GET", mine, Value::Null, 403, "trust_denied");
    b.refused(&http, "GET", "/v1/shared", Value::Null, 403, "trust_denied");
    b.refused(
        &http,
        "PUT",
        &label_b,
        item(&epoch2, &name_b, "Mine now"),
        403,
        "trust_denied",
    );
    b.refused(
        &http,
        "POST",
        "/v1/sync-keys",
        rotation(3, vec![copy_of(&a.secrets, &a_copy3)]),
        403,
        "trust_denied",
    );
    refuse(
        &a,
        rotation(
            3,
            vec![
                copy_of(&a.secrets, &a_copy3),
                copy_of(&b.secrets, &seal3(&b)),
            ],
        ),
        "sync_key_copies_mismatch",
    );
    post(&a, rotation(3, vec![copy_of(&a.secrets, &a_copy3)]), 201);

    // Revoked: its session is refused and it cannot sign in again; the next epoch is A's alone.
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
    assert_eq!(gone.status, 403, "{:?}", gone.json());
    assert_eq!(gone.error_code(), "device_removed");
    let relogin = login(&http, &account.username, PASSWORD, &b.secrets);
    assert_eq!(
        relogin
            .expect_err("a revoked device cannot sign in")
            .error_code(),
        "device_removed"
    );
    post(
        &a,
        rotation(
            4,
            vec![copy_of(&a.secrets, &sealed(&account, 4, &a.secrets))],
        ),
        201,
    );

    // Rotations are audited, with pseudonyms only; logs name no username or device id.
    let rotations = a
        .audit_actions(&http)
        .into_iter()
        .filter(|action| *action == AuditAction::SyncKeyRotated)
        .count();
    assert_eq!(rotations, 4);
    let logs = server.logs();
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
    epochs_copies_and_shared_items(Service::start()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL; run by cargo xtask test"]
async fn sync_key_epochs_copies_and_shared_items_on_postgres() {
    epochs_copies_and_shared_items(Service::on_backend(true)).await;
}
