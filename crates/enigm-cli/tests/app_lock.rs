//! The app's Lock in the engine against the real `enigm server`: the password is checked on
//! this device (it works with the service down), wrong passwords make the next try wait and
//! say for how long, the lock and the wait survive a restart, and a profile from before the
//! Lock unlocks by signing in with the service, saying so when it cannot be reached. Locking
//! stops nothing: a revocation while locked still reaches the device and erases its keys; but a
//! locked app is sent no device list, and the steps of joining an account wait for the unlock.

use crate::common;

use std::time::Duration;

use common::enigm::{self, Session, add_device, append, ledger};
use common::{Http, ServerProcess};
use enigm_client::{ClientError, Engine, LockStatus, ServiceClient, WatchUpdate};
use enigm_core::identity::DeviceSecrets;
use enigm_core::ledger::{EntryKind, RevokeReason};
use enigm_core::request::SessionId;
use enigm_core::session::SessionState;
use enigm_core::unlock::UnlockAttempts;
use enigm_store::{LockState, Store, StoreKey};
use rand_core::OsRng;
use zeroize::Zeroizing;

const PASSWORD: &str = "correct horse battery staple 42";

fn password(text: &str) -> Zeroizing<String> {
    Zeroizing::new(text.to_owned())
}

/// A profile in a fresh directory with a known store key, so the test can look inside.
struct Profile {
    dir: tempfile::TempDir,
    key: [u8; StoreKey::LEN],
}

