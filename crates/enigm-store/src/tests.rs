//! Unit tests of the open rules and typed access, with keyring-core's mock keychain.
//!
//! Each test builds its own mock store (no global state), except the one test that exercises
//! `keyring_core`'s default-store slot. The real-keychain, cross-process versions of these
//! tests live in the workspace's `tests/` crate.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use enigm_core::identity::{DeviceId, DeviceSecrets};
use enigm_core::ledger::Remover;
use enigm_core::session::RemovalReason;
use enigm_core::sync_key::SyncKey;
use enigm_core::trust::SessionKind;
use keyring_core::CredentialStore;
use keyring_core::api::CredentialStoreApi;
use rand_core::OsRng;

use crate::profile::{DATABASE_FILE, KCV_FILE, PROFILE_ID_FILE};
use crate::{
    Error, KEYCHAIN_SERVICE, Keychain, LockState, PinnedHead, RevokedMark, SCHEMA_VERSION,
    SavedSession, Store, StoreKey,
};

fn mock() -> (Arc<keyring_core::mock::Store>, Keychain) {
    let store = keyring_core::mock::Store::new().unwrap();
    let shared: Arc<CredentialStore> = store.clone();
    (store, Keychain::from_credential_store(shared))
}

fn profile_user(dir: &Path) -> String {
    fs::read_to_string(dir.join(PROFILE_ID_FILE))
        .unwrap()
        .trim()
        .to_owned()
}

/// Changes the encrypted database behind the store's back, as an older build or damage would
/// have left it.
fn rewrite(dir: &Path, key: [u8; 32], sql: &str) {
    let conn = rusqlite::Connection::open(dir.join(DATABASE_FILE)).unwrap();
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\"; {sql}", hex::encode(key)))
        .unwrap();
}

/// A new, empty store under `key`, closed and then changed behind its back with `sql`.
fn rewritten_store(key: [u8; 32], sql: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    Store::open_with_key(dir.path(), &StoreKey::from_bytes(key))
        .unwrap()
        .close()
        .unwrap();
    rewrite(dir.path(), key, sql);
    dir
}

fn entry(store: &keyring_core::mock::Store, dir: &Path) -> keyring_core::Entry {
    store
        .build(KEYCHAIN_SERVICE, &profile_user(dir), None)
        .unwrap()
}

/// The keychain entry of the profile's unlock PIN secret.
fn pin_entry(store: &keyring_core::mock::Store, dir: &Path) -> keyring_core::Entry {
    let user = format!("{}{}", profile_user(dir), crate::keychain::PIN_ENTRY_SUFFIX);
    store.build(KEYCHAIN_SERVICE, &user, None).unwrap()
}

/// A created profile with its file `name` removed, and what opening it again says.
fn open_without(name: &str) -> (tempfile::TempDir, Result<Store, Error>) {
    let (_, keychain) = mock();
    let dir = created(&keychain);
    fs::remove_file(dir.path().join(name)).unwrap();
    let opened = Store::open(dir.path(), &keychain);
    (dir, opened)
}

/// A new store in a temporary directory, with a random key.
fn fresh_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with_key(dir.path(), &StoreKey::generate()).unwrap();
    (dir, store)
}

/// The ledger head `seq` with a hash of `byte`s.
fn head(seq: u64, byte: u8) -> PinnedHead {
    PinnedHead {
        seq,
        hash: [byte; 32],
    }
}

fn created(keychain: &Keychain) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), keychain).unwrap();
    store.set_meta("marker", b"ENIGM-MARKER-1234").unwrap();
    store.close().unwrap();
    dir
}

