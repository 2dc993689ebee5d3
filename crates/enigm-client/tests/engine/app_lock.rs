//! The app's Lock in the engine against the service: the account password is
//! never kept on the device (the decrypted store holds nothing derived from it) and unlocking
//! with it is checked online by the service, with a precise error when the service cannot be
//! reached; an optional device PIN (real keychain) unlocks offline, wrong PINs wait longer each
//! time and the fifth in a row erases it, in the store and the keychain. The lock survives a
//! restart. Locking stops nothing: a revocation while locked still reaches the device and
//! erases its keys; but a locked app is sent no device list, and the steps of joining an
//! account wait for the unlock.

use crate::common;

use std::time::Duration;

use common::enigm::{self, add_device, append, ledger};
use common::{Http, Profile, Service};
use enigm_client::{ClientError, Engine, LockStatus, WatchUpdate};
use enigm_core::ledger::{EntryKind, RevokeReason};
use enigm_core::session::SessionState;
use enigm_store::{Keychain, LockState, Store};
use zeroize::Zeroizing;

use common::PASSWORD;

fn password(text: &str) -> Zeroizing<String> {
    Zeroizing::new(text.to_owned())
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

/// The columns of the decrypted store's `app_lock` table, and its one row as text.
fn app_lock_contents(profile: &Profile) -> (Vec<String>, String) {
    let conn = profile.database();
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('app_lock')")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let select = columns
        .iter()
        .map(|column| format!("quote({column})"))
        .collect::<Vec<_>>()
        .join(" || ',' || ");
    let row: String = conn
        .query_row(&format!("SELECT {select} FROM app_lock"), [], |row| {
            row.get(0)
        })
        .unwrap_or_default();
    (columns, row)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_password_is_checked_online_only_and_the_store_keeps_nothing_derived_from_it() {
    let mut server = Service::start();
    let url = server.url();
    let profile = Profile::new();
    let engine = profile.engine(&url);
    assert_eq!(
        engine.lock().await.unwrap_err().code(),
        "no_account",
        "nothing to hide before there is an account"
    );
    common::register(&engine, "lena.lock").await;
    engine.lock().await.unwrap();
    engine.unlock(None, &password(PASSWORD)).await.unwrap();
    // Registered, signed in, unlocked: the decrypted store holds the lock's state and nothing
    // else (no verifier of the account password, as before).
    let (columns, row) = app_lock_contents(&profile);
    assert_eq!(
        columns,
        [
            "id",
            "locked",
            "failures",
            "last_failure_at",
            "pin_verifier"
        ],
        "app_lock row: {row}"
    );
    assert_eq!(row, "1,0,0,0,NULL");
    assert_eq!(
        engine.lock_status().await.unwrap(),
        LockStatus {
            locked: false,
            pin_set: false,
            needs_username: false,
            retry_in: 0,
            auto_lock_minutes: enigm_client::DEFAULT_AUTO_LOCK_MINUTES,
        }
    );

    engine.lock().await.unwrap();
    assert!(engine.lock_status().await.unwrap().locked);
    // The service checks the password: a wrong one is refused and nothing is counted here.
    for _ in 0..4 {
        let error = engine.unlock(None, &password("wrong")).await.unwrap_err();
        assert!(matches!(error, ClientError::UnlockWrongPassword), "{error}");
        assert_eq!(
            error.to_string(),
            "that is not your account password (the Enigm service checked it)"
        );
    }
    assert_eq!(
        profile.store().lock_state().unwrap().attempts,
        Default::default(),
        "the service's budget counts password guesses, not this device"
    );
    // Another account's username and password do not unlock this one.
    Profile::new()
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

    // A restart keeps the lock; the right password unlocks, checked by the service.
    drop(engine);
    let engine = profile.engine(&url);
    assert!(engine.lock_status().await.unwrap().locked);
    engine.unlock(None, &password(PASSWORD)).await.unwrap();
    assert_eq!(profile.store().lock_state().unwrap(), LockState::default());
    // Unlocking what is not locked changes nothing.
    engine.unlock(None, &password("wrong")).await.unwrap();

    // The service is gone: the password cannot be checked, and the engine says so.
    engine.lock().await.unwrap();
    server.stop();
    let error = engine.unlock(None, &password(PASSWORD)).await.unwrap_err();
    assert_eq!(error.code(), "unlock_needs_service");
    assert_eq!(
        error.to_string(),
        "the Enigm service cannot be reached, and your account password cannot be checked \
         offline; connect to the network and try again"
    );
    assert!(engine.lock_status().await.unwrap().locked);
    // Without the keychain there is no PIN to fall back on.
    assert_eq!(
        common::error_code(engine.unlock_with_pin(&password("123456"))).await,
        "no_pin"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_that_does_not_know_its_username_asks_for_it_once() {
    let server = Service::start();
    let (profile, engine) = Profile::registered(&server, "olga.older").await;
    engine.lock().await.unwrap();
    drop(engine);
    // What a profile from before this change holds: no username.
    let conn = profile.database();
    conn.execute_batch("DELETE FROM meta WHERE key = 'username';")
        .unwrap();
    drop(conn);

    let engine = profile.engine(&server.url());
    let status = engine.lock_status().await.unwrap();
    assert!(status.locked && status.needs_username && !status.pin_set);
    assert_eq!(
        common::error_code(engine.unlock(None, &password(PASSWORD))).await,
        "unlock_needs_username"
    );
    engine
        .unlock(Some(" olga.older "), &password(PASSWORD))
        .await
        .unwrap();
    let status = engine.lock_status().await.unwrap();
    assert!(
        !status.locked && !status.needs_username,
        "kept for next time"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_while_locked_still_erases_this_devices_keys() {
    let server = Service::start();
    let http = Http::new(server.addr);
    let (profile, engine) = Profile::registered(&server, "rita.revoked").await;
    let this = &profile.device;
    engine.lock().await.unwrap();

    // A second device of the account, added with this one's session as an approval would.
    let account_id = profile.store().account_id().unwrap().unwrap();
    let session = profile.saved_session().unwrap();
    let other = add_device(&http, &session, account_id, this);
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
    assert!(!store.has_pin().unwrap(), "no PIN is kept either");
}

#[tokio::test(flavor = "multi_thread")]
async fn joining_steps_wait_until_the_app_is_unlocked() {
    let server = Service::start();
    let url = server.url();
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

/// Moves the last wrong PIN of the profile in `dir` (its key in the real keychain) into the
/// past, instead of sleeping through the wait.
fn age_last_failure(dir: &std::path::Path, seconds: u64) {
    let mut store = Store::open(dir, &Keychain::platform().unwrap()).unwrap();
    let mut state = store.lock_state().unwrap();
    state.attempts.last_failure_at -= seconds;
    store.save_lock_state(&state).unwrap();
}

/// The PIN with the real OS keychain, as the app runs: set only while unlocked, it unlocks with
/// the service down (where the password cannot), wrong PINs wait longer each time, and the
/// fifth wrong one in a row erases it, its keychain secret too.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
async fn with_the_real_keychain_the_pin_unlocks_offline_and_five_wrong_ones_erase_it() {
    const PIN: &str = "482916";
    let mut server = Service::start();
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), &url).await.unwrap();
    common::register(&engine, "kira.keychain").await;
    for bad in ["12345", "1234567890123", "12345a"] {
        let error = engine.set_pin(&password(bad)).await.unwrap_err();
        assert_eq!(error.code(), "invalid_pin", "{bad}");
        assert_eq!(
            error.to_string(),
            "a PIN is 6 to 12 digits (0-9), nothing else"
        );
    }
    engine.set_pin(&password("111111")).await.unwrap();
    engine.set_pin(&password(PIN)).await.unwrap();
    let status = engine.lock_status().await.unwrap();
    assert!(status.pin_set && !status.locked);
    let profile_id = {
        let store = Store::open(dir.path(), &Keychain::platform().unwrap()).unwrap();
        store.profile_id()
    };
    assert!(
        Keychain::platform()
            .unwrap()
            .load_pin_secret(&profile_id)
            .is_ok(),
        "the PIN's secret is in the keychain"
    );

    engine.lock().await.unwrap();
    // Changing or removing the PIN needs the app unlocked.
    assert_eq!(
        common::error_code(engine.set_pin(&password("222222"))).await,
        "locked"
    );
    assert_eq!(engine.remove_pin().await.unwrap_err().code(), "locked");
    drop(engine);
    server.stop();

    // Restarted, with the service down: the password cannot be checked; the PIN can.
    let engine = Engine::open(dir.path(), &url).await.unwrap();
    let status = engine.lock_status().await.unwrap();
    assert!(status.locked && status.pin_set);
    let error = engine.unlock(None, &password(PASSWORD)).await.unwrap_err();
    assert_eq!(error.code(), "unlock_needs_service");
    assert!(
        error
            .to_string()
            .ends_with("unlock with your PIN, or connect to the network and try again"),
        "{error}"
    );
    assert_eq!(
        common::error_code(engine.unlock_with_pin(&password("11111"))).await,
        "invalid_pin",
        "a malformed PIN is not counted"
    );
    assert_eq!(
        common::error_code(engine.unlock_with_pin(&password("111111"))).await,
        "unlock_wrong_pin",
        "the replaced PIN no longer works"
    );
    engine.unlock_with_pin(&password(PIN)).await.unwrap();
    assert!(!engine.lock_status().await.unwrap().locked);

    // Five wrong PINs in a row: waits after the third and fourth, then the PIN is erased.
    engine.lock().await.unwrap();
    let mut waits = Vec::new();
    for wrong in ["000000", "000001", "000002", "000003"] {
        match engine.unlock_with_pin(&password(wrong)).await.unwrap_err() {
            ClientError::UnlockWrongPin { wait, left } => waits.push((wait, left)),
            other => panic!("{other}"),
        }
        let wait = waits.last().unwrap().0;
        if wait > 0 {
            let error = engine.unlock_with_pin(&password(PIN)).await.unwrap_err();
            assert_eq!(error.code(), "unlock_delayed", "even the right PIN waits");
            age_last_failure(dir.path(), wait);
        }
    }
    assert_eq!(waits, [(0, 4), (0, 3), (5, 2), (10, 1)]);
    let error = engine
        .unlock_with_pin(&password("000004"))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "pin_erased");
    assert!(
        error
            .to_string()
            .contains("unlock with your account password (this needs the Enigm service)"),
        "{error}"
    );
    let status = engine.lock_status().await.unwrap();
    assert!(status.locked && !status.pin_set);
    assert!(
        matches!(
            Keychain::platform().unwrap().load_pin_secret(&profile_id),
            Err(enigm_store::Error::KeyMissing)
        ),
        "the PIN's keychain secret is erased"
    );
    // The right PIN no longer unlocks; the account password (online) is needed.
    let error = engine.unlock_with_pin(&password(PIN)).await.unwrap_err();
    assert_eq!(error.code(), "no_pin");
    assert!(
        error
            .to_string()
            .contains("unlock with your account password"),
        "{error}"
    );
    assert_eq!(
        common::error_code(engine.unlock(None, &password(PASSWORD))).await,
        "unlock_needs_service"
    );
    drop(engine);

    // With the service back (same data, another port), the password unlocks, online; a new
    // PIN can be set, and removed with its keychain secret.
    let back = Service::start_in(&server.data_dir, |_| {});
    let engine = Engine::open(dir.path(), &format!("http://{}", back.addr))
        .await
        .unwrap();
    engine.unlock(None, &password(PASSWORD)).await.unwrap();
    engine.set_pin(&password(PIN)).await.unwrap();
    assert!(engine.lock_status().await.unwrap().pin_set);
    engine.remove_pin().await.unwrap();
    assert!(!engine.lock_status().await.unwrap().pin_set);
    assert!(matches!(
        Keychain::platform().unwrap().load_pin_secret(&profile_id),
        Err(enigm_store::Error::KeyMissing)
    ));
}
