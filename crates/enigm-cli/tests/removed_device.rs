//! A removed device always learns that it was removed, and by whom and why as far as it can
//! verify (DESIGN §6), on the real `enigm server` with profiles in the real keychain.
//!
//! A device that was not listening hears it on its next command, which the service refuses
//! with the entry that removed it; a listening one hears it on its push socket. Either way the
//! engine checks the entry against its own verified ledger (or the ledger up to its removal,
//! read again) before it erases the keys and names the remover. A hostile service that swaps
//! the entry changes nothing, and one that refuses an active device cannot make it erase
//! itself.

use crate::common;

use std::path::Path;

use common::cli::{enigm, failed, ok, register, run, store};
use common::hostile::{HostileService, Tamper};
use common::running::{self, PASSWORD, Running};
use enigm_core::identity::DeviceId;
use enigm_core::ledger::{EntryKind, LedgerEntry, Remover};
use rand_core::{OsRng, RngCore};

fn device_id(profile: &Path) -> String {
    store(profile)
        .device_secrets()
        .unwrap()
        .unwrap()
        .device_id()
        .to_hex()
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn a_removed_device_hears_who_removed_it_and_why_listening_or_not() {
    let (server, _home, [laptop, phone, tablet, watch]) =
        common::server_and_profiles(["laptop", "phone", "tablet", "watch"]);
    let username = format!("rae-{:08x}", OsRng.next_u32());
    let cli = |profile: &Path, args: &[&str]| enigm(profile, &server, args, "");
    ok(&register(&laptop, &server, &username, PASSWORD));
    for device in [&phone, &tablet, &watch] {
        running::enroll_and_approve(&server, &laptop, device, &username);
    }
    let laptop_id = device_id(&laptop);
    ok(&cli(
        &laptop,
        &["device", "rename", &laptop_id, "--label", "Laptop"],
    ));
    // Each device reads the labels once, as it does whenever it shows its list.
    for device in [&phone, &tablet, &watch] {
        ok(&cli(device, &["device", "list"]));
    }
    let laptop_fingerprint = DeviceId::from_hex(&laptop_id).unwrap().fingerprint();
    let by_laptop = format!("this device was revoked by Laptop ({laptop_fingerprint}) around ");

    // The phone is revoked while it is not listening: its next command is refused with the
    // remover and the reason, and its keys are gone.
    let phone_id = device_id(&phone);
    ok(&cli(
        &laptop,
        &["device", "revoke", &phone_id, "--reason", "lost"],
    ));
    let (code, message) = failed(&cli(&phone, &["device", "list"]));
    assert_eq!(code, "device_revoked");
    assert!(message.starts_with(&by_laptop), "{message}");
    assert!(message.ends_with(" UTC: lost"), "{message}");
    // Dated by the laptop's clock when it revoked: "around", not when the phone heard.
    assert!(message.contains(") around "), "{message}");
    let phone_store = store(&phone);
    assert!(phone_store.device_secrets().unwrap().is_none());
    assert!(phone_store.session().unwrap().is_none());
    assert!(phone_store.sync_key().unwrap().is_none());
    let mark = phone_store.revoked().unwrap().unwrap();
    assert_eq!(mark.reason.as_str(), "lost");
    assert_eq!(
        mark.by,
        Some(Remover::Device(DeviceId::from_hex(&laptop_id).unwrap()))
    );
    drop(phone_store);
    // Every later command says the same, offline too (it is the profile's own record).
    let (code, again) = failed(&run(
        Some(&phone),
        Some("http://127.0.0.1:9"),
        &["session", "status"],
        "",
    ));
    assert_eq!(
        (code.as_str(), again.as_str()),
        ("device_revoked", message.as_str())
    );

    // The tablet is listening: the push event carries the same proof.
    let mut watching = Running::start(&tablet, &server, &["session", "watch"], "");
    loop {
        let line = watching.next();
        if line["event"] == "devices" {
            break;
        }
    }
    let tablet_id = device_id(&tablet);
    ok(&cli(
        &laptop,
        &["device", "revoke", &tablet_id, "--reason", "stolen"],
    ));
    let revoked = loop {
        let line = watching.next();
        if line["event"] == "state" && line["state"] == "revoked" {
            break line;
        }
    };
    assert_eq!(revoked["by"]["kind"], "device");
    assert_eq!(revoked["by"]["label"], "Laptop");
    assert_eq!(revoked["by"]["fingerprint"], laptop_fingerprint.as_str());
    assert_eq!(revoked["reason"], "stolen");
    watching.succeeded();
    assert!(store(&tablet).device_secrets().unwrap().is_none());
    let status = failed(&cli(&tablet, &["session", "status"]));
    assert_eq!(status.0, "device_revoked");
    assert!(
        status.1.starts_with(&by_laptop) && status.1.ends_with(": stolen"),
        "{}",
        status.1
    );

    // A hostile service hands the watch a forged entry in place of its real revocation (the
    // laptop's signature taken from another entry): the watch does not take it, reads the
    // ledger up to its removal itself, and finds the real one.
    let hostile = HostileService::start(server.addr);
    let watch_id = device_id(&watch);
    ok(&cli(
        &laptop,
        &["device", "revoke", &watch_id, "--reason", "compromised"],
    ));
    let entries: Vec<LedgerEntry> = store(&laptop)
        .ledger_entries()
        .unwrap()
        .iter()
        .map(|bytes| LedgerEntry::decode(bytes).unwrap())
        .collect();
    let revocation_of = |id: &str| {
        entries
            .iter()
            .find(|entry| matches!(&entry.kind, EntryKind::Revoke { device, .. } if device.to_hex() == id))
            .unwrap()
            .clone()
    };
    let mut forged = revocation_of(&watch_id);
    forged.signatures = revocation_of(&phone_id).signatures;
    hostile.set(Tamper::RemovalEntry {
        bytes: forged.encode(),
    });
    let (code, message) = failed(&run(
        Some(&watch),
        Some(&hostile.url()),
        &["device", "list"],
        "",
    ));
    assert_eq!(code, "device_revoked");
    assert!(
        message.starts_with(&by_laptop) && message.ends_with(": compromised"),
        "{message}"
    );
    let watch_store = store(&watch);
    assert!(watch_store.device_secrets().unwrap().is_none());
    assert!(watch_store.sync_key().unwrap().is_none());
    let mark = watch_store.revoked().unwrap().unwrap();
    assert_eq!(
        (mark.by, mark.reason.as_str()),
        (
            Some(Remover::Device(DeviceId::from_hex(&laptop_id).unwrap())),
            "compromised"
        )
    );

    // A hostile service that claims the laptop, still active, was removed gets one line
    // saying the service refuses this device, and erases nothing: the keychain entry still
    // opens the store, and the keys and the sync key are in it.
    hostile.set(Tamper::RefuseAsRemoved { entry: None });
    let refused = run(Some(&laptop), Some(&hostile.url()), &["device", "list"], "");
    let (code, message) = failed(&refused);
    assert_eq!(code, "service_refuses_device");
    assert!(message.contains("nothing was erased"), "{message}");
    let laptop_store = store(&laptop);
    assert_eq!(
        laptop_store
            .device_secrets()
            .unwrap()
            .map(|keys| keys.device_id().to_hex()),
        Some(laptop_id.clone())
    );
    assert!(laptop_store.sync_key().unwrap().is_some());
    assert!(laptop_store.session().unwrap().is_some());
    assert!(laptop_store.revoked().unwrap().is_none());
    drop(laptop_store);
    // With the real service the laptop carries on.
    ok(&cli(&laptop, &["device", "list"]));
}