#[test]
fn first_open_creates_and_reopen_reads_the_same_data() {
    let (_, keychain) = mock();
    let dir = tempfile::tempdir().unwrap();
    let secrets = DeviceSecrets::generate(&mut OsRng);
    let head = PinnedHead {
        seq: 42,
        hash: [0x11; 32],
    };
    {
        let mut store = Store::open(dir.path(), &keychain).unwrap();
        let info = store.info().clone();
        assert!(info.created && info.encrypted);
        assert!(!info.cipher_version.is_empty());
        assert_eq!(info.keychain_backend.as_deref(), Some("mock"));
        assert_eq!(info.schema_version, SCHEMA_VERSION);
        assert_eq!(store.device_secrets().unwrap().map(|s| s.device_id()), None);
        store.save_device_secrets(&secrets).unwrap();
        store.set_account_id([0x5A; 16]).unwrap();
        store.pin_head(head).unwrap();
        store.close().unwrap();
    }
    let store = Store::open(dir.path(), &keychain).unwrap();
    assert!(!store.info().created);
    assert_eq!(
        store.device_secrets().unwrap().map(|s| s.device_id()),
        Some(secrets.device_id())
    );
    assert_eq!(store.account_id().unwrap(), Some([0x5A; 16]));
    assert_eq!(store.pinned_head().unwrap(), Some(head));
    assert!(store.meta("created_with").unwrap().is_some());
    let header = &fs::read(dir.path().join(DATABASE_FILE)).unwrap()[..16];
    assert_ne!(header, b"SQLite format 3\0");
}

#[test]
fn the_key_lives_in_the_keychain_under_the_profile_id() {
    let (mock_store, keychain) = mock();
    let dir = created(&keychain);
    let user = profile_user(dir.path());
    assert_eq!(user.len(), 32, "profile id is 128 random bits in hex");
    let key = entry(&mock_store, dir.path()).get_secret().unwrap();
    assert_eq!(key.len(), 32);
    // The same key opens the store without the keychain.
    let key = StoreKey::from_bytes(key.try_into().unwrap());
    let store = Store::open_with_key(dir.path(), &key).unwrap();
    assert_eq!(store.info().keychain_backend, None);
    assert_eq!(store.profile_id().to_hex(), user);
}

#[test]
fn wrong_key_is_refused_without_touching_the_file() {
    let (mock_store, keychain) = mock();
    let dir = created(&keychain);
    let db = dir.path().join(DATABASE_FILE);
    let before = fs::read(&db).unwrap();
    entry(&mock_store, dir.path())
        .set_secret(&[9u8; 32])
        .unwrap();
    assert!(matches!(
        Store::open(dir.path(), &keychain),
        Err(Error::WrongKey)
    ));
    // A keychain secret of the wrong length cannot be the key either.
    entry(&mock_store, dir.path())
        .set_secret(&[9u8; 7])
        .unwrap();
    assert!(matches!(
        Store::open(dir.path(), &keychain),
        Err(Error::WrongKey)
    ));
    assert_eq!(fs::read(&db).unwrap(), before);
    assert!(!dir.path().join("store.db-wal").exists());
}

#[test]
fn deleted_keychain_entry_is_key_missing_and_nothing_is_recreated() {
    let (mock_store, keychain) = mock();
    let dir = created(&keychain);
    let kcv = fs::read(dir.path().join(KCV_FILE)).unwrap();
    entry(&mock_store, dir.path()).delete_credential().unwrap();
    assert!(matches!(
        Store::open(dir.path(), &keychain),
        Err(Error::KeyMissing)
    ));
    assert!(matches!(
        entry(&mock_store, dir.path()).get_secret(),
        Err(keyring_core::Error::NoEntry)
    ));
    assert_eq!(fs::read(dir.path().join(KCV_FILE)).unwrap(), kcv);
}

#[test]
fn locked_and_failing_keychains_have_their_own_errors() {
    let (mock_store, keychain) = mock();
    let dir = created(&keychain);
    let set_error = |err| {
        let entry = entry(&mock_store, dir.path());
        entry
            .as_any()
            .downcast_ref::<keyring_core::mock::Cred>()
            .unwrap()
            .set_error(err);
    };
    set_error(keyring_core::Error::NoStorageAccess(Box::new(
        std::io::Error::other("locked"),
    )));
    assert!(matches!(
        Store::open(dir.path(), &keychain),
        Err(Error::KeychainLocked)
    ));
    set_error(keyring_core::Error::PlatformFailure(Box::new(
        std::io::Error::other("bus gone"),
    )));
    assert!(matches!(
        Store::open(dir.path(), &keychain),
        Err(Error::KeychainFailure(_))
    ));
    // The errors were one-shot: the store opens again.
    Store::open(dir.path(), &keychain).unwrap();
}

