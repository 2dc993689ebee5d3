//! The account sync key as the engine keeps it, through the real `enigm` binary with profiles
//! in the real keychain (ignored unless asked for, like user_flow.rs; DESIGN §3): registration
//! creates epoch 1, labels are shared encrypted, a revocation moves the epoch on without the
//! revoked device, and a hostile copy is refused. The service's side is enigm-server's
//! `sync_keys.rs`.

use crate::common;

use std::path::Path;
use std::process::Output;

use common::cli::{self, failed, failed_code, listed, ok, store};
use common::enigm::{self, Device, Session, login, unb64};
use common::hostile::{HostileService, Tamper};
use common::running;
use common::{Http, ServerProcess};
use enigm_core::identity::DeviceSecrets;
use enigm_core::sync_copy::SignedSyncKey;
use enigm_core::sync_key::{SealedItem, SyncKey};
use rand_core::{OsRng, RngCore};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery staple 42";

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
    let (_home, [laptop, phone]) = common::profiles(["laptop", "phone"]);
    let username = format!("erin-{:08x}", OsRng.next_u32());
    let password = format!("{PASSWORD}\n");
    let run = |profile: &Path, args: &[&str]| cli_run(profile, &url, args, "");
    let sign_in = |profile: &Path| ok(&cli::login(profile, &server, &username, PASSWORD));

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
    assert_eq!(sign_in(&phone)["session"]["kind"], "full");
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
    assert_eq!(listed(&list, &phone_id)["state"], "revoked");
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
    let relogin = cli::login(&phone, &server, &username, PASSWORD);
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

/// Signs `device` in with the raw protocol.
fn login_raw(http: &Http, username: &str, device: &DeviceSecrets) -> Session {
    login(http, username, PASSWORD, device).unwrap()
}
