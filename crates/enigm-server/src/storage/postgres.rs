//! PostgreSQL storage: one database shared by several stateless nodes (DESIGN §13).
//!
//! tokio-postgres behind a deadpool pool (sqlx would clash with rusqlite's SQLite link). Every
//! check-then-write is atomic in the database itself, so it holds across nodes and not just
//! within one process:
//!
//! - nonces and pending logins rely on primary keys (`ON CONFLICT DO NOTHING`, `DELETE ...
//!   RETURNING`): a replay is refused whichever node it reaches;
//! - the ledger compare-and-swap locks the account row (`SELECT ... FOR UPDATE`) and the
//!   `(account_id, seq)` primary key backs it up;
//! - the sync-key writers (rotation, an enrolled device's copy, shared items) lock the account
//!   row too, so a rotation and a write under the epoch it replaces are ordered;
//! - rate-limit counters and the audit chain serialise their writers on transaction-scoped
//!   advisory locks;
//! - migrations run in one transaction under an advisory lock, recorded in `schema_version`,
//!   so several nodes may start at once.
//!
//! Every call is bounded: connecting, waiting for a pooled connection and each whole storage
//! call time out. Errors carry the database's message, never the connection URL. Connections
//! use TLS as the URL's `sslmode` says, always verifying the server (`postgres_tls.rs`).

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts,
};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::codec::{
    self, ACCOUNT_COLUMNS, Columns, ENROLLMENT_COLUMNS, SESSION_COLUMNS, sql_limit, to_sql,
};
use super::decide::{self, Decision};
use super::{
    AccountId, AccountRecord, AccountStatus, AppendOutcome, Attempt, Backoff, CreateOutcome,
    EnrollmentInsert, EpochWrite, LedgerEffects, NewAccount, PasswordCommit, PendingLogin,
    PendingRecovery, RateLimitState, RecoveryCommit, RotationOutcome, SessionRecord, SharedItem,
    Storage, StoredAudit, StoredEnrollment, StoredEntry, StoredHead, StoredSyncKey, SyncKeyCopy,
    SyncKeyRotation,
};
use crate::error::ServerError;