#[test]
fn default_store_slot_unset_is_unavailable_and_set_is_used() {
    // The only test touching keyring-core's global default store.
    keyring_core::unset_default_store();
    assert!(matches!(
        Keychain::default_store(),
        Err(Error::KeychainUnavailable)
    ));
    keyring_core::set_default_store(keyring_core::mock::Store::new().unwrap());
    let keychain = Keychain::default_store().unwrap();
    assert_eq!(keychain.backend_name(), "mock");
    let dir = created(&keychain);
    Store::open(dir.path(), &keychain).unwrap();
    keyring_core::unset_default_store();
}

#[test]
fn plaintext_sqlite_is_refused() {
    let (_, keychain) = mock();
    // A plain SQLite file where a fresh profile's store would go.
    let dir = tempfile::tempdir().unwrap();
    let plain = rusqlite::Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
    plain
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    drop(plain);
    assert!(matches!(
        Store::open(dir.path(), &keychain),
        Err(Error::PlaintextDatabase)
    ));
    // And in place of an existing profile's store.
    let existing = created(&keychain);
    fs::copy(
        dir.path().join(DATABASE_FILE),
        existing.path().join(DATABASE_FILE),
    )
    .unwrap();
    assert!(matches!(
        Store::open(existing.path(), &keychain),
        Err(Error::PlaintextDatabase)
    ));
}

#[test]
fn damaged_files_with_the_right_key_are_corrupted() {
    let (_, keychain) = mock();
    let dir = created(&keychain);
    let db = dir.path().join(DATABASE_FILE);
    let bytes = fs::read(&db).unwrap();
    // Garbled page 1 (after the salt).
    let mut garbled = bytes.clone();
    for byte in &mut garbled[100..600] {
        *byte ^= 0x5A;
    }
    for (damage, contents) in [
        ("truncated inside page 1", &bytes[..1000]),
        ("garbled page 1", &garbled[..]),
        ("truncated to nothing", &[][..]),
    ] {
        fs::write(&db, contents).unwrap();
        let opened = Store::open(dir.path(), &keychain);
        assert!(matches!(opened, Err(Error::Corrupted)), "{damage}");
    }
    // Nothing was "repaired": the empty file is still there.
    assert_eq!(fs::read(&db).unwrap().len(), 0);
}

#[test]
fn missing_database_is_not_silently_recreated() {
    let (dir, opened) = open_without(DATABASE_FILE);
    assert!(matches!(opened, Err(Error::DatabaseMissing)));
    assert!(!dir.path().join(DATABASE_FILE).exists());
}

