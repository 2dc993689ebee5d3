//! Persistence behind one async trait, so the service runs on embedded SQLite (one node) or on
//! a shared database (several stateless nodes) with the same handlers (DESIGN §13).
//!
//! The trait is shaped by what must stay correct when several nodes share one database:
//!
//! - every check-then-write is one call, done atomically by the backend: nonce insertion
//!   ([`Storage::insert_nonce`]), taking a pending login ([`Storage::take_pending_login`]),
//!   rate-limit counting ([`Storage::consume_attempt`]), the ledger compare-and-swap
//!   ([`Storage::append_ledger`]), the recovery ([`Storage::complete_recovery`]), the audit
//!   chain link ([`Storage::append_audit`]), and the enrollment relay's limit check and
//!   compare-and-set ([`Storage::insert_enrollment`], [`Storage::update_enrollment`]), and the
//!   sync-key epoch checks ([`Storage::rotate_sync_key`], [`Storage::add_sync_key_copy`],
//!   [`Storage::put_shared_item`]);
//! - nothing is cached by the backend: a node may cache derived state (the verified ledger) only
//!   when it can tell from storage that it is still current (the account's ledger head);
//! - values are plain bytes and integers; protocol meaning (OPAQUE, ledger, audit encodings) is
//!   decided above this layer, so a backend never parses protocol data.
//!
//! What a backend decides in Rust rather than in SQL (the compare-and-swap outcomes, the epoch
//! and limit checks, how rows decode) is shared: `decide.rs` and `codec.rs`, so each backend
//! keeps only its SQL. Every backend runs the same suite (`conformance.rs`, the
//! `storage_conformance!` macro).

#[cfg(test)]
#[macro_use]
pub(crate) mod conformance;

mod codec;
mod decide;
mod postgres;
mod postgres_tls;
mod sqlite;

pub use postgres::PostgresStorage;
#[cfg(test)]
pub(crate) use postgres::tests as postgres_tests;
pub use sqlite::SqliteStorage;

use async_trait::async_trait;
use enigm_core::trust::SessionKind;

use crate::error::ServerError;

/// A random 128-bit account id (DESIGN §3).
pub type AccountId = [u8; 16];

/// The stored form of an account's state (mirrors `enigm_core::trust::AccountState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountStatus {
    /// Usable.
    Active,
    /// Closed until the given time (seconds since the epoch), or until lifted.
    Locked {
        /// When the lock lapses by itself.
        until: Option<u64>,
    },
    /// A recovery is in progress.
    Recovering,
}

/// A ledger position as stored: sequence number and entry hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredHead {
    /// Sequence number of the last entry.
    pub seq: u64,
    /// SHA-256 of its canonical encoding.
    pub hash: [u8; 32],
}

/// One ledger entry as stored: its canonical encoding with its position and hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    /// Sequence number.
    pub seq: u64,
    /// SHA-256 of `bytes`.
    pub hash: [u8; 32],
    /// The canonical encoding (`enigm_core::ledger::LedgerEntry::encode`).
    pub bytes: Vec<u8>,
}

/// An account as stored. There is no username: only its peppered lookup key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRecord {
    /// The account id.
    pub account_id: AccountId,
    /// `HMAC(pepper, normalize(username))`.
    pub lookup_key: [u8; 32],
    /// The serialized OPAQUE registration record (`ServerRegistration`).
    pub opaque_record: Vec<u8>,
    /// The salt of the record's OPAQUE credential identifier (empty for records made before
    /// salts existed): see `api::accounts::credential_identifier`.
    pub opaque_salt: Vec<u8>,
    /// Active, locked or recovering.
    pub status: AccountStatus,
    /// Bumped by every recovery; sessions from an older epoch are stale.
    pub recovery_epoch: u64,
    /// The ledger head.
    pub head: StoredHead,
    /// Creation time (seconds since the epoch).
    pub created_at: u64,
}

/// What creating an account stores, all in one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAccount {
    /// The account id.
    pub account_id: AccountId,
    /// `HMAC(pepper, normalize(username))`.
    pub lookup_key: [u8; 32],
    /// The serialized OPAQUE registration record.
    pub opaque_record: Vec<u8>,
    /// The salt of its OPAQUE credential identifier.
    pub opaque_salt: Vec<u8>,
    /// The verified genesis entry.
    pub genesis: StoredEntry,
    /// Creation time (seconds since the epoch).
    pub created_at: u64,
}