/// Migration scripts, in order. Never edit a released one: append.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE accounts (
        account_id     BYTEA PRIMARY KEY CHECK (length(account_id) = 16),
        lookup_key     BYTEA NOT NULL UNIQUE CHECK (length(lookup_key) = 32),
        opaque_record  BYTEA NOT NULL,
        status         TEXT NOT NULL CHECK (status IN ('active', 'locked', 'recovering')),
        locked_until   BIGINT,
        recovery_epoch BIGINT NOT NULL,
        head_seq       BIGINT NOT NULL,
        head_hash      BYTEA NOT NULL CHECK (length(head_hash) = 32),
        created_at     BIGINT NOT NULL
    );

    CREATE TABLE ledger_entries (
        account_id BYTEA NOT NULL REFERENCES accounts (account_id),
        seq        BIGINT NOT NULL CHECK (seq >= 0),
        hash       BYTEA NOT NULL CHECK (length(hash) = 32),
        bytes      BYTEA NOT NULL,
        PRIMARY KEY (account_id, seq)
    );

    CREATE TABLE pending_logins (
        login_id   BYTEA PRIMARY KEY CHECK (length(login_id) = 16),
        lookup_key BYTEA NOT NULL,
        account_id BYTEA,
        state      BYTEA NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX pending_logins_by_expiry ON pending_logins (expires_at);

    CREATE TABLE sessions (
        session_id     BYTEA PRIMARY KEY CHECK (length(session_id) = 16),
        account_id     BYTEA NOT NULL REFERENCES accounts (account_id),
        device_key     BYTEA NOT NULL CHECK (length(device_key) = 32),
        device_id      BYTEA NOT NULL CHECK (length(device_id) = 16),
        kind           TEXT NOT NULL CHECK (kind IN ('full', 'enrollment')),
        issued_at      BIGINT NOT NULL,
        expires_at     BIGINT NOT NULL,
        strong_auth_at BIGINT NOT NULL,
        recovery_epoch BIGINT NOT NULL
    );
    CREATE INDEX sessions_by_device ON sessions (account_id, device_id);
    CREATE INDEX sessions_by_expiry ON sessions (expires_at);

    CREATE TABLE nonces (
        session_id BYTEA NOT NULL,
        nonce      BYTEA NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (session_id, nonce)
    );
    CREATE INDEX nonces_by_expiry ON nonces (expires_at);

    CREATE TABLE rate_limits (
        key             TEXT PRIMARY KEY,
        failures        BIGINT NOT NULL CHECK (failures >= 0),
        last_failure_at BIGINT NOT NULL,
        blocked_until   BIGINT NOT NULL
    );

    CREATE TABLE audit (
        seq     BIGINT PRIMARY KEY CHECK (seq >= 0),
        hash    BYTEA NOT NULL CHECK (length(hash) = 32),
        account TEXT,
        bytes   BYTEA NOT NULL
    );
    CREATE INDEX audit_by_account ON audit (account, seq);
",
    "
    -- One audit chain per account, so an account's export is a whole chain from record 0.
    -- Records of the earlier deployment-wide chain stay in audit_global_v1, no longer written.
    ALTER TABLE audit RENAME TO audit_global_v1;
    CREATE TABLE audit (
        account TEXT NOT NULL,
        seq     BIGINT NOT NULL CHECK (seq >= 0),
        hash    BYTEA NOT NULL CHECK (length(hash) = 32),
        bytes   BYTEA NOT NULL,
        PRIMARY KEY (account, seq)
    );
",
    "
    -- Enrollment relay (DESIGN §7).
    CREATE TABLE enrollments (
        id          BYTEA PRIMARY KEY CHECK (length(id) = 16),
        account_id  BYTEA NOT NULL REFERENCES accounts (account_id),
        device_id   BYTEA NOT NULL CHECK (length(device_id) = 16),
        version     BIGINT NOT NULL CHECK (version >= 0),
        open        BOOLEAN NOT NULL,
        created_at  BIGINT NOT NULL,
        expires_at  BIGINT NOT NULL,
        purge_after BIGINT NOT NULL,
        data        BYTEA NOT NULL
    );
    CREATE INDEX enrollments_by_account ON enrollments (account_id, open, expires_at);
    CREATE INDEX enrollments_by_device ON enrollments (device_id, open, expires_at);
    CREATE INDEX enrollments_by_purge ON enrollments (purge_after);
",
    "
    -- account recovery (DESIGN §8)
    CREATE TABLE pending_recoveries (
        recovery_id BYTEA PRIMARY KEY CHECK (length(recovery_id) = 16),
        lookup_key  BYTEA NOT NULL CHECK (length(lookup_key) = 32),
        account_id  BYTEA,
        expires_at  BIGINT NOT NULL
    );
    CREATE INDEX pending_recoveries_by_account ON pending_recoveries (account_id);
    CREATE INDEX pending_recoveries_by_expiry ON pending_recoveries (expires_at);
    CREATE INDEX pending_logins_by_account ON pending_logins (account_id);
",
    "
    -- account sync key (DESIGN §3): one sealed copy per device and epoch (the newest epoch is
    -- the account's current one), and the items the devices share encrypted under it.
    CREATE TABLE sync_key_copies (
        account_id BYTEA NOT NULL REFERENCES accounts (account_id),
        epoch      BIGINT NOT NULL CHECK (epoch >= 1),
        device_id  BYTEA NOT NULL CHECK (length(device_id) = 16),
        sealed     BYTEA NOT NULL,
        PRIMARY KEY (account_id, epoch, device_id)
    );
    CREATE INDEX sync_key_copies_by_device ON sync_key_copies (account_id, device_id, epoch);
    CREATE TABLE shared_items (
        account_id BYTEA NOT NULL REFERENCES accounts (account_id),
        name       TEXT NOT NULL,
        epoch      BIGINT NOT NULL CHECK (epoch >= 1),
        ciphertext BYTEA NOT NULL,
        PRIMARY KEY (account_id, name)
    );
",
    "
    -- coarse last seen: the day each device last made a request, written once a day per
    -- session (the session remembers the day it wrote).
    ALTER TABLE sessions ADD COLUMN seen_day BIGINT NOT NULL DEFAULT 0;
    CREATE TABLE device_seen (
        account_id BYTEA NOT NULL REFERENCES accounts (account_id),
        device_id  BYTEA NOT NULL CHECK (length(device_id) = 16),
        seen_day   BIGINT NOT NULL,
        PRIMARY KEY (account_id, device_id)
    );
",
    "
    -- salted OPAQUE credential identifiers: registration and recovery evaluate a one-off OPRF
    -- key, never the account's current one; accounts made before keep the empty salt.
    ALTER TABLE accounts ADD COLUMN opaque_salt BYTEA NOT NULL DEFAULT '\\x';
",
];

/// The advisory lock (64-bit key space) held while migrating: "enigm" + "mig" in ASCII.
const MIGRATION_LOCK: i64 = 0x656e_6967_6d6d_6967;
/// Advisory lock class (two 32-bit keys space) serialising one rate-limit key's writers.
const RATE_LIMIT_LOCK_CLASS: i32 = 0x656e_0001;
/// Advisory lock class serialising the writers of one account's audit chain.
const AUDIT_LOCK_CLASS: i32 = 0x656e_0002;

/// How long connecting to the database may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long waiting for, creating or recycling a pooled connection may take.
const POOL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one whole storage call (all its statements) may take; shorter than the request
/// time limit, so a stalled database is reported as unavailable (503), not as a slow request.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections per node.
const POOL_SIZE: usize = 16;

/// The service's PostgreSQL database, shared by every node.
#[derive(Clone)]
pub struct PostgresStorage {
    pool: Pool,
    /// What the pool connects with; a node's push listener opens its own connection with it.
    config: tokio_postgres::Config,
    /// The TLS connector every connection uses.
    tls: MakeRustlsConnect,
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The pool's configuration holds the password: never print it.
        f.write_str("PostgresStorage")
    }
}

/// Maps a database error; the text is logged, never sent, and never holds the URL. A lost
/// connection or a database that is shutting down, starting up or out of resources is
/// [`ServerError::Unavailable`] (the client retries); anything else is a storage failure.
fn db(error: tokio_postgres::Error) -> ServerError {
    if unavailable(&error) {
        ServerError::Unavailable(format!("postgres: {}", describe(&error)))
    } else {
        ServerError::Storage(format!("postgres: {}", describe(&error)))
    }
}

/// What went wrong, with its causes (tokio-postgres says only "db error" or "error performing
/// TLS handshake" by itself). A database error gives its severity, message and code but not
/// its detail, which can quote row values (ids, keys).
fn describe(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!(
            "{error}: {} {} ({})",
            db.severity(),
            db.message(),
            db.code().code()
        );
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Whether `error` says the database cannot serve now, rather than that the request failed.
fn unavailable(error: &tokio_postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    let Some(code) = error.code() else {
        // No SQLSTATE: unavailable if the connection itself failed (I/O), not if a value did
        // not convert.
        return std::error::Error::source(error)
            .is_some_and(|source| source.is::<std::io::Error>());
    };
    let code = code.code();
    // 08: connection exception; 53: insufficient resources; 57P01-57P03: admin or crash
    // shutdown, cannot connect now.
    code.starts_with("08") || code.starts_with("53") || matches!(code, "57P01" | "57P02" | "57P03")
}

/// Maps a pool error: waiting for, creating or recycling a connection failed, which means the
/// database is unreachable or saturated.
fn pool(error: deadpool_postgres::PoolError) -> ServerError {
    match error {
        deadpool_postgres::PoolError::Backend(error) => {
            ServerError::Unavailable(format!("postgres pool: {}", describe(&error)))
        }
        other => ServerError::Unavailable(format!("postgres pool: {other}")),
    }
}

/// Reads column `index` of `row`.
fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    index: usize,
) -> Result<T, ServerError> {
    row.try_get(index).map_err(db)
}