#[test]
fn newer_schema_is_refused() {
    let dir = rewritten_store([3u8; 32], "PRAGMA user_version = 99;");
    match Store::open_with_key(dir.path(), &StoreKey::from_bytes([3u8; 32])) {
        Err(Error::NewerSchema { found, supported }) => {
            assert_eq!((found, supported), (99, SCHEMA_VERSION));
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
}

#[test]
fn interrupted_creation_is_finished_not_restarted() {
    let (mock_store, keychain) = mock();
    let dir = created(&keychain);
    let key_before = entry(&mock_store, dir.path()).get_secret().unwrap();
    // Crash before the key check value was written.
    fs::remove_file(dir.path().join(KCV_FILE)).unwrap();
    let store = Store::open(dir.path(), &keychain).unwrap();
    assert_eq!(
        store.meta("marker").unwrap().as_deref(),
        Some(&b"ENIGM-MARKER-1234"[..])
    );
    drop(store);
    assert!(dir.path().join(KCV_FILE).exists());
    assert_eq!(
        entry(&mock_store, dir.path()).get_secret().unwrap(),
        key_before
    );

    // Crash right after the profile id was written, before any key: creation resumes.
    let fresh = tempfile::tempdir().unwrap();
    fs::write(
        fresh.path().join(PROFILE_ID_FILE),
        "00112233445566778899aabbccddeeff\n",
    )
    .unwrap();
    let store = Store::open(fresh.path(), &keychain).unwrap();
    assert!(store.info().created);
    assert_eq!(
        store.profile_id().to_hex(),
        "00112233445566778899aabbccddeeff"
    );
}

#[test]
fn a_store_without_its_profile_id_is_damage() {
    let (_dir, opened) = open_without(PROFILE_ID_FILE);
    assert!(matches!(opened, Err(Error::ProfileDamaged(_))));
}

#[test]
fn write_once_values_are_idempotent_and_never_overwritten() {
    let key = StoreKey::generate();
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_with_key(dir.path(), &key).unwrap();
    let secrets = DeviceSecrets::generate(&mut OsRng);
    store.save_device_secrets(&secrets).unwrap();
    store.save_device_secrets(&secrets).unwrap();
    assert!(matches!(
        store.save_device_secrets(&DeviceSecrets::generate(&mut OsRng)),
        Err(Error::AlreadySet("device secrets"))
    ));
    store.set_account_id([1; 16]).unwrap();
    store.set_account_id([1; 16]).unwrap();
    assert!(matches!(
        store.set_account_id([2; 16]),
        Err(Error::AlreadySet("account id"))
    ));
    assert_eq!(
        store.device_secrets().unwrap().map(|s| s.device_id()),
        Some(secrets.device_id())
    );
}

#[test]
fn pinned_head_only_moves_forward() {
    let (_dir, mut store) = fresh_store();
    store.pin_head(head(5, 1)).unwrap();
    store.pin_head(head(5, 1)).unwrap();
    assert!(matches!(
        store.pin_head(head(4, 1)),
        Err(Error::LedgerHeadRollback {
            pinned: 5,
            offered: 4
        })
    ));
    assert!(matches!(
        store.pin_head(head(5, 2)),
        Err(Error::LedgerHeadRollback { .. })
    ));
    store.pin_head(head(6, 3)).unwrap();
    assert_eq!(store.pinned_head().unwrap(), Some(head(6, 3)));
    assert!(matches!(
        store.pin_head(head(u64::MAX, 3)),
        Err(Error::ValueOutOfRange(_))
    ));
    assert_eq!(store.pinned_head().unwrap(), Some(head(6, 3)));
}

#[test]
fn ledger_entries_are_stored_with_their_pin_in_order_or_not_at_all() {
    let (_dir, mut store) = fresh_store();
    store
        .append_ledger(0, &[b"genesis".to_vec(), b"one".to_vec()], head(1, 1))
        .unwrap();
    // A gap, or a different entry at a stored seq, is refused and changes nothing.
    assert!(matches!(
        store.append_ledger(3, &[b"three".to_vec()], head(3, 3)),
        Err(Error::LedgerGap {
            stored: 2,
            offered: 3
        })
    ));
    assert!(matches!(
        store.append_ledger(1, &[b"one again".to_vec()], head(1, 1)),
        Err(Error::LedgerGap { .. })
    ));
    // A rollback of the pin rolls back the entries written with it.
    assert!(matches!(
        store.append_ledger(2, &[b"two".to_vec()], head(0, 9)),
        Err(Error::LedgerHeadRollback { .. })
    ));
    assert_eq!(
        store.ledger_entries().unwrap(),
        vec![b"genesis".to_vec(), b"one".to_vec()]
    );
    assert_eq!(store.pinned_head().unwrap(), Some(head(1, 1)));
    // The same entry stored again (two tasks verified it) is skipped, and the rest appended.
    store
        .append_ledger(1, &[b"one".to_vec(), b"two".to_vec()], head(2, 2))
        .unwrap();
    assert_eq!(
        store.ledger_entries().unwrap(),
        vec![b"genesis".to_vec(), b"one".to_vec(), b"two".to_vec()]
    );
    store
        .append_ledger(2, &[b"two".to_vec()], head(2, 2))
        .unwrap();
    assert_eq!(store.ledger_entries().unwrap().len(), 3);
}

#[test]
fn a_revoked_device_loses_its_keys_and_session_but_keeps_its_history() {
    let dir = tempfile::tempdir().unwrap();
    let key = StoreKey::generate();
    let mut store = Store::open_with_key(dir.path(), &key).unwrap();
    let secrets = DeviceSecrets::generate(&mut OsRng);
    store.save_device_secrets(&secrets).unwrap();
    store.set_account_id([3; 16]).unwrap();
    store
        .save_sync_key(&SyncKey::generate(&mut OsRng, 1))
        .unwrap();
    store
        .save_session(&SavedSession {
            session_id: [4; 16],
            kind: SessionKind::Full,
            expires_at: 10,
        })
        .unwrap();
    store
        .append_ledger(
            0,
            &[b"genesis".to_vec()],
            PinnedHead {
                seq: 0,
                hash: [1; 32],
            },
        )
        .unwrap();
    let laptop = DeviceId::from_bytes([5; 16]);
    store.save_labels(&[(laptop, "Laptop".into())]).unwrap();
    let mark = RevokedMark {
        at: 1_700_000_000,
        signed_at: Some(1_699_999_940),
        reason: RemovalReason::Replaced,
        by: Some(Remover::Device(laptop)),
        replaced_by: Some(DeviceId::from_bytes([6; 16])),
    };
    store.mark_revoked(&mark).unwrap();
    store
        .mark_revoked(&RevokedMark {
            at: 1,
            signed_at: None,
            reason: RemovalReason::Stolen,
            by: None,
            replaced_by: None,
        })
        .unwrap();
    store.close().unwrap();

    let store = Store::open_with_key(dir.path(), &key).unwrap();
    assert!(store.device_secrets().unwrap().is_none());
    assert!(store.session().unwrap().is_none());
    assert!(store.sync_key().unwrap().is_none());
    assert_eq!(store.revoked().unwrap(), Some(mark));
    assert_eq!(store.account_id().unwrap(), Some([3; 16]));
    assert_eq!(store.ledger_entries().unwrap().len(), 1);
    // The remover can still be named.
    assert_eq!(store.label(&laptop).unwrap().as_deref(), Some("Laptop"));
    assert_eq!(store.label(&DeviceId::from_bytes([6; 16])).unwrap(), None);
}

#[test]
fn a_mark_from_schema_3_survives_the_migration_unconfirmed() {
    // Back to how version 3 kept a mark: `at reason` in `meta`.
    let dir = rewritten_store(
        [4u8; 32],
        "DROP TABLE revocation; DROP TABLE device_label; DROP TABLE app_lock;
         INSERT INTO meta (key, value) VALUES ('revoked', CAST('1700000000 lost' AS BLOB));
         PRAGMA user_version = 3;",
    );
    let store = Store::open_with_key(dir.path(), &StoreKey::from_bytes([4u8; 32])).unwrap();
    assert_eq!(store.info().schema_version, SCHEMA_VERSION);
    assert_eq!(
        store.revoked().unwrap(),
        Some(RevokedMark {
            at: 1_700_000_000,
            signed_at: None,
            reason: RemovalReason::Lost,
            by: None,
            replaced_by: None,
        })
    );
    assert_eq!(store.meta("revoked").unwrap(), None);
}

#[test]
fn labels_are_replaced_as_a_set_and_unchanged_labels_write_nothing() {
    let (_dir, mut store) = fresh_store();
    let (laptop, phone) = (DeviceId::from_bytes([5; 16]), DeviceId::from_bytes([6; 16]));
    store
        .save_labels(&[(phone, "Phone".into()), (laptop, "Laptop".into())])
        .unwrap();
    let writes = store.total_changes();
    store
        .save_labels(&[(laptop, "Laptop".into()), (phone, "Phone".into())])
        .unwrap();
    assert_eq!(
        store.total_changes(),
        writes,
        "the same labels, in any order"
    );

    store
        .save_labels(&[(laptop, "Work laptop".into())])
        .unwrap();
    assert!(store.total_changes() > writes);
    assert_eq!(
        store.label(&laptop).unwrap().as_deref(),
        Some("Work laptop")
    );
    assert_eq!(
        store.label(&phone).unwrap(),
        None,
        "a label no longer read is dropped"
    );
}

#[test]
fn the_session_is_saved_replaced_and_cleared() {
    let (_dir, mut store) = fresh_store();
    assert_eq!(store.session().unwrap(), None);
    let mut session = SavedSession {
        session_id: [4; 16],
        kind: SessionKind::Full,
        expires_at: 1_000,
    };
    store.save_session(&session).unwrap();
    session.expires_at = 2_000;
    store.save_session(&session).unwrap();
    assert_eq!(store.session().unwrap(), Some(session));
    store.clear_session().unwrap();
    assert_eq!(store.session().unwrap(), None);
}

#[test]
fn messages_carry_no_paths_or_secrets_and_debug_redacts() {
    let (mock_store, keychain) = mock();
    let dir = created(&keychain);
    let key_hex = hex::encode(entry(&mock_store, dir.path()).get_secret().unwrap());
    let path = dir.path().to_string_lossy().into_owned();
    let errors = [
        Error::KeychainUnavailable,
        Error::KeychainLocked,
        Error::KeyMissing,
        Error::WrongKey,
        Error::Corrupted,
        Error::PlaintextDatabase,
        Error::NewerSchema {
            found: 9,
            supported: 1,
        },
        Error::DatabaseMissing,
        Error::ProfileDamaged("profile id missing"),
        Error::CipherUnavailable,
        Error::Io(std::io::Error::other(path.clone())),
    ];
    for err in &errors {
        let message = err.to_string();
        assert!(!message.contains(&path), "{message}");
        assert!(message.contains(';'), "no remedy in: {message}");
        assert!(!err.code().is_empty());
    }
    let store = Store::open(dir.path(), &keychain).unwrap();
    for printed in [format!("{store:?}"), format!("{keychain:?}")] {
        assert!(!printed.contains(&key_hex[..16]), "{printed}");
    }
}

#[cfg(unix)]
#[test]
fn profile_files_are_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt;
    let (_, keychain) = mock();
    let dir = created(&keychain);
    let mode = |name: &str| {
        fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(
        fs::metadata(dir.path()).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for name in [DATABASE_FILE, KCV_FILE, PROFILE_ID_FILE] {
        assert_eq!(mode(name), 0o600, "{name}");
    }
}

#[test]
fn wipe_removes_the_key_and_the_files_only_when_asked() {
    let (mock_store, keychain) = mock();
    let dir = created(&keychain);
    let user_entry = entry(&mock_store, dir.path());
    // With an unlock PIN set, its keychain secret goes too.
    let pin = enigm_core::unlock::Pin::parse("123456").unwrap();
    let verifier = enigm_core::unlock::PinVerifier::create(&pin, &[3; 32], &mut OsRng).unwrap();
    let mut store = Store::open(dir.path(), &keychain).unwrap();
    store.save_pin(&verifier, &[3; 32]).unwrap();
    store.close().unwrap();
    let pin_entry = pin_entry(&mock_store, dir.path());
    assert!(pin_entry.get_secret().is_ok());
    fs::write(dir.path().join("unrelated.txt"), b"keep").unwrap();
    Store::wipe_profile(dir.path(), &keychain).unwrap();
    for entry in [&user_entry, &pin_entry] {
        assert!(matches!(
            entry.get_secret(),
            Err(keyring_core::Error::NoEntry)
        ));
    }
    for name in [DATABASE_FILE, KCV_FILE, PROFILE_ID_FILE] {
        assert!(!dir.path().join(name).exists(), "{name}");
    }
    assert!(dir.path().join("unrelated.txt").exists());
    // A wiped directory is a fresh profile again.
    assert!(Store::open(dir.path(), &keychain).unwrap().info().created);
}

#[test]
fn sync_keys_are_kept_per_epoch_and_a_second_key_for_an_epoch_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = StoreKey::generate();
    let mut store = Store::open_with_key(dir.path(), &key).unwrap();
    assert!(store.sync_key().unwrap().is_none());
    let first = SyncKey::generate(&mut OsRng, 1);
    let second = SyncKey::generate(&mut OsRng, 2);
    store.save_sync_key(&second).unwrap();
    store.save_sync_key(&first).unwrap();
    store.save_sync_key(&first).unwrap();
    let impostor = SyncKey::generate(&mut OsRng, 2);
    assert!(matches!(
        store.save_sync_key(&impostor),
        Err(Error::SyncKeyConflict { epoch: 2 })
    ));
    assert!(matches!(
        store.save_sync_key(&SyncKey::generate(&mut OsRng, 0)),
        Err(Error::ValueOutOfRange(_))
    ));
    store.close().unwrap();

    let store = Store::open_with_key(dir.path(), &key).unwrap();
    let newest = store.sync_key().unwrap().unwrap();
    assert_eq!(newest.epoch(), 2);
    assert_eq!(*newest.to_bytes(), *second.to_bytes());
    let older = store.sync_key_at(1).unwrap().unwrap();
    assert_eq!(*older.to_bytes(), *first.to_bytes());
    assert!(store.sync_key_at(3).unwrap().is_none());
}

#[test]
fn the_lock_and_the_pin_survive_a_restart_and_the_pin_secret_lives_in_the_keychain() {
    use enigm_core::unlock::{Pin, PinVerifier, UnlockAttempts};

    let (mock_store, keychain) = mock();
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), &keychain).unwrap();
    assert_eq!(store.lock_state().unwrap(), LockState::default());
    assert!(!store.has_pin().unwrap());
    assert!(store.pin().unwrap().is_none());

    let locked = LockState {
        locked: true,
        attempts: UnlockAttempts {
            failures: 4,
            last_failure_at: 1_700_000_000,
        },
    };
    store.save_lock_state(&locked).unwrap();
    let pin = Pin::parse("424242").unwrap();
    let first = PinVerifier::create(&pin, &[1; 32], &mut OsRng).unwrap();
    store.save_pin(&first, &[1; 32]).unwrap();
    let second = PinVerifier::create(&pin, &[2; 32], &mut OsRng).unwrap();
    store.save_pin(&second, &[2; 32]).unwrap();
    store.close().unwrap();

    let pin_entry = pin_entry(&mock_store, dir.path());
    assert_eq!(pin_entry.get_secret().unwrap(), [2; 32]);
    let mut store = Store::open(dir.path(), &keychain).unwrap();
    assert_eq!(
        store.lock_state().unwrap(),
        locked,
        "saving the PIN kept the lock"
    );
    assert!(store.has_pin().unwrap());
    let (verifier, secret) = store.pin().unwrap().unwrap();
    assert_eq!(*secret, [2; 32]);
    assert!(verifier.verify(&pin, &secret));

    // Without its keychain secret the verifier is useless, and says why.
    pin_entry.delete_credential().unwrap();
    assert!(matches!(store.pin(), Err(Error::KeyMissing)));
    store.save_pin(&second, &[2; 32]).unwrap();

    store.remove_pin().unwrap();
    assert!(!store.has_pin().unwrap());
    assert!(matches!(
        pin_entry.get_secret(),
        Err(keyring_core::Error::NoEntry)
    ));
    store.remove_pin().unwrap();
    assert_eq!(
        store.lock_state().unwrap(),
        locked,
        "removing the PIN kept the lock"
    );

    // A removed device keeps no PIN, in the store or the keychain.
    store.save_pin(&second, &[2; 32]).unwrap();
    store
        .mark_revoked(&RevokedMark {
            at: 1,
            signed_at: None,
            reason: RemovalReason::Revoked,
            by: None,
            replaced_by: None,
        })
        .unwrap();
    assert!(!store.has_pin().unwrap());
    assert!(matches!(
        pin_entry.get_secret(),
        Err(keyring_core::Error::NoEntry)
    ));
    assert_eq!(store.lock_state().unwrap(), LockState::default());
}

