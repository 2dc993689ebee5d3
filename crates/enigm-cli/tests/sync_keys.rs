//! The account sync key on the real `enigm server` (DESIGN §3): epochs move one at a time, each
//! with exactly one sealed copy per active device; a device reads only its own copy; shared
//! items are written only under the current epoch; a suspended or revoked device can read and
//! write none of it; every refusal is precise and changes nothing; rotations are pushed and
//! audited with pseudonyms only.
//!
//! The copies are real signed, sealed keys (enigm-core's `SignedSyncKey::seal`): the service
//! reads their public header (epoch, recipient, signer, head), checks neither signature nor
//! head, and can open none of them. Every test runs on SQLite and on
//! PostgreSQL (in a schema of its own); the PostgreSQL variants are ignored unless asked for
//! (`--run-ignored`, with `ENIGM_TEST_POSTGRES_URL` set, as `cargo xtask test` does).
//!
//! The engine's side runs through the real `enigm` binary with profiles in the real keychain
//! (ignored unless asked for, like user_flow.rs): registration creates epoch 1, labels are
//! shared encrypted, a revocation moves the epoch on without the revoked device, and a hostile
//! copy is refused.

use crate::common;

use std::path::Path;
use std::process::Output;

use common::cli::{failed, failed_code, ok, store};
use common::enigm::{self, Account, Device, Session, b64, login, sign_up, unb64};
use common::hostile::{HostileService, Tamper};
use common::push::{connect, next_event};
use common::running;
use common::{Http, ServerProcess, contains};
use enigm_core::audit::{AuditAction, AuditRecord};
use enigm_core::identity::DeviceSecrets;
use enigm_core::ledger::{EntryHash, EntryKind, Head, RevokeReason};
use enigm_core::sync_copy::SignedSyncKey;
use enigm_core::sync_key::{SealedItem, SyncKey};
use enigm_server::push::PushEvent;
use rand_core::{OsRng, RngCore};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple 42";

/// `key` sealed to `to` and signed by `by`. The head is a placeholder: the service checks
/// neither it nor the signature (the recipient does; see the engine tests below).
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

