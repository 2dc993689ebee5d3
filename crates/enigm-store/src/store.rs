//! The encrypted store of one profile: opening (creating on first use) and typed access.
//!
//! [`Store::open`] decides, before SQLCipher ever sees a key, which situation it is in:
//!
//! | profile files                       | outcome                                          |
//! |-------------------------------------|--------------------------------------------------|
//! | none                                | create: id, key in keychain, database, then kcv  |
//! | `store.db` is plaintext SQLite      | [`Error::PlaintextDatabase`]                     |
//! | id + kcv, key absent from keychain  | [`Error::KeyMissing`]                            |
//! | id + kcv, key does not match kcv    | [`Error::WrongKey`] (the database is not opened) |
//! | id + kcv, key matches, db unreadable| [`Error::Corrupted`]                             |
//! | id + kcv, no database               | [`Error::DatabaseMissing`]                       |
//! | id, no kcv (creation interrupted)   | finish creating (reusing a key already stored)   |
//!
//! Nothing is ever deleted or recreated over existing data automatically; only
//! [`Store::wipe_profile`], called explicitly, removes anything.
//!
//! All methods block (keychain round trips, disk I/O): call them from a blocking thread in
//! async code (`tokio::task::spawn_blocking`). A `Store` is `Send`, not `Sync`: keep one per
//! profile, behind a mutex if it is shared. One process should own a profile at a time.

use std::path::Path;
use std::time::Duration;

use enigm_core::identity::{DeviceId, DeviceSecrets};
use enigm_core::ledger::Remover;
use enigm_core::session::RemovalReason;
use enigm_core::sync_key::SyncKey;
use enigm_core::trust::SessionKind;
use enigm_core::unlock::{PIN_SECRET_LEN, PinVerifier, UnlockAttempts};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use zeroize::Zeroizing;

use crate::Error;
use crate::keychain::{Keychain, StoreKey};
use crate::profile::{DatabaseFile, ProfileDir, ProfileId, kcv_matches};
use crate::schema;

/// What the app shows about the store: "store: encrypted (SQLCipher 4.x) / keychain: <backend>".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreInfo {
    /// The database is SQLCipher-encrypted: `cipher_version` is non-empty and the file on disk
    /// does not carry the plaintext SQLite header. An open store is never unencrypted (open
    /// fails instead), so this is `true` for every `Store`; it is here for the status view.
    pub encrypted: bool,
    /// `PRAGMA cipher_version`, e.g. `"4.6.1 community"`.
    pub cipher_version: String,
    /// Where the key is kept: the keychain backend name ("Secret Service", "macOS Keychain",
    /// "Windows Credential Manager", "mock"), or `None` when the caller supplied the key
    /// ([`Store::open_with_key`]).
    pub keychain_backend: Option<String>,
    /// The schema version after migrations.
    pub schema_version: u32,
    /// This open created the profile (first use).
    pub created: bool,
}

/// A pinned device-ledger head: the last `(seq, hash)` this client verified (DESIGN §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinnedHead {
    /// Sequence number of the entry (genesis is 0). At most `i64::MAX`.
    pub seq: u64,
    /// SHA-256 of the entry's canonical encoding.
    pub hash: [u8; 32],
}

/// The device-bound session with the service, as saved between runs. Its id is not a bearer
/// token: every request is also signed by the device key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSession {
    /// The session id the service issued.
    pub session_id: [u8; 16],
    /// Full, or restricted to enrolling (the service's session kind).
    pub kind: SessionKind,
    /// When the service stops honouring it unless refreshed (seconds since the epoch).
    pub expires_at: u64,
}

/// When and why this device was removed from its account (kept after its keys are erased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedMark {
    /// When the device learned it (seconds since the epoch).
    pub at: u64,
    /// When the removing entry was made, by its signer's clock; `None` when it carries no time.
    pub signed_at: Option<u64>,
    /// Why.
    pub reason: RemovalReason,
    /// Who removed it, as this device verified from the removing ledger entry; `None` when it
    /// could not verify it.
    pub by: Option<Remover>,
    /// The device that replaced it, when it was replaced (verified like `by`).
    pub replaced_by: Option<DeviceId>,
}

/// A `revocation` row: `at`, `reason`, `removed_by`, `replaced_by`, `signed_at`.
type MarkRow = (i64, String, Option<String>, Option<Vec<u8>>, Option<i64>);

/// Whether the app is locked, and the wrong PINs typed to unlock it since the last success.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockState {
    /// The app hides the account until the PIN or the account password is given again.
    pub locked: bool,
    /// Wrong PINs since the last unlock.
    pub attempts: UnlockAttempts,
}

