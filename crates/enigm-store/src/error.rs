//! The one error type of this crate.
//!
//! Every variant that [`crate::Store::open`] can return names one situation a user can act on,
//! and its message ends with a one-line remedy. Messages never contain key material, keychain
//! secrets or full file paths, so they may be shown in the app and sent across IPC as they are;
//! [`Error::code`] gives the stable machine-readable code to pair with them.

/// Everything that can go wrong while opening or using a profile's encrypted store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No OS keychain could be reached: no Secret Service on the session bus (headless or
    /// minimal Linux sessions), or the platform keychain could not be initialised.
    ///
    /// The platform keychain is initialised once per process, so the remedy includes a restart.
    #[error(
        "no OS keychain is available (no Secret Service or platform keychain in this session); \
         start or install your desktop keyring, then restart Enigm"
    )]
    KeychainUnavailable,

    /// The keychain exists but refused access because it is locked (or the unlock prompt was
    /// dismissed).
    #[error("the OS keychain is locked; unlock your keyring (or log in again), then retry")]
    KeychainLocked,

    /// The profile exists but its key is not in the keychain: the entry was deleted, or the
    /// keychain backend changed since the profile was created (another keyring, another user
    /// session, a migrated machine).
    #[error(
        "this profile's key is missing from the OS keychain (the entry was deleted or the \
         keychain changed); restore the keychain it was created with, or recover on a new profile"
    )]
    KeyMissing,

    /// The keychain holds a key for this profile, but it is not the key the store was created
    /// with (the key check value does not match). The store file was not touched.
    #[error(
        "the key in the OS keychain does not belong to this profile's store; restore the original \
         keychain entry (the store file was not changed)"
    )]
    WrongKey,

    /// The key is right (it matches the key check value) but SQLCipher cannot read the file:
    /// it is truncated, garbled or otherwise damaged.
    #[error("the store file is damaged and cannot be read; restore it from a backup")]
    Corrupted,

    /// The store file is an unencrypted SQLite database. Enigm never writes one, so something
    /// else replaced the file; it is refused rather than used.
    #[error(
        "the store file is an unencrypted SQLite database, which Enigm never writes; move it \
         away and restore the encrypted store from a backup"
    )]
    PlaintextDatabase,

    /// The store was migrated by a newer Enigm than this one.
    #[error(
        "the store uses schema version {found}, newer than this app understands ({supported}); \
         update Enigm"
    )]
    NewerSchema {
        /// The schema version found in the file.
        found: u32,
        /// The newest schema version this build knows.
        supported: u32,
    },

    /// The profile was fully created once (its key check value exists) but its database file
    /// is gone. Nothing is recreated automatically, so no empty store silently replaces it.
    #[error("the store file is missing from the profile directory; restore it from a backup")]
    DatabaseMissing,

    /// A file of the profile directory other than the database is missing or malformed.
    #[error("the profile directory is damaged ({0}); restore it from a backup")]
    ProfileDamaged(&'static str),

    /// The SQLite library in this build is not SQLCipher (`PRAGMA cipher_version` is empty), so
    /// the store would not be encrypted. Enigm refuses to open it.
    #[error("this build of Enigm has no database encryption (SQLCipher); reinstall Enigm")]
    CipherUnavailable,

    /// The keychain failed in a way not covered above (a platform error, an ambiguous entry).
    #[error(
        "the OS keychain reported an error; retry, and check your keyring service if it persists"
    )]
    KeychainFailure(#[source] keyring_core::Error),

    /// Ledger entries offered to the store do not continue the stored ones. Nothing was written.
    #[error(
        "the ledger entries start at {offered} but the store holds {stored}; nothing was written"
    )]
    LedgerGap {
        /// How many entries are stored (the next expected sequence number).
        stored: u64,
        /// The sequence number the offered entries start at.
        offered: u64,
    },

    /// A value that is written once (this device's secrets, the account id) is already stored.
    #[error("the {0} is already stored and is never overwritten")]
    AlreadySet(&'static str),

    /// The offered ledger head would move the pinned head backwards, or fork it at the same
    /// sequence number. The pinned head is unchanged.
    #[error(
        "the ledger head would move backwards or fork (pinned seq {pinned}, offered seq \
         {offered}); it was not changed"
    )]
    LedgerHeadRollback {
        /// Sequence number of the currently pinned head.
        pinned: u64,
        /// Sequence number of the refused head.
        offered: u64,
    },

    /// A different account sync key is already stored for this epoch: someone is offering a
    /// second key for an epoch this device already holds. The stored key is unchanged.
    #[error("a different account sync key is already stored for epoch {epoch}")]
    SyncKeyConflict {
        /// The epoch both keys claim.
        epoch: u64,
    },

    /// A value does not fit the store's representation (for example a ledger sequence number
    /// above `i64::MAX`), or a stored value is out of its valid range.
    #[error("the {0} is out of range")]
    ValueOutOfRange(&'static str),

    /// Reading or writing a file of the profile directory failed.
    #[error("could not read or write the profile directory; check its permissions and free space")]
    Io(#[source] std::io::Error),

    /// Another SQLite error (busy, full disk, I/O) after the store was opened.
    #[error("the encrypted store reported a database error; retry, and check free disk space")]
    Database(#[source] rusqlite::Error),
}

impl Error {
    /// Every code [`Error::code`] returns: the store's part of the closed set the app's
    /// TypeScript knows.
    pub const CODES: [&'static str; 18] = [
        "keychain_unavailable",
        "keychain_locked",
        "key_missing",
        "wrong_key",
        "store_corrupted",
        "store_plaintext",
        "store_newer_schema",
        "store_missing",
        "profile_damaged",
        "cipher_unavailable",
        "keychain_failure",
        "already_set",
        "ledger_gap",
        "ledger_head_rollback",
        "sync_key_conflict",
        "value_out_of_range",
        "store_io",
        "store_database",
    ];

    /// A stable, machine-readable code for the `{code, message}` pair the app and CLI show.
    pub fn code(&self) -> &'static str {
        match self {
            Self::KeychainUnavailable => "keychain_unavailable",
            Self::KeychainLocked => "keychain_locked",
            Self::KeyMissing => "key_missing",
            Self::WrongKey => "wrong_key",
            Self::Corrupted => "store_corrupted",
            Self::PlaintextDatabase => "store_plaintext",
            Self::NewerSchema { .. } => "store_newer_schema",
            Self::DatabaseMissing => "store_missing",
            Self::ProfileDamaged(_) => "profile_damaged",
            Self::CipherUnavailable => "cipher_unavailable",
            Self::KeychainFailure(_) => "keychain_failure",
            Self::AlreadySet(_) => "already_set",
            Self::LedgerGap { .. } => "ledger_gap",
            Self::LedgerHeadRollback { .. } => "ledger_head_rollback",
            Self::SyncKeyConflict { .. } => "sync_key_conflict",
            Self::ValueOutOfRange(_) => "value_out_of_range",
            Self::Io(_) => "store_io",
            Self::Database(_) => "store_database",
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Self::Io(err)
    }
}

impl From<rusqlite::Error> for Error {
    /// Damage found after open (a garbled later page) is still [`Error::Corrupted`].
    fn from(err: rusqlite::Error) -> Self {
        match err.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
                Self::Corrupted
            }
            _ => Self::Database(err),
        }
    }
}

