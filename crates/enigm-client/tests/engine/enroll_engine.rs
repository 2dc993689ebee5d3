//! The engine's enrollment against a relay peer that lies: one side is the real engine
//! (enigm-client, its store opened with a test key, no keychain needed), the other a device
//! driven through the raw protocol against the service. A reveal that does not match
//! the commitment (an old reveal), a MAC from another run, and a sealed key for another device
//! are each refused with a precise error, the request is cancelled, and the ledger is unchanged.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::enigm::{self, Session, b64, login, unb64};
use common::{Http, Service};
use enigm_client::{ClientError, Engine, ServiceClient};
use enigm_core::identity::{DeviceId, DevicePublicKeys, DeviceSecrets, SigningPublicKey};
use enigm_core::ledger::{EntryHash, EntryKind, Head, LedgerEntry};
use enigm_core::sas::{
    EnrollmentContext, LedgerHeadClaim, NewDeviceCommitted, NewDeviceKeysExchanged, SasMac,
    SasPublicKey,
};
use enigm_core::sync_copy::SignedSyncKey;
use enigm_core::sync_key::SyncKey;
use enigm_store::{Store, StoreKey};
use rand_core::{OsRng, RngCore};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use common::PASSWORD;

/// An engine on a fresh profile in `dir`, its store key given (no keychain), and the key.
fn engine(dir: &Path, server: &Service) -> (Engine, [u8; 32]) {
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    let store = Store::open_with_key(dir, &StoreKey::from_bytes(key)).unwrap();
    let api = ServiceClient::new(&format!("http://{}", server.addr)).unwrap();
    (Engine::with_store(store, api), key)
}

/// A registered engine holding a sync key (registration creates epoch 1 once the sync-key
/// engine lands; until then the test seeds it).
async fn approver(dir: &Path, server: &Service, username: &str) -> Engine {
    let (engine, key) = engine(dir, server);
    common::register(&engine, username).await;
    let mut store = Store::open_with_key(dir, &StoreKey::from_bytes(key)).unwrap();
    if store.sync_key().unwrap().is_none() {
        store
            .save_sync_key(&SyncKey::generate(&mut OsRng, 1))
            .unwrap();
    }
    engine
}

/// A device driven by hand.
struct Raw {
    http: Http,
    secrets: DeviceSecrets,
    session: Session,
}

impl Raw {
    fn sign_in(server: &Service, username: &str, secrets: DeviceSecrets) -> Self {
        let http = Http::new(server.addr);
        let session = login(&http, username, PASSWORD, &secrets).unwrap();
        Self {
            http,
            secrets,
            session,
        }
    }

    fn call(&self, method: &str, path: &str, body: &Value) -> Value {
        let bytes = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let reply = enigm::send(
            &self.http,
            &self.session,
            &self.secrets,
            method,
            path,
            &bytes,
        );
        assert!(reply.status < 300, "{path}: {:?}", reply.json());
        reply.json()
    }

