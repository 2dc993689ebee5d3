//! The engine against a hostile service (DESIGN §4, §15): a proxy in front of the service
//! rewrites ledger pages, and the engine must refuse each lie with a clear
//! error, pin nothing from it, and carry on normally once the service is honest again; nor can
//! it make a device erase itself by claiming the device was removed.

use crate::common;

use common::enigm::{self, add_device, append, ledger};
use common::hostile::{HostileService, Tamper};
use common::{Http, Service};
use enigm_client::{DeviceChange, Engine, ServiceClient};
use enigm_core::identity::DeviceSecrets;
use enigm_core::ledger::{EntryHash, EntryKind, Head, Remover, RevokeReason};
use enigm_core::sync_copy::SignedSyncKey;
use enigm_core::sync_key::SyncKey;
use enigm_store::{Store, StoreKey};
use rand_core::OsRng;
use zeroize::Zeroizing;

const USERNAME: &str = "carol.hostile";
use common::PASSWORD;

/// A sync must fail as `ledger_rejected`, naming `what`, and leave the verified view as it was.
async fn refused(engine: &Engine, what: &str) {
    let before = engine.devices().await.unwrap();
    let error = engine.sync().await.unwrap_err();
    assert_eq!(error.code(), "ledger_rejected", "{error}");
    let message = format!("{error}: {:?}", std::error::Error::source(&error));
    assert!(message.contains(what), "{message}");
    assert_eq!(
        engine.devices().await.unwrap(),
        before,
        "something was pinned"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_ledger_lie_is_refused_and_nothing_is_pinned() {
    let server = Service::start();
    let hostile = HostileService::start(server.addr);
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_with_key(dir.path(), &StoreKey::generate()).unwrap();
    let laptop = DeviceSecrets::generate(&mut OsRng);
    store.save_device_secrets(&laptop).unwrap();
    let engine = Engine::with_store(store, ServiceClient::new(&hostile.url()).unwrap());
    common::register(&engine, USERNAME).await;

    // A second device joins (through the honest path); the engine pins head 1.
    let http = Http::new(server.addr);
    let session = enigm::login(&http, USERNAME, PASSWORD, &laptop).unwrap();
    let account_id = ledger(&http, &session, &laptop).account_id().to_owned();
    let phone = add_device(&http, &session, account_id, &laptop);
    let synced = engine.sync().await.unwrap();
    assert_eq!(synced.head.seq, 1);
    assert_eq!(synced.devices.len(), 2);

    // A fork: the service rewrites the pinned entry (here: one signature bit).
    let mut rewritten = ledger(&http, &session, &laptop);
    let mut bytes = fetch_entry(&http, &session, &laptop, 1);
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    hostile.set(Tamper::Replace { seq: 1, bytes });
    refused(&engine, "fork").await;

    // A rollback: the service presents the history as it was before the phone joined.
    hostile.set(Tamper::RollBackTo { seq: 0 });
    refused(&engine, "rollback").await;

    // An injected device: an AddDevice signed by a key the ledger does not know.
    let intruder = DeviceSecrets::generate(&mut OsRng);
    let mut inject = rewritten.next_entry(EntryKind::AddDevice {
        device: intruder.public(),
        approved_by: intruder.device_id(),
        replaces: None,
    });
    inject.sign_device(&account_id, &intruder);
    hostile.set(Tamper::Inject {
        bytes: inject.encode(),
    });
    refused(&engine, "signed by an unknown device").await;

    // A hidden revocation: the laptop revokes the phone, the service withholds that entry but
    // still announces the real head.
    let mut revoke = rewritten.next_entry(EntryKind::Revoke {
        device: phone.device_id(),
        reason: RevokeReason::Lost,
    });
    revoke.sign_device(&account_id, &laptop);
    append(&http, &session, &laptop, &revoke);
    rewritten = ledger(&http, &session, &laptop);
    hostile.set(Tamper::Withhold);
    refused(&engine, "withheld").await;

    // Honest again: the engine catches up and sees the revocation.
    hostile.set(Tamper::Honest);
    let honest = engine.sync().await.unwrap();
    assert_eq!(honest.head.seq, rewritten.head().seq);
    let phone_view = honest
        .devices
        .iter()
        .find(|device| device.device_id == phone.device_id())
        .unwrap();
    assert_eq!(phone_view.state.as_str(), "revoked");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_that_refuses_an_active_device_cannot_make_it_erase_itself() {
    let server = Service::start();
    let hostile = HostileService::start(server.addr);
    let dir = tempfile::tempdir().unwrap();
    let key = *StoreKey::generate().as_bytes();
    let open = || Store::open_with_key(dir.path(), &StoreKey::from_bytes(key)).unwrap();
    let laptop = DeviceSecrets::generate(&mut OsRng);
    open().save_device_secrets(&laptop).unwrap();
    let engine = Engine::with_store(open(), ServiceClient::new(&hostile.url()).unwrap());
    let username = "dora.refused";
    common::register(&engine, username).await;
    let http = Http::new(server.addr);
    let session = enigm::login(&http, username, PASSWORD, &laptop).unwrap();
    let account_id = ledger(&http, &session, &laptop).account_id().to_owned();
    let phone = add_device(&http, &session, account_id, &laptop);
    assert_eq!(engine.sync().await.unwrap().head.seq, 1);
    let kept = |what: &str| {
        let store = open();
        assert_eq!(
            store.device_secrets().unwrap().map(|keys| keys.device_id()),
            Some(laptop.device_id()),
            "{what}: the device keys are kept"
        );
        assert!(store.session().unwrap().is_some(), "{what}: session kept");
        assert!(store.sync_key().unwrap().is_some(), "{what}: sync key kept");
        assert!(
            store.revoked().unwrap().is_none(),
            "{what}: no removal mark"
        );
    };

    // The service claims the laptop was removed, with no entry, then with a forged one (its
    // revocation signed by a key the ledger does not know): nothing is erased, and the engine
    // says the service refuses this device.
    let intruder = DeviceSecrets::generate(&mut OsRng);
    let mut forged = ledger(&http, &session, &laptop).next_entry(EntryKind::Revoke {
        device: laptop.device_id(),
        reason: RevokeReason::Stolen,
    });
    forged.sign_device(&account_id, &intruder);
    for (what, entry) in [("no entry", None), ("forged entry", Some(forged.encode()))] {
        hostile.set(Tamper::RefuseAsRemoved { entry });
        let error = engine.sync().await.unwrap_err();
        assert_eq!(error.code(), "service_refuses_device", "{what}: {error}");
        assert!(error.to_string().contains("nothing was erased"), "{error}");
        kept(what);
    }
    // The live watch hears the refusal at its push socket and reports the refusing state.
    let ended = engine.watch(|_| {}).await.unwrap();
    assert_eq!(
        serde_json::to_value(&ended).unwrap(),
        serde_json::json!({ "state": "restricted", "reason": "refused_by_service" })
    );
    kept("watch");

    // Honest again: the device carries on.
    hostile.set(Tamper::Honest);
    assert_eq!(engine.sync().await.unwrap().head.seq, 1);

    // A genuine revocation still erases, even by a device this one has not seen yet: the
    // phone adds a tablet, the tablet revokes the laptop. The laptop verifies the tablet's
    // signature from the ledger it reads itself (up to its removal).
    let phone_session = enigm::login(&http, username, PASSWORD, &phone).unwrap();
    let tablet = add_device(&http, &phone_session, account_id, &phone);
    let tablet_session = enigm::login(&http, username, PASSWORD, &tablet).unwrap();
    let mut revoke = ledger(&http, &tablet_session, &tablet).next_entry(EntryKind::Revoke {
        device: laptop.device_id(),
        reason: RevokeReason::Lost,
    });
    revoke.sign_device(&account_id, &tablet);
    append(&http, &tablet_session, &tablet, &revoke);
    let error = engine.sync().await.unwrap_err();
    assert_eq!(error.code(), "device_revoked", "{error}");
    assert!(
        error
            .to_string()
            .contains(&tablet.device_id().fingerprint()),
        "{error}"
    );
    let store = open();
    assert!(store.device_secrets().unwrap().is_none(), "keys erased");
    assert!(store.sync_key().unwrap().is_none(), "sync key erased");
    let mark = store.revoked().unwrap().unwrap();
    assert_eq!(
        (mark.by, mark.reason.as_str()),
        (Some(Remover::Device(tablet.device_id())), "lost")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_device_pins_nothing_from_a_ledger_that_skips_the_vouched_head() {
    let server = Service::start();
    let hostile = HostileService::start(server.addr);
    let dir = tempfile::tempdir().unwrap();
    let username = "joan.joining";
    let password = Zeroizing::new(PASSWORD.to_owned());
    let laptop = Engine::with_store(
        Store::open_with_key(&dir.path().join("laptop"), &StoreKey::generate()).unwrap(),
        ServiceClient::new(&format!("http://{}", server.addr)).unwrap(),
    );
    laptop.register(username, &password).await.unwrap();

    // The joining desk talks to a service that shows it the ledger as it was before the
    // approval: a valid ledger, but not the one the laptop vouched for with this desk added.
    hostile.set(Tamper::RollBackTo { seq: 0 });
    let desk_dir = dir.path().join("desk");
    let key = *StoreKey::generate().as_bytes();
    let desk = Engine::with_store(
        Store::open_with_key(&desk_dir, &StoreKey::from_bytes(key)).unwrap(),
        ServiceClient::new(&hostile.url()).unwrap(),
    );
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let joining = tokio::spawn({
        let (desk, password) = (desk.clone(), password.clone());
        async move {
            let mut sender = Some(sender);
            desk.enroll(
                username,
                &password,
                "linux",
                |event| {
                    let enigm_client::EnrollEvent::Request { id } = event;
                    if let Some(sender) = sender.take() {
                        sender.send(id.clone()).unwrap();
                    }
                },
                async |_| true,
            )
            .await
        }
    });
    let id = receiver.await.unwrap();
    laptop
        .approve_enrollment(&id, async |_| true)
        .await
        .unwrap();
    let error = joining.await.unwrap().unwrap_err();
    assert_eq!(error.code(), "ledger_rejected", "{error}");
    assert!(error.to_string().contains("vouched"), "{error}");
    let store = Store::open_with_key(&desk_dir, &StoreKey::from_bytes(key)).unwrap();
    assert_eq!(store.pinned_head().unwrap(), None, "nothing pinned");
    assert!(store.ledger_entries().unwrap().is_empty(), "nothing stored");
    assert!(store.sync_key().unwrap().is_none(), "no sync key kept");
    drop(store);
    // The desk is not stuck: it can give up joining.
    desk.abandon_joining().await.unwrap();
}

/// The raw bytes of entry `seq` as the real service has them.
fn fetch_entry(
    http: &Http,
    session: &enigm::Session,
    device: &DeviceSecrets,
    seq: usize,
) -> Vec<u8> {
    let page = enigm::signed(
        http,
        session,
        device,
        "GET",
        "/v1/ledger",
        b"",
        &enigm::SignOptions::default(),
    )
    .json();
    enigm::unb64(page["entries"][seq].as_str().unwrap())
}

/// A hostile service hands the laptop a sync key of its own choosing, sealed to the laptop's
/// real X25519 key (which the service knows): unsigned, signed by a stranger, by a device
/// revoked since (naming a head where it was still active), or for another account. The
/// engine refuses each as `sync_key_refused`, keeps the key it holds, and syncs normally once
/// the service is honest again. (A validly signed copy naming a head the laptop was not shown
/// is `ledger_withheld`, below.)
#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_sync_key_sealed_to_the_device_is_refused_and_nothing_is_stored() {
    let server = Service::start();
    let hostile = HostileService::start(server.addr);
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_with_key(dir.path(), &StoreKey::generate()).unwrap();
    let laptop = DeviceSecrets::generate(&mut OsRng);
    store.save_device_secrets(&laptop).unwrap();
    let engine = Engine::with_store(store, ServiceClient::new(&hostile.url()).unwrap());
    common::register(&engine, "dave.hostile").await;
    assert_eq!(engine.sync_epoch().await.unwrap(), 1);
    let http = Http::new(server.addr);
    let session = enigm::login(&http, "dave.hostile", PASSWORD, &laptop).unwrap();
    let account_id = ledger(&http, &session, &laptop).account_id().to_owned();

    // The phone joins (the laptop's sync hands it a copy) and is revoked again.
    let phone = add_device(&http, &session, account_id, &laptop);
    engine.sync().await.unwrap();
    let while_active = ledger(&http, &session, &laptop).head();
    let mut revoke = ledger(&http, &session, &laptop).next_entry(EntryKind::Revoke {
        device: phone.device_id(),
        reason: RevokeReason::Stolen,
    });
    revoke.sign_device(&account_id, &laptop);
    append(&http, &session, &laptop, &revoke);
    let head = engine.sync().await.unwrap().head;
    let held = engine.sync_epoch().await.unwrap();
    let head = Head {
        seq: head.seq,
        hash: head.hash,
    };

    let foreign = SyncKey::generate(&mut OsRng, held + 1);
    let signed = |by: &DeviceSecrets, account: &[u8; 16], head: Head| {
        SignedSyncKey::seal(&foreign, &mut OsRng, account, &laptop.public(), by, head)
            .as_bytes()
            .to_vec()
    };
    let stranger = DeviceSecrets::generate(&mut OsRng);
    for (what, sealed) in [
        (
            "unsigned",
            foreign
                .seal_to(&mut OsRng, &account_id, &laptop.public())
                .as_bytes()
                .to_vec(),
        ),
        ("a stranger", signed(&stranger, &account_id, head)),
        (
            "the revoked phone",
            signed(&phone, &account_id, while_active),
        ),
        ("another account", signed(&laptop, &[9; 16], head)),
    ] {
        hostile.set(Tamper::SyncKeyCopy { sealed });
        let error = engine.sync().await.unwrap_err();
        assert_eq!(error.code(), "sync_key_refused", "{what}: {error}");
        assert_eq!(
            engine.sync_epoch().await.unwrap(),
            held,
            "{what}: the foreign key was stored"
        );
    }

    hostile.set(Tamper::Honest);
    engine.sync().await.unwrap();
    assert_eq!(engine.sync_epoch().await.unwrap(), held);
}

/// The phone revokes the tablet and starts the next sync-key epoch; a hostile service hides
/// that entry from the laptop (showing it a consistent, older ledger) but relays the phone's
/// signed copy, which names the newer head. The laptop says the ledger is withheld, keeps no
/// key, and refuses what depends on the device list until the service shows that entry; then
/// it carries on and sees the revocation.
#[tokio::test(flavor = "multi_thread")]
async fn a_head_a_peer_signed_that_the_service_hides_is_reported_as_withheld() {
    let server = Service::start();
    let hostile = HostileService::start(server.addr);
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_with_key(dir.path(), &StoreKey::generate()).unwrap();
    let laptop = DeviceSecrets::generate(&mut OsRng);
    store.save_device_secrets(&laptop).unwrap();
    let engine = Engine::with_store(store, ServiceClient::new(&hostile.url()).unwrap());
    common::register(&engine, "frank.hostile").await;
    let http = Http::new(server.addr);
    let session = enigm::login(&http, "frank.hostile", PASSWORD, &laptop).unwrap();
    let account_id = ledger(&http, &session, &laptop).account_id().to_owned();
    let phone = add_device(&http, &session, account_id, &laptop);
    let tablet = add_device(&http, &session, account_id, &laptop);
    // The laptop's sync hands both a copy of the next epoch.
    let shown = engine.sync().await.unwrap().head.seq;
    let held = engine.sync_epoch().await.unwrap();

    hostile.set(Tamper::RollBackTo { seq: shown });
    let phone = enigm::Device {
        session: enigm::login(&http, "frank.hostile", PASSWORD, &phone).unwrap(),
        secrets: phone,
    };
    let mut revoke = ledger(&http, &phone.session, &phone.secrets).next_entry(EntryKind::Revoke {
        device: tablet.device_id(),
        reason: RevokeReason::Stolen,
    });
    revoke.sign_device(&account_id, &phone.secrets);
    append(&http, &phone.session, &phone.secrets, &revoke);
    let head = ledger(&http, &phone.session, &phone.secrets).head();
    let next = SyncKey::generate(&mut OsRng, held + 1);
    let copies: Vec<serde_json::Value> = [&laptop, &phone.secrets]
        .into_iter()
        .map(|to| {
            let copy = SignedSyncKey::seal(
                &next,
                &mut OsRng,
                &account_id,
                &to.public(),
                &phone.secrets,
                head,
            );
            serde_json::json!({
                "device_id": to.device_id().to_hex(),
                "sealed": enigm::b64(copy.as_bytes()),
            })
        })
        .collect();
    phone.post(
        &http,
        "/v1/sync-keys",
        serde_json::json!({ "epoch": held + 1, "copies": copies }),
        201,
    );

    let error = engine.sync().await.unwrap_err();
    assert_eq!(error.code(), "ledger_withheld", "{error}");
    assert!(
        error.to_string().contains(&format!("entry {}", head.seq)),
        "{error}"
    );
    assert_eq!(engine.sync_epoch().await.unwrap(), held, "no key kept");
    assert_eq!(engine.withheld_head().await.unwrap(), Some(head.seq));
    // The warning stands: nothing that builds on the device list goes on.
    assert_eq!(engine.sync().await.unwrap_err().code(), "ledger_withheld");
    let tablet_id = tablet.device_id().to_hex();
    let suspend = engine
        .change_device(&tablet_id, DeviceChange::Suspend)
        .await;
    assert_eq!(suspend.unwrap_err().code(), "ledger_withheld");
    let rename = engine.rename_device(&tablet_id, "Tablet").await;
    assert_eq!(rename.unwrap_err().code(), "ledger_withheld");

    // Honest again: the laptop reaches the head the phone saw, and the warning lifts.
    hostile.set(Tamper::Honest);
    let list = engine.sync().await.unwrap();
    assert_eq!(list.head.seq, head.seq);
    let tablet_view = list
        .devices
        .iter()
        .find(|device| device.device_id == tablet.device_id())
        .unwrap();
    assert_eq!(tablet_view.state.as_str(), "revoked");
    assert_eq!(engine.sync_epoch().await.unwrap(), held + 1);
    assert_eq!(engine.withheld_head().await.unwrap(), None);

    // The phone signed another entry at a seq the laptop verified: the service showed the two
    // different histories. That never heals by itself.
    let forked = Head {
        seq: head.seq,
        hash: EntryHash([7; 32]),
    };
    let sealed = SignedSyncKey::seal(
        &SyncKey::generate(&mut OsRng, held + 2),
        &mut OsRng,
        &account_id,
        &laptop.public(),
        &phone.secrets,
        forked,
    );
    hostile.set(Tamper::SyncKeyCopy {
        sealed: sealed.as_bytes().to_vec(),
    });
    assert_eq!(engine.sync().await.unwrap_err().code(), "ledger_withheld");
    hostile.set(Tamper::Honest);
    assert_eq!(engine.sync().await.unwrap_err().code(), "ledger_withheld");
    assert_eq!(engine.sync_epoch().await.unwrap(), held + 1);
}