#[test]
fn a_store_opened_with_a_given_key_cannot_hold_a_pin() {
    use enigm_core::unlock::{Pin, PinVerifier};

    let (_dir, mut store) = fresh_store();
    let verifier =
        PinVerifier::create(&Pin::parse("123456").unwrap(), &[1; 32], &mut OsRng).unwrap();
    assert!(matches!(
        store.save_pin(&verifier, &[1; 32]),
        Err(Error::KeychainUnavailable)
    ));
    assert!(!store.has_pin().unwrap());
}

#[test]
fn a_damaged_pin_verifier_is_reported_not_trusted() {
    let dir = rewritten_store(
        [5u8; 32],
        "INSERT INTO app_lock (id, pin_verifier) VALUES (1, x'0102');",
    );
    let store = Store::open_with_key(dir.path(), &StoreKey::from_bytes([5u8; 32])).unwrap();
    assert!(store.has_pin().unwrap());
    assert!(matches!(store.pin(), Err(Error::ValueOutOfRange(_))));
}

#[test]
fn a_session_of_an_unknown_kind_is_reported_not_guessed() {
    let dir = rewritten_store(
        [7u8; 32],
        "INSERT INTO session (id, session_id, kind, expires_at)
         VALUES (1, x'04040404040404040404040404040404', 'admin', 9);",
    );
    let store = Store::open_with_key(dir.path(), &StoreKey::from_bytes([7u8; 32])).unwrap();
    assert!(matches!(store.session(), Err(Error::ValueOutOfRange(_))));
}