/// The keychain secret that keys a PIN's verifier. Zeroized on drop.
pub type PinSecret = Zeroizing<[u8; PIN_SECRET_LEN]>;

/// An open, encrypted profile store.
pub struct Store {
    conn: Connection,
    info: StoreInfo,
    profile_id: ProfileId,
    /// The keychain the key came from, which also keeps the PIN secret; `None` for a store
    /// opened with a given key (it cannot hold a PIN).
    keychain: Option<Keychain>,
}

/// Where the key comes from.
#[derive(Clone, Copy)]
enum KeySource<'a> {
    Keychain(&'a Keychain),
    Given(&'a StoreKey),
}

impl KeySource<'_> {
    fn load(self, id: &ProfileId) -> Result<StoreKey, Error> {
        match self {
            Self::Keychain(keychain) => keychain.load(id),
            Self::Given(key) => Ok(key.clone()),
        }
    }

    /// The key of a profile whose creation has not completed: reuse one already stored (an
    /// interrupted earlier attempt), else create and store a new one.
    fn load_or_create(self, id: &ProfileId) -> Result<StoreKey, Error> {
        match self {
            Self::Keychain(keychain) => match keychain.load(id) {
                Ok(key) => Ok(key),
                Err(Error::KeyMissing) => {
                    let key = StoreKey::generate();
                    keychain.save(id, &key)?;
                    Ok(key)
                }
                Err(other) => Err(other),
            },
            Self::Given(key) => Ok(key.clone()),
        }
    }

    fn keychain(self) -> Option<Keychain> {
        match self {
            Self::Keychain(keychain) => Some(keychain.clone()),
            Self::Given(_) => None,
        }
    }

    fn backend(self) -> Option<String> {
        match self {
            Self::Keychain(keychain) => Some(keychain.backend_name().to_owned()),
            Self::Given(_) => None,
        }
    }
}

impl Store {
    /// Opens the profile in `dir` with its key from `keychain`, creating the profile (directory,
    /// id, key, database) on first use. Blocking: see the module docs.
    ///
    /// # Errors
    /// One variant per situation (see the table in the module docs): keychain unavailable,
    /// locked, key missing, wrong key, corrupted, plaintext database, newer schema, missing
    /// database, damaged profile files; [`Error::Io`] for file-system failures.
    pub fn open(dir: &Path, keychain: &Keychain) -> Result<Self, Error> {
        Self::open_inner(dir, KeySource::Keychain(keychain))
    }

    /// Opens (or creates) the profile in `dir` with a key the caller holds, bypassing the
    /// keychain: for benches, tests and tools that keep the key elsewhere. The same key check
    /// value and error rules apply. Blocking.
    ///
    /// # Errors
    /// As [`Store::open`], minus the keychain variants.
    pub fn open_with_key(dir: &Path, key: &StoreKey) -> Result<Self, Error> {
        Self::open_inner(dir, KeySource::Given(key))
    }