impl From<keyring_core::Error> for Error {
    fn from(err: keyring_core::Error) -> Self {
        match err {
            keyring_core::Error::NoEntry => Self::KeyMissing,
            keyring_core::Error::NoStorageAccess(_) => Self::KeychainLocked,
            keyring_core::Error::NoDefaultStore => Self::KeychainUnavailable,
            other => Self::KeychainFailure(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One value of every variant: the match has no wildcard, so a new variant must be added
    /// here, and its code to [`Error::CODES`], before this compiles.
    fn one_of_each() -> Vec<Error> {
        let all = vec![
            Error::KeychainUnavailable,
            Error::KeychainLocked,
            Error::KeyMissing,
            Error::WrongKey,
            Error::Corrupted,
            Error::PlaintextDatabase,
            Error::NewerSchema {
                found: 9,
                supported: 6,
            },
            Error::DatabaseMissing,
            Error::ProfileDamaged("profile id missing"),
            Error::CipherUnavailable,
            Error::KeychainFailure(keyring_core::Error::NoEntry),
            Error::AlreadySet("device"),
            Error::LedgerGap {
                stored: 1,
                offered: 3,
            },
            Error::LedgerHeadRollback {
                pinned: 3,
                offered: 1,
            },
            Error::SyncKeyConflict { epoch: 2 },
            Error::ValueOutOfRange("seq"),
            Error::Io(std::io::Error::other("disk")),
            Error::Database(rusqlite::Error::InvalidQuery),
        ];
        for error in &all {
            match error {
                Error::KeychainUnavailable
                | Error::KeychainLocked
                | Error::KeyMissing
                | Error::WrongKey
                | Error::Corrupted
                | Error::PlaintextDatabase
                | Error::NewerSchema { .. }
                | Error::DatabaseMissing
                | Error::ProfileDamaged(_)
                | Error::CipherUnavailable
                | Error::KeychainFailure(_)
                | Error::AlreadySet(_)
                | Error::LedgerGap { .. }
                | Error::LedgerHeadRollback { .. }
                | Error::SyncKeyConflict { .. }
                | Error::ValueOutOfRange(_)
                | Error::Io(_)
                | Error::Database(_) => {}
            }
        }
        all
    }

    #[test]
    fn the_code_list_is_exactly_the_codes_returned() {
        let returned: Vec<&str> = one_of_each().iter().map(Error::code).collect();
        assert_eq!(returned, Error::CODES);
    }
}