    /// Polls request `id` until its state is `state`.
    fn wait_for(&self, id: &str, state: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let view = self.call("GET", &format!("/v1/enrollments/{id}"), &Value::Null);
            if view["state"] == state {
                return view;
            }
            assert!(Instant::now() < deadline, "never {state}: {view}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn b32(value: &Value) -> [u8; 32] {
    unb64(value.as_str().unwrap()).try_into().unwrap()
}

/// B by hand: posts a request; returns its id and SAS state.
fn request(b: &Raw) -> (String, NewDeviceCommitted) {
    let committed = NewDeviceCommitted::start(&mut OsRng, b.secrets.public());
    let keys = b.secrets.public();
    let view = b.call(
        "POST",
        "/v1/enrollments",
        &json!({
            "commitment": b64(committed.commitment().as_bytes()),
            "signing_key": b64(keys.signing.as_bytes()),
            "agreement_key": b64(keys.agreement.as_bytes()),
            "platform": "linux",
        }),
    );
    (view["id"].as_str().unwrap().to_owned(), committed)
}

/// B by hand, once A accepted: derives the code from `committed` and posts `reveal` (the
/// ephemeral key `committed` made, or another one).
fn reveal(
    b: &Raw,
    account_id: [u8; 16],
    id: &str,
    committed: NewDeviceCommitted,
    other: Option<NewDeviceCommitted>,
) -> NewDeviceKeysExchanged {
    let view = b.wait_for(id, "accepted");
    let approver = DeviceId::from_hex(view["approver"]["device_id"].as_str().unwrap()).unwrap();
    let context = EnrollmentContext::new(account_id, &hex::decode(id).unwrap(), approver).unwrap();
    let existing = SasPublicKey::from_bytes(b32(&view["approver"]["ephemeral"]));
    let (ephemeral, exchanged) = committed
        .receive_existing_key(context.clone(), existing)
        .unwrap();
    let sent = match other {
        Some(other) => other.receive_existing_key(context, existing).unwrap().0,
        None => ephemeral,
    };
    b.call(
        "POST",
        &format!("/v1/enrollments/{id}/reveal"),
        &json!({ "ephemeral": b64(sent.as_bytes()) }),
    );
    exchanged
}

async fn account_id(engine: &Engine) -> ([u8; 16], usize) {
    let list = engine.sync().await.unwrap();
    let status = engine.session_status().await.unwrap();
    let account: [u8; 16] = hex::decode(&status.account_id).unwrap().try_into().unwrap();
    (account, list.devices.len())
}

/// An approving engine (A) registered as `username` in `dir`, its account id and device count,
/// and a new device (B) driven by hand, signed in with a restricted session.
async fn approver_and_raw_new_device(
    dir: &Path,
    server: &Service,
    username: &str,
) -> (Engine, [u8; 16], usize, Raw) {
    let a = approver(&dir.join("a"), server, username).await;
    let (account, devices) = account_id(&a).await;
    let new_device = DeviceSecrets::generate(&mut OsRng);
    let b = tokio::task::block_in_place(|| Raw::sign_in(server, username, new_device));
    (a, account, devices, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_approver_refuses_an_old_reveal_and_a_mac_from_another_run() {
    let server = Service::start();
    let dir = tempfile::tempdir().unwrap();
    let (a, account, devices, b) =
        approver_and_raw_new_device(dir.path(), &server, "old.reveal").await;

    // A reveal of another ephemeral key than the one committed to.
    let (id, committed) = tokio::task::block_in_place(|| request(&b));
    let run = {
        let (a, id) = (a.clone(), id.clone());
        tokio::spawn(async move { a.approve_enrollment(&id, async |_| true).await })
    };
    tokio::task::block_in_place(|| {
        let stale = NewDeviceCommitted::start(&mut OsRng, b.secrets.public());
        reveal(&b, account, &id, committed, Some(stale));
    });
    let error = run.await.unwrap().unwrap_err();
    assert_eq!(error.code(), "enrollment_commitment_mismatch");
    assert!(matches!(error, ClientError::EnrollmentVerification(_)));
    tokio::task::block_in_place(|| b.wait_for(&id, "cancelled"));

    // A MAC and countersignature from another run.
    let (id, committed) = tokio::task::block_in_place(|| request(&b));
    let run = {
        let (a, id) = (a.clone(), id.clone());
        tokio::spawn(async move { a.approve_enrollment(&id, async |_| true).await })
    };
    tokio::task::block_in_place(|| {
        let exchanged = reveal(&b, account, &id, committed, None);
        let view = b.wait_for(&id, "approver_confirmed");
        let confirmed = exchanged.confirm();
        let head = &view["approver_mac"]["head"];
        let claim = LedgerHeadClaim {
            seq: head["seq"].as_u64().unwrap(),
            hash: hex::decode(head["hash"].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap(),
        };
        // B itself checks A's MAC as the engine would: it verifies.
        let approver_key =
            SigningPublicKey::from_bytes(&b32(&view["approver"]["signing_key"])).unwrap();
        let mac = SasMac::from_bytes(b32(&view["approver_mac"]["mac"]));
        let verified = confirmed
            .verify_existing_device(approver_key, claim, &mac)
            .unwrap();
        // ... but answers with the MAC of an unrelated run.
        let other = NewDeviceCommitted::start(&mut OsRng, b.secrets.public());
        let context =
            EnrollmentContext::new(account, &[7; 16], DeviceId::derive(&verified.key)).unwrap();
        let foreign = other
            .receive_existing_key(context, SasPublicKey::from_bytes([9; 32]))
            .unwrap()
            .1
            .confirm()
            .mac();
        let entry = LedgerEntry::new(
            claim.seq + 1,
            EntryHash(claim.hash),
            EntryKind::AddDevice {
                device: b.secrets.public(),
                approved_by: DeviceId::derive(&verified.key),
                replaces: None,
            },
        );
        let signature = b.secrets.sign(&entry.signing_message(&account));
        b.call(
            "POST",
            &format!("/v1/enrollments/{id}/mac"),
            &json!({ "mac": b64(foreign.as_bytes()), "signature": b64(&signature.to_bytes()) }),
        );
    });
    let error = run.await.unwrap().unwrap_err();
    assert_eq!(error.code(), "enrollment_mac_mismatch");
    tokio::task::block_in_place(|| b.wait_for(&id, "cancelled"));
    assert_eq!(account_id(&a).await.1, devices, "nothing was added");
}

/// A by hand accepts request `id`; returns its SAS state.
fn accept(a: &Raw, account_id: [u8; 16], id: &str) -> enigm_core::sas::ExistingDeviceOffered {
    let view = a.call("GET", &format!("/v1/enrollments/{id}"), &Value::Null);
    let new_device = enigm_core::identity::DevicePublicKeys {
        signing: SigningPublicKey::from_bytes(&b32(&view["signing_key"])).unwrap(),
        agreement: enigm_core::identity::AgreementPublicKey::from_bytes(b32(
            &view["agreement_key"],
        )),
    };
    let context =
        EnrollmentContext::new(account_id, &hex::decode(id).unwrap(), a.secrets.device_id())
            .unwrap();
    let offered = enigm_core::sas::ExistingDeviceOffered::start(
        &mut OsRng,
        context,
        new_device,
        enigm_core::sas::Commitment::from_bytes(b32(&view["commitment"])),
    );
    a.call(
        "POST",
        &format!("/v1/enrollments/{id}/accept"),
        &json!({ "ephemeral": b64(offered.ephemeral_key().as_bytes()) }),
    );
    offered
}

/// A by hand, honest up to and including the append of `AddDevice` for request `id`.
fn approve_until_appended(a: &Raw, account_id: [u8; 16], id: &str) -> (DevicePublicKeys, Head) {
    let offered = accept(a, account_id, id);
    let view = a.wait_for(id, "revealed");
    let confirmed = offered
        .receive_new_device_key(SasPublicKey::from_bytes(b32(&view["new_ephemeral"])))
        .unwrap()
        .confirm();
    let page = a.call("GET", "/v1/ledger", &Value::Null);
    let entries = enigm::page_entries(&page);
    let state = enigm_core::ledger::verify_chain(&entries).unwrap();
    let claim = LedgerHeadClaim {
        seq: state.head().seq,
        hash: state.head().hash.0,
    };
    let mac = confirmed.mac(&a.secrets.public().signing, &claim).unwrap();
    a.call(
        "POST",
        &format!("/v1/enrollments/{id}/mac"),
        &json!({
            "mac": b64(mac.as_bytes()),
            "head": { "seq": claim.seq, "hash": hex::encode(claim.hash) },
        }),
    );
    let view = a.wait_for(id, "confirmed");
    let verified = confirmed
        .verify_new_device(&SasMac::from_bytes(b32(&view["new_device_mac"]["mac"])))
        .unwrap();
    // Dated with the request's time, as the new device dated its signature.
    let mut add = state
        .next_entry(EntryKind::AddDevice {
            device: verified.device,
            approved_by: a.secrets.device_id(),
            replaces: None,
        })
        .signed_at(view["created_at"].as_u64().unwrap());
    add.sign_device(&account_id, &a.secrets);
    let signature: [u8; 64] = unb64(view["new_device_mac"]["signature"].as_str().unwrap())
        .try_into()
        .unwrap();
    add.insert_signature(enigm_core::ledger::EntrySignature {
        signer: enigm_core::ledger::Signer::Device(DeviceId::derive(&verified.device.signing)),
        signature: ed25519_dalek::Signature::from_bytes(&signature),
    });
    a.call(
        "POST",
        "/v1/ledger",
        &json!({ "entries": [b64(&add.encode())] }),
    );
    let head = Head {
        seq: add.seq,
        hash: add.hash(),
    };
    (verified.device, head)
}

/// A registered account with its first device signed in by hand (A), and B's engine enrolling
/// in the background, `confirm` answering for its user: its request id and the run.
async fn start_against_raw_approver<Fut: Future<Output = bool> + Send>(
    server: &Service,
    dir: &Path,
    username: &str,
    confirm: impl FnOnce(enigm_client::ShortCodeView) -> Fut + Send + 'static,
) -> (
    Raw,
    [u8; 16],
    String,
    [u8; 32],
    tokio::task::JoinHandle<Result<enigm_client::EnrollmentOutcome, ClientError>>,
) {
    let account = tokio::task::block_in_place(|| {
        common::enigm::register(&Http::new(server.addr), username, PASSWORD)
    });
    let a = tokio::task::block_in_place(|| {
        Raw::sign_in(
            server,
            username,
            DeviceSecrets::from_bytes(&account.device.to_bytes()),
        )
    });
    let (b, b_key) = engine(&dir.join("b"), server);
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let username = username.to_owned();
    let run = tokio::spawn(async move {
        let mut sender = Some(sender);
        b.enroll(
            &username,
            &Zeroizing::new(PASSWORD.to_owned()),
            "linux",
            |event| {
                let enigm_client::EnrollEvent::Request { id } = event;
                if let Some(sender) = sender.take() {
                    sender.send(id.clone()).unwrap();
                }
            },
            confirm,
        )
        .await
    });
    let id = receiver.await.unwrap();
    (a, account.account_id, id, b_key, run)
}

/// A raw approver appends B and hands over the sync key that `seal` makes (from B's key, the
/// approver, the account and the head B vouched for): B's enrollment fails with `code` and B
/// keeps no key.
async fn a_bad_hand_over_is_refused(
    username: &str,
    seal: impl FnOnce(&DevicePublicKeys, &DeviceSecrets, &[u8; 16], Head) -> SignedSyncKey,
    code: &str,
) {
    let server = Service::start();
    let dir = tempfile::tempdir().unwrap();
    let (a, account_id, id, b_key, run) =
        start_against_raw_approver(&server, dir.path(), username, async |_| true).await;
    tokio::task::block_in_place(|| {
        let (b, head) = approve_until_appended(&a, account_id, &id);
        let sealed = seal(&b, &a.secrets, &account_id, head);
        a.call(
            "POST",
            &format!("/v1/enrollments/{id}/complete"),
            &json!({ "sealed_key": b64(sealed.as_bytes()) }),
        );
    });
    let error = run.await.unwrap().unwrap_err();
    assert_eq!(error.code(), code, "{error}");
    let store = Store::open_with_key(&dir.path().join("b"), &StoreKey::from_bytes(b_key)).unwrap();
    assert!(store.sync_key().unwrap().is_none(), "no foreign key kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_new_device_refuses_a_sealed_key_for_another_device() {
    // The key sealed to some other device (signed by A as it should be).
    let elsewhere = DeviceSecrets::generate(&mut OsRng).public();
    let seal = |_: &DevicePublicKeys, a: &DeviceSecrets, account_id: &[u8; 16], head| {
        let key = SyncKey::generate(&mut OsRng, 1);
        SignedSyncKey::seal(&key, &mut OsRng, account_id, &elsewhere, a, head)
    };
    a_bad_hand_over_is_refused("wrong.key", seal, "enrollment_wrong_recipient").await;
}

/// The hand-over is sealed to B's real key, but signed by someone other than its approver's
/// device in the ledger B verified (as a service that swapped in its own key would): B refuses
/// it as `sync_key_refused` and keeps no key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_new_device_refuses_a_hand_over_no_device_of_its_ledger_signed() {
    let stranger = DeviceSecrets::generate(&mut OsRng);
    let seal = |b: &DevicePublicKeys, _: &DeviceSecrets, account_id: &[u8; 16], head| {
        let key = SyncKey::generate(&mut OsRng, 1);
        SignedSyncKey::seal(&key, &mut OsRng, account_id, b, &stranger, head)
    };
    a_bad_hand_over_is_refused("unsigned.key", seal, "sync_key_refused").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_that_appends_but_never_hands_over_is_reported_as_such() {
    let server = Service::start();
    let dir = tempfile::tempdir().unwrap();
    let (a, account_id, id, _, run) =
        start_against_raw_approver(&server, dir.path(), "no.handover", async |_| true).await;
    tokio::task::block_in_place(|| {
        approve_until_appended(&a, account_id, &id);
        a.call("POST", &format!("/v1/enrollments/{id}/cancel"), &json!({}));
    });
    let error = run.await.unwrap().unwrap_err();
    assert_eq!(error.code(), "enrolled_without_sync_key");
}

/// While one side shows the code, the other gives up (it saw different codes, or cancelled):
/// the side still showing it learns at once that the request is over, instead of waiting for
/// an answer that no longer matters. Nothing is added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_on_screen_ends_when_the_other_side_gives_up() {
    let server = Service::start();
    let dir = tempfile::tempdir().unwrap();

    // The approving engine shows the code; the new device (by hand) cancels.
    let (a, account, devices, b) =
        approver_and_raw_new_device(dir.path(), &server, "gave.up").await;
    let (id, committed) = tokio::task::block_in_place(|| request(&b));
    let (shown, on_screen) = tokio::sync::oneshot::channel();
    let run = {
        let (a, id) = (a.clone(), id.clone());
        // The code goes on screen and its user is still comparing: no answer comes.
        let confirm = async move |_| {
            let _ = shown.send(());
            std::future::pending::<bool>().await
        };
        tokio::spawn(async move { a.approve_enrollment(&id, confirm).await })
    };
    tokio::task::block_in_place(|| reveal(&b, account, &id, committed, None));
    on_screen.await.unwrap();
    tokio::task::block_in_place(|| {
        b.call("POST", &format!("/v1/enrollments/{id}/cancel"), &json!({}));
    });
    let outcome = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("the approver kept showing the code of a cancelled request")
        .unwrap()
        .unwrap();
    assert_eq!(outcome, enigm_client::EnrollmentOutcome::Cancelled);
    assert_eq!(account_id(&a).await.1, devices, "nothing was added");

    // The new device's engine shows the code; the approver (by hand) cancels.
    let (shown, on_screen) = tokio::sync::oneshot::channel();
    let confirm = async move |_| {
        let _ = shown.send(());
        std::future::pending::<bool>().await
    };
    let (a, account_id, id, _, run) =
        start_against_raw_approver(&server, dir.path(), "gave.up.too", confirm).await;
    tokio::task::block_in_place(|| {
        accept(&a, account_id, &id);
    });
    on_screen.await.unwrap();
    // The approver's user saw a different code: the new device says so, not just "cancelled".
    tokio::task::block_in_place(|| {
        let body = json!({ "reason": "codes_differ" });
        a.call("POST", &format!("/v1/enrollments/{id}/cancel"), &body);
    });
    let outcome = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("the new device kept showing the code of a cancelled request")
        .unwrap()
        .unwrap();
    assert_eq!(outcome, enigm_client::EnrollmentOutcome::CodesDiffer);
}