    fn open_inner(dir: &Path, source: KeySource<'_>) -> Result<Self, Error> {
        let profile = ProfileDir::new(dir);
        profile.ensure_exists()?;
        let database = profile.inspect_database()?;
        if database == DatabaseFile::Plaintext {
            return Err(Error::PlaintextDatabase);
        }
        let kcv = profile.read_kcv()?;
        let (profile_id, key, created) = match (profile.read_profile_id()?, kcv) {
            (None, Some(_)) => return Err(Error::ProfileDamaged("profile id missing")),
            (None, None) => {
                if database == DatabaseFile::Opaque {
                    return Err(Error::ProfileDamaged("profile id missing"));
                }
                let id = ProfileId::generate();
                profile.write_profile_id(&id)?;
                let key = source.load_or_create(&id)?;
                tracing::info!(profile = %id, "creating a new profile store");
                (id, key, true)
            }
            (Some(id), Some(stored)) => {
                let key = source.load(&id)?;
                if !kcv_matches(&key, &stored) {
                    return Err(Error::WrongKey);
                }
                match database {
                    DatabaseFile::Absent => return Err(Error::DatabaseMissing),
                    DatabaseFile::Empty => return Err(Error::Corrupted),
                    DatabaseFile::Opaque | DatabaseFile::Plaintext => {}
                }
                (id, key, false)
            }
            (Some(id), None) => {
                // Creation was interrupted before the key check value was written.
                let key = match database {
                    DatabaseFile::Absent | DatabaseFile::Empty => source.load_or_create(&id)?,
                    DatabaseFile::Opaque | DatabaseFile::Plaintext => source.load(&id)?,
                };
                tracing::info!(profile = %id, "finishing an interrupted profile creation");
                (id, key, database != DatabaseFile::Opaque)
            }
        };

        let may_create = matches!(database, DatabaseFile::Absent | DatabaseFile::Empty);
        let (mut conn, cipher_version) = open_database(&profile, &key, may_create)?;
        // Without a key check value a failed read cannot tell a wrong key from damage; the
        // key is the likelier culprit (it came from an interrupted creation).
        verify_readable(&conn).map_err(|err| match (kcv.is_some(), Error::from(err)) {
            (false, Error::Corrupted) => Error::WrongKey,
            (_, other) => other,
        })?;
        configure(&conn)?;
        schema::migrate(&mut conn)?;
        if created {
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('created_with', ?1)",
                params![format!("enigm-store {}", env!("CARGO_PKG_VERSION")).into_bytes()],
            )?;
            // Push the first pages into the main file so the header check below sees them.
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        profile.restrict_database_files()?;
        if profile.inspect_database()? != DatabaseFile::Opaque {
            // SQLCipher accepted a key yet wrote a plaintext (or no) header: never use it.
            return Err(Error::CipherUnavailable);
        }
        if kcv.is_none() {
            profile.write_kcv(&key)?;
        }
        let info = StoreInfo {
            encrypted: true,
            cipher_version,
            keychain_backend: source.backend(),
            schema_version: schema::LATEST,
            created,
        };
        Ok(Self {
            conn,
            info,
            profile_id,
            keychain: source.keychain(),
        })
    }

    /// What the app's status view shows.
    pub fn info(&self) -> &StoreInfo {
        &self.info
    }

    /// The profile's random id (the keychain entry's user name).
    pub fn profile_id(&self) -> ProfileId {
        self.profile_id
    }

    /// This device's secrets, if saved.
    ///
    /// # Errors
    /// [`Error::Database`] / [`Error::Corrupted`] if the row cannot be read.
    pub fn device_secrets(&self) -> Result<Option<DeviceSecrets>, Error> {
        let stored: Option<Zeroizing<Vec<u8>>> = self
            .conn
            .query_row("SELECT secrets FROM device WHERE id = 1", [], |row| {
                row.get::<_, Vec<u8>>(0).map(Zeroizing::new)
            })
            .optional()?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        let bytes: Zeroizing<[u8; DeviceSecrets::ENCODED_LEN]> = Zeroizing::new(
            stored
                .as_slice()
                .try_into()
                .map_err(|_| Error::ValueOutOfRange("stored device secrets"))?,
        );
        Ok(Some(DeviceSecrets::from_bytes(&bytes)))
    }

    /// Saves this device's secrets. Written once: saving the same secrets again is a no-op
    /// (safe to retry after a crash), different ones are refused.
    ///
    /// # Errors
    /// [`Error::AlreadySet`] if other secrets are stored.
    pub fn save_device_secrets(&mut self, secrets: &DeviceSecrets) -> Result<(), Error> {
        let bytes = secrets.to_bytes();
        self.write_once(
            "SELECT secrets FROM device WHERE id = 1",
            "INSERT INTO device (id, secrets) VALUES (1, ?1)",
            bytes.as_slice(),
            "device secrets",
        )
    }