async fn epochs_copies_and_shared_items(server: ServerProcess) {
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
    let mut a_socket = connect(&server, &a.session, &a.secrets).await;
    let mut b_socket = connect(&server, &b.session, &b.secrets).await;
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

// --- The engine and the CLI, with profiles in the real keychain ---

/// One run of the CLI on `profile` against the service at `server`.
fn cli_run(profile: &Path, server: &str, args: &[&str], stdin: &str) -> Output {
    common::cli::run(Some(profile), Some(server), args, stdin)
}

/// The labels a device list shows, by device id.
fn labels(list: &Value) -> Vec<(String, Option<String>)> {
    list["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|device| {
            (
                device["device_id"].as_str().unwrap().to_owned(),
                device["label"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn labels_are_shared_encrypted_and_a_revoked_device_reads_nothing_newer() {
    let server = ServerProcess::start();
    let url = format!("http://{}", server.addr);
    let http = Http::new(server.addr);
    let dir = tempfile::tempdir().unwrap();
    let (laptop, phone) = (dir.path().join("laptop"), dir.path().join("phone"));
    let username = format!("erin-{:08x}", OsRng.next_u32());
    let password = format!("{PASSWORD}\n");
    let run = |profile: &Path, args: &[&str]| cli_run(profile, &url, args, "");
    let login = |profile: &Path| {
        ok(&cli_run(
            profile,
            &url,
            &[
                "account",
                "login",
                "--username",
                &username,
                "--password-stdin",
            ],
            &password,
        ))
    };

    // Registration creates epoch 1 with the laptop's copy.
    ok(&cli_run(
        &laptop,
        &url,
        &[
            "account",
            "register",
            "--username",
            &username,
            "--password-stdin",
        ],
        &password,
    ));
    assert_eq!(ok(&run(&laptop, &["session", "status"]))["sync_epoch"], 1);

    // The phone enrolls, approved by the laptop (both compare the code); the laptop hands it
    // the key of epoch 1.
    running::enroll_and_approve(&server, &laptop, &phone, &username);
    assert_eq!(login(&phone)["session"]["kind"], "full");
    let laptop_secrets = store(&laptop).device_secrets().unwrap().unwrap();
    let phone_secrets = store(&phone).device_secrets().unwrap().unwrap();
    let (laptop_id, phone_id) = (
        laptop_secrets.device_id().to_hex(),
        phone_secrets.device_id().to_hex(),
    );
    let session = login_raw(&http, &username, &laptop_secrets);
    let account_id = *enigm::ledger(&http, &session, &laptop_secrets).account_id();
    let laptop_device = Device {
        secrets: DeviceSecrets::from_bytes(&laptop_secrets.to_bytes()),
        session,
    };

    // Each side labels the other; both lists show both labels.
    let renamed = ok(&run(
        &laptop,
        &[
            "device",
            "rename",
            &phone_id[..8],
            "--label",
            "  Erin's phone ",
        ],
    ));
    assert_eq!(renamed["device"]["label"], "Erin's phone");
    ok(&run(
        &phone,
        &["device", "rename", &laptop_id, "--label", "Work laptop"],
    ));
    for profile in [&laptop, &phone] {
        let list = ok(&run(profile, &["device", "list"]));
        let mut shown = labels(&list);
        shown.sort();
        let mut wanted = vec![
            (laptop_id.clone(), Some("Work laptop".to_owned())),
            (phone_id.clone(), Some("Erin's phone".to_owned())),
        ];
        wanted.sort();
        assert_eq!(shown, wanted);
    }
    assert_eq!(ok(&run(&phone, &["session", "status"]))["sync_epoch"], 1);
    // The service holds ciphertext only.
    let shared = laptop_device.expect(&http, "GET", "/v1/shared", Value::Null, 200);
    assert!(!shared.to_string().contains("Work laptop"));
    // Bad labels change nothing.
    for bad in ["", "   ", "tab\there", &"x".repeat(65)] {
        let output = run(&laptop, &["device", "rename", &phone_id, "--label", bad]);
        assert_eq!(failed_code(&output), "invalid_label", "{bad:?}");
    }

    // The phone's key of epoch 1, as an attacker holding the phone would keep it.
    let phone_key = store(&phone).sync_key().unwrap().unwrap();
    assert_eq!(phone_key.epoch(), 1);

    // The laptop revokes the phone while the service refuses rotations: the revocation stands,
    // the command says the rotation failed, and the laptop still holds epoch 1...
    let hostile = HostileService::start(server.addr);
    hostile.set(Tamper::RefuseRotations);
    let refused = cli_run(
        &laptop,
        &hostile.url(),
        &["device", "revoke", &phone_id, "--reason", "lost"],
        "",
    );
    assert_eq!(failed_code(&refused), "service_unavailable");
    assert_eq!(store(&laptop).sync_key().unwrap().unwrap().epoch(), 1);
    // ... until its next sync with a working service does the owed rotation: the epoch moves
    // on without the phone, and the labels follow.
    hostile.set(Tamper::Honest);
    let list = ok(&cli_run(&laptop, &hostile.url(), &["device", "list"], ""));
    assert_eq!(device_state(&list, &phone_id), "revoked");
    assert_eq!(ok(&run(&laptop, &["session", "status"]))["sync_epoch"], 2);
    let shared = laptop_device.expect(&http, "GET", "/v1/shared", Value::Null, 200);
    let epochs: Vec<u64> = shared["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(
        epochs,
        vec![2, 2],
        "labels re-encrypted under the new epoch"
    );
    ok(&run(
        &laptop,
        &["device", "rename", &laptop_id, "--label", "Erin's laptop"],
    ));
    let list = ok(&run(&laptop, &["device", "list"]));
    assert!(labels(&list).contains(&(laptop_id.clone(), Some("Erin's laptop".to_owned()))));

    // What was written after the revocation is closed to the phone's old key...
    let shared = laptop_device.expect(&http, "GET", "/v1/shared", Value::Null, 200);
    let name = format!("label.{laptop_id}");
    let item = shared["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["name"] == name.as_str())
        .unwrap();
    let sealed = SealedItem::from_bytes(&unb64(item["ciphertext"].as_str().unwrap())).unwrap();
    let error = phone_key.decrypt(&account_id, &name, &sealed).unwrap_err();
    assert!(
        matches!(
            error,
            enigm_core::Error::SyncKeyEpochMismatch { have: 1, need: 2 }
        ),
        "{error:?}"
    );
    // ... and the phone can neither fetch the new copy nor sign in again. Its next request
    // (it was not listening) tells it who revoked it and why, from the entry it verified
    // itself; its keys are erased.
    let laptop_fingerprint = laptop_secrets.device_id().fingerprint();
    let (code, message) = failed(&run(&phone, &["device", "list"]));
    assert_eq!(code, "device_revoked");
    assert!(
        message.starts_with(&format!(
            "this device was revoked by Work laptop ({laptop_fingerprint}) around "
        )) && message.ends_with(" UTC: lost"),
        "{message}"
    );
    assert!(store(&phone).device_secrets().unwrap().is_none());
    let refused = enigm::login(&http, &username, PASSWORD, &phone_secrets).unwrap_err();
    assert_eq!(refused.error_code(), "device_removed");
    let relogin = cli_run(
        &phone,
        &url,
        &[
            "account",
            "login",
            "--username",
            &username,
            "--password-stdin",
        ],
        &password,
    );
    assert_eq!(failed_code(&relogin), "device_revoked");
    let phone_store = store(&phone);
    assert!(phone_store.device_secrets().unwrap().is_none());
    assert!(phone_store.sync_key().unwrap().is_none());

    // A hostile service handing the laptop a copy sealed to another device, a tampered one, or
    // one signed by the revoked phone (whose keys an attacker holding it has) is refused
    // precisely and changes nothing, even when the rest of the copy is made as a device would.
    let stranger = DeviceSecrets::generate(&mut OsRng);
    let epoch4 = SyncKey::generate(&mut OsRng, 4);
    let head = enigm::ledger(&http, &laptop_device.session, &laptop_secrets).head();
    let copy = |to: &DeviceSecrets, by: &DeviceSecrets| {
        SignedSyncKey::seal(&epoch4, &mut OsRng, &account_id, &to.public(), by, head)
            .as_bytes()
            .to_vec()
    };
    let wrong_recipient = copy(&stranger, &laptop_secrets);
    let from_the_phone = copy(&laptop_secrets, &phone_secrets);
    let mut tampered = copy(&laptop_secrets, &laptop_secrets);
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    for sealed in [wrong_recipient, tampered, from_the_phone] {
        hostile.set(Tamper::SyncKeyCopy { sealed });
        let output = cli_run(&laptop, &hostile.url(), &["device", "list"], "");
        assert_eq!(failed_code(&output), "sync_key_refused");
    }
    assert_eq!(store(&laptop).sync_key().unwrap().unwrap().epoch(), 2);
    assert_eq!(ok(&run(&laptop, &["session", "status"]))["sync_epoch"], 2);
}

/// The `state` of the device `id` in a `device list` answer.
fn device_state<'a>(list: &'a Value, id: &str) -> &'a str {
    list["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|device| device["device_id"] == id)
        .and_then(|device| device["state"].as_str())
        .unwrap()
}

/// Signs `device` in with the raw protocol.
fn login_raw(http: &Http, username: &str, device: &DeviceSecrets) -> Session {
    login(http, username, PASSWORD, device).unwrap()
}