/// Bounds one storage call.
async fn bounded<T>(call: impl Future<Output = Result<T, ServerError>>) -> Result<T, ServerError> {
    tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .map_err(|_| ServerError::Unavailable("postgres call timed out".into()))?
}

impl PostgresStorage {
    /// Connects to the database at `url` (`postgres://user@host/db`, or key=value form) and
    /// migrates it. `ca_file` adds CA certificates (PEM) to the system's for TLS.
    ///
    /// # Errors
    /// [`ServerError::Config`] when the URL cannot be parsed; otherwise as
    /// [`PostgresStorage::from_config`].
    pub async fn connect(url: &str, ca_file: Option<&Path>) -> Result<Self, ServerError> {
        // The parser's message may quote the URL, password included: say only what is wrong.
        let config: tokio_postgres::Config = url.parse().map_err(|_| {
            ServerError::Config(
                "--database is not a valid PostgreSQL URL (postgres://USER@HOST:PORT/DB)".into(),
            )
        })?;
        Self::from_config(config, ca_file).await
    }

    /// Builds the pool for `config`, checks that the database answers, and migrates it.
    /// `ca_file` adds CA certificates (PEM) to the system's for TLS.
    ///
    /// # Errors
    /// [`ServerError::Config`] when `ca_file` is unusable; [`ServerError::Unavailable`] when
    /// the database cannot be reached in time (or its certificate does not verify);
    /// [`ServerError::Storage`] when it is newer than this build or a migration fails
    /// (nothing is changed then).
    pub async fn from_config(
        mut config: tokio_postgres::Config,
        ca_file: Option<&Path>,
    ) -> Result<Self, ServerError> {
        let tls = super::postgres_tls::connector(ca_file)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .timeouts(Timeouts {
                wait: Some(POOL_TIMEOUT),
                create: Some(POOL_TIMEOUT),
                recycle: Some(POOL_TIMEOUT),
            })
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|error| ServerError::Storage(format!("postgres pool: {error}")))?;
        let storage = Self { pool, config, tls };
        bounded(storage.migrate()).await?;
        Ok(storage)
    }

    /// The connection settings (URL, credentials), for a dedicated connection such as a push
    /// listener's. Never log them: they hold the password.
    pub(crate) fn connection_config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// The TLS connector, for a dedicated connection.
    pub(crate) fn tls(&self) -> &MakeRustlsConnect {
        &self.tls
    }

    /// The schema this service's tables live in (the connection's search path decides).
    pub(crate) async fn current_schema(&self) -> Result<String, ServerError> {
        let row = self.query_one("SELECT current_schema()", &[]).await?;
        get(&row, 0)
    }

    /// `NOTIFY channel, payload` on a pooled connection; delivered to every listening
    /// connection of the database once this (autocommitted) statement commits, in commit order.
    pub(crate) async fn notify(&self, channel: &str, payload: &str) -> Result<(), ServerError> {
        self.execute("SELECT pg_notify($1, $2)", &[&channel, &payload])
            .await?;
        Ok(())
    }

    /// A pooled connection.
    async fn client(&self) -> Result<deadpool_postgres::Object, ServerError> {
        self.pool.get().await.map_err(pool)
    }

    /// Runs one statement on a pooled connection, within [`CALL_TIMEOUT`]: the rows it changed.
    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, ServerError> {
        bounded(async { self.client().await?.execute(sql, params).await.map_err(db) }).await
    }

    /// Runs one query that returns at most one row, as [`PostgresStorage::execute`].
    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, ServerError> {
        bounded(async {
            self.client()
                .await?
                .query_opt(sql, params)
                .await
                .map_err(db)
        })
        .await
    }

    /// Runs one query that returns exactly one row, as [`PostgresStorage::execute`].
    async fn query_one(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, ServerError> {
        bounded(async {
            self.client()
                .await?
                .query_one(sql, params)
                .await
                .map_err(db)
        })
        .await
    }

    /// Runs one query and returns all its rows, as [`PostgresStorage::execute`].
    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, ServerError> {
        bounded(async { self.client().await?.query(sql, params).await.map_err(db) }).await
    }

    /// Brings the schema to the newest version in one transaction, under an advisory lock so
    /// that nodes starting together migrate once.
    async fn migrate(&self) -> Result<(), ServerError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(db)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_version (
                 version    INTEGER PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(db)?;
        let row = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])
            .await
            .map_err(db)?;
        let found: i32 = get(&row, 0)?;
        let found = usize::try_from(found)
            .map_err(|_| ServerError::Storage("negative schema version".into()))?;
        if found > MIGRATIONS.len() {
            return Err(ServerError::Storage(format!(
                "database schema version {found} is newer than this build ({})",
                MIGRATIONS.len()
            )));
        }
        for (index, script) in MIGRATIONS.iter().enumerate().skip(found) {
            tx.batch_execute(script).await.map_err(db)?;
            let version = i32::try_from(index + 1)
                .map_err(|_| ServerError::Storage("too many migrations".into()))?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES ($1)",
                &[&version],
            )
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }
}

impl Columns for Row {
    fn int(&self, index: usize) -> Result<i64, ServerError> {
        get(self, index)
    }
    fn maybe_int(&self, index: usize) -> Result<Option<i64>, ServerError> {
        get(self, index)
    }
    fn bytes(&self, index: usize) -> Result<Vec<u8>, ServerError> {
        get(self, index)
    }
    fn maybe_bytes(&self, index: usize) -> Result<Option<Vec<u8>>, ServerError> {
        get(self, index)
    }
    fn text(&self, index: usize) -> Result<String, ServerError> {
        get(self, index)
    }
    fn flag(&self, index: usize) -> Result<bool, ServerError> {
        get(self, index)
    }
}

async fn read_rate_limit(
    client: &impl GenericClient,
    key: &str,
) -> Result<Option<RateLimitState>, ServerError> {
    let row = client
        .query_opt(
            "SELECT failures, last_failure_at, blocked_until FROM rate_limits WHERE key = $1",
            &[&key],
        )
        .await
        .map_err(db)?;
    row.as_ref().map(codec::rate_limit).transpose()
}