    /// The account this profile belongs to, if known.
    ///
    /// # Errors
    /// [`Error::Database`] / [`Error::Corrupted`] if the row cannot be read.
    pub fn account_id(&self) -> Result<Option<[u8; 16]>, Error> {
        let stored: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT account_id FROM account WHERE id = 1", [], |row| {
                row.get(0)
            })
            .optional()?;
        stored
            .map(|bytes| {
                <[u8; 16]>::try_from(bytes).map_err(|_| Error::ValueOutOfRange("stored account id"))
            })
            .transpose()
    }

    /// Records the account id. Written once, like [`Store::save_device_secrets`].
    ///
    /// # Errors
    /// [`Error::AlreadySet`] if a different account id is stored.
    pub fn set_account_id(&mut self, account_id: [u8; 16]) -> Result<(), Error> {
        self.write_once(
            "SELECT account_id FROM account WHERE id = 1",
            "INSERT INTO account (id, account_id) VALUES (1, ?1)",
            &account_id,
            "account id",
        )
    }

    /// The pinned ledger head, if one was pinned.
    ///
    /// # Errors
    /// [`Error::Database`] / [`Error::Corrupted`] if the row cannot be read.
    pub fn pinned_head(&self) -> Result<Option<PinnedHead>, Error> {
        read_head(&self.conn)
    }

    /// Pins a newly verified ledger head. The pin only moves forward: a lower `seq`, or the same
    /// `seq` with another hash (a fork), is refused and the pin stays. Re-pinning the current
    /// head is a no-op.
    ///
    /// # Errors
    /// [`Error::LedgerHeadRollback`] as above; [`Error::ValueOutOfRange`] if `seq > i64::MAX`.
    pub fn pin_head(&mut self, head: PinnedHead) -> Result<(), Error> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        write_head(&tx, head)?;
        tx.commit()?;
        Ok(())
    }

    /// The verified ledger entries (canonical encodings) from genesis to the pinned head.
    ///
    /// # Errors
    /// [`Error::Database`] / [`Error::Corrupted`] if the rows cannot be read.
    pub fn ledger_entries(&self) -> Result<Vec<Vec<u8>>, Error> {
        let mut statement = self
            .conn
            .prepare("SELECT bytes FROM ledger_entry ORDER BY seq")?;
        let rows = statement.query_map([], |row| row.get::<_, Vec<u8>>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Stores newly verified entries and pins their head, in one transaction. `entries` must
    /// continue the stored ones (the first has `seq` at most the number already stored) and
    /// `head` must move the pin forward, else nothing is written. Entries already stored with
    /// the same bytes are skipped: two tasks of one engine (a command and the live watch) may
    /// verify the same new entry, and the second must not fail.
    ///
    /// # Errors
    /// [`Error::LedgerGap`] when `first_seq` leaves a hole, or an entry differs from the one
    /// stored at its `seq`;
    /// [`Error::LedgerHeadRollback`] as for [`Store::pin_head`].
    pub fn append_ledger(
        &mut self,
        first_seq: u64,
        entries: &[Vec<u8>],
        head: PinnedHead,
    ) -> Result<(), Error> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let stored: i64 =
            tx.query_row("SELECT count(*) FROM ledger_entry", [], |row| row.get(0))?;
        let stored = u64::try_from(stored).map_err(|_| Error::ValueOutOfRange("entry count"))?;
        let gap = Error::LedgerGap {
            stored,
            offered: first_seq,
        };
        if first_seq > stored {
            return Err(gap);
        }
        for (seq, bytes) in (first_seq..).zip(entries) {
            let seq = i64::try_from(seq).map_err(|_| Error::ValueOutOfRange("ledger seq"))?;
            let existing: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT bytes FROM ledger_entry WHERE seq = ?1",
                    [seq],
                    |row| row.get(0),
                )
                .optional()?;
            match existing {
                Some(existing) if existing == *bytes => {}
                Some(_) => return Err(gap),
                None => {
                    tx.execute(
                        "INSERT INTO ledger_entry (seq, bytes) VALUES (?1, ?2)",
                        params![seq, bytes],
                    )?;
                }
            }
        }
        write_head(&tx, head)?;
        tx.commit()?;
        Ok(())
    }

    /// The saved session, if any.
    ///
    /// # Errors
    /// [`Error::Database`] / [`Error::Corrupted`] if the row cannot be read.
    pub fn session(&self) -> Result<Option<SavedSession>, Error> {
        let row: Option<(Vec<u8>, String, i64)> = self
            .conn
            .query_row(
                "SELECT session_id, kind, expires_at FROM session WHERE id = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?;
        row.map(|(session_id, kind, expires_at)| {
            Ok(SavedSession {
                session_id: session_id
                    .try_into()
                    .map_err(|_| Error::ValueOutOfRange("stored session id"))?,
                kind: SessionKind::parse(&kind)
                    .ok_or(Error::ValueOutOfRange("stored session kind"))?,
                expires_at: u64::try_from(expires_at)
                    .map_err(|_| Error::ValueOutOfRange("stored session expiry"))?,
            })
        })
        .transpose()
    }

    /// Saves the session, replacing any previous one.
    ///
    /// # Errors
    /// [`Error::ValueOutOfRange`] if `expires_at > i64::MAX`; [`Error::Database`].
    pub fn save_session(&mut self, session: &SavedSession) -> Result<(), Error> {
        let expires_at = i64::try_from(session.expires_at)
            .map_err(|_| Error::ValueOutOfRange("session expiry"))?;
        self.conn.execute(
            "INSERT INTO session (id, session_id, kind, expires_at) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET session_id = excluded.session_id,
                 kind = excluded.kind, expires_at = excluded.expires_at",
            params![
                session.session_id.as_slice(),
                session.kind.as_str(),
                expires_at
            ],
        )?;
        Ok(())
    }

    /// Forgets the session (signed out, or ended by the service).
    ///
    /// # Errors
    /// [`Error::Database`] if the write fails.
    pub fn clear_session(&mut self) -> Result<(), Error> {
        self.conn.execute("DELETE FROM session", [])?;
        Ok(())
    }

    /// The newest account sync key this device holds.
    ///
    /// # Errors
    /// [`Error::Database`]; [`Error::ValueOutOfRange`] if a stored row is damaged.
    pub fn sync_key(&self) -> Result<Option<SyncKey>, Error> {
        self.read_sync_key(
            "SELECT epoch, key FROM sync_key ORDER BY epoch DESC LIMIT 1",
            [],
        )
    }

    /// The account sync key of one epoch, if this device held it.
    ///
    /// # Errors
    /// [`Error::ValueOutOfRange`] if `epoch > i64::MAX`; [`Error::Database`].
    pub fn sync_key_at(&self, epoch: u64) -> Result<Option<SyncKey>, Error> {
        let epoch = i64::try_from(epoch).map_err(|_| Error::ValueOutOfRange("sync-key epoch"))?;
        self.read_sync_key("SELECT epoch, key FROM sync_key WHERE epoch = ?1", [epoch])
    }

    fn read_sync_key(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Option<SyncKey>, Error> {
        let row: Option<(i64, Zeroizing<Vec<u8>>)> = self
            .conn
            .query_row(sql, params, |row| {
                Ok((row.get(0)?, Zeroizing::new(row.get(1)?)))
            })
            .optional()?;
        row.map(|(epoch, key)| {
            let epoch = u64::try_from(epoch)
                .map_err(|_| Error::ValueOutOfRange("stored sync-key epoch"))?;
            let key: &[u8; 32] = key
                .as_slice()
                .try_into()
                .map_err(|_| Error::ValueOutOfRange("stored sync key"))?;
            Ok(SyncKey::from_bytes(epoch, key))
        })
        .transpose()
    }

    /// Saves an account sync key. Saving the same key for its epoch again is a no-op, so a
    /// retried step is harmless.
    ///
    /// # Errors
    /// [`Error::SyncKeyConflict`] if a different key is stored for that epoch (nothing is
    /// changed); [`Error::ValueOutOfRange`]; [`Error::Database`].
    pub fn save_sync_key(&mut self, key: &SyncKey) -> Result<(), Error> {
        let epoch = i64::try_from(key.epoch())
            .ok()
            .filter(|epoch| *epoch >= 1)
            .ok_or(Error::ValueOutOfRange("sync-key epoch"))?;
        let bytes = key.to_bytes();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let stored: Option<Zeroizing<Vec<u8>>> = tx
            .query_row(
                "SELECT key FROM sync_key WHERE epoch = ?1",
                [epoch],
                |row| Ok(Zeroizing::new(row.get(0)?)),
            )
            .optional()?;
        match stored {
            Some(stored) if stored.as_slice() == bytes.as_slice() => return Ok(()),
            Some(_) => return Err(Error::SyncKeyConflict { epoch: key.epoch() }),
            None => {}
        }
        tx.execute(
            "INSERT INTO sync_key (epoch, key) VALUES (?1, ?2)",
            params![epoch, bytes.as_slice()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records that this device was removed from its account and erases what it could still
    /// use: its private keys, its account sync keys, its session and its Lock (the PIN, whose
    /// keychain secret goes too), in one transaction, then
    /// checkpoints the log so the old pages do not linger in it. The account id, the verified
    /// ledger and the device labels stay, so the profile can still say what happened.
    /// Idempotent: the first mark stands.
    ///
    /// # Errors
    /// [`Error::Database`] if the writes fail (nothing is erased then).
    pub fn mark_revoked(&mut self, mark: &RevokedMark) -> Result<(), Error> {
        let at = i64::try_from(mark.at).map_err(|_| Error::ValueOutOfRange("revocation time"))?;
        let by = mark.by.map(|by| match by {
            Remover::Device(id) => id.to_hex(),
            Remover::Recovery => "recovery".to_owned(),
            Remover::Organization => "organization".to_owned(),
        });
        let replaced_by = mark.replaced_by.map(|id| id.as_bytes().to_vec());
        let signed_at = mark
            .signed_at
            .map(i64::try_from)
            .transpose()
            .map_err(|_| Error::ValueOutOfRange("removal time"))?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM device", [])?;
        tx.execute("DELETE FROM session", [])?;
        tx.execute("DELETE FROM sync_key", [])?;
        tx.execute("DELETE FROM app_lock", [])?;
        tx.execute(
            "INSERT INTO revocation (id, at, reason, removed_by, replaced_by, signed_at)
             VALUES (1, ?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO NOTHING",
            params![at, mark.reason.as_str(), by, replaced_by, signed_at],
        )?;
        tx.commit()?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        if let Some(keychain) = &self.keychain
            && let Err(error) = keychain.delete_pin_secret(&self.profile_id)
        {
            // The PIN's verifier is gone with the lock row; its secret alone unlocks nothing.
            tracing::warn!(code = error.code(), "the PIN secret stays in the keychain");
        }
        Ok(())
    }

    /// The revocation mark, if this device was removed.
    ///
    /// # Errors
    /// [`Error::Database`]; [`Error::ValueOutOfRange`] if the stored mark is damaged.
    pub fn revoked(&self) -> Result<Option<RevokedMark>, Error> {
        let row: Option<MarkRow> = self
            .conn
            .query_row(
                "SELECT at, reason, removed_by, replaced_by, signed_at FROM revocation WHERE id = 1",
                [],
                |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                },
            )
            .optional()?;
        let Some((at, reason, by, replaced_by, signed_at)) = row else {
            return Ok(None);
        };
        let damaged = || Error::ValueOutOfRange("revocation mark");
        let by = match by.as_deref() {
            None => None,
            Some("recovery") => Some(Remover::Recovery),
            Some("organization") => Some(Remover::Organization),
            Some(hex) => Some(Remover::Device(
                DeviceId::from_hex(hex).ok_or_else(damaged)?,
            )),
        };
        let replaced_by = match replaced_by {
            None => None,
            Some(bytes) => Some(DeviceId::from_bytes(
                bytes.try_into().map_err(|_| damaged())?,
            )),
        };
        Ok(Some(RevokedMark {
            at: u64::try_from(at).map_err(|_| damaged())?,
            signed_at: signed_at
                .map(u64::try_from)
                .transpose()
                .map_err(|_| damaged())?,
            reason: RemovalReason::parse(&reason).ok_or_else(damaged)?,
            by,
            replaced_by,
        }))
    }

    /// Keeps the labels of the account's devices this device could read, replacing the ones
    /// kept before, so that a removed device can still name the device that removed it. The
    /// labels are read on every device list: when they have not changed, nothing is written.
    ///
    /// # Errors
    /// [`Error::Database`] if the writes fail (the old labels stay then).
    pub fn save_labels(&mut self, labels: &[(DeviceId, String)]) -> Result<(), Error> {
        let mut wanted: Vec<(&[u8], &str)> = labels
            .iter()
            .map(|(device, label)| (device.as_bytes().as_slice(), label.as_str()))
            .collect();
        wanted.sort_unstable();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let kept = tx
            .prepare("SELECT device_id, label FROM device_label ORDER BY device_id, label")?
            .query_map([], |row| {
                Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, String>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let unchanged = kept
            .iter()
            .map(|(device, label)| (device.as_slice(), label.as_str()))
            .eq(wanted.iter().copied());
        if unchanged {
            return Ok(());
        }
        tx.execute("DELETE FROM device_label", [])?;
        for (device, label) in labels {
            tx.execute(
                "INSERT INTO device_label (device_id, label) VALUES (?1, ?2)",
                params![device.as_bytes().as_slice(), label],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Rows this connection has changed since it opened: how tests see that nothing was written.
    #[cfg(test)]
    pub(crate) fn total_changes(&self) -> u64 {
        self.conn.total_changes()
    }

    /// The label last read for `device`, if any.
    ///
    /// # Errors
    /// [`Error::Database`] if the row cannot be read.
    pub fn label(&self, device: &DeviceId) -> Result<Option<String>, Error> {
        Ok(self
            .conn
            .query_row(
                "SELECT label FROM device_label WHERE device_id = ?1",
                [device.as_bytes().as_slice()],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Whether a device unlock PIN is set (its verifier is saved; the keychain secret is read
    /// only to check a PIN).
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn has_pin(&self) -> Result<bool, Error> {
        let stored: Option<bool> = self
            .conn
            .query_row(
                "SELECT pin_verifier IS NOT NULL FROM app_lock WHERE id = 1",
                [],
                |row| row.get(0),
            )
            .optional()?;
        Ok(stored.unwrap_or(false))
    }

    /// The PIN's verifier and the keychain secret that keys it, when a PIN is set. Blocking
    /// (keychain).
    ///
    /// # Errors
    /// [`Error::ValueOutOfRange`] if the stored verifier is malformed; [`Error::KeyMissing`]
    /// if the keychain secret is gone; the keychain's other errors; [`Error::Database`].
    pub fn pin(&self) -> Result<Option<(PinVerifier, PinSecret)>, Error> {
        let stored: Option<Option<Vec<u8>>> = self
            .conn
            .query_row(
                "SELECT pin_verifier FROM app_lock WHERE id = 1",
                [],
                |row| row.get(0),
            )
            .optional()?;
        let Some(bytes) = stored.flatten() else {
            return Ok(None);
        };
        let verifier = PinVerifier::from_bytes(&bytes)
            .map_err(|_| Error::ValueOutOfRange("stored PIN verifier"))?;
        let keychain = self.keychain.as_ref().ok_or(Error::KeychainUnavailable)?;
        let secret = keychain.load_pin_secret(&self.profile_id)?;
        Ok(Some((verifier, secret)))
    }

    /// Sets the device unlock PIN, replacing any earlier one: the secret goes to the keychain
    /// (read back), then the verifier to the store. The lock state is unchanged. Blocking.
    ///
    /// # Errors
    /// [`Error::KeychainUnavailable`] for a store opened with a given key; the keychain's
    /// errors (nothing is saved in the store then); [`Error::Database`].
    pub fn save_pin(
        &mut self,
        verifier: &PinVerifier,
        secret: &[u8; PIN_SECRET_LEN],
    ) -> Result<(), Error> {
        let keychain = self.keychain.as_ref().ok_or(Error::KeychainUnavailable)?;
        keychain.save_pin_secret(&self.profile_id, secret)?;
        self.conn.execute(
            "INSERT INTO app_lock (id, pin_verifier) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET pin_verifier = excluded.pin_verifier",
            [verifier.to_bytes()],
        )?;
        Ok(())
    }

    /// Erases the device unlock PIN: the verifier from the store (overwritten in the file,
    /// `secure_delete`), then the secret from the keychain. Removing no PIN is fine. Blocking.
    ///
    /// # Errors
    /// [`Error::Database`]; the keychain's errors (the verifier is already gone then, and
    /// useless without the secret).
    pub fn remove_pin(&mut self) -> Result<(), Error> {
        self.conn
            .execute("UPDATE app_lock SET pin_verifier = NULL WHERE id = 1", [])?;
        if let Some(keychain) = &self.keychain {
            keychain.delete_pin_secret(&self.profile_id)?;
        }
        Ok(())
    }

    /// Whether the app is locked and the wrong PINs typed since the last unlock.
    ///
    /// # Errors
    /// [`Error::ValueOutOfRange`] if a stored value is damaged; [`Error::Database`].
    pub fn lock_state(&self) -> Result<LockState, Error> {
        let row: Option<(bool, i64, i64)> = self
            .conn
            .query_row(
                "SELECT locked, failures, last_failure_at FROM app_lock WHERE id = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?;
        let Some((locked, failures, last_failure_at)) = row else {
            return Ok(LockState::default());
        };
        Ok(LockState {
            locked,
            attempts: UnlockAttempts {
                failures: u32::try_from(failures)
                    .map_err(|_| Error::ValueOutOfRange("stored unlock failures"))?,
                last_failure_at: u64::try_from(last_failure_at)
                    .map_err(|_| Error::ValueOutOfRange("stored unlock failure time"))?,
            },
        })
    }

    /// Saves whether the app is locked and the wrong PINs typed; the PIN is kept.
    ///
    /// # Errors
    /// [`Error::ValueOutOfRange`] if the failure time is above `i64::MAX`; [`Error::Database`].
    pub fn save_lock_state(&mut self, state: &LockState) -> Result<(), Error> {
        let at = i64::try_from(state.attempts.last_failure_at)
            .map_err(|_| Error::ValueOutOfRange("unlock failure time"))?;
        self.conn.execute(
            "INSERT INTO app_lock (id, locked, failures, last_failure_at) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET locked = excluded.locked,
                 failures = excluded.failures, last_failure_at = excluded.last_failure_at",
            params![state.locked, state.attempts.failures, at],
        )?;
        Ok(())
    }

    /// A value from the `meta` table (store-level facts such as `created_with`).
    ///
    /// # Errors
    /// [`Error::Database`] / [`Error::Corrupted`] if the row cannot be read.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .optional()?)
    }

    /// Sets a value in the `meta` table, replacing any previous one.
    ///
    /// # Errors
    /// [`Error::Database`] if the write fails.
    pub fn set_meta(&mut self, key: &str, value: &[u8]) -> Result<(), Error> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Checkpoints the write-ahead log into the database file and closes it. Dropping a `Store`
    /// also closes it; this reports errors instead of logging them.
    ///
    /// # Errors
    /// [`Error::Database`] if the checkpoint or close fails.
    pub fn close(self) -> Result<(), Error> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        self.conn.close().map_err(|(_, err)| Error::from(err))
    }

    /// Deletes the profile's keychain entry and its store files: the explicit wipe (DESIGN §10,
    /// remote wipe or the user removing the profile). Never called implicitly. Files other than
    /// the store's own are left in place. Blocking.
    ///
    /// # Errors
    /// Keychain errors other than a missing entry; [`Error::Io`] if a file cannot be removed.
    pub fn wipe_profile(dir: &Path, keychain: &Keychain) -> Result<(), Error> {
        let profile = ProfileDir::new(dir);
        if let Some(id) = profile.read_profile_id()? {
            keychain.delete_pin_secret(&id)?;
            keychain.delete(&id)?;
        }
        profile.remove_files()
    }

    /// Writes a one-row value once; the same value again is accepted (idempotent retry).
    fn write_once(
        &mut self,
        select: &str,
        insert: &str,
        value: &[u8],
        what: &'static str,
    ) -> Result<(), Error> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let existing: Option<Zeroizing<Vec<u8>>> = tx
            .query_row(select, [], |row| {
                row.get::<_, Vec<u8>>(0).map(Zeroizing::new)
            })
            .optional()?;
        match existing {
            Some(stored) if stored.as_slice() == value => return Ok(()),
            Some(_) => return Err(Error::AlreadySet(what)),
            None => {}
        }
        tx.execute(insert, [value])?;
        tx.commit()?;
        Ok(())
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("profile_id", &self.profile_id)
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// Opens the SQLCipher database with the raw key and checks that SQLCipher is really there.
fn open_database(
    profile: &ProfileDir,
    key: &StoreKey,
    may_create: bool,
) -> Result<(Connection, String), Error> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if may_create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(profile.database_path(), flags)?;
    // A raw key: SQLCipher uses these 256 bits directly, with no passphrase KDF.
    let key_hex = Zeroizing::new(hex::encode(key.as_bytes()));
    let pragma = Zeroizing::new(format!("PRAGMA key = \"x'{}'\";", key_hex.as_str()));
    conn.execute_batch(&pragma)?;
    let cipher_version: Option<String> = conn
        .query_row("PRAGMA cipher_version", [], |row| row.get(0))
        .optional()?;
    match cipher_version {
        Some(version) if !version.trim().is_empty() => Ok((conn, version)),
        _ => Err(Error::CipherUnavailable),
    }
}

/// Reads page 1: with SQLCipher this fails with `SQLITE_NOTADB` if the key is wrong or the
/// page does not authenticate.
fn verify_readable(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| {
        row.get::<_, i64>(0)
    })
    .map(|_| ())
}

fn configure(conn: &Connection) -> Result<(), Error> {
    conn.busy_timeout(Duration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(%mode, "store could not switch to WAL mode");
    }
    // secure_delete: erased secrets are overwritten in the file, not left in free pages.
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
    )?;
    Ok(())
}

/// Moves the pin forward inside the caller's transaction; refuses a rollback or a fork.
fn write_head(conn: &Connection, head: PinnedHead) -> Result<(), Error> {
    let seq = i64::try_from(head.seq).map_err(|_| Error::ValueOutOfRange("ledger seq"))?;
    if let Some(pinned) = read_head(conn)?
        && (head.seq < pinned.seq || (head.seq == pinned.seq && head.hash != pinned.hash))
    {
        return Err(Error::LedgerHeadRollback {
            pinned: pinned.seq,
            offered: head.seq,
        });
    }
    conn.execute(
        "INSERT INTO ledger_head (id, seq, hash) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        params![seq, head.hash.as_slice()],
    )?;
    Ok(())
}

fn read_head(conn: &Connection) -> Result<Option<PinnedHead>, Error> {
    let row: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT seq, hash FROM ledger_head WHERE id = 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    row.map(|(seq, hash)| {
        Ok(PinnedHead {
            seq: u64::try_from(seq).map_err(|_| Error::ValueOutOfRange("stored ledger seq"))?,
            hash: hash
                .try_into()
                .map_err(|_| Error::ValueOutOfRange("stored ledger hash"))?,
        })
    })
    .transpose()
}
