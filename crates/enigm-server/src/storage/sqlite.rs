//! Embedded SQLite storage: one file in the data directory, one node.
//!
//! WAL journal with `synchronous=FULL`, so an acknowledged write survives `kill -9` and power
//! loss; every multi-statement change runs in an `IMMEDIATE` transaction; migrations run on
//! `PRAGMA user_version` inside one transaction. Calls run on tokio's blocking pool, never on an
//! async worker. One connection serialises access, which is what SQLite does for writers anyway.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::codec::{
    self, ACCOUNT_COLUMNS, Columns, ENROLLMENT_COLUMNS, SESSION_COLUMNS, sql_limit, to_sql,
};
use super::decide::{self, Decision};
use super::{
    AccountId, AccountRecord, AccountStatus, AppendOutcome, Attempt, Backoff, CreateOutcome,
    EnrollmentInsert, EpochWrite, LedgerEffects, NewAccount, PasswordCommit, PendingLogin,
    PendingRecovery, RecoveryCommit, RotationOutcome, SessionRecord, SharedItem, Storage,
    StoredAudit, StoredEnrollment, StoredEntry, StoredHead, StoredSyncKey, SyncKeyCopy,
    SyncKeyRotation,
};
use crate::error::ServerError;

/// Migration scripts, in order. Never edit a released one: append.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE accounts (
        account_id     BLOB PRIMARY KEY NOT NULL CHECK (length(account_id) = 16),
        lookup_key     BLOB NOT NULL UNIQUE CHECK (length(lookup_key) = 32),
        opaque_record  BLOB NOT NULL,
        status         TEXT NOT NULL CHECK (status IN ('active', 'locked', 'recovering')),
        locked_until   INTEGER,
        recovery_epoch INTEGER NOT NULL,
        head_seq       INTEGER NOT NULL,
        head_hash      BLOB NOT NULL CHECK (length(head_hash) = 32),
        created_at     INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE ledger_entries (
        account_id BLOB NOT NULL REFERENCES accounts (account_id),
        seq        INTEGER NOT NULL CHECK (seq >= 0),
        hash       BLOB NOT NULL CHECK (length(hash) = 32),
        bytes      BLOB NOT NULL,
        PRIMARY KEY (account_id, seq)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE pending_logins (
        login_id   BLOB PRIMARY KEY NOT NULL CHECK (length(login_id) = 16),
        lookup_key BLOB NOT NULL,
        account_id BLOB,
        state      BLOB NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE sessions (
        session_id     BLOB PRIMARY KEY NOT NULL CHECK (length(session_id) = 16),
        account_id     BLOB NOT NULL REFERENCES accounts (account_id),
        device_key     BLOB NOT NULL CHECK (length(device_key) = 32),
        device_id      BLOB NOT NULL CHECK (length(device_id) = 16),
        kind           TEXT NOT NULL CHECK (kind IN ('full', 'enrollment')),
        issued_at      INTEGER NOT NULL,
        expires_at     INTEGER NOT NULL,
        strong_auth_at INTEGER NOT NULL,
        recovery_epoch INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX sessions_by_device ON sessions (account_id, device_id);

    CREATE TABLE nonces (
        session_id BLOB NOT NULL,
        nonce      BLOB NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (session_id, nonce)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX nonces_by_expiry ON nonces (expires_at);

    CREATE TABLE rate_limits (
        key             TEXT PRIMARY KEY NOT NULL,
        failures        INTEGER NOT NULL,
        last_failure_at INTEGER NOT NULL,
        blocked_until   INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE audit (
        seq     INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 0),
        hash    BLOB NOT NULL CHECK (length(hash) = 32),
        account TEXT,
        bytes   BLOB NOT NULL
    ) STRICT;
    CREATE INDEX audit_by_account ON audit (account, seq);
",
    "
    -- One audit chain per account, so an account's export is a whole chain from record 0.
    -- Records of the earlier deployment-wide chain stay in audit_global_v1, no longer written.
    ALTER TABLE audit RENAME TO audit_global_v1;
    CREATE TABLE audit (
        account TEXT NOT NULL,
        seq     INTEGER NOT NULL CHECK (seq >= 0),
        hash    BLOB NOT NULL CHECK (length(hash) = 32),
        bytes   BLOB NOT NULL,
        PRIMARY KEY (account, seq)
    ) STRICT;
",
    "
    -- Enrollment relay (DESIGN §7).
    CREATE TABLE enrollments (
        id          BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
        account_id  BLOB NOT NULL REFERENCES accounts (account_id),
        device_id   BLOB NOT NULL CHECK (length(device_id) = 16),
        version     INTEGER NOT NULL CHECK (version >= 0),
        open        INTEGER NOT NULL CHECK (open IN (0, 1)),
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        purge_after INTEGER NOT NULL,
        data        BLOB NOT NULL
    ) STRICT;
    CREATE INDEX enrollments_by_account ON enrollments (account_id, open, expires_at);
    CREATE INDEX enrollments_by_device ON enrollments (device_id, open, expires_at);
    CREATE INDEX enrollments_by_purge ON enrollments (purge_after);
",
    "
    -- account recovery (DESIGN §8)
    CREATE TABLE pending_recoveries (
        recovery_id BLOB PRIMARY KEY NOT NULL CHECK (length(recovery_id) = 16),
        lookup_key  BLOB NOT NULL CHECK (length(lookup_key) = 32),
        account_id  BLOB,
        expires_at  INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX pending_recoveries_by_account ON pending_recoveries (account_id);
    CREATE INDEX pending_logins_by_account ON pending_logins (account_id);
",
    "
    -- account sync key (DESIGN §3): one sealed copy per device and epoch (the newest epoch is
    -- the account's current one), and the items the devices share encrypted under it.
    CREATE TABLE sync_key_copies (
        account_id BLOB NOT NULL REFERENCES accounts (account_id),
        epoch      INTEGER NOT NULL CHECK (epoch >= 1),
        device_id  BLOB NOT NULL CHECK (length(device_id) = 16),
        sealed     BLOB NOT NULL,
        PRIMARY KEY (account_id, epoch, device_id)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX sync_key_copies_by_device ON sync_key_copies (account_id, device_id, epoch);
    CREATE TABLE shared_items (
        account_id BLOB NOT NULL REFERENCES accounts (account_id),
        name       TEXT NOT NULL,
        epoch      INTEGER NOT NULL CHECK (epoch >= 1),
        ciphertext BLOB NOT NULL,
        PRIMARY KEY (account_id, name)
    ) STRICT, WITHOUT ROWID;
",
    "
    -- coarse last seen: the day each device last made a request, written once a day per
    -- session (the session remembers the day it wrote).
    ALTER TABLE sessions ADD COLUMN seen_day INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE device_seen (
        account_id BLOB NOT NULL REFERENCES accounts (account_id),
        device_id  BLOB NOT NULL CHECK (length(device_id) = 16),
        seen_day   INTEGER NOT NULL,
        PRIMARY KEY (account_id, device_id)
    ) STRICT, WITHOUT ROWID;
",
    "
    -- salted OPAQUE credential identifiers: registration and recovery evaluate a one-off OPRF
    -- key, never the account's current one; accounts made before keep the empty salt.
    ALTER TABLE accounts ADD COLUMN opaque_salt BLOB NOT NULL DEFAULT x'';
",
];

/// The service's SQLite database.
#[derive(Clone)]
pub struct SqliteStorage {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStorage")
    }
}

/// Maps a rusqlite error; the text is logged, never sent. The database being locked by another process past the busy timeout is
/// [`ServerError::Unavailable`]: the client retries.
fn db(error: rusqlite::Error) -> ServerError {
    match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            ServerError::Unavailable(error.to_string())
        }
        _ => ServerError::Storage(error.to_string()),
    }
}

impl SqliteStorage {
    /// Opens (creating if needed) the database at `path` and migrates it.
    ///
    /// # Errors
    /// [`ServerError::Storage`] when the file cannot be opened, is newer than this build, or a
    /// migration fails (nothing is changed then).
    pub fn open(path: &Path) -> Result<Self, ServerError> {
        let conn = Connection::open(path).map_err(db)?;
        Self::setup(conn)
    }

    /// An in-memory database, for tests.
    ///
    /// # Errors
    /// As [`SqliteStorage::open`].
    pub fn open_in_memory() -> Result<Self, ServerError> {
        let conn = Connection::open_in_memory().map_err(db)?;
        Self::setup(conn)
    }

    fn setup(mut conn: Connection) -> Result<Self, ServerError> {
        conn.busy_timeout(Duration::from_secs(5)).map_err(db)?;
        // journal_mode returns a row, so it is queried rather than updated.
        let _mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn with<T, F>(&self, f: F) -> Result<T, ServerError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, ServerError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| ServerError::Storage("database lock poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|error| ServerError::Storage(format!("blocking task failed: {error}")))?
    }
}

/// Brings the schema to the newest version in one transaction.
fn migrate(conn: &mut Connection) -> Result<(), ServerError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    let found: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(db)?;
    let found = usize::try_from(found)
        .map_err(|_| ServerError::Storage("negative schema version".into()))?;
    if found > MIGRATIONS.len() {
        return Err(ServerError::Storage(format!(
            "database schema version {found} is newer than this build ({})",
            MIGRATIONS.len()
        )));
    }
    for script in MIGRATIONS.iter().skip(found) {
        tx.execute_batch(script).map_err(db)?;
    }
    if found < MIGRATIONS.len() {
        let latest = i64::try_from(MIGRATIONS.len())
            .map_err(|_| ServerError::Storage("too many migrations".into()))?;
        tx.pragma_update(None, "user_version", latest).map_err(db)?;
    }
    tx.commit().map_err(db)
}

impl Columns for rusqlite::Row<'_> {
    fn int(&self, index: usize) -> Result<i64, ServerError> {
        self.get(index).map_err(db)
    }
    fn maybe_int(&self, index: usize) -> Result<Option<i64>, ServerError> {
        self.get(index).map_err(db)
    }
    fn bytes(&self, index: usize) -> Result<Vec<u8>, ServerError> {
        self.get(index).map_err(db)
    }
    fn maybe_bytes(&self, index: usize) -> Result<Option<Vec<u8>>, ServerError> {
        self.get(index).map_err(db)
    }
    fn text(&self, index: usize) -> Result<String, ServerError> {
        self.get(index).map_err(db)
    }
    fn flag(&self, index: usize) -> Result<bool, ServerError> {
        self.get(index).map_err(db)
    }
}

/// The row `sql` finds, if any, decoded by `decode` (a closure around a `codec` function: the
/// function item itself is not general over the row's lifetime).
fn one<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    decode: impl FnOnce(&rusqlite::Row<'_>) -> Result<T, ServerError>,
) -> Result<Option<T>, ServerError> {
    conn.query_row(sql, params, |row| Ok(decode(row)))
        .optional()
        .map_err(db)?
        .transpose()
}

/// Every row `sql` finds, in order, decoded by `decode`.
fn all<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    mut decode: impl FnMut(&rusqlite::Row<'_>) -> Result<T, ServerError>,
) -> Result<Vec<T>, ServerError> {
    let mut statement = conn.prepare_cached(sql).map_err(db)?;
    let rows = statement
        .query_map(params, |row| Ok(decode(row)))
        .map_err(db)?;
    rows.map(|row| row.map_err(db)?).collect()
}

/// The single integer `sql` returns (a count, an epoch, a next position).
fn number(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<u64, ServerError> {
    one(conn, sql, params, |row| codec::count(row))?
        .ok_or_else(|| ServerError::Storage("aggregate returned no row".into()))
}

fn current_head(conn: &Connection, account_id: &AccountId) -> Result<StoredHead, ServerError> {
    one(
        conn,
        "SELECT head_seq, head_hash FROM accounts WHERE account_id = ?1",
        params![account_id.as_slice()],
        |row| codec::head(row),
    )?
    .ok_or(ServerError::NotFound)
}

/// The account's current sync epoch (0 before the first rotation).
fn current_sync_epoch(conn: &Connection, account_id: &AccountId) -> Result<u64, ServerError> {
    number(
        conn,
        "SELECT COALESCE(MAX(epoch), 0) FROM sync_key_copies WHERE account_id = ?1",
        params![account_id.as_slice()],
    )
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn create_account(&self, account: NewAccount) -> Result<CreateOutcome, ServerError> {
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let taken: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM accounts WHERE lookup_key = ?1 OR account_id = ?2)",
                    params![account.lookup_key.as_slice(), account.account_id.as_slice()],
                    |row| row.get(0),
                )
                .map_err(db)?;
            if taken {
                return Ok(CreateOutcome::AlreadyExists);
            }
            let (status, until) = codec::status_columns(AccountStatus::Active)?;
            tx.execute(
                "INSERT INTO accounts (account_id, lookup_key, opaque_record, status, locked_until,
                     recovery_epoch, head_seq, head_hash, created_at, opaque_salt)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8, ?9)",
                params![
                    account.account_id.as_slice(),
                    account.lookup_key.as_slice(),
                    account.opaque_record,
                    status,
                    until,
                    to_sql(account.genesis.seq)?,
                    account.genesis.hash.as_slice(),
                    to_sql(account.created_at)?,
                    account.opaque_salt,
                ],
            )
            .map_err(db)?;
            tx.execute(
                "INSERT INTO ledger_entries (account_id, seq, hash, bytes) VALUES (?1, ?2, ?3, ?4)",
                params![
                    account.account_id.as_slice(),
                    to_sql(account.genesis.seq)?,
                    account.genesis.hash.as_slice(),
                    account.genesis.bytes,
                ],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(CreateOutcome::Created)
        })
        .await
    }

    async fn account_by_lookup_key(
        &self,
        lookup_key: &[u8; 32],
    ) -> Result<Option<AccountRecord>, ServerError> {
        let key = *lookup_key;
        self.with(move |conn| {
            one(
                conn,
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE lookup_key = ?1"),
                params![key.as_slice()],
                |row| codec::account(row),
            )
        })
        .await
    }

    async fn account(&self, account_id: &AccountId) -> Result<Option<AccountRecord>, ServerError> {
        let id = *account_id;
        self.with(move |conn| {
            one(
                conn,
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE account_id = ?1"),
                params![id.as_slice()],
                |row| codec::account(row),
            )
        })
        .await
    }

    async fn insert_pending_login(&self, login: PendingLogin) -> Result<(), ServerError> {
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO pending_logins (login_id, lookup_key, account_id, state, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    login.login_id.as_slice(),
                    login.lookup_key.as_slice(),
                    login.account_id.as_ref().map(|id| id.as_slice()),
                    login.state,
                    to_sql(login.expires_at)?,
                ],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn take_pending_login(
        &self,
        login_id: &[u8; 16],
        now: u64,
    ) -> Result<Option<PendingLogin>, ServerError> {
        let id = *login_id;
        self.with(move |conn| {
            let taken = one(
                conn,
                "DELETE FROM pending_logins WHERE login_id = ?1
                 RETURNING lookup_key, account_id, state, expires_at",
                params![id.as_slice()],
                |row| codec::pending_login(row, id, now),
            )?;
            Ok(taken.flatten())
        })
        .await
    }

    async fn insert_session(&self, session: SessionRecord) -> Result<(), ServerError> {
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO sessions (session_id, account_id, device_key, device_id, kind,
                     issued_at, expires_at, strong_auth_at, recovery_epoch, seen_day)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    session.session_id.as_slice(),
                    session.account_id.as_slice(),
                    session.device_key.as_slice(),
                    session.device_id.as_slice(),
                    codec::kind_column(session.kind),
                    to_sql(session.issued_at)?,
                    to_sql(session.expires_at)?,
                    to_sql(session.strong_auth_at)?,
                    to_sql(session.recovery_epoch)?,
                    to_sql(session.seen_day)?,
                ],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn session(&self, session_id: &[u8; 16]) -> Result<Option<SessionRecord>, ServerError> {
        let id = *session_id;
        self.with(move |conn| {
            one(
                conn,
                &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE session_id = ?1"),
                params![id.as_slice()],
                |row| codec::session(row, id),
            )
        })
        .await
    }

    async fn account_sessions(
        &self,
        account_id: &AccountId,
        now: u64,
    ) -> Result<Vec<SessionRecord>, ServerError> {
        let account = *account_id;
        self.with(move |conn| {
            all(
                conn,
                &format!(
                    "SELECT {SESSION_COLUMNS}, session_id FROM sessions
                     WHERE account_id = ?1 AND expires_at > ?2 ORDER BY issued_at, session_id"
                ),
                params![account.as_slice(), to_sql(now)?],
                |row| codec::session(row, codec::fixed(row.bytes(9)?)?),
            )
        })
        .await
    }

    async fn refresh_session(
        &self,
        session_id: &[u8; 16],
        expires_at: u64,
    ) -> Result<bool, ServerError> {
        let id = *session_id;
        self.with(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE sessions SET expires_at = ?2 WHERE session_id = ?1",
                    params![id.as_slice(), to_sql(expires_at)?],
                )
                .map_err(db)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn delete_session(&self, session_id: &[u8; 16]) -> Result<bool, ServerError> {
        let id = *session_id;
        self.with(move |conn| {
            let changed = conn
                .execute(
                    "DELETE FROM sessions WHERE session_id = ?1",
                    params![id.as_slice()],
                )
                .map_err(db)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn insert_nonce(
        &self,
        session_id: &[u8; 16],
        nonce: &[u8],
        expires_at: u64,
    ) -> Result<bool, ServerError> {
        let id = *session_id;
        let nonce = nonce.to_vec();
        self.with(move |conn| {
            let inserted = conn
                .execute(
                    "INSERT INTO nonces (session_id, nonce, expires_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (session_id, nonce) DO NOTHING",
                    params![id.as_slice(), nonce, to_sql(expires_at)?],
                )
                .map_err(db)?;
            Ok(inserted == 1)
        })
        .await
    }

    async fn consume_attempt(
        &self,
        key: &str,
        now: u64,
        backoff: Backoff,
    ) -> Result<Attempt, ServerError> {
        let key = key.to_owned();
        self.with(move |conn| {
            // IMMEDIATE takes the write lock before the read: no other attempt can read the
            // same counter until this one is counted.
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let attempt = backoff.attempt(read_rate_limit(&tx, &key)?, now);
            if let Attempt::Counted(next) = attempt {
                tx.execute(
                    "INSERT INTO rate_limits (key, failures, last_failure_at, blocked_until)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
                         last_failure_at = excluded.last_failure_at,
                         blocked_until = excluded.blocked_until",
                    params![
                        key,
                        i64::from(next.failures),
                        to_sql(next.last_failure_at)?,
                        to_sql(next.blocked_until)?
                    ],
                )
                .map_err(db)?;
            }
            tx.commit().map_err(db)?;
            Ok(attempt)
        })
        .await
    }

    async fn reset_rate_limit(&self, key: &str) -> Result<(), ServerError> {
        let key = key.to_owned();
        self.with(move |conn| {
            conn.execute("DELETE FROM rate_limits WHERE key = ?1", params![key])
                .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn ledger_entries(
        &self,
        account_id: &AccountId,
        since: u64,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, ServerError> {
        let id = *account_id;
        self.with(move |conn| {
            all(
                conn,
                "SELECT seq, hash, bytes FROM ledger_entries
                 WHERE account_id = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3",
                params![id.as_slice(), to_sql(since)?, sql_limit(limit)],
                |row| codec::entry(row),
            )
        })
        .await
    }

    async fn append_ledger(
        &self,
        account_id: &AccountId,
        expected: StoredHead,
        entries: Vec<StoredEntry>,
        effects: LedgerEffects,
    ) -> Result<AppendOutcome, ServerError> {
        let id = *account_id;
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let new_head = match decide::append(current_head(&tx, &id)?, expected, &entries) {
                Decision::Write(new_head) => new_head,
                Decision::Answer(outcome) => return Ok(outcome),
            };
            for entry in &entries {
                tx.execute(
                    "INSERT INTO ledger_entries (account_id, seq, hash, bytes) VALUES (?1, ?2, ?3, ?4)",
                    params![id.as_slice(), to_sql(entry.seq)?, entry.hash.as_slice(), entry.bytes],
                )
                .map_err(db)?;
            }
            tx.execute(
                "UPDATE accounts SET head_seq = ?2, head_hash = ?3 WHERE account_id = ?1",
                params![id.as_slice(), to_sql(new_head.seq)?, new_head.hash.as_slice()],
            )
            .map_err(db)?;
            if let Some(epoch) = effects.recovery_epoch {
                tx.execute(
                    "UPDATE accounts SET recovery_epoch = ?2 WHERE account_id = ?1",
                    params![id.as_slice(), to_sql(epoch)?],
                )
                .map_err(db)?;
            }
            tx.commit().map_err(db)?;
            Ok(AppendOutcome::Appended(new_head))
        })
        .await
    }

    // --- account recovery (DESIGN §8) ---

    async fn insert_pending_recovery(&self, recovery: PendingRecovery) -> Result<(), ServerError> {
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO pending_recoveries (recovery_id, lookup_key, account_id, expires_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    recovery.recovery_id.as_slice(),
                    recovery.lookup_key.as_slice(),
                    recovery.account_id.as_ref().map(|id| id.as_slice()),
                    to_sql(recovery.expires_at)?,
                ],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn pending_recovery(
        &self,
        recovery_id: &[u8; 16],
        now: u64,
    ) -> Result<Option<PendingRecovery>, ServerError> {
        let id = *recovery_id;
        self.with(move |conn| {
            let found = one(
                conn,
                "SELECT lookup_key, account_id, expires_at FROM pending_recoveries
                 WHERE recovery_id = ?1",
                params![id.as_slice()],
                |row| codec::pending_recovery(row, id, now),
            )?;
            Ok(found.flatten())
        })
        .await
    }

    async fn take_pending_recovery(
        &self,
        recovery_id: &[u8; 16],
        now: u64,
    ) -> Result<Option<PendingRecovery>, ServerError> {
        let id = *recovery_id;
        self.with(move |conn| {
            let found = one(
                conn,
                "DELETE FROM pending_recoveries WHERE recovery_id = ?1
                 RETURNING lookup_key, account_id, expires_at",
                params![id.as_slice()],
                |row| codec::pending_recovery(row, id, now),
            )?;
            Ok(found.flatten())
        })
        .await
    }

    async fn complete_recovery(
        &self,
        account_id: &AccountId,
        commit: RecoveryCommit,
    ) -> Result<AppendOutcome, ServerError> {
        let id = *account_id;
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let entry = &commit.entry;
            let head = current_head(&tx, &id)?;
            let new_head = match decide::append(head, commit.expected, std::slice::from_ref(entry))
            {
                Decision::Write(new_head) => new_head,
                Decision::Answer(outcome) => return Ok(outcome),
            };
            tx.execute(
                "INSERT INTO ledger_entries (account_id, seq, hash, bytes) VALUES (?1, ?2, ?3, ?4)",
                params![
                    id.as_slice(),
                    to_sql(entry.seq)?,
                    entry.hash.as_slice(),
                    entry.bytes
                ],
            )
            .map_err(db)?;
            tx.execute(
                "UPDATE accounts SET head_seq = ?2, head_hash = ?3, opaque_record = ?4,
                     recovery_epoch = ?5, opaque_salt = ?6
                 WHERE account_id = ?1",
                params![
                    id.as_slice(),
                    to_sql(new_head.seq)?,
                    new_head.hash.as_slice(),
                    commit.opaque_record,
                    to_sql(commit.recovery_epoch)?,
                    commit.opaque_salt,
                ],
            )
            .map_err(db)?;
            for table in ["pending_logins", "pending_recoveries"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE account_id = ?1"),
                    params![id.as_slice()],
                )
                .map_err(db)?;
            }
            tx.commit().map_err(db)?;
            Ok(AppendOutcome::Appended(new_head))
        })
        .await
    }

    // --- end of account recovery ---

    async fn change_password(
        &self,
        account_id: &AccountId,
        commit: PasswordCommit,
    ) -> Result<Vec<[u8; 16]>, ServerError> {
        let id = *account_id;
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let changed = tx
                .execute(
                    "UPDATE accounts SET opaque_record = ?2, opaque_salt = ?3 WHERE account_id = ?1",
                    params![id.as_slice(), commit.opaque_record, commit.opaque_salt],
                )
                .map_err(db)?;
            if changed != 1 {
                return Ok(Vec::new());
            }
            let ended = {
                let mut statement = tx
                    .prepare(
                        "DELETE FROM sessions WHERE account_id = ?1 AND session_id != ?2
                         RETURNING session_id",
                    )
                    .map_err(db)?;
                let rows = statement
                    .query_map(
                        params![id.as_slice(), commit.keep_session.as_slice()],
                        |row| row.get::<_, Vec<u8>>(0),
                    )
                    .map_err(db)?;
                let mut ended = Vec::new();
                for row in rows {
                    let bytes = row.map_err(db)?;
                    ended.push(
                        bytes
                            .try_into()
                            .map_err(|_| ServerError::Storage("session id unreadable".into()))?,
                    );
                }
                ended
            };
            tx.execute(
                "DELETE FROM pending_logins WHERE account_id = ?1",
                params![id.as_slice()],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(ended)
        })
        .await
    }

    async fn audit_head(&self, account: &str) -> Result<Option<(u64, [u8; 32])>, ServerError> {
        let account = account.to_owned();
        self.with(move |conn| {
            one(
                conn,
                "SELECT seq, hash FROM audit WHERE account = ?1 ORDER BY seq DESC LIMIT 1",
                [&account],
                |row| codec::audit_head(row),
            )
        })
        .await
    }

    async fn append_audit(&self, record: StoredAudit) -> Result<bool, ServerError> {
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let next = number(
                &tx,
                "SELECT COALESCE(MAX(seq) + 1, 0) FROM audit WHERE account = ?1",
                [&record.account],
            )?;
            if next != record.seq {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO audit (seq, hash, account, bytes) VALUES (?1, ?2, ?3, ?4)",
                params![
                    to_sql(record.seq)?,
                    record.hash.as_slice(),
                    record.account,
                    record.bytes
                ],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(true)
        })
        .await
    }

    async fn audit_records(
        &self,
        account: &str,
        since: u64,
        limit: usize,
    ) -> Result<Vec<StoredAudit>, ServerError> {
        let account = account.to_owned();
        self.with(move |conn| {
            all(
                conn,
                "SELECT seq, hash, bytes FROM audit
                 WHERE account = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3",
                params![account, to_sql(since)?, sql_limit(limit)],
                |row| codec::audit(row, &account),
            )
        })
        .await
    }

    async fn purge_rate_limits(&self, now: u64, decay_secs: u64) -> Result<u64, ServerError> {
        self.with(move |conn| {
            let removed = conn
                .execute(
                    "DELETE FROM rate_limits WHERE last_failure_at <= ?1 AND blocked_until <= ?2",
                    params![to_sql(decide::quiet_since(now, decay_secs))?, to_sql(now)?],
                )
                .map_err(db)?;
            Ok(removed as u64)
        })
        .await
    }

    async fn purge_expired(&self, now: u64) -> Result<u64, ServerError> {
        self.with(move |conn| {
            let now = to_sql(now)?;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let mut removed = 0usize;
            for table in ["nonces", "pending_logins", "pending_recoveries", "sessions"] {
                removed += tx
                    .execute(
                        &format!("DELETE FROM {table} WHERE expires_at <= ?1"),
                        params![now],
                    )
                    .map_err(db)?;
            }
            removed += tx
                .execute(
                    "DELETE FROM enrollments WHERE purge_after <= ?1",
                    params![now],
                )
                .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(removed as u64)
        })
        .await
    }

    // --- Enrollment relay (DESIGN §7) ---------------------------------------------------------

    async fn insert_enrollment(
        &self,
        enrollment: StoredEnrollment,
        max_open: u64,
        now: u64,
    ) -> Result<EnrollmentInsert, ServerError> {
        self.with(move |conn| {
            let now = to_sql(now)?;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let device_open = one(
                &tx,
                &format!(
                    "SELECT {ENROLLMENT_COLUMNS} FROM enrollments
                     WHERE device_id = ?1 AND open = 1 AND expires_at > ?2
                     ORDER BY created_at LIMIT 1"
                ),
                params![enrollment.device_id.as_slice(), now],
                |row| codec::enrollment(row),
            )?;
            let account_open = number(
                &tx,
                "SELECT COUNT(*) FROM enrollments
                 WHERE account_id = ?1 AND open = 1 AND expires_at > ?2",
                params![enrollment.account_id.as_slice(), now],
            )?;
            if let Decision::Answer(refused) =
                decide::enrollment_insert(device_open, account_open, max_open)
            {
                return Ok(refused);
            }
            tx.execute(
                "INSERT INTO enrollments (id, account_id, device_id, version, open, created_at,
                     expires_at, purge_after, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    enrollment.id.as_slice(),
                    enrollment.account_id.as_slice(),
                    enrollment.device_id.as_slice(),
                    to_sql(enrollment.version)?,
                    enrollment.open,
                    to_sql(enrollment.created_at)?,
                    to_sql(enrollment.expires_at)?,
                    to_sql(enrollment.purge_after)?,
                    enrollment.data,
                ],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(EnrollmentInsert::Created)
        })
        .await
    }

    async fn enrollment(&self, id: &[u8; 16]) -> Result<Option<StoredEnrollment>, ServerError> {
        let id = *id;
        self.with(move |conn| {
            one(
                conn,
                &format!("SELECT {ENROLLMENT_COLUMNS} FROM enrollments WHERE id = ?1"),
                params![id.as_slice()],
                |row| codec::enrollment(row),
            )
        })
        .await
    }

    async fn open_enrollments(
        &self,
        account_id: &AccountId,
        now: u64,
    ) -> Result<Vec<StoredEnrollment>, ServerError> {
        let id = *account_id;
        self.with(move |conn| {
            all(
                conn,
                &format!(
                    "SELECT {ENROLLMENT_COLUMNS} FROM enrollments
                     WHERE account_id = ?1 AND open = 1 AND expires_at > ?2
                     ORDER BY created_at, id"
                ),
                params![id.as_slice(), to_sql(now)?],
                |row| codec::enrollment(row),
            )
        })
        .await
    }

    async fn update_enrollment(
        &self,
        id: &[u8; 16],
        expected_version: u64,
        open: bool,
        data: Vec<u8>,
    ) -> Result<bool, ServerError> {
        let id = *id;
        self.with(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE enrollments SET version = version + 1, open = ?3, data = ?4
                     WHERE id = ?1 AND version = ?2",
                    params![id.as_slice(), to_sql(expected_version)?, open, data],
                )
                .map_err(db)?;
            Ok(changed == 1)
        })
        .await
    }

    // --- account sync key (DESIGN §3) ---

    async fn sync_epoch(&self, account_id: &AccountId) -> Result<u64, ServerError> {
        let id = *account_id;
        self.with(move |conn| current_sync_epoch(conn, &id)).await
    }

    async fn rotate_sync_key(
        &self,
        account_id: &AccountId,
        rotation: SyncKeyRotation,
    ) -> Result<RotationOutcome, ServerError> {
        let id = *account_id;
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let (head, current) = (current_head(&tx, &id)?, current_sync_epoch(&tx, &id)?);
            if let Decision::Answer(refused) = decide::rotation(head, current, &rotation) {
                return Ok(refused);
            }
            for copy in &rotation.copies {
                tx.execute(
                    "INSERT INTO sync_key_copies (account_id, epoch, device_id, sealed)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![
                        id.as_slice(),
                        to_sql(rotation.epoch)?,
                        copy.device_id.as_slice(),
                        copy.sealed
                    ],
                )
                .map_err(db)?;
            }
            tx.commit().map_err(db)?;
            Ok(RotationOutcome::Rotated)
        })
        .await
    }

    async fn add_sync_key_copy(
        &self,
        account_id: &AccountId,
        epoch: u64,
        copy: SyncKeyCopy,
    ) -> Result<EpochWrite, ServerError> {
        let id = *account_id;
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let current = current_sync_epoch(&tx, &id)?;
            if let Decision::Answer(stale) = decide::epoch_write(current, epoch) {
                return Ok(stale);
            }
            tx.execute(
                "INSERT INTO sync_key_copies (account_id, epoch, device_id, sealed)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                params![
                    id.as_slice(),
                    to_sql(epoch)?,
                    copy.device_id.as_slice(),
                    copy.sealed
                ],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(EpochWrite::Stored)
        })
        .await
    }

    async fn sync_key_copy(
        &self,
        account_id: &AccountId,
        device_id: &[u8; 16],
        epoch: Option<u64>,
    ) -> Result<Option<StoredSyncKey>, ServerError> {
        let (id, device) = (*account_id, *device_id);
        self.with(move |conn| {
            let epoch = epoch.map(to_sql).transpose()?;
            one(
                conn,
                "SELECT epoch, sealed FROM sync_key_copies
                 WHERE account_id = ?1 AND device_id = ?2 AND (?3 IS NULL OR epoch = ?3)
                 ORDER BY epoch DESC LIMIT 1",
                params![id.as_slice(), device.as_slice(), epoch],
                |row| codec::sync_key(row),
            )
        })
        .await
    }

    async fn put_shared_item(
        &self,
        account_id: &AccountId,
        item: SharedItem,
    ) -> Result<EpochWrite, ServerError> {
        let id = *account_id;
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let current = current_sync_epoch(&tx, &id)?;
            if let Decision::Answer(stale) = decide::epoch_write(current, item.epoch) {
                return Ok(stale);
            }
            tx.execute(
                "INSERT INTO shared_items (account_id, name, epoch, ciphertext)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (account_id, name)
                 DO UPDATE SET epoch = excluded.epoch, ciphertext = excluded.ciphertext",
                params![
                    id.as_slice(),
                    item.name,
                    to_sql(item.epoch)?,
                    item.ciphertext
                ],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(EpochWrite::Stored)
        })
        .await
    }

    async fn shared_items(&self, account_id: &AccountId) -> Result<Vec<SharedItem>, ServerError> {
        let id = *account_id;
        self.with(move |conn| {
            all(
                conn,
                "SELECT name, epoch, ciphertext FROM shared_items
                 WHERE account_id = ?1 ORDER BY name",
                params![id.as_slice()],
                |row| codec::shared_item(row),
            )
        })
        .await
    }

    // --- end of account sync key ---

    async fn record_seen(&self, session: &SessionRecord, day: u64) -> Result<(), ServerError> {
        let (session_id, account_id, device_id) =
            (session.session_id, session.account_id, session.device_id);
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            tx.execute(
                "UPDATE sessions SET seen_day = ?2 WHERE session_id = ?1 AND seen_day < ?2",
                params![session_id.as_slice(), to_sql(day)?],
            )
            .map_err(db)?;
            tx.execute(
                "INSERT INTO device_seen (account_id, device_id, seen_day) VALUES (?1, ?2, ?3)
                 ON CONFLICT (account_id, device_id) DO UPDATE SET seen_day = excluded.seen_day
                     WHERE excluded.seen_day > device_seen.seen_day",
                params![account_id.as_slice(), device_id.as_slice(), to_sql(day)?],
            )
            .map_err(db)?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn seen_days(&self, account_id: &AccountId) -> Result<Vec<([u8; 16], u64)>, ServerError> {
        let account_id = *account_id;
        self.with(move |conn| {
            all(
                conn,
                "SELECT device_id, seen_day FROM device_seen
                 WHERE account_id = ?1 ORDER BY device_id",
                params![account_id.as_slice()],
                |row| codec::seen_day(row),
            )
        })
        .await
    }
}

fn read_rate_limit(
    conn: &Connection,
    key: &str,
) -> Result<Option<super::RateLimitState>, ServerError> {
    one(
        conn,
        "SELECT failures, last_failure_at, blocked_until FROM rate_limits WHERE key = ?1",
        params![key],
        |row| codec::rate_limit(row),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_database_is_unavailable_not_broken() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert!(matches!(db(busy), ServerError::Unavailable(_)));
        let corrupt = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            None,
        );
        assert!(matches!(db(corrupt), ServerError::Storage(_)));
    }

    storage_conformance!(SqliteStorage::open_in_memory().unwrap());

    #[tokio::test]
    async fn file_database_persists_and_migrates_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("enigm.db");
        {
            let storage = SqliteStorage::open(&path).unwrap();
            crate::storage::conformance::create_sample_account(&storage, 1).await;
        }
        let storage = SqliteStorage::open(&path).unwrap();
        assert!(storage.account(&[1; 16]).await.unwrap().is_some());
        let conn = storage.conn.lock().unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        let sync: i64 = conn
            .pragma_query_value(None, "synchronous", |row| row.get(0))
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
    }
}