#[test]
fn the_migration_deletes_the_saved_password_verifier_and_keeps_the_lock() {
    let key = [6u8; 32];
    // The `app_lock` table of schema 5, which kept a verifier of the account password.
    let app_lock_v5 = crate::schema::migration(5);
    let dir = rewritten_store(
        key,
        &format!(
            "DROP TABLE app_lock;
             {app_lock_v5}
             INSERT INTO app_lock (id, verifier, locked, failures, last_failure_at)
                 VALUES (1, x'01DEADBEEFDEADBEEF', 1, 2, 1700000000);
             ALTER TABLE revocation DROP COLUMN signed_at;
             PRAGMA user_version = 5;"
        ),
    );
    let store = Store::open_with_key(dir.path(), &StoreKey::from_bytes(key)).unwrap();
    assert_eq!(store.info().schema_version, SCHEMA_VERSION);
    assert_eq!(
        store.lock_state().unwrap(),
        LockState {
            locked: true,
            attempts: Default::default(),
        },
        "still locked (it unlocks with the password, online); wrong passwords no longer count"
    );
    assert!(!store.has_pin().unwrap());
    store.close().unwrap();

    let conn = rusqlite::Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", hex::encode(key)))
        .unwrap();
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('app_lock')")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        !columns.iter().any(|name| name == "verifier"),
        "the password verifier is still kept: {columns:?}"
    );
}

#[test]
fn a_profile_from_before_the_lock_is_migrated_unlocked_and_without_a_pin() {
    let key = StoreKey::from_bytes([4u8; 32]);
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_with_key(dir.path(), &key).unwrap();
    store.set_account_id([9; 16]).unwrap();
    store.close().unwrap();
    // What a version 4 store looks like: no app_lock table.
    rewrite(
        dir.path(),
        [4u8; 32],
        "DROP TABLE app_lock; ALTER TABLE revocation DROP COLUMN signed_at;
         PRAGMA user_version = 4;",
    );

    let store = Store::open_with_key(dir.path(), &key).unwrap();
    assert_eq!(store.info().schema_version, SCHEMA_VERSION);
    assert_eq!(store.account_id().unwrap(), Some([9; 16]));
    assert_eq!(store.lock_state().unwrap(), LockState::default());
    assert!(!store.has_pin().unwrap());
}
