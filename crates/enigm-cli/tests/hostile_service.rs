//! The engine against a hostile service (DESIGN §4, §15): a proxy in front of the real
//! `enigm server` rewrites ledger pages, and the engine must refuse each lie with a clear
//! error, pin nothing from it, and carry on normally once the service is honest again; nor can
//! it make a device erase itself by claiming the device was removed.

use crate::common;

use common::enigm::{self, add_device, append, ledger};
use common::hostile::{HostileService, Tamper};
use common::{Http, ServerProcess};
use enigm_client::{Engine, ServiceClient};
use enigm_core::identity::DeviceSecrets;
use enigm_core::ledger::{EntryKind, Remover, RevokeReason};
use enigm_store::{Store, StoreKey};
use rand_core::OsRng;
use zeroize::Zeroizing;

const USERNAME: &str = "carol.hostile";
const PASSWORD: &str = "correct horse battery staple 42";

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
    let server = ServerProcess::start();
    let hostile = HostileService::start(server.addr);
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_with_key(dir.path(), &StoreKey::generate()).unwrap();
    let laptop = DeviceSecrets::generate(&mut OsRng);
    store.save_device_secrets(&laptop).unwrap();
    let engine = Engine::with_store(store, ServiceClient::new(&hostile.url()).unwrap());
    engine
        .register(USERNAME, &Zeroizing::new(PASSWORD.to_owned()))
        .await
        .unwrap();

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
    assert_eq!(phone_view.state, "revoked");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_that_refuses_an_active_device_cannot_make_it_erase_itself() {
    let server = ServerProcess::start();
    let hostile = HostileService::start(server.addr);
    let dir = tempfile::tempdir().unwrap();
    let key = *StoreKey::generate().as_bytes();
    let open = || Store::open_with_key(dir.path(), &StoreKey::from_bytes(key)).unwrap();
    let laptop = DeviceSecrets::generate(&mut OsRng);
    open().save_device_secrets(&laptop).unwrap();
    let engine = Engine::with_store(open(), ServiceClient::new(&hostile.url()).unwrap());
    let username = "dora.refused";
    engine
        .register(username, &Zeroizing::new(PASSWORD.to_owned()))
        .await
        .unwrap();
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
            store.password_verifier().unwrap().is_some(),
            "{what}: Lock kept"
        );
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
    assert!(store.password_verifier().unwrap().is_none(), "Lock erased");
    let mark = store.revoked().unwrap().unwrap();
    assert_eq!(
        (mark.by, mark.reason.as_str()),
        (Some(Remover::Device(tablet.device_id())), "lost")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_device_pins_nothing_from_a_ledger_that_skips_the_vouched_head() {
    let server = ServerProcess::start();
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