/// The result of [`Storage::create_account`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateOutcome {
    /// The account, its record and its genesis are stored.
    Created,
    /// Another account already has this lookup key (or this id); nothing was written.
    AlreadyExists,
}

/// A login between its OPAQUE start and finish. Nodes keep no login state in memory, so the
/// finish may land on another node than the start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingLogin {
    /// Random id handed to the client.
    pub login_id: [u8; 16],
    /// The lookup key the login was for (also for unknown usernames).
    pub lookup_key: [u8; 32],
    /// The account, when the username exists.
    pub account_id: Option<AccountId>,
    /// The serialized `ServerLogin` state, sealed above this layer (`login_seal.rs`): it holds
    /// the login's session key, which must not rest in clear.
    pub state: Vec<u8>,
    /// When the login may no longer be finished.
    pub expires_at: u64,
}

/// A device-bound session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// Random session id.
    pub session_id: [u8; 16],
    /// The account.
    pub account_id: AccountId,
    /// The device's Ed25519 public key: every request must be signed by it.
    pub device_key: [u8; 32],
    /// The device id derived from `device_key`.
    pub device_id: [u8; 16],
    /// Full, or restricted to enrollment.
    pub kind: SessionKind,
    /// When the login created it.
    pub issued_at: u64,
    /// When it stops being honoured unless refreshed.
    pub expires_at: u64,
    /// The last password proof (login).
    pub strong_auth_at: u64,
    /// The account's recovery epoch at login.
    pub recovery_epoch: u64,
    /// The last day (days since the Unix epoch, UTC) this session recorded its device as seen;
    /// 0 before its first request. Lets a device be written down once a day, not per request.
    pub seen_day: u64,
}

/// A rate-limit counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RateLimitState {
    /// Failures counted since the counter last reset or decayed.
    pub failures: u32,
    /// Time of the last failure.
    pub last_failure_at: u64,
    /// No attempt is accepted before this time.
    pub blocked_until: u64,
}

/// Exponential backoff: `free` failures cost nothing; each further one doubles the wait,
/// from `base_secs` up to `max_secs`. A counter whose last failure is older than `decay_secs`
/// starts over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Failures allowed before any wait.
    pub free: u32,
    /// The first wait, in seconds.
    pub base_secs: u64,
    /// The longest wait.
    pub max_secs: u64,
    /// Quiet time after which the counter resets.
    pub decay_secs: u64,
}

/// What one attempt did to a rate-limit counter ([`Storage::consume_attempt`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// The counter was not waiting; the attempt is counted and may go ahead. The counter as it
    /// now stands.
    Counted(RateLimitState),
    /// The counter is waiting; nothing was counted. The counter as it stands.
    Refused(RateLimitState),
}

impl Attempt {
    /// Whether this attempt started a wait: true once per block window, for the attempt that
    /// spent the last free try.
    pub fn started_wait(&self, now: u64) -> bool {
        match self {
            Attempt::Counted(state) => state.blocked_until > now,
            Attempt::Refused(_) => false,
        }
    }
}

impl Backoff {
    /// One attempt at `now` against `previous`: refused, counting nothing, while it waits;
    /// otherwise counted. Storage applies this inside one transaction per key.
    pub fn attempt(&self, previous: Option<RateLimitState>, now: u64) -> Attempt {
        match previous {
            Some(state) if state.blocked_until > now => Attempt::Refused(state),
            Some(_) | None => Attempt::Counted(self.next(previous, now)),
        }
    }

    /// The counter after one more failure at `now`, starting from `previous`.
    fn next(&self, previous: Option<RateLimitState>, now: u64) -> RateLimitState {
        let failures = match previous {
            Some(state) if now.saturating_sub(state.last_failure_at) < self.decay_secs => {
                state.failures.saturating_add(1)
            }
            Some(_) | None => 1,
        };
        let blocked_until = if failures <= self.free {
            0
        } else {
            let doublings = (failures - self.free - 1).min(32);
            let wait = self
                .base_secs
                .saturating_mul(1u64 << doublings)
                .min(self.max_secs);
            now.saturating_add(wait)
        };
        RateLimitState {
            failures,
            last_failure_at: now,
            blocked_until,
        }
    }
}

