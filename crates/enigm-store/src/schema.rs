//! The store's schema and its migrations on `PRAGMA user_version`.
//!
//! Migration `n` (1-based) moves the schema from version `n - 1` to `n`. All pending migrations
//! and the version bump run in one `IMMEDIATE` transaction: a crash leaves the old schema or the
//! new one, never a mix. A file whose version is newer than [`LATEST`] is refused untouched.

use rusqlite::{Connection, TransactionBehavior};

use crate::Error;

/// Migration scripts, in order. Never edit a released one: append.
const MIGRATIONS: &[&str] = &[
    // v1: store metadata and what the client needs first.
    "
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY NOT NULL,
        value BLOB NOT NULL
    ) STRICT;

    -- This device's private keys (enigm_core::identity::DeviceSecrets::to_bytes). One row.
    CREATE TABLE device (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        secrets BLOB NOT NULL CHECK (length(secrets) = 64)
    ) STRICT;

    -- The account this profile belongs to. One row.
    CREATE TABLE account (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        account_id BLOB NOT NULL CHECK (length(account_id) = 16)
    ) STRICT;

    -- The last device-ledger head this client verified (DESIGN §4). One row.
    CREATE TABLE ledger_head (
        id   INTEGER PRIMARY KEY CHECK (id = 1),
        seq  INTEGER NOT NULL CHECK (seq >= 0),
        hash BLOB NOT NULL CHECK (length(hash) = 32)
    ) STRICT;
    ",
    // v2: the verified ledger itself (so each start re-verifies locally and fetches only what
    // is new) and the session with the service.
    "
    -- Verified device-ledger entries, canonical encodings, from genesis (seq 0) up to the
    -- pinned head. Written in the same transaction as the pin.
    CREATE TABLE ledger_entry (
        seq   INTEGER PRIMARY KEY CHECK (seq >= 0),
        bytes BLOB NOT NULL
    ) STRICT;

    -- The device-bound session with the service (its id is useless without the device key).
    CREATE TABLE session (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        session_id BLOB NOT NULL CHECK (length(session_id) = 16),
        kind       TEXT NOT NULL,
        expires_at INTEGER NOT NULL CHECK (expires_at >= 0)
    ) STRICT;
    ",
    // v3: the account sync key, one row per epoch this device held (older epochs keep data
    // written under them readable).
    "
    CREATE TABLE sync_key (
        epoch INTEGER PRIMARY KEY CHECK (epoch >= 1),
        key   BLOB NOT NULL CHECK (length(key) = 32)
    ) STRICT;
    ",
    // v4: what a removed device verified about its removal (the mark moves out of `meta`), and
    // the labels of the account's devices it last read, so that it can still name who removed
    // it once the service refuses it.
    "
    CREATE TABLE revocation (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        at          INTEGER NOT NULL CHECK (at >= 0),
        reason      TEXT NOT NULL,
        -- A device id (hex), 'recovery' or 'organization'; NULL when it could not be verified.
        removed_by  TEXT CHECK (removed_by IS NULL OR removed_by IN ('recovery', 'organization')
                                OR (length(removed_by) = 32 AND removed_by NOT GLOB '*[^0-9a-f]*')),
        replaced_by BLOB CHECK (replaced_by IS NULL OR length(replaced_by) = 16)
    ) STRICT;
    INSERT INTO revocation (id, at, reason)
        SELECT 1,
               CAST(substr(CAST(value AS TEXT), 1, instr(CAST(value AS TEXT), ' ') - 1) AS INTEGER),
               substr(CAST(value AS TEXT), instr(CAST(value AS TEXT), ' ') + 1)
        FROM meta WHERE key = 'revoked';
    DELETE FROM meta WHERE key = 'revoked';

    CREATE TABLE device_label (
        device_id BLOB PRIMARY KEY NOT NULL CHECK (length(device_id) = 16),
        label     TEXT NOT NULL
    ) STRICT;
    ",
    // v5: unlocking the app offline (enigm_core::unlock): the password verifier, whether the
    // app is locked (so a restart starts locked), and the wrong passwords typed since the last
    // success (so a restart does not reset the wait).
    "
    CREATE TABLE app_lock (
        id              INTEGER PRIMARY KEY CHECK (id = 1),
        verifier        BLOB,
        locked          INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1)),
        failures        INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
        last_failure_at INTEGER NOT NULL DEFAULT 0 CHECK (last_failure_at >= 0)
    ) STRICT;
    ",
    // v6: the account password is never kept on the device (docs/security.md, issue 13 item
    // 9): the password verifier is deleted (secure_delete overwrites it in the file) and its
    // column dropped; an optional device unlock PIN's verifier (enigm_core::unlock::PinVerifier,
    // keyed by a keychain secret) takes its place. The wrong-try counter now counts wrong PINs.
    "
    UPDATE app_lock SET verifier = NULL, failures = 0, last_failure_at = 0;
    ALTER TABLE app_lock DROP COLUMN verifier;
    ALTER TABLE app_lock ADD COLUMN pin_verifier BLOB;
    ",
    // v7: when the removing ledger entry says it was made (its signer's clock), so a removed
    // device can say when it was removed, not only when it learned it.
    "
    ALTER TABLE revocation ADD COLUMN signed_at INTEGER CHECK (signed_at >= 0);
    ",
];

/// The script that migrates schema `version - 1` to `version`, for tests that rebuild an
/// older profile.
#[cfg(test)]
pub(crate) fn migration(version: u32) -> &'static str {
    MIGRATIONS[version as usize - 1]
}

/// The newest schema version this build understands.
pub const LATEST: u32 = MIGRATIONS.len() as u32;

/// Brings the schema to [`LATEST`]; returns the version found before migrating.
pub(crate) fn migrate(conn: &mut Connection) -> Result<u32, Error> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let raw: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let found = u32::try_from(raw).map_err(|_| Error::ValueOutOfRange("schema version"))?;
    if found > LATEST {
        return Err(Error::NewerSchema {
            found,
            supported: LATEST,
        });
    }
    for script in MIGRATIONS.iter().skip(found as usize) {
        tx.execute_batch(script)?;
    }
    if found < LATEST {
        tx.pragma_update(None, "user_version", LATEST)?;
        tracing::info!(from = found, to = LATEST, "store schema migrated");
    }
    tx.commit()?;
    Ok(found)
}