/// Locks the account row for the rest of `tx` and reads its ledger head: a concurrent writer
/// of the account waits, then reads the head this one wrote.
async fn lock_head(
    tx: &deadpool_postgres::Transaction<'_>,
    account_id: &AccountId,
) -> Result<StoredHead, ServerError> {
    let row = tx
        .query_opt(
            "SELECT head_seq, head_hash FROM accounts WHERE account_id = $1 FOR UPDATE",
            &[&account_id.as_slice()],
        )
        .await
        .map_err(db)?
        .ok_or(ServerError::NotFound)?;
    codec::head(&row)
}

#[async_trait]
impl Storage for PostgresStorage {
    async fn create_account(&self, account: NewAccount) -> Result<CreateOutcome, ServerError> {
        bounded(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(db)?;
            let (status, until) = codec::status_columns(AccountStatus::Active)?;
            // No conflict target: a clash on the id or on the lookup key both mean "exists".
            let inserted = tx
                .execute(
                    "INSERT INTO accounts (account_id, lookup_key, opaque_record, status,
                         locked_until, recovery_epoch, head_seq, head_hash, created_at,
                         opaque_salt)
                     VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8, $9)
                     ON CONFLICT DO NOTHING",
                    &[
                        &account.account_id.as_slice(),
                        &account.lookup_key.as_slice(),
                        &account.opaque_record,
                        &status,
                        &until,
                        &to_sql(account.genesis.seq)?,
                        &account.genesis.hash.as_slice(),
                        &to_sql(account.created_at)?,
                        &account.opaque_salt,
                    ],
                )
                .await
                .map_err(db)?;
            if inserted != 1 {
                return Ok(CreateOutcome::AlreadyExists);
            }
            tx.execute(
                "INSERT INTO ledger_entries (account_id, seq, hash, bytes) VALUES ($1, $2, $3, $4)",
                &[
                    &account.account_id.as_slice(),
                    &to_sql(account.genesis.seq)?,
                    &account.genesis.hash.as_slice(),
                    &account.genesis.bytes,
                ],
            )
            .await
            .map_err(db)?;
            tx.commit().await.map_err(db)?;
            Ok(CreateOutcome::Created)
        })
        .await
    }

    async fn account_by_lookup_key(
        &self,
        lookup_key: &[u8; 32],
    ) -> Result<Option<AccountRecord>, ServerError> {
        let row = self
            .query_opt(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE lookup_key = $1"),
                &[&lookup_key.as_slice()],
            )
            .await?;
        row.as_ref().map(codec::account).transpose()
    }

    async fn account(&self, account_id: &AccountId) -> Result<Option<AccountRecord>, ServerError> {
        let row = self
            .query_opt(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE account_id = $1"),
                &[&account_id.as_slice()],
            )
            .await?;
        row.as_ref().map(codec::account).transpose()
    }

    async fn insert_pending_login(&self, login: PendingLogin) -> Result<(), ServerError> {
        self.execute(
            "INSERT INTO pending_logins (login_id, lookup_key, account_id, state, expires_at)
                 VALUES ($1, $2, $3, $4, $5)",
            &[
                &login.login_id.as_slice(),
                &login.lookup_key.as_slice(),
                &login.account_id.as_ref().map(|id| id.as_slice()),
                &login.state,
                &to_sql(login.expires_at)?,
            ],
        )
        .await?;
        Ok(())
    }

    async fn take_pending_login(
        &self,
        login_id: &[u8; 16],
        now: u64,
    ) -> Result<Option<PendingLogin>, ServerError> {
        let row = self
            .query_opt(
                "DELETE FROM pending_logins WHERE login_id = $1
                 RETURNING lookup_key, account_id, state, expires_at",
                &[&login_id.as_slice()],
            )
            .await?;
        let taken = row.map(|row| codec::pending_login(&row, *login_id, now));
        Ok(taken.transpose()?.flatten())
    }

    async fn insert_session(&self, session: SessionRecord) -> Result<(), ServerError> {
        self.execute(
            "INSERT INTO sessions (session_id, account_id, device_key, device_id, kind,
                     issued_at, expires_at, strong_auth_at, recovery_epoch, seen_day)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &session.session_id.as_slice(),
                &session.account_id.as_slice(),
                &session.device_key.as_slice(),
                &session.device_id.as_slice(),
                &codec::kind_column(session.kind),
                &to_sql(session.issued_at)?,
                &to_sql(session.expires_at)?,
                &to_sql(session.strong_auth_at)?,
                &to_sql(session.recovery_epoch)?,
                &to_sql(session.seen_day)?,
            ],
        )
        .await?;
        Ok(())
    }

    async fn session(&self, session_id: &[u8; 16]) -> Result<Option<SessionRecord>, ServerError> {
        let row = self
            .query_opt(
                &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE session_id = $1"),
                &[&session_id.as_slice()],
            )
            .await?;
        row.map(|row| codec::session(&row, *session_id)).transpose()
    }

    async fn account_sessions(
        &self,
        account_id: &AccountId,
        now: u64,
    ) -> Result<Vec<SessionRecord>, ServerError> {
        let rows = self
            .query(
                &format!(
                    "SELECT {SESSION_COLUMNS}, session_id FROM sessions
                     WHERE account_id = $1 AND expires_at > $2 ORDER BY issued_at, session_id"
                ),
                &[&account_id.as_slice(), &to_sql(now)?],
            )
            .await?;
        rows.iter()
            .map(|row| codec::session(row, codec::fixed(row.bytes(9)?)?))
            .collect()
    }

    async fn refresh_session(
        &self,
        session_id: &[u8; 16],
        expires_at: u64,
    ) -> Result<bool, ServerError> {
        let changed = self
            .execute(
                "UPDATE sessions SET expires_at = $2 WHERE session_id = $1",
                &[&session_id.as_slice(), &to_sql(expires_at)?],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn delete_session(&self, session_id: &[u8; 16]) -> Result<bool, ServerError> {
        let changed = self
            .execute(
                "DELETE FROM sessions WHERE session_id = $1",
                &[&session_id.as_slice()],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn insert_nonce(
        &self,
        session_id: &[u8; 16],
        nonce: &[u8],
        expires_at: u64,
    ) -> Result<bool, ServerError> {
        let inserted = self
            .execute(
                "INSERT INTO nonces (session_id, nonce, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (session_id, nonce) DO NOTHING",
                &[&session_id.as_slice(), &nonce, &to_sql(expires_at)?],
            )
            .await?;
        Ok(inserted == 1)
    }

    async fn consume_attempt(
        &self,
        key: &str,
        now: u64,
        backoff: Backoff,
    ) -> Result<Attempt, ServerError> {
        bounded(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(db)?;
            // Serialise this key's attempts, across nodes, from the read to the count (a row
            // lock cannot cover a row not yet inserted).
            tx.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                &[&RATE_LIMIT_LOCK_CLASS, &key],
            )
            .await
            .map_err(db)?;
            let attempt = backoff.attempt(read_rate_limit(&tx, key).await?, now);
            if let Attempt::Counted(next) = attempt {
                tx.execute(
                    "INSERT INTO rate_limits (key, failures, last_failure_at, blocked_until)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
                         last_failure_at = excluded.last_failure_at,
                         blocked_until = excluded.blocked_until",
                    &[
                        &key,
                        &i64::from(next.failures),
                        &to_sql(next.last_failure_at)?,
                        &to_sql(next.blocked_until)?,
                    ],
                )
                .await
                .map_err(db)?;
            }
            tx.commit().await.map_err(db)?;
            Ok(attempt)
        })
        .await
    }

    async fn reset_rate_limit(&self, key: &str) -> Result<(), ServerError> {
        self.execute("DELETE FROM rate_limits WHERE key = $1", &[&key])
            .await?;
        Ok(())
    }

    async fn ledger_entries(
        &self,
        account_id: &AccountId,
        since: u64,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, ServerError> {
        let rows = self
            .query(
                "SELECT seq, hash, bytes FROM ledger_entries
                 WHERE account_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
                &[&account_id.as_slice(), &to_sql(since)?, &sql_limit(limit)],
            )
            .await?;
        rows.iter().map(codec::entry).collect()
    }

    async fn append_ledger(
        &self,
        account_id: &AccountId,
        expected: StoredHead,
        entries: Vec<StoredEntry>,
        effects: LedgerEffects,
    ) -> Result<AppendOutcome, ServerError> {
        bounded(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(db)?;
            let head = lock_head(&tx, account_id).await?;
            let new_head = match decide::append(head, expected, &entries) {
                Decision::Write(new_head) => new_head,
                Decision::Answer(outcome) => return Ok(outcome),
            };
            for entry in &entries {
                tx.execute(
                    "INSERT INTO ledger_entries (account_id, seq, hash, bytes)
                     VALUES ($1, $2, $3, $4)",
                    &[
                        &account_id.as_slice(),
                        &to_sql(entry.seq)?,
                        &entry.hash.as_slice(),
                        &entry.bytes,
                    ],
                )
                .await
                .map_err(db)?;
            }
            tx.execute(
                "UPDATE accounts SET head_seq = $2, head_hash = $3 WHERE account_id = $1",
                &[
                    &account_id.as_slice(),
                    &to_sql(new_head.seq)?,
                    &new_head.hash.as_slice(),
                ],
            )
            .await
            .map_err(db)?;
            if let Some(epoch) = effects.recovery_epoch {
                tx.execute(
                    "UPDATE accounts SET recovery_epoch = $2 WHERE account_id = $1",
                    &[&account_id.as_slice(), &to_sql(epoch)?],
                )
                .await
                .map_err(db)?;
            }
            tx.commit().await.map_err(db)?;
            Ok(AppendOutcome::Appended(new_head))
        })
        .await
    }

    // --- account recovery (DESIGN §8) ---

    async fn insert_pending_recovery(&self, recovery: PendingRecovery) -> Result<(), ServerError> {
        self.execute(
            "INSERT INTO pending_recoveries (recovery_id, lookup_key, account_id, expires_at)
                 VALUES ($1, $2, $3, $4)",
            &[
                &recovery.recovery_id.as_slice(),
                &recovery.lookup_key.as_slice(),
                &recovery.account_id.as_ref().map(|id| id.as_slice()),
                &to_sql(recovery.expires_at)?,
            ],
        )
        .await?;
        Ok(())
    }

    async fn pending_recovery(
        &self,
        recovery_id: &[u8; 16],
        now: u64,
    ) -> Result<Option<PendingRecovery>, ServerError> {
        let row = self
            .query_opt(
                "SELECT lookup_key, account_id, expires_at FROM pending_recoveries
                 WHERE recovery_id = $1",
                &[&recovery_id.as_slice()],
            )
            .await?;
        let found = row.map(|row| codec::pending_recovery(&row, *recovery_id, now));
        Ok(found.transpose()?.flatten())
    }

    async fn take_pending_recovery(
        &self,
        recovery_id: &[u8; 16],
        now: u64,
    ) -> Result<Option<PendingRecovery>, ServerError> {
        let row = self
            .query_opt(
                "DELETE FROM pending_recoveries WHERE recovery_id = $1
                 RETURNING lookup_key, account_id, expires_at",
                &[&recovery_id.as_slice()],
            )
            .await?;
        let found = row.map(|row| codec::pending_recovery(&row, *recovery_id, now));
        Ok(found.transpose()?.flatten())
    }

    async fn complete_recovery(
        &self,
        account_id: &AccountId,
        commit: RecoveryCommit,
    ) -> Result<AppendOutcome, ServerError> {
        bounded(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(db)?;
            // The same row lock as a ledger append: recoveries and appends serialise.
            let head = lock_head(&tx, account_id).await?;
            let entry = &commit.entry;
            let new_head = match decide::append(head, commit.expected, std::slice::from_ref(entry))
            {
                Decision::Write(new_head) => new_head,
                Decision::Answer(outcome) => return Ok(outcome),
            };
            tx.execute(
                "INSERT INTO ledger_entries (account_id, seq, hash, bytes) VALUES ($1, $2, $3, $4)",
                &[
                    &account_id.as_slice(),
                    &to_sql(entry.seq)?,
                    &entry.hash.as_slice(),
                    &entry.bytes,
                ],
            )
            .await
            .map_err(db)?;
            tx.execute(
                "UPDATE accounts SET head_seq = $2, head_hash = $3, opaque_record = $4,
                     recovery_epoch = $5, opaque_salt = $6
                 WHERE account_id = $1",
                &[
                    &account_id.as_slice(),
                    &to_sql(new_head.seq)?,
                    &new_head.hash.as_slice(),
                    &commit.opaque_record,
                    &to_sql(commit.recovery_epoch)?,
                    &commit.opaque_salt,
                ],
            )
            .await
            .map_err(db)?;
            for statement in [
                "DELETE FROM pending_logins WHERE account_id = $1",
                "DELETE FROM pending_recoveries WHERE account_id = $1",
            ] {
                tx.execute(statement, &[&account_id.as_slice()])
                    .await
                    .map_err(db)?;
            }
            tx.commit().await.map_err(db)?;
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
        bounded(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(db)?;
            let changed = tx
                .execute(
                    "UPDATE accounts SET opaque_record = $2, opaque_salt = $3 WHERE account_id = $1",
                    &[
                        &account_id.as_slice(),
                        &commit.opaque_record,
                        &commit.opaque_salt,
                    ],
                )
                .await
                .map_err(db)?;
            if changed != 1 {
                return Ok(Vec::new());
            }
            let rows = tx
                .query(
                    "DELETE FROM sessions WHERE account_id = $1 AND session_id <> $2
                     RETURNING session_id",
                    &[&account_id.as_slice(), &commit.keep_session.as_slice()],
                )
                .await
                .map_err(db)?;
            let mut ended = Vec::with_capacity(rows.len());
            for row in rows {
                let bytes: Vec<u8> = row.try_get(0).map_err(db)?;
                ended.push(
                    bytes
                        .try_into()
                        .map_err(|_| ServerError::Storage("session id unreadable".into()))?,
                );
            }
            tx.execute(
                "DELETE FROM pending_logins WHERE account_id = $1",
                &[&account_id.as_slice()],
            )
            .await
            .map_err(db)?;
            tx.commit().await.map_err(db)?;
            Ok(ended)
        })
        .await
    }

    async fn audit_head(&self, account: &str) -> Result<Option<(u64, [u8; 32])>, ServerError> {
        let row = self
            .query_opt(
                "SELECT seq, hash FROM audit WHERE account = $1 ORDER BY seq DESC LIMIT 1",
                &[&account],
            )
            .await?;
        row.as_ref().map(codec::audit_head).transpose()
    }

    async fn append_audit(&self, record: StoredAudit) -> Result<bool, ServerError> {
        bounded(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(db)?;
            tx.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                &[&AUDIT_LOCK_CLASS, &record.account],
            )
            .await
            .map_err(db)?;
            // Read committed: this statement sees everything the previous lock holder wrote.
            let row = tx
                .query_one(
                    "SELECT COALESCE(MAX(seq) + 1, 0) FROM audit WHERE account = $1",
                    &[&record.account],
                )
                .await
                .map_err(db)?;
            if codec::count(&row)? != record.seq {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO audit (seq, hash, account, bytes) VALUES ($1, $2, $3, $4)",
                &[
                    &to_sql(record.seq)?,
                    &record.hash.as_slice(),
                    &record.account,
                    &record.bytes,
                ],
            )
            .await
            .map_err(db)?;
            tx.commit().await.map_err(db)?;
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
        let rows = self
            .query(
                "SELECT seq, hash, bytes FROM audit
                 WHERE account = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
                &[&account, &to_sql(since)?, &sql_limit(limit)],
            )
            .await?;
        rows.iter().map(|row| codec::audit(row, account)).collect()
    }

    async fn purge_rate_limits(&self, now: u64, decay_secs: u64) -> Result<u64, ServerError> {
        bounded(async {
            let quiet_since = to_sql(decide::quiet_since(now, decay_secs))?;
            let now = to_sql(now)?;
            let client = self.client().await?;
            client
                .execute(
                    "DELETE FROM rate_limits WHERE last_failure_at <= $1 AND blocked_until <= $2",
                    &[&quiet_since, &now],
                )
                .await
                .map_err(db)
        })
        .await
    }

    async fn purge_expired(&self, now: u64) -> Result<u64, ServerError> {
        bounded(async {
            let now = to_sql(now)?;
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(db)?;
            let mut removed = 0u64;
            for statement in [
                "DELETE FROM nonces WHERE expires_at <= $1",
                "DELETE FROM pending_logins WHERE expires_at <= $1",
                "DELETE FROM pending_recoveries WHERE expires_at <= $1",
                "DELETE FROM sessions WHERE expires_at <= $1",
                "DELETE FROM enrollments WHERE purge_after <= $1",
            ] {
                removed += tx.execute(statement, &[&now]).await.map_err(db)?;
            }
            tx.commit().await.map_err(db)?;
            Ok(removed)
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
        bounded(async {
            let now = to_sql(now)?;
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(db)?;
            // The account row lock serialises the account's creations across nodes, so the
            // count below cannot be raced past the limit.
            tx.query_opt(
                "SELECT 1 FROM accounts WHERE account_id = $1 FOR UPDATE",
                &[&enrollment.account_id.as_slice()],
            )
            .await
            .map_err(db)?
            .ok_or(ServerError::NotFound)?;
            let device_open = tx
                .query_opt(
                    &format!(
                        "SELECT {ENROLLMENT_COLUMNS} FROM enrollments
                         WHERE device_id = $1 AND open AND expires_at > $2
                         ORDER BY created_at LIMIT 1"
                    ),
                    &[&enrollment.device_id.as_slice(), &now],
                )
                .await
                .map_err(db)?;
            let account_open = tx
                .query_one(
                    "SELECT COUNT(*) FROM enrollments
                     WHERE account_id = $1 AND open AND expires_at > $2",
                    &[&enrollment.account_id.as_slice(), &now],
                )
                .await
                .map_err(db)?;
            let device_open = device_open.as_ref().map(codec::enrollment).transpose()?;
            if let Decision::Answer(refused) =
                decide::enrollment_insert(device_open, codec::count(&account_open)?, max_open)
            {
                return Ok(refused);
            }
            tx.execute(
                "INSERT INTO enrollments (id, account_id, device_id, version, open, created_at,
                     expires_at, purge_after, data)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &enrollment.id.as_slice(),
                    &enrollment.account_id.as_slice(),
                    &enrollment.device_id.as_slice(),
                    &to_sql(enrollment.version)?,
                    &enrollment.open,
                    &to_sql(enrollment.created_at)?,
                    &to_sql(enrollment.expires_at)?,
                    &to_sql(enrollment.purge_after)?,
                    &enrollment.data,
                ],
            )
            .await
            .map_err(db)?;
            tx.commit().await.map_err(db)?;
            Ok(EnrollmentInsert::Created)
        })
        .await
    }

    async fn enrollment(&self, id: &[u8; 16]) -> Result<Option<StoredEnrollment>, ServerError> {
        bounded(async {
            let client = self.client().await?;
            client
                .query_opt(
                    &format!("SELECT {ENROLLMENT_COLUMNS} FROM enrollments WHERE id = $1"),
                    &[&id.as_slice()],
                )
                .await
                .map_err(db)?
                .as_ref()
                .map(codec::enrollment)
                .transpose()
        })
        .await
    }

    async fn open_enrollments(
        &self,
        account_id: &AccountId,
        now: u64,
    ) -> Result<Vec<StoredEnrollment>, ServerError> {
        let rows = self
            .query(
                &format!(
                    "SELECT {ENROLLMENT_COLUMNS} FROM enrollments
                     WHERE account_id = $1 AND open AND expires_at > $2
                     ORDER BY created_at, id"
                ),
                &[&account_id.as_slice(), &to_sql(now)?],
            )
            .await?;
        rows.iter().map(codec::enrollment).collect()
    }

    async fn update_enrollment(
        &self,
        id: &[u8; 16],
        expected_version: u64,
        open: bool,
        data: Vec<u8>,
    ) -> Result<bool, ServerError> {
        let changed = self
            .execute(
                "UPDATE enrollments SET version = version + 1, open = $3, data = $4
                 WHERE id = $1 AND version = $2",
                &[&id.as_slice(), &to_sql(expected_version)?, &open, &data],
            )
            .await?;
        Ok(changed == 1)
    }

    // --- account sync key (DESIGN §3) ---

    async fn sync_epoch(&self, account_id: &AccountId) -> Result<u64, ServerError> {
        let row = self
            .query_one(
                "SELECT COALESCE(MAX(epoch), 0) FROM sync_key_copies WHERE account_id = $1",
                &[&account_id.as_slice()],
            )
            .await?;
        codec::count(&row)
    }

    async fn rotate_sync_key(
        &self,
        account_id: &AccountId,
        rotation: SyncKeyRotation,
    ) -> Result<RotationOutcome, ServerError> {
        bounded(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(db)?;
            let (head, current) = lock_sync_state(&tx, account_id).await?;
            if let Decision::Answer(refused) = decide::rotation(head, current, &rotation) {
                return Ok(refused);
            }
            let epoch = to_sql(rotation.epoch)?;
            for copy in &rotation.copies {
                tx.execute(
                    "INSERT INTO sync_key_copies (account_id, epoch, device_id, sealed)
                     VALUES ($1, $2, $3, $4)",
                    &[
                        &account_id.as_slice(),
                        &epoch,
                        &copy.device_id.as_slice(),
                        &copy.sealed,
                    ],
                )
                .await
                .map_err(db)?;
            }
            tx.commit().await.map_err(db)?;
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
        bounded(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(db)?;
            let (_, current) = lock_sync_state(&tx, account_id).await?;
            if let Decision::Answer(stale) = decide::epoch_write(current, epoch) {
                return Ok(stale);
            }
            tx.execute(
                "INSERT INTO sync_key_copies (account_id, epoch, device_id, sealed)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[
                    &account_id.as_slice(),
                    &to_sql(epoch)?,
                    &copy.device_id.as_slice(),
                    &copy.sealed,
                ],
            )
            .await
            .map_err(db)?;
            tx.commit().await.map_err(db)?;
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
        bounded(async {
            let client = self.client().await?;
            let epoch = epoch.map(to_sql).transpose()?;
            let row = client
                .query_opt(
                    "SELECT epoch, sealed FROM sync_key_copies
                     WHERE account_id = $1 AND device_id = $2
                       AND ($3::BIGINT IS NULL OR epoch = $3)
                     ORDER BY epoch DESC LIMIT 1",
                    &[&account_id.as_slice(), &device_id.as_slice(), &epoch],
                )
                .await
                .map_err(db)?;
            row.as_ref().map(codec::sync_key).transpose()
        })
        .await
    }

    async fn put_shared_item(
        &self,
        account_id: &AccountId,
        item: SharedItem,
    ) -> Result<EpochWrite, ServerError> {
        bounded(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(db)?;
            let (_, current) = lock_sync_state(&tx, account_id).await?;
            if let Decision::Answer(stale) = decide::epoch_write(current, item.epoch) {
                return Ok(stale);
            }
            tx.execute(
                "INSERT INTO shared_items (account_id, name, epoch, ciphertext)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (account_id, name)
                 DO UPDATE SET epoch = excluded.epoch, ciphertext = excluded.ciphertext",
                &[
                    &account_id.as_slice(),
                    &item.name,
                    &to_sql(item.epoch)?,
                    &item.ciphertext,
                ],
            )
            .await
            .map_err(db)?;
            tx.commit().await.map_err(db)?;
            Ok(EpochWrite::Stored)
        })
        .await
    }

    async fn shared_items(&self, account_id: &AccountId) -> Result<Vec<SharedItem>, ServerError> {
        let rows = self
            .query(
                "SELECT name, epoch, ciphertext FROM shared_items
                 WHERE account_id = $1 ORDER BY name",
                &[&account_id.as_slice()],
            )
            .await?;
        rows.iter().map(codec::shared_item).collect()
    }

    // --- end of account sync key ---

    async fn record_seen(&self, session: &SessionRecord, day: u64) -> Result<(), ServerError> {
        bounded(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(db)?;
            tx.execute(
                "UPDATE sessions SET seen_day = $2 WHERE session_id = $1 AND seen_day < $2",
                &[&session.session_id.as_slice(), &to_sql(day)?],
            )
            .await
            .map_err(db)?;
            tx.execute(
                "INSERT INTO device_seen (account_id, device_id, seen_day) VALUES ($1, $2, $3)
                 ON CONFLICT (account_id, device_id) DO UPDATE SET seen_day = excluded.seen_day
                     WHERE excluded.seen_day > device_seen.seen_day",
                &[
                    &session.account_id.as_slice(),
                    &session.device_id.as_slice(),
                    &to_sql(day)?,
                ],
            )
            .await
            .map_err(db)?;
            tx.commit().await.map_err(db)
        })
        .await
    }

    async fn seen_days(&self, account_id: &AccountId) -> Result<Vec<([u8; 16], u64)>, ServerError> {
        let rows = self
            .query(
                "SELECT device_id, seen_day FROM device_seen
                 WHERE account_id = $1 ORDER BY device_id",
                &[&account_id.as_slice()],
            )
            .await?;
        rows.iter().map(codec::seen_day).collect()
    }
}