/// State changes a ledger append implies, applied in the same transaction. (A removed
/// device's sessions are kept until they expire: its next signed request is refused with the
/// entry that removed it, see `auth.rs`.)
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LedgerEffects {
    /// The account's new recovery epoch, when the append is a recovery.
    pub recovery_epoch: Option<u64>,
}

/// The result of [`Storage::append_ledger`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendOutcome {
    /// The entries are stored; this is the new head.
    Appended(StoredHead),
    /// The head was not the expected one; nothing was written. This is the current head.
    Conflict(StoredHead),
}

// --- account recovery (DESIGN §8) ---

/// A recovery between its start and its finish (like [`PendingLogin`], nodes keep no recovery
/// state in memory). Unknown usernames get one too, so a start never tells whether the
/// username exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingRecovery {
    /// Random one-time id handed to the client; the recovery key signs it.
    pub recovery_id: [u8; 16],
    /// The lookup key the recovery is for.
    pub lookup_key: [u8; 32],
    /// The account, when the username exists.
    pub account_id: Option<AccountId>,
    /// When the recovery may no longer be continued.
    pub expires_at: u64,
}

/// What a verified recovery changes, all in one transaction (see [`Storage::complete_recovery`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryCommit {
    /// The head the `Recover` entry extends (compare-and-swap).
    pub expected: StoredHead,
    /// The verified `Recover` entry.
    pub entry: StoredEntry,
    /// The new OPAQUE registration record, replacing the old one.
    pub opaque_record: Vec<u8>,
    /// The salt of its OPAQUE credential identifier (the recovery id).
    pub opaque_salt: Vec<u8>,
    /// The account's new recovery epoch (the ledger's, after the entry).
    pub recovery_epoch: u64,
}

// --- end of account recovery ---

/// A password changed from a signed-in session (see [`Storage::change_password`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordCommit {
    /// The new OPAQUE registration record, replacing the old one.
    pub opaque_record: Vec<u8>,
    /// The salt of its OPAQUE credential identifier (from the change's registration id).
    pub opaque_salt: Vec<u8>,
    /// The session that changed it, the only one of the account that stays.
    pub keep_session: [u8; 16],
}

// --- account sync key (DESIGN §3) ---

/// One device's sealed copy of the account sync key (opaque bytes to the service).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncKeyCopy {
    /// The device the copy is sealed to.
    pub device_id: [u8; 16],
    /// The sealed key.
    pub sealed: Vec<u8>,
}

/// A new sync epoch: one copy per device active in the ledger at `expected_head`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncKeyRotation {
    /// The ledger head the copies were checked against (compare-and-swap: a device added or
    /// removed meanwhile would make the set of copies wrong).
    pub expected_head: StoredHead,
    /// The new epoch: the account's current one plus one.
    pub epoch: u64,
    /// The copies, one per active device.
    pub copies: Vec<SyncKeyCopy>,
}

/// The result of [`Storage::rotate_sync_key`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RotationOutcome {
    /// The epoch and its copies are stored.
    Rotated,
    /// The ledger head moved; nothing was written. This is the current head.
    HeadMoved(StoredHead),
    /// The epoch is not the current one plus one; nothing was written.
    EpochTaken {
        /// The account's current sync epoch.
        current: u64,
    },
}

/// The result of a write that is accepted only under the account's current sync epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpochWrite {
    /// Stored (or already stored, for an identical copy).
    Stored,
    /// The epoch is not the current one; nothing was written.
    Stale {
        /// The account's current sync epoch (0 before the first).
        current: u64,
    },
}

/// A sealed copy as stored, with its epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSyncKey {
    /// The epoch.
    pub epoch: u64,
    /// The sealed key.
    pub sealed: Vec<u8>,
}

/// An item the account's devices share, encrypted under the sync key of `epoch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedItem {
    /// Its name (validated above this layer, e.g. `label.<device id hex>`).
    pub name: String,
    /// The sync epoch it is encrypted under.
    pub epoch: u64,
    /// The ciphertext.
    pub ciphertext: Vec<u8>,
}

// --- end of account sync key ---

/// One link of an account's audit chain as stored. Each account (by its pseudonym) has its own
/// chain, so it can be exported and verified on its own, from record 0, without anyone else's
/// records. `bytes` is the encoded record; the backend only enforces the chain's shape (unique,
/// consecutive `seq` per account).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAudit {
    /// Position in the account's chain, from 0.
    pub seq: u64,
    /// Hash of this record.
    pub hash: [u8; 32],
    /// The account's pseudonym, naming the chain (never the account id).
    pub account: String,
    /// The encoded record.
    pub bytes: Vec<u8>,
}