impl Profile {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            key: *StoreKey::generate().as_bytes(),
        }
    }

    fn store(&self) -> Store {
        Store::open_with_key(self.dir.path(), &StoreKey::from_bytes(self.key)).unwrap()
    }

    /// A fresh engine over the profile, as after a restart of the app.
    fn engine(&self, url: &str) -> Engine {
        Engine::with_store(self.store(), ServiceClient::new(url).unwrap())
    }

    /// Moves the last wrong password into the past, instead of sleeping through the wait.
    fn age_last_failure(&self, seconds: u64) {
        let mut store = self.store();
        let mut state = store.lock_state().unwrap();
        state.attempts.last_failure_at -= seconds;
        store.save_lock_state(&state).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_inactivity_lock_is_kept_in_the_encrypted_store_and_at_most_a_day() {
    // Nothing here talks to the service.
    let url = "http://127.0.0.1:9";
    let profile = Profile::new();
    let engine = profile.engine(url);
    assert_eq!(engine.lock_status().await.unwrap().auto_lock_minutes, 15);
    engine.set_auto_lock(60).await.unwrap();
    let refused = engine.set_auto_lock(24 * 60 + 1).await.unwrap_err();
    assert_eq!(refused.code(), "invalid_auto_lock");
    drop(engine);

    let engine = profile.engine(url);
    assert_eq!(
        engine.lock_status().await.unwrap().auto_lock_minutes,
        60,
        "kept across a restart; the refused value changed nothing"
    );
    engine.set_auto_lock(0).await.unwrap();
    assert_eq!(engine.lock_status().await.unwrap().auto_lock_minutes, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_password_unlocks_offline_and_wrong_ones_wait_longer_each_time() {
    let mut server = ServerProcess::start();
    let url = format!("http://{}", server.addr);
    let profile = Profile::new();
    let engine = profile.engine(&url);
    assert_eq!(
        engine.lock().await.unwrap_err().code(),
        "no_account",
        "nothing to hide before there is an account"
    );
    engine
        .register("lena.lock", &password(PASSWORD))
        .await
        .unwrap();
    assert_eq!(
        engine.lock_status().await.unwrap(),
        LockStatus {
            locked: false,
            offline_unlock: true,
            retry_in: 0,
            auto_lock_minutes: enigm_client::DEFAULT_AUTO_LOCK_MINUTES,
        }
    );
    engine.lock().await.unwrap();
    assert!(engine.lock_status().await.unwrap().locked);

    // The service is gone: the password is still checked, here.
    server.kill();
    for _ in 0..2 {
        let error = engine.unlock(None, &password("wrong")).await.unwrap_err();
        assert!(matches!(
            error,
            ClientError::UnlockWrongPassword { wait: 0 }
        ));
        assert_eq!(error.to_string(), "that is not your account password");
    }
    let error = engine.unlock(None, &password("wrong")).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "that is not your account password; try again in 5 seconds"
    );
    // Even the right password waits, and nothing is checked meanwhile.
    let error = engine.unlock(None, &password(PASSWORD)).await.unwrap_err();
    assert_eq!(error.code(), "unlock_delayed");
    assert!(matches!(error, ClientError::UnlockDelayed { wait: 1..=5 }));
    let status = engine.lock_status().await.unwrap();
    assert!(status.locked && (1..=5).contains(&status.retry_in));

    // A restart keeps the lock and the count: the next wrong password waits twice as long.
    drop(engine);
    let engine = profile.engine(&url);
    assert!(engine.lock_status().await.unwrap().locked);
    profile.age_last_failure(5);
    let error = engine.unlock(None, &password("wrong")).await.unwrap_err();
    assert!(matches!(
        error,
        ClientError::UnlockWrongPassword { wait: 10 }
    ));
    assert_eq!(
        profile.store().lock_state().unwrap().attempts.failures,
        4,
        "a wrong password is counted even across restarts"
    );

    profile.age_last_failure(10);
    engine.unlock(None, &password(PASSWORD)).await.unwrap();
    assert_eq!(
        profile.store().lock_state().unwrap(),
        LockState::default(),
        "unlocking forgets the wrong passwords"
    );
    // Unlocking what is not locked changes nothing.
    engine.unlock(None, &password("wrong")).await.unwrap();
    assert_eq!(profile.store().lock_state().unwrap(), LockState::default());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_from_before_the_lock_unlocks_by_signing_in() {
    let mut server = ServerProcess::start();
    let url = format!("http://{}", server.addr);
    let profile = Profile::new();
    let engine = profile.engine(&url);
    engine
        .register("olga.older", &password(PASSWORD))
        .await
        .unwrap();
    engine.lock().await.unwrap();
    drop(engine);
    // What a profile written before the Lock holds: no verifier.
    let conn = rusqlite::Connection::open(profile.dir.path().join("store.db")).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA key = \"x'{}'\"; UPDATE app_lock SET verifier = NULL;",
        hex::encode(profile.key)
    ))
    .unwrap();
    drop(conn);

    let engine = profile.engine(&url);
    let status = engine.lock_status().await.unwrap();
    assert!(status.locked && !status.offline_unlock);
    assert_eq!(
        engine
            .unlock(None, &password(PASSWORD))
            .await
            .unwrap_err()
            .code(),
        "unlock_needs_username"
    );
    // The service checks the password: a wrong one counts like any other.
    let error = engine
        .unlock(Some("olga.older"), &password("wrong"))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        ClientError::UnlockWrongPassword { wait: 0 }
    ));
    assert_eq!(profile.store().lock_state().unwrap().attempts.failures, 1);

    // Another account's username and password do not unlock this one.
    let other = Profile::new();
    other
        .engine(&url)
        .register("otto.other", &password("other password 1234"))
        .await
        .unwrap();
    let error = engine
        .unlock(Some("otto.other"), &password("other password 1234"))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "unlock_wrong_password");
    assert!(engine.lock_status().await.unwrap().locked);

    engine
        .unlock(Some("olga.older"), &password(PASSWORD))
        .await
        .unwrap();
    let status = engine.lock_status().await.unwrap();
    assert!(!status.locked);
    assert!(
        status.offline_unlock,
        "signing in saved a verifier for next time"
    );

    // Offline, the older profile says it needs the service once.
    drop(engine);
    let conn = rusqlite::Connection::open(profile.dir.path().join("store.db")).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA key = \"x'{}'\"; UPDATE app_lock SET verifier = NULL, locked = 1;",
        hex::encode(profile.key)
    ))
    .unwrap();
    drop(conn);
    server.kill();
    let engine = profile.engine(&url);
    let error = engine
        .unlock(Some("olga.older"), &password(PASSWORD))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "unlock_needs_service");
    assert!(error.to_string().contains("cannot be reached"));
    assert_eq!(
        profile.store().lock_state().unwrap().attempts,
        UnlockAttempts::default(),
        "an unreachable service is not a wrong password"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_while_locked_still_erases_this_devices_keys() {
    let server = ServerProcess::start();
    let url = format!("http://{}", server.addr);
    let http = Http::new(server.addr);
    let profile = Profile::new();
    let this = DeviceSecrets::generate(&mut OsRng);
    profile.store().save_device_secrets(&this).unwrap();
    let engine = profile.engine(&url);
    engine
        .register("rita.revoked", &password(PASSWORD))
        .await
        .unwrap();
    engine.lock().await.unwrap();

    // A second device of the account, added with this one's session as an approval would.
    let account_id = profile.store().account_id().unwrap().unwrap();
    let saved = profile.store().session().unwrap().unwrap();
    let session = Session {
        id: SessionId::from_bytes(saved.session_id),
        kind: saved.kind,
    };
    let other = add_device(&http, &session, account_id, &this);
    let other_session = enigm::login(&http, "rita.revoked", PASSWORD, &other).unwrap();

    let (online, mut connected) = tokio::sync::mpsc::unbounded_channel();
    let watching = tokio::spawn({
        let engine = engine.clone();
        async move {
            let mut updates = Vec::new();
            let ended = engine
                .watch(|update| {
                    if matches!(update, WatchUpdate::Online) {
                        let _ = online.send(());
                    }
                    updates.push(update.clone());
                })
                .await;
            (ended, updates)
        }
    });
    tokio::time::timeout(Duration::from_secs(30), connected.recv())
        .await
        .expect("the locked app keeps its push connection");
    // The device list changes while the app is locked: the engine follows it, but the window
    // is sent nothing of it (no labels, no devices) until it is unlocked.
    add_device(&http, &other_session, account_id, &other);
    let state = ledger(&http, &other_session, &other);
    let mut revoke = state.next_entry(EntryKind::Revoke {
        device: this.device_id(),
        reason: RevokeReason::Lost,
    });
    revoke.sign_device(&account_id, &other);
    append(&http, &other_session, &other, &revoke);

    let (ended, updates) = tokio::time::timeout(Duration::from_secs(30), watching)
        .await
        .expect("the locked app hears the revocation")
        .unwrap();
    let ended = ended.unwrap();
    assert!(matches!(ended, SessionState::Revoked { .. }), "{ended:?}");
    assert!(
        !updates
            .iter()
            .any(|update| matches!(update, WatchUpdate::Devices { .. })),
        "a device list reached the locked window: {updates:?}"
    );
    let store = profile.store();
    assert!(store.device_secrets().unwrap().is_none(), "keys erased");
    assert!(
        store.password_verifier().unwrap().is_none(),
        "no hash of the password is kept either"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn joining_steps_wait_until_the_app_is_unlocked() {
    let server = ServerProcess::start();
    let url = format!("http://{}", server.addr);
    let username = "jill.joining";
    tokio::task::block_in_place(|| enigm::register(&Http::new(server.addr), username, PASSWORD));
    let profile = Profile::new();
    let engine = profile.engine(&url);
    // Listing what it could replace signs the desk in to enroll: it has an account to hide.
    let devices = engine
        .replaceable_devices(username, &password(PASSWORD))
        .await
        .unwrap();
    assert_eq!(devices.len(), 1);
    engine.lock().await.unwrap();

    let error = engine
        .replaceable_devices(username, &password(PASSWORD))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "locked", "replaceable_devices: {error}");
    let error = engine
        .enroll(
            username,
            &password(PASSWORD),
            "linux",
            |_| {},
            async |_| true,
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), "locked", "enroll: {error}");
    let error = engine.abandon_joining().await.unwrap_err();
    assert_eq!(error.code(), "locked", "abandon_joining: {error}");
    let store = profile.store();
    assert!(store.session().unwrap().is_some(), "nothing was signed out");
    assert!(store.lock_state().unwrap().locked, "still locked");
    drop(store);

    // Unlocked, the desk can give up joining.
    engine.unlock(None, &password(PASSWORD)).await.unwrap();
    engine.abandon_joining().await.unwrap();
}

/// The same with the real OS keychain, as the app runs: the store's key comes from the Secret
/// Service, and a restarted engine starts locked and unlocks with the service down.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
async fn with_the_real_keychain_a_restart_starts_locked_and_unlocks_offline() {
    let mut server = ServerProcess::start();
    let url = format!("http://{}", server.addr);
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), &url).await.unwrap();
    engine
        .register("kira.keychain", &password(PASSWORD))
        .await
        .unwrap();
    engine.lock().await.unwrap();
    drop(engine);
    server.kill();

    let engine = Engine::open(dir.path(), &url).await.unwrap();
    let status = engine.lock_status().await.unwrap();
    assert!(status.locked && status.offline_unlock);
    assert_eq!(
        engine
            .unlock(None, &password("nope"))
            .await
            .unwrap_err()
            .code(),
        "unlock_wrong_password"
    );
    engine.unlock(None, &password(PASSWORD)).await.unwrap();
    assert!(!engine.lock_status().await.unwrap().locked);
}