/// Locks the account row for the rest of `tx` and reads its ledger head and current sync epoch
/// (0 before the first rotation).
async fn lock_sync_state(
    tx: &deadpool_postgres::Transaction<'_>,
    account_id: &AccountId,
) -> Result<(StoredHead, u64), ServerError> {
    let head = lock_head(tx, account_id).await?;
    let row = tx
        .query_one(
            "SELECT COALESCE(MAX(epoch), 0) FROM sync_key_copies WHERE account_id = $1",
            &[&account_id.as_slice()],
        )
        .await
        .map_err(db)?;
    Ok((head, codec::count(&row)?))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fresh, empty storage: its own schema in the test database, so tests run in parallel.
    /// Panics (failing the test) when `ENIGM_TEST_POSTGRES_URL` is not set: these tests are
    /// ignored by plain `cargo test`, and must not pass silently when asked for.
    async fn fresh() -> PostgresStorage {
        PostgresStorage::from_config(fresh_schema().await, None)
            .await
            .unwrap()
    }

    /// The test database's configuration with a new, empty schema as its search path.
    pub(crate) async fn fresh_schema() -> tokio_postgres::Config {
        let url = std::env::var("ENIGM_TEST_POSTGRES_URL").unwrap_or_else(|_| {
            panic!(
                "ENIGM_TEST_POSTGRES_URL is not set: the PostgreSQL tests need a server; \
                 run them with `cargo xtask test`, or set it to postgres://USER@HOST:PORT/DB"
            )
        });
        let mut config: tokio_postgres::Config = url
            .parse()
            .expect("ENIGM_TEST_POSTGRES_URL is not a PostgreSQL URL");
        let mut suffix = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut suffix);
        let schema = format!("enigm_test_{}", hex::encode(suffix));
        let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
        let driver = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap();
        drop(client);
        driver.await.unwrap().unwrap();
        config.options(format!("-c search_path={schema}"));
        config
    }

    storage_conformance!(fresh().await, #[ignore = "needs PostgreSQL; run by cargo xtask test"]);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL; run by cargo xtask test"]
    async fn nodes_starting_together_migrate_once() {
        let config = fresh_schema().await;
        let mut starts = Vec::new();
        for _ in 0..4 {
            let config = config.clone();
            starts.push(tokio::spawn(async move {
                PostgresStorage::from_config(config, None).await
            }));
        }
        let mut nodes = Vec::new();
        for start in starts {
            nodes.push(start.await.unwrap().unwrap());
        }
        let client = nodes[0].client().await.unwrap();
        let versions: Vec<i32> = client
            .query("SELECT version FROM schema_version ORDER BY version", &[])
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        let expected: Vec<i32> = (1..=MIGRATIONS.len() as i32).collect();
        assert_eq!(versions, expected);
        // A restart finds the schema current and changes nothing.
        let again = PostgresStorage::from_config(config, None).await.unwrap();
        crate::storage::conformance::create_sample_account(&again, 1).await;
        assert!(nodes[1].account(&[1; 16]).await.unwrap().is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL; run by cargo xtask test"]
    async fn a_replay_is_refused_by_another_node() {
        let config = fresh_schema().await;
        let first = PostgresStorage::from_config(config.clone(), None)
            .await
            .unwrap();
        let second = PostgresStorage::from_config(config, None).await.unwrap();
        assert!(first.insert_nonce(&[1; 16], b"n", 100).await.unwrap());
        assert!(!second.insert_nonce(&[1; 16], b"n", 100).await.unwrap());
    }

    #[tokio::test]
    async fn a_bad_url_is_refused_without_echoing_it() {
        let error = PostgresStorage::connect("postgres://user:s3cret@host:notaport/db", None)
            .await
            .unwrap_err();
        assert!(matches!(error, ServerError::Config(_)));
        assert!(!error.to_string().contains("s3cret"));
    }

    #[test]
    fn debug_never_shows_the_configuration() {
        let config: tokio_postgres::Config = "postgres://user:s3cret@127.0.0.1/db".parse().unwrap();
        let tls = super::super::postgres_tls::connector(None).unwrap();
        let manager = Manager::from_config(config.clone(), tls.clone(), ManagerConfig::default());
        let storage = PostgresStorage {
            pool: Pool::builder(manager).build().unwrap(),
            config,
            tls,
        };
        assert_eq!(format!("{storage:?}"), "PostgresStorage");
    }
}