// --- Enrollment relay (DESIGN §7) -------------------------------------------------------------

/// An enrollment request as stored. The relay's meaning (keys, MACs, the step reached) is the
/// opaque `data`, encoded above this layer; the backend sees only what it needs to enforce the
/// per-account limit, the compare-and-set on `version`, and purging.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEnrollment {
    /// Random request id.
    pub id: [u8; 16],
    /// The account the new device asks to join.
    pub account_id: AccountId,
    /// The requesting (new) device.
    pub device_id: [u8; 16],
    /// Bumped by every update; updates compare and set it.
    pub version: u64,
    /// Whether the request still waits for a step (it counts against the limit until it
    /// expires).
    pub open: bool,
    /// Creation time.
    pub created_at: u64,
    /// When an open request expires.
    pub expires_at: u64,
    /// When the record may be deleted.
    pub purge_after: u64,
    /// The encoded relay record.
    pub data: Vec<u8>,
}

/// The result of [`Storage::insert_enrollment`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnrollmentInsert {
    /// The request is stored.
    Created,
    /// The device already has this open, unexpired request; nothing was written.
    DeviceHasOpen(StoredEnrollment),
    /// The account already has the maximum of open, unexpired requests; nothing was written.
    LimitReached,
}

/// Everything the service persists. Implementations must make each method atomic.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Creates an account with its OPAQUE record and its genesis entry, atomically.
    async fn create_account(&self, account: NewAccount) -> Result<CreateOutcome, ServerError>;

    /// The account with this lookup key.
    async fn account_by_lookup_key(
        &self,
        lookup_key: &[u8; 32],
    ) -> Result<Option<AccountRecord>, ServerError>;

    /// The account with this id.
    async fn account(&self, account_id: &AccountId) -> Result<Option<AccountRecord>, ServerError>;

    /// Stores a login between its start and its finish.
    async fn insert_pending_login(&self, login: PendingLogin) -> Result<(), ServerError>;

    /// Removes and returns a pending login, once: a second call, or a call after its expiry,
    /// returns `None`.
    async fn take_pending_login(
        &self,
        login_id: &[u8; 16],
        now: u64,
    ) -> Result<Option<PendingLogin>, ServerError>;

    /// Stores a new session.
    async fn insert_session(&self, session: SessionRecord) -> Result<(), ServerError>;

    /// A session by id (expired ones included: the caller decides).
    async fn session(&self, session_id: &[u8; 16]) -> Result<Option<SessionRecord>, ServerError>;

    /// The account's sessions that have not expired at `now`, oldest first (of every kind and
    /// recovery epoch: the caller decides which count).
    async fn account_sessions(
        &self,
        account_id: &AccountId,
        now: u64,
    ) -> Result<Vec<SessionRecord>, ServerError>;

    /// Moves a session's expiry; `false` when the session no longer exists.
    async fn refresh_session(
        &self,
        session_id: &[u8; 16],
        expires_at: u64,
    ) -> Result<bool, ServerError>;

    /// Ends a session; `false` when it did not exist.
    async fn delete_session(&self, session_id: &[u8; 16]) -> Result<bool, ServerError>;

    /// Records a request nonce for a session until `expires_at`. Returns `false`, writing
    /// nothing, if the same (session, nonce) is already recorded: the request is a replay.
    async fn insert_nonce(
        &self,
        session_id: &[u8; 16],
        nonce: &[u8],
        expires_at: u64,
    ) -> Result<bool, ServerError>;

    /// Applies [`Backoff::attempt`] to the counter for `key` as one atomic step: the check and
    /// the count cannot be split by a concurrent attempt, so no burst overdraws the budget.
    async fn consume_attempt(
        &self,
        key: &str,
        now: u64,
        backoff: Backoff,
    ) -> Result<Attempt, ServerError>;

    /// Forgets the counter for `key`.
    async fn reset_rate_limit(&self, key: &str) -> Result<(), ServerError>;

    /// Deletes the rate-limit counters that no longer matter at `now`: quiet for `decay_secs`
    /// (the longest decay of any backoff, so the next failure would start over anyway) and no
    /// longer blocking. Returns how many went. Without it every source address and username
    /// ever tried would keep a row.
    async fn purge_rate_limits(&self, now: u64, decay_secs: u64) -> Result<u64, ServerError>;

    /// Ledger entries of an account with `seq >= since`, in order, at most `limit`.
    async fn ledger_entries(
        &self,
        account_id: &AccountId,
        since: u64,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, ServerError>;

    /// Appends entries if the account's head is still `expected`, applying `effects` in the
    /// same transaction; otherwise writes nothing and returns the current head.
    async fn append_ledger(
        &self,
        account_id: &AccountId,
        expected: StoredHead,
        entries: Vec<StoredEntry>,
        effects: LedgerEffects,
    ) -> Result<AppendOutcome, ServerError>;

    // --- account recovery (DESIGN §8) ---

    /// Stores a recovery between its start and its finish.
    async fn insert_pending_recovery(&self, recovery: PendingRecovery) -> Result<(), ServerError>;

    /// A pending recovery that has not expired at `now`, left in place.
    async fn pending_recovery(
        &self,
        recovery_id: &[u8; 16],
        now: u64,
    ) -> Result<Option<PendingRecovery>, ServerError>;

    /// Removes and returns a pending recovery, once: a second call, or a call after its expiry,
    /// returns `None`.
    async fn take_pending_recovery(
        &self,
        recovery_id: &[u8; 16],
        now: u64,
    ) -> Result<Option<PendingRecovery>, ServerError>;

    /// Completes a recovery if the account's head is still `commit.expected`, in one
    /// transaction: appends the entry, replaces the OPAQUE record, sets the recovery epoch
    /// (which ends every earlier session: they stay stored until they expire, so their next
    /// request is refused as `session_before_recovery`), and drops the account's pending logins
    /// and recoveries (a login started with the old password cannot
    /// finish after the password changed). Otherwise writes nothing and returns the current head.
    async fn complete_recovery(
        &self,
        account_id: &AccountId,
        commit: RecoveryCommit,
    ) -> Result<AppendOutcome, ServerError>;

    // --- end of account recovery ---

    /// Replaces the account's OPAQUE record, in one transaction: ends every session of the
    /// account but `commit.keep_session` (deleted, so their next request is refused) and drops
    /// the account's pending logins (a login started with the old password cannot finish
    /// after it changed). Returns the ids of the sessions it ended, to close their sockets; an
    /// unknown account changes nothing and ends none.
    async fn change_password(
        &self,
        account_id: &AccountId,
        commit: PasswordCommit,
    ) -> Result<Vec<[u8; 16]>, ServerError>;

    /// The last `(seq, hash)` of the audit chain of one account pseudonym.
    async fn audit_head(&self, account: &str) -> Result<Option<(u64, [u8; 32])>, ServerError>;

    /// Appends an audit record if `record.seq` is the next position of its account's chain (0
    /// for the first); `false`, writing nothing, when another writer took that position first.
    async fn append_audit(&self, record: StoredAudit) -> Result<bool, ServerError>;

    /// Audit records of one account pseudonym with `seq >= since`, in order, at most `limit`.
    async fn audit_records(
        &self,
        account: &str,
        since: u64,
        limit: usize,
    ) -> Result<Vec<StoredAudit>, ServerError>;

    /// Deletes expired nonces, pending logins, pending recoveries and sessions, and enrollment
    /// requests past their `purge_after`; returns how many rows went.
    async fn purge_expired(&self, now: u64) -> Result<u64, ServerError>;

    // --- Enrollment relay (DESIGN §7) ---------------------------------------------------------

    /// Stores a new enrollment request, atomically checking first that its device has no open
    /// request and its account fewer than `max_open` open ones (open and `expires_at > now`).
    async fn insert_enrollment(
        &self,
        enrollment: StoredEnrollment,
        max_open: u64,
        now: u64,
    ) -> Result<EnrollmentInsert, ServerError>;

    /// An enrollment request by id (expired and finished ones included, until purged).
    async fn enrollment(&self, id: &[u8; 16]) -> Result<Option<StoredEnrollment>, ServerError>;

    /// The account's open requests with `expires_at > now`, oldest first.
    async fn open_enrollments(
        &self,
        account_id: &AccountId,
        now: u64,
    ) -> Result<Vec<StoredEnrollment>, ServerError>;

    /// Replaces a request's `open` flag and `data` if its version is still `expected_version`,
    /// bumping the version; `false`, writing nothing, when another writer got there first.
    async fn update_enrollment(
        &self,
        id: &[u8; 16],
        expected_version: u64,
        open: bool,
        data: Vec<u8>,
    ) -> Result<bool, ServerError>;

    // --- account sync key (DESIGN §3) ---

    /// The account's current sync epoch: the newest rotation's, 0 before the first.
    async fn sync_epoch(&self, account_id: &AccountId) -> Result<u64, ServerError>;

    /// Stores a new sync epoch with its copies if the account's ledger head is still
    /// `rotation.expected_head` and its sync epoch still `rotation.epoch - 1`, in one
    /// transaction; otherwise writes nothing and says which check failed.
    async fn rotate_sync_key(
        &self,
        account_id: &AccountId,
        rotation: SyncKeyRotation,
    ) -> Result<RotationOutcome, ServerError>;

    /// Adds one device's copy (an enrolled device) if `epoch` is the account's current sync
    /// epoch. A copy the device already has at that epoch is kept as it is.
    async fn add_sync_key_copy(
        &self,
        account_id: &AccountId,
        epoch: u64,
        copy: SyncKeyCopy,
    ) -> Result<EpochWrite, ServerError>;

    /// A device's copy at `epoch`, or its newest one.
    async fn sync_key_copy(
        &self,
        account_id: &AccountId,
        device_id: &[u8; 16],
        epoch: Option<u64>,
    ) -> Result<Option<StoredSyncKey>, ServerError>;

    /// Stores (or replaces) a shared item if its epoch is the account's current sync epoch.
    async fn put_shared_item(
        &self,
        account_id: &AccountId,
        item: SharedItem,
    ) -> Result<EpochWrite, ServerError>;

    /// The account's shared items, by name.
    async fn shared_items(&self, account_id: &AccountId) -> Result<Vec<SharedItem>, ServerError>;

    // --- end of account sync key ---

    /// Records that the session's device made a request on `day` (days since the Unix epoch,
    /// UTC), on the session and as the device's last seen day. A day never moves backwards.
    async fn record_seen(&self, session: &SessionRecord, day: u64) -> Result<(), ServerError>;

    /// The last day each device of the account was seen, by device id.
    async fn seen_days(&self, account_id: &AccountId) -> Result<Vec<([u8; 16], u64)>, ServerError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_after_free_failures_and_caps() {
        let backoff = Backoff {
            free: 2,
            base_secs: 1,
            max_secs: 10,
            decay_secs: 600,
        };
        let mut state = None;
        let mut waits = Vec::new();
        for _ in 0..7 {
            let next = backoff.next(state, 100);
            waits.push(next.blocked_until.saturating_sub(100));
            state = Some(next);
        }
        assert_eq!(waits, vec![0, 0, 1, 2, 4, 8, 10]);
    }

    #[test]
    fn an_attempt_while_waiting_is_refused_and_not_counted() {
        let backoff = Backoff {
            free: 1,
            base_secs: 10,
            max_secs: 100,
            decay_secs: 600,
        };
        let Attempt::Counted(first) = backoff.attempt(None, 0) else {
            panic!("the free attempt was refused");
        };
        let second = backoff.attempt(Some(first), 1);
        assert!(
            second.started_wait(1),
            "the second attempt spends the last free try"
        );
        let Attempt::Counted(waiting) = second else {
            panic!("the attempt that starts the wait was refused");
        };
        assert_eq!(
            backoff.attempt(Some(waiting), 5),
            Attempt::Refused(waiting),
            "refused while waiting, and nothing more counted"
        );
        let after = backoff.attempt(Some(waiting), 11);
        assert!(matches!(after, Attempt::Counted(state) if state.failures == 3));
        assert!(after.started_wait(11), "each block window starts once");
    }

    #[test]
    fn backoff_decays_after_quiet_time() {
        let backoff = Backoff {
            free: 0,
            base_secs: 1,
            max_secs: 10,
            decay_secs: 60,
        };
        let first = backoff.next(None, 0);
        let second = backoff.next(Some(first), 10);
        assert_eq!(second.failures, 2);
        let later = backoff.next(Some(second), 100);
        assert_eq!(later.failures, 1);
    }
}
