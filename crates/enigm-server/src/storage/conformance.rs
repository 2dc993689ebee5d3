//! The storage conformance suite: every [`Storage`] implementation must pass it.
//!
//! Each check is a generic async fn over `S: Storage`; `storage_conformance!(expr)` expands to
//! one `#[tokio::test]` per check, building a fresh, empty storage with `expr` each time. The
//! PostgreSQL backend runs the same macro against a real server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use enigm_core::trust::SessionKind;

use super::{
    AccountStatus, AppendOutcome, Attempt, Backoff, CreateOutcome, EnrollmentInsert, EpochWrite,
    LedgerEffects, NewAccount, PasswordCommit, PendingLogin, PendingRecovery, RecoveryCommit,
    RotationOutcome, SessionRecord, SharedItem, Storage, StoredAudit, StoredEnrollment,
    StoredEntry, StoredHead, StoredSyncKey, SyncKeyCopy, SyncKeyRotation,
};

/// Expands to one test per conformance check for the storage `$make` builds (an expression,
/// which may `.await`); attributes after it (`storage_conformance!(make, #[ignore = "..."])`)
/// go on every test.
macro_rules! storage_conformance {
    ($make:expr $(, #[$attr:meta])* $(,)?) => {
        mod conformance {
            #[allow(unused_imports)]
            use super::*;
            use $crate::storage::conformance as suite;

            macro_rules! check {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    $(#[$attr])*
                    async fn $name() {
                        suite::$name(std::sync::Arc::new($make)).await;
                    }
                };
            }

            check!(accounts_are_created_once_and_found_by_key);
            check!(pending_logins_are_taken_once_and_expire);
            check!(sessions_round_trip_refresh_and_end);
            check!(an_accounts_live_sessions_are_listed_oldest_first);
            check!(nonces_are_accepted_once_even_concurrently);
            check!(rate_limits_count_back_off_and_reset);
            check!(concurrent_attempts_stop_at_the_budget);
            check!(quiet_unblocked_rate_limits_are_purged);
            check!(ledger_append_is_compare_and_swap);
            check!(concurrent_ledger_appends_let_exactly_one_win);
            check!(audit_chain_positions_are_taken_once);
            check!(purge_removes_only_expired_rows);
            check!(last_seen_days_only_move_forward);
            // Enrollment relay.
            check!(enrollment_inserts_respect_device_and_account_limits);
            check!(concurrent_enrollment_inserts_stop_at_the_limit);
            check!(enrollment_updates_are_compare_and_set);
            check!(purge_removes_enrollments_past_retention);
            // account recovery (DESIGN §8)
            check!(pending_recoveries_are_read_taken_once_and_expire);
            check!(recovery_is_compare_and_swap_and_all_or_nothing);
            check!(a_recovery_and_an_append_racing_let_exactly_one_win);
            // a password changed from a signed-in session
            check!(a_password_change_keeps_one_session_and_drops_pending_logins);
            // account sync key (DESIGN §3)
            check!(sync_key_rotation_checks_head_and_epoch);
            check!(concurrent_sync_key_rotations_let_exactly_one_win);
            check!(enrolled_copies_and_shared_items_need_the_current_epoch);
        }
    };
}

/// A deterministic stored entry for tests (the backend never parses entries).
pub(crate) fn entry(seq: u64, tag: u8) -> StoredEntry {
    StoredEntry {
        seq,
        hash: [tag; 32],
        bytes: vec![tag; 8],
    }
}

/// Creates account `[id; 16]` with lookup key `[id; 32]` and a genesis entry.
pub(crate) async fn create_sample_account<S: Storage>(storage: &S, id: u8) -> CreateOutcome {
    storage
        .create_account(NewAccount {
            account_id: [id; 16],
            lookup_key: [id; 32],
            opaque_record: vec![1, 2, 3],
            opaque_salt: vec![id; 16],
            genesis: entry(0, id),
            created_at: 1_000,
        })
        .await
        .unwrap()
}

fn session(id: u8, device: u8) -> SessionRecord {
    SessionRecord {
        session_id: [id; 16],
        account_id: [1; 16],
        device_key: [device; 32],
        device_id: [device; 16],
        kind: SessionKind::Full,
        issued_at: 100,
        expires_at: 200,
        strong_auth_at: 100,
        recovery_epoch: 0,
        seen_day: 0,
    }
}

pub(crate) async fn accounts_are_created_once_and_found_by_key<S: Storage>(storage: Arc<S>) {
    assert_eq!(
        create_sample_account(&*storage, 1).await,
        CreateOutcome::Created
    );
    assert_eq!(
        create_sample_account(&*storage, 1).await,
        CreateOutcome::AlreadyExists
    );
    // Same lookup key, another id: still refused, and nothing of it is stored.
    let outcome = storage
        .create_account(NewAccount {
            account_id: [9; 16],
            lookup_key: [1; 32],
            opaque_record: vec![],
            opaque_salt: vec![],
            genesis: entry(0, 9),
            created_at: 0,
        })
        .await
        .unwrap();
    assert_eq!(outcome, CreateOutcome::AlreadyExists);
    assert!(storage.account(&[9; 16]).await.unwrap().is_none());

    let account = storage
        .account_by_lookup_key(&[1; 32])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.account_id, [1; 16]);
    assert_eq!(account.opaque_record, vec![1, 2, 3]);
    assert_eq!(account.opaque_salt, vec![1; 16]);
    assert_eq!(account.status, AccountStatus::Active);
    assert_eq!(account.recovery_epoch, 0);
    assert_eq!(
        account.head,
        StoredHead {
            seq: 0,
            hash: [1; 32]
        }
    );
    assert_eq!(storage.account(&[1; 16]).await.unwrap(), Some(account));
    assert!(
        storage
            .account_by_lookup_key(&[2; 32])
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        storage.ledger_entries(&[1; 16], 0, 10).await.unwrap(),
        vec![entry(0, 1)]
    );
}

pub(crate) async fn pending_logins_are_taken_once_and_expire<S: Storage>(storage: Arc<S>) {
    let login = PendingLogin {
        login_id: [5; 16],
        lookup_key: [6; 32],
        account_id: None,
        state: vec![7; 10],
        expires_at: 100,
    };
    storage.insert_pending_login(login.clone()).await.unwrap();
    assert_eq!(
        storage.take_pending_login(&[5; 16], 50).await.unwrap(),
        Some(login.clone())
    );
    assert_eq!(
        storage.take_pending_login(&[5; 16], 50).await.unwrap(),
        None
    );

    let known = PendingLogin {
        login_id: [8; 16],
        account_id: Some([1; 16]),
        ..login
    };
    storage.insert_pending_login(known).await.unwrap();
    assert_eq!(
        storage.take_pending_login(&[8; 16], 100).await.unwrap(),
        None
    );
    assert_eq!(
        storage.take_pending_login(&[8; 16], 10).await.unwrap(),
        None
    );
}

pub(crate) async fn sessions_round_trip_refresh_and_end<S: Storage>(storage: Arc<S>) {
    create_sample_account(&*storage, 1).await;
    let mut restricted = session(2, 4);
    restricted.kind = SessionKind::EnrollmentRestricted;
    storage.insert_session(session(1, 3)).await.unwrap();
    storage.insert_session(restricted.clone()).await.unwrap();
    assert_eq!(
        storage.session(&[1; 16]).await.unwrap(),
        Some(session(1, 3))
    );
    assert_eq!(storage.session(&[2; 16]).await.unwrap(), Some(restricted));
    assert!(storage.refresh_session(&[1; 16], 500).await.unwrap());
    assert_eq!(
        storage.session(&[1; 16]).await.unwrap().unwrap().expires_at,
        500
    );
    assert!(storage.delete_session(&[1; 16]).await.unwrap());
    assert!(!storage.delete_session(&[1; 16]).await.unwrap());
    assert!(!storage.refresh_session(&[1; 16], 600).await.unwrap());
    assert_eq!(storage.session(&[1; 16]).await.unwrap(), None);
}

pub(crate) async fn an_accounts_live_sessions_are_listed_oldest_first<S: Storage>(storage: Arc<S>) {
    create_sample_account(&*storage, 1).await;
    create_sample_account(&*storage, 2).await;
    let mut newer = session(1, 3);
    newer.issued_at = 150;
    let mut expired = session(3, 4);
    expired.expires_at = 120;
    let mut elsewhere = session(4, 5);
    elsewhere.account_id = [2; 16];
    for record in [newer.clone(), session(2, 4), expired, elsewhere.clone()] {
        storage.insert_session(record).await.unwrap();
    }
    assert_eq!(
        storage.account_sessions(&[1; 16], 130).await.unwrap(),
        vec![session(2, 4), newer.clone()],
        "the account's unexpired sessions, oldest first, and no other account's"
    );
    assert_eq!(
        storage.account_sessions(&[1; 16], 200).await.unwrap(),
        vec![],
        "a session is over when its expiry is reached"
    );
    assert!(storage.delete_session(&[2; 16]).await.unwrap());
    assert_eq!(
        storage.account_sessions(&[1; 16], 130).await.unwrap(),
        vec![newer]
    );
    assert_eq!(
        storage.account_sessions(&[2; 16], 130).await.unwrap(),
        vec![elsewhere]
    );
}

pub(crate) async fn last_seen_days_only_move_forward<S: Storage>(storage: Arc<S>) {
    create_sample_account(&*storage, 1).await;
    create_sample_account(&*storage, 2).await;
    let (first, second) = (session(1, 3), session(2, 4));
    storage.insert_session(first.clone()).await.unwrap();
    storage.insert_session(second.clone()).await.unwrap();
    assert_eq!(storage.seen_days(&[1; 16]).await.unwrap(), vec![]);

    storage.record_seen(&first, 20_000).await.unwrap();
    storage.record_seen(&second, 19_990).await.unwrap();
    let day_of = |id: u8| {
        let storage = Arc::clone(&storage);
        async move { storage.session(&[id; 16]).await.unwrap().unwrap().seen_day }
    };
    assert_eq!(
        day_of(1).await,
        20_000,
        "the session remembers the day it wrote"
    );
    assert_eq!(
        storage.seen_days(&[1; 16]).await.unwrap(),
        vec![([3; 16], 20_000), ([4; 16], 19_990)]
    );

    // An older day (a second session of the same device, a slow node) never moves it back.
    let other_session = session(9, 3);
    storage.insert_session(other_session.clone()).await.unwrap();
    storage.record_seen(&other_session, 19_000).await.unwrap();
    storage.record_seen(&first, 19_500).await.unwrap();
    assert_eq!(day_of(1).await, 20_000);
    storage.record_seen(&second, 20_001).await.unwrap();
    assert_eq!(
        storage.seen_days(&[1; 16]).await.unwrap(),
        vec![([3; 16], 20_000), ([4; 16], 20_001)]
    );

    // Another account's devices are not listed; ending a session keeps the day.
    let mut elsewhere = session(5, 6);
    elsewhere.account_id = [2; 16];
    storage.insert_session(elsewhere.clone()).await.unwrap();
    storage.record_seen(&elsewhere, 20_002).await.unwrap();
    assert!(storage.delete_session(&[1; 16]).await.unwrap());
    assert_eq!(
        storage.seen_days(&[1; 16]).await.unwrap(),
        vec![([3; 16], 20_000), ([4; 16], 20_001)]
    );
    assert_eq!(
        storage.seen_days(&[2; 16]).await.unwrap(),
        vec![([6; 16], 20_002)]
    );
}

pub(crate) async fn nonces_are_accepted_once_even_concurrently<S: Storage>(storage: Arc<S>) {
    assert!(storage.insert_nonce(&[1; 16], b"n1", 100).await.unwrap());
    assert!(!storage.insert_nonce(&[1; 16], b"n1", 100).await.unwrap());
    // The same nonce under another session is another request.
    assert!(storage.insert_nonce(&[2; 16], b"n1", 100).await.unwrap());

    let mut tasks = Vec::new();
    for _ in 0..16 {
        let storage = Arc::clone(&storage);
        tasks.push(tokio::spawn(async move {
            storage.insert_nonce(&[3; 16], b"race", 100).await.unwrap()
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        if task.await.unwrap() {
            accepted += 1;
        }
    }
    assert_eq!(
        accepted, 1,
        "exactly one of the racing requests is accepted"
    );
}

pub(crate) async fn rate_limits_count_back_off_and_reset<S: Storage>(storage: Arc<S>) {
    let backoff = Backoff {
        free: 1,
        base_secs: 10,
        max_secs: 100,
        decay_secs: 1_000,
    };
    let first = storage
        .consume_attempt("acct:x", 50, backoff)
        .await
        .unwrap();
    assert!(
        matches!(first, Attempt::Counted(state) if (state.failures, state.blocked_until) == (1, 0))
    );
    let second = storage
        .consume_attempt("acct:x", 51, backoff)
        .await
        .unwrap();
    let Attempt::Counted(waiting) = second else {
        panic!("the attempt that starts the wait was refused");
    };
    assert_eq!((waiting.failures, waiting.blocked_until), (2, 61));
    assert_eq!(
        storage
            .consume_attempt("acct:x", 60, backoff)
            .await
            .unwrap(),
        Attempt::Refused(waiting),
        "refused while waiting, nothing counted"
    );
    assert!(matches!(
        storage.consume_attempt("ip:y", 60, backoff).await.unwrap(),
        Attempt::Counted(state) if state.failures == 1
    ));
    storage.reset_rate_limit("acct:x").await.unwrap();
    assert!(matches!(
        storage.consume_attempt("acct:x", 60, backoff).await.unwrap(),
        Attempt::Counted(state) if state.failures == 1
    ));
}

pub(crate) async fn concurrent_attempts_stop_at_the_budget<S: Storage>(storage: Arc<S>) {
    let backoff = Backoff {
        free: 5,
        base_secs: 600,
        max_secs: 600,
        decay_secs: 3_600,
    };
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let storage = Arc::clone(&storage);
        tasks.push(tokio::spawn(async move {
            storage
                .consume_attempt("acct:z", 100, backoff)
                .await
                .unwrap()
        }));
    }
    let mut counted = 0;
    for task in tasks {
        if matches!(task.await.unwrap(), Attempt::Counted(_)) {
            counted += 1;
        }
    }
    assert_eq!(
        counted, 6,
        "five free attempts and the one that starts the wait, however they race"
    );
}

pub(crate) async fn quiet_unblocked_rate_limits_are_purged<S: Storage>(storage: Arc<S>) {
    let backoff = Backoff {
        free: 1,
        base_secs: 500,
        max_secs: 500,
        decay_secs: 100,
    };
    let attempt = |key: &'static str, now: u64| {
        let storage = Arc::clone(&storage);
        async move { storage.consume_attempt(key, now, backoff).await.unwrap() }
    };
    attempt("quiet", 10).await;
    attempt("blocked", 10).await;
    let blocked = attempt("blocked", 10).await;
    assert!(matches!(blocked, Attempt::Counted(state) if state.blocked_until == 510));
    attempt("recent", 450).await;

    assert_eq!(storage.purge_rate_limits(109, 100).await.unwrap(), 0);
    assert_eq!(storage.purge_rate_limits(110, 100).await.unwrap(), 1);
    assert!(
        matches!(attempt("blocked", 110).await, Attempt::Refused(_)),
        "still blocking"
    );
    assert_eq!(storage.purge_rate_limits(510, 100).await.unwrap(), 1);
    assert!(
        matches!(attempt("blocked", 510).await, Attempt::Counted(state) if state.failures == 1),
        "a purged counter starts over"
    );
    assert!(
        matches!(attempt("recent", 511).await, Attempt::Counted(state) if state.failures == 2),
        "not quiet yet"
    );
    assert_eq!(storage.purge_rate_limits(50, 100).await.unwrap(), 0);
}

pub(crate) async fn ledger_append_is_compare_and_swap<S: Storage>(storage: Arc<S>) {
    create_sample_account(&*storage, 1).await;
    let genesis = StoredHead {
        seq: 0,
        hash: [1; 32],
    };
    let outcome = storage
        .append_ledger(
            &[1; 16],
            genesis,
            vec![entry(1, 11), entry(2, 12)],
            LedgerEffects {
                recovery_epoch: Some(1),
            },
        )
        .await
        .unwrap();
    let head = StoredHead {
        seq: 2,
        hash: [12; 32],
    };
    assert_eq!(outcome, AppendOutcome::Appended(head));
    let account = storage.account(&[1; 16]).await.unwrap().unwrap();
    assert_eq!((account.head, account.recovery_epoch), (head, 1));

    // A stale expected head changes nothing.
    let stale = storage
        .append_ledger(
            &[1; 16],
            genesis,
            vec![entry(1, 21)],
            LedgerEffects {
                recovery_epoch: Some(5),
            },
        )
        .await
        .unwrap();
    assert_eq!(stale, AppendOutcome::Conflict(head));
    assert_eq!(
        storage
            .account(&[1; 16])
            .await
            .unwrap()
            .unwrap()
            .recovery_epoch,
        1
    );
    assert_eq!(
        storage.ledger_entries(&[1; 16], 0, 10).await.unwrap(),
        vec![entry(0, 1), entry(1, 11), entry(2, 12)]
    );
    assert_eq!(
        storage.ledger_entries(&[1; 16], 2, 10).await.unwrap(),
        vec![entry(2, 12)]
    );
    assert_eq!(
        storage.ledger_entries(&[1; 16], 1, 1).await.unwrap(),
        vec![entry(1, 11)]
    );
    assert!(
        storage
            .ledger_entries(&[2; 16], 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub(crate) async fn concurrent_ledger_appends_let_exactly_one_win<S: Storage>(storage: Arc<S>) {
    create_sample_account(&*storage, 1).await;
    let genesis = StoredHead {
        seq: 0,
        hash: [1; 32],
    };
    let mut tasks = Vec::new();
    for tag in 0..8u8 {
        let storage = Arc::clone(&storage);
        tasks.push(tokio::spawn(async move {
            storage
                .append_ledger(
                    &[1; 16],
                    genesis,
                    vec![entry(1, 100 + tag)],
                    LedgerEffects::default(),
                )
                .await
                .unwrap()
        }));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            AppendOutcome::Appended(head) => {
                wins += 1;
                assert_eq!(head.seq, 1);
            }
            AppendOutcome::Conflict(head) => assert_eq!(head.seq, 1),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(
        storage.ledger_entries(&[1; 16], 0, 10).await.unwrap().len(),
        2
    );
}

pub(crate) async fn audit_chain_positions_are_taken_once<S: Storage>(storage: Arc<S>) {
    assert_eq!(storage.audit_head("acct_a").await.unwrap(), None);
    let record = |seq: u64, account: &str| StoredAudit {
        seq,
        hash: [seq as u8 + account.len() as u8; 32],
        account: account.to_owned(),
        bytes: vec![seq as u8; 4],
    };
    assert!(
        !storage.append_audit(record(1, "acct_a")).await.unwrap(),
        "gap"
    );
    assert!(storage.append_audit(record(0, "acct_a")).await.unwrap());
    assert!(
        !storage.append_audit(record(0, "acct_a")).await.unwrap(),
        "taken"
    );
    // Each account has its own chain.
    assert!(storage.append_audit(record(0, "acct_bb")).await.unwrap());
    assert!(storage.append_audit(record(1, "acct_a")).await.unwrap());
    assert!(storage.append_audit(record(2, "acct_a")).await.unwrap());
    assert!(
        !storage.append_audit(record(2, "acct_bb")).await.unwrap(),
        "gap in the other chain"
    );
    assert_eq!(
        storage.audit_head("acct_a").await.unwrap(),
        Some((2, record(2, "acct_a").hash))
    );
    assert_eq!(
        storage.audit_head("acct_bb").await.unwrap(),
        Some((0, record(0, "acct_bb").hash))
    );
    assert_eq!(storage.audit_head("acct_c").await.unwrap(), None);
    assert_eq!(
        storage.audit_records("acct_a", 0, 10).await.unwrap(),
        vec![
            record(0, "acct_a"),
            record(1, "acct_a"),
            record(2, "acct_a")
        ]
    );
    assert_eq!(
        storage.audit_records("acct_a", 2, 10).await.unwrap(),
        vec![record(2, "acct_a")]
    );
    assert_eq!(
        storage.audit_records("acct_a", 0, 1).await.unwrap().len(),
        1
    );
    assert_eq!(
        storage.audit_records("acct_bb", 0, 10).await.unwrap(),
        vec![record(0, "acct_bb")]
    );
}

pub(crate) async fn purge_removes_only_expired_rows<S: Storage>(storage: Arc<S>) {
    create_sample_account(&*storage, 1).await;
    storage.insert_session(session(1, 3)).await.unwrap(); // expires at 200
    let mut long = session(2, 4);
    long.expires_at = 1_000;
    storage.insert_session(long).await.unwrap();
    storage.insert_nonce(&[1; 16], b"old", 150).await.unwrap();
    storage.insert_nonce(&[1; 16], b"new", 900).await.unwrap();
    let removed = storage.purge_expired(300).await.unwrap();
    assert_eq!(removed, 2);
    assert!(storage.session(&[1; 16]).await.unwrap().is_none());
    assert!(storage.session(&[2; 16]).await.unwrap().is_some());
    assert!(storage.insert_nonce(&[1; 16], b"old", 900).await.unwrap());
    assert!(!storage.insert_nonce(&[1; 16], b"new", 900).await.unwrap());
}

// --- Enrollment relay -----------------------------------------------------------------------

/// Request `[id; 16]` of device `[device; 16]` in account `[account; 16]`, created at 100,
/// expiring at `expires_at`, purgeable an hour later.
fn enrollment(id: u8, account: u8, device: u8, expires_at: u64) -> StoredEnrollment {
    StoredEnrollment {
        id: [id; 16],
        account_id: [account; 16],
        device_id: [device; 16],
        version: 0,
        open: true,
        created_at: 100 + u64::from(id),
        expires_at,
        purge_after: expires_at + 3_600,
        data: vec![id; 5],
    }
}

pub(crate) async fn enrollment_inserts_respect_device_and_account_limits<S: Storage>(
    storage: Arc<S>,
) {
    create_sample_account(&*storage, 1).await;
    create_sample_account(&*storage, 2).await;
    let insert = |record: StoredEnrollment, now: u64| {
        let storage = Arc::clone(&storage);
        async move { storage.insert_enrollment(record, 2, now).await.unwrap() }
    };
    assert_eq!(
        insert(enrollment(1, 1, 1, 700), 100).await,
        EnrollmentInsert::Created
    );
    // The same device again: its open request is returned, nothing is written.
    assert_eq!(
        insert(enrollment(2, 1, 1, 700), 100).await,
        EnrollmentInsert::DeviceHasOpen(enrollment(1, 1, 1, 700))
    );
    assert_eq!(
        insert(enrollment(3, 1, 3, 900), 100).await,
        EnrollmentInsert::Created
    );
    assert_eq!(
        insert(enrollment(4, 1, 4, 900), 100).await,
        EnrollmentInsert::LimitReached
    );
    assert!(storage.enrollment(&[4; 16]).await.unwrap().is_none());
    // Another account has its own limit.
    assert_eq!(
        insert(enrollment(5, 2, 5, 900), 100).await,
        EnrollmentInsert::Created
    );
    let open = storage.open_enrollments(&[1; 16], 100).await.unwrap();
    assert_eq!(
        open,
        vec![enrollment(1, 1, 1, 700), enrollment(3, 1, 3, 900)]
    );

    // An expired request no longer counts, nor blocks its device.
    assert_eq!(
        storage.open_enrollments(&[1; 16], 700).await.unwrap(),
        vec![enrollment(3, 1, 3, 900)]
    );
    assert_eq!(
        insert(enrollment(6, 1, 1, 1_300), 700).await,
        EnrollmentInsert::Created
    );
    // A closed request no longer counts either.
    assert!(
        storage
            .update_enrollment(&[3; 16], 0, false, vec![0])
            .await
            .unwrap()
    );
    assert_eq!(
        insert(enrollment(7, 1, 7, 1_300), 700).await,
        EnrollmentInsert::Created
    );
    // Finished and expired requests stay readable until purged.
    assert_eq!(
        storage.enrollment(&[1; 16]).await.unwrap(),
        Some(enrollment(1, 1, 1, 700))
    );
    let closed = storage.enrollment(&[3; 16]).await.unwrap().unwrap();
    assert_eq!(
        (closed.open, closed.version, closed.data),
        (false, 1, vec![0])
    );
}

pub(crate) async fn concurrent_enrollment_inserts_stop_at_the_limit<S: Storage>(storage: Arc<S>) {
    create_sample_account(&*storage, 1).await;
    let mut tasks = Vec::new();
    for id in 1..=8u8 {
        let storage = Arc::clone(&storage);
        tasks.push(tokio::spawn(async move {
            storage
                .insert_enrollment(enrollment(id, 1, id, 900), 3, 100)
                .await
                .unwrap()
        }));
    }
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            EnrollmentInsert::Created => created += 1,
            EnrollmentInsert::LimitReached => {}
            EnrollmentInsert::DeviceHasOpen(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(created, 3);
    assert_eq!(
        storage.open_enrollments(&[1; 16], 100).await.unwrap().len(),
        3
    );
}

pub(crate) async fn enrollment_updates_are_compare_and_set<S: Storage>(storage: Arc<S>) {
    create_sample_account(&*storage, 1).await;
    storage
        .insert_enrollment(enrollment(1, 1, 1, 900), 5, 100)
        .await
        .unwrap();
    assert!(
        storage
            .update_enrollment(&[1; 16], 0, true, vec![10])
            .await
            .unwrap()
    );
    assert!(
        !storage
            .update_enrollment(&[1; 16], 0, true, vec![11])
            .await
            .unwrap(),
        "stale version"
    );
    assert!(
        !storage
            .update_enrollment(&[9; 16], 0, true, vec![11])
            .await
            .unwrap(),
        "unknown id"
    );
    let mut tasks = Vec::new();
    for tag in 0..8u8 {
        let storage = Arc::clone(&storage);
        tasks.push(tokio::spawn(async move {
            storage
                .update_enrollment(&[1; 16], 1, tag % 2 == 0, vec![20 + tag])
                .await
                .unwrap()
        }));
    }
    let mut wins = 0;
    for task in tasks {
        if task.await.unwrap() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "exactly one racing update wins");
    let stored = storage.enrollment(&[1; 16]).await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(stored.open, stored.data[0] % 2 == 0);
    assert!((20..28).contains(&stored.data[0]));
    // Everything else is as inserted.
    assert_eq!(
        StoredEnrollment {
            version: 0,
            open: true,
            data: vec![1; 5],
            ..stored
        },
        enrollment(1, 1, 1, 900)
    );
}

pub(crate) async fn purge_removes_enrollments_past_retention<S: Storage>(storage: Arc<S>) {
    create_sample_account(&*storage, 1).await;
    let mut short = enrollment(1, 1, 1, 200);
    short.purge_after = 300;
    storage.insert_enrollment(short, 5, 100).await.unwrap();
    let mut long = enrollment(2, 1, 2, 200);
    long.purge_after = 5_000;
    storage.insert_enrollment(long, 5, 100).await.unwrap();
    // Expired but within retention: still readable.
    assert_eq!(storage.purge_expired(250).await.unwrap(), 0);
    assert!(storage.enrollment(&[1; 16]).await.unwrap().is_some());
    assert_eq!(storage.purge_expired(300).await.unwrap(), 1);
    assert!(storage.enrollment(&[1; 16]).await.unwrap().is_none());
    assert!(storage.enrollment(&[2; 16]).await.unwrap().is_some());
}

// --- account recovery (DESIGN §8) ---

fn pending_recovery(id: u8, account: Option<u8>) -> PendingRecovery {
    PendingRecovery {
        recovery_id: [id; 16],
        lookup_key: [account.unwrap_or(id); 32],
        account_id: account.map(|account| [account; 16]),
        expires_at: 100,
    }
}

pub(crate) async fn pending_recoveries_are_read_taken_once_and_expire<S: Storage>(storage: Arc<S>) {
    create_sample_account(&*storage, 1).await;
    let known = pending_recovery(5, Some(1));
    let unknown = pending_recovery(6, None);
    storage
        .insert_pending_recovery(known.clone())
        .await
        .unwrap();
    storage
        .insert_pending_recovery(unknown.clone())
        .await
        .unwrap();
    // Reading leaves it in place; taking removes it, once.
    for _ in 0..2 {
        assert_eq!(
            storage.pending_recovery(&[5; 16], 50).await.unwrap(),
            Some(known.clone())
        );
    }
    assert_eq!(
        storage.take_pending_recovery(&[5; 16], 50).await.unwrap(),
        Some(known)
    );
    assert_eq!(
        storage.take_pending_recovery(&[5; 16], 50).await.unwrap(),
        None
    );
    assert_eq!(storage.pending_recovery(&[5; 16], 50).await.unwrap(), None);
    // Expired ones are neither read nor taken.
    assert_eq!(storage.pending_recovery(&[6; 16], 100).await.unwrap(), None);
    assert_eq!(
        storage.take_pending_recovery(&[6; 16], 100).await.unwrap(),
        None
    );
    assert_eq!(
        storage.take_pending_recovery(&[6; 16], 10).await.unwrap(),
        None
    );
    // And purged.
    storage
        .insert_pending_recovery(pending_recovery(7, None))
        .await
        .unwrap();
    assert_eq!(storage.purge_expired(100).await.unwrap(), 1);
    assert_eq!(storage.pending_recovery(&[7; 16], 10).await.unwrap(), None);
}

fn commit(expected: StoredHead, tag: u8, epoch: u64) -> RecoveryCommit {
    RecoveryCommit {
        expected,
        entry: entry(expected.seq + 1, tag),
        opaque_record: vec![tag; 5],
        opaque_salt: vec![tag; 16],
        recovery_epoch: epoch,
    }
}

pub(crate) async fn recovery_is_compare_and_swap_and_all_or_nothing<S: Storage>(storage: Arc<S>) {
    create_sample_account(&*storage, 1).await;
    create_sample_account(&*storage, 2).await;
    let genesis = StoredHead {
        seq: 0,
        hash: [1; 32],
    };
    storage.insert_session(session(1, 3)).await.unwrap();
    let login = |id: u8, account: u8| PendingLogin {
        login_id: [id; 16],
        lookup_key: [account; 32],
        account_id: Some([account; 16]),
        state: vec![id; 4],
        expires_at: 100,
    };
    storage.insert_pending_login(login(10, 1)).await.unwrap();
    storage.insert_pending_login(login(20, 2)).await.unwrap();
    storage
        .insert_pending_recovery(pending_recovery(11, Some(1)))
        .await
        .unwrap();
    storage
        .insert_pending_recovery(pending_recovery(21, Some(2)))
        .await
        .unwrap();

    // A stale head changes nothing at all.
    let stale = StoredHead {
        seq: 0,
        hash: [9; 32],
    };
    let outcome = storage
        .complete_recovery(&[1; 16], commit(stale, 30, 1))
        .await
        .unwrap();
    assert_eq!(outcome, AppendOutcome::Conflict(genesis));
    let account = storage.account(&[1; 16]).await.unwrap().unwrap();
    assert_eq!(
        (account.head, account.recovery_epoch, account.opaque_record),
        (genesis, 0, vec![1, 2, 3])
    );
    assert_eq!(
        storage.ledger_entries(&[1; 16], 0, 10).await.unwrap().len(),
        1
    );
    assert!(
        storage
            .pending_recovery(&[11; 16], 50)
            .await
            .unwrap()
            .is_some()
    );

    // On the current head: entry, record, epoch, and the account's pending logins and
    // recoveries go; sessions stay stored (stale by epoch); other accounts are untouched.
    let outcome = storage
        .complete_recovery(&[1; 16], commit(genesis, 40, 1))
        .await
        .unwrap();
    let head = StoredHead {
        seq: 1,
        hash: [40; 32],
    };
    assert_eq!(outcome, AppendOutcome::Appended(head));
    let account = storage.account(&[1; 16]).await.unwrap().unwrap();
    assert_eq!(
        (account.head, account.recovery_epoch, account.opaque_record),
        (head, 1, vec![40; 5])
    );
    assert_eq!(
        account.opaque_salt,
        vec![40; 16],
        "the record's salt is replaced with it"
    );
    assert_eq!(account.status, AccountStatus::Active);
    assert_eq!(
        storage.ledger_entries(&[1; 16], 0, 10).await.unwrap(),
        vec![entry(0, 1), entry(1, 40)]
    );
    assert_eq!(
        storage.take_pending_login(&[10; 16], 50).await.unwrap(),
        None
    );
    assert_eq!(storage.pending_recovery(&[11; 16], 50).await.unwrap(), None);
    assert!(
        storage
            .take_pending_login(&[20; 16], 50)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        storage
            .pending_recovery(&[21; 16], 50)
            .await
            .unwrap()
            .is_some()
    );
    let stale_session = storage.session(&[1; 16]).await.unwrap().unwrap();
    assert_eq!(stale_session.recovery_epoch, 0);
    let other = storage.account(&[2; 16]).await.unwrap().unwrap();
    assert_eq!(
        (other.recovery_epoch, other.opaque_record),
        (0, vec![1, 2, 3])
    );

    // Replaying the same commit is a conflict: the head moved.
    let again = storage
        .complete_recovery(&[1; 16], commit(genesis, 40, 1))
        .await
        .unwrap();
    assert_eq!(again, AppendOutcome::Conflict(head));
}

pub(crate) async fn a_recovery_and_an_append_racing_let_exactly_one_win<S: Storage>(
    storage: Arc<S>,
) {
    create_sample_account(&*storage, 1).await;
    let genesis = StoredHead {
        seq: 0,
        hash: [1; 32],
    };
    let recovering = {
        let storage = Arc::clone(&storage);
        tokio::spawn(async move {
            storage
                .complete_recovery(&[1; 16], commit(genesis, 50, 1))
                .await
                .unwrap()
        })
    };
    let appending = {
        let storage = Arc::clone(&storage);
        tokio::spawn(async move {
            storage
                .append_ledger(
                    &[1; 16],
                    genesis,
                    vec![entry(1, 60)],
                    LedgerEffects::default(),
                )
                .await
                .unwrap()
        })
    };
    let outcomes = [recovering.await.unwrap(), appending.await.unwrap()];
    let wins = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, AppendOutcome::Appended(_)))
        .count();
    assert_eq!(wins, 1, "{outcomes:?}");
    let account = storage.account(&[1; 16]).await.unwrap().unwrap();
    let recovered = matches!(outcomes[0], AppendOutcome::Appended(_));
    assert_eq!(account.recovery_epoch, u64::from(recovered));
    assert_eq!(
        storage.ledger_entries(&[1; 16], 0, 10).await.unwrap().len(),
        2
    );
}

// --- end of account recovery ---

// --- account sync key (DESIGN §3) ---

/// Copy of the key for device `[device; 16]`.
fn copy(device: u8, tag: u8) -> SyncKeyCopy {
    SyncKeyCopy {
        device_id: [device; 16],
        sealed: vec![tag; 40],
    }
}

/// The sample account's genesis head.
const GENESIS: StoredHead = StoredHead {
    seq: 0,
    hash: [1; 32],
};

fn rotation(epoch: u64, copies: Vec<SyncKeyCopy>) -> SyncKeyRotation {
    SyncKeyRotation {
        expected_head: GENESIS,
        epoch,
        copies,
    }
}

pub(crate) async fn sync_key_rotation_checks_head_and_epoch<S: Storage>(storage: Arc<S>) {
    create_sample_account(&*storage, 1).await;
    let account = [1; 16];
    assert_eq!(storage.sync_epoch(&account).await.unwrap(), 0);
    // A head the ledger moved past, or an epoch that skips one: nothing is written.
    let stale_head = SyncKeyRotation {
        expected_head: StoredHead {
            seq: 0,
            hash: [9; 32],
        },
        ..rotation(1, vec![copy(7, 1)])
    };
    assert_eq!(
        storage.rotate_sync_key(&account, stale_head).await.unwrap(),
        RotationOutcome::HeadMoved(GENESIS)
    );
    assert_eq!(
        storage
            .rotate_sync_key(&account, rotation(2, vec![copy(7, 1)]))
            .await
            .unwrap(),
        RotationOutcome::EpochTaken { current: 0 }
    );
    assert_eq!(storage.sync_epoch(&account).await.unwrap(), 0);
    assert_eq!(
        storage
            .sync_key_copy(&account, &[7; 16], None)
            .await
            .unwrap(),
        None
    );

    let first = rotation(1, vec![copy(7, 1), copy(8, 2)]);
    assert_eq!(
        storage
            .rotate_sync_key(&account, first.clone())
            .await
            .unwrap(),
        RotationOutcome::Rotated
    );
    assert_eq!(
        storage.rotate_sync_key(&account, first).await.unwrap(),
        RotationOutcome::EpochTaken { current: 1 }
    );
    // Device 8 is left out of epoch 2: its newest copy stays at epoch 1.
    assert_eq!(
        storage
            .rotate_sync_key(&account, rotation(2, vec![copy(7, 3)]))
            .await
            .unwrap(),
        RotationOutcome::Rotated
    );
    assert_eq!(storage.sync_epoch(&account).await.unwrap(), 2);
    let newest = |device: u8, epoch: Option<u64>| {
        let storage = storage.clone();
        async move {
            storage
                .sync_key_copy(&account, &[device; 16], epoch)
                .await
                .unwrap()
        }
    };
    let stored = |epoch, tag| {
        Some(StoredSyncKey {
            epoch,
            sealed: vec![tag; 40],
        })
    };
    assert_eq!(newest(7, None).await, stored(2, 3));
    assert_eq!(newest(7, Some(1)).await, stored(1, 1));
    assert_eq!(newest(8, None).await, stored(1, 2));
    assert_eq!(newest(8, Some(2)).await, None);
    assert_eq!(newest(9, None).await, None);
    // Other accounts are untouched.
    create_sample_account(&*storage, 2).await;
    assert_eq!(storage.sync_epoch(&[2; 16]).await.unwrap(), 0);
    assert_eq!(
        storage
            .sync_key_copy(&[2; 16], &[7; 16], None)
            .await
            .unwrap(),
        None
    );
}

pub(crate) async fn concurrent_sync_key_rotations_let_exactly_one_win<S: Storage>(storage: Arc<S>) {
    create_sample_account(&*storage, 1).await;
    let mut tasks = Vec::new();
    for tag in 0..8u8 {
        let storage = storage.clone();
        tasks.push(tokio::spawn(async move {
            storage
                .rotate_sync_key(&[1; 16], rotation(1, vec![copy(7, tag), copy(8, tag)]))
                .await
                .unwrap()
        }));
    }
    let mut rotated = 0;
    for task in tasks {
        match task.await.unwrap() {
            RotationOutcome::Rotated => rotated += 1,
            RotationOutcome::EpochTaken { current } => assert_eq!(current, 1),
            RotationOutcome::HeadMoved(head) => panic!("the head did not move: {head:?}"),
        }
    }
    assert_eq!(rotated, 1);
    // Both copies come from the same winner.
    let a = storage
        .sync_key_copy(&[1; 16], &[7; 16], None)
        .await
        .unwrap()
        .unwrap();
    let b = storage
        .sync_key_copy(&[1; 16], &[8; 16], None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.sealed, b.sealed);
}

pub(crate) async fn enrolled_copies_and_shared_items_need_the_current_epoch<S: Storage>(
    storage: Arc<S>,
) {
    create_sample_account(&*storage, 1).await;
    let account = [1; 16];
    let item = |name: &str, epoch, tag| SharedItem {
        name: name.into(),
        epoch,
        ciphertext: vec![tag; 30],
    };
    // Before the first epoch nothing can be written under one.
    assert_eq!(
        storage
            .add_sync_key_copy(&account, 1, copy(9, 1))
            .await
            .unwrap(),
        EpochWrite::Stale { current: 0 }
    );
    assert_eq!(
        storage
            .put_shared_item(&account, item("label.a", 1, 1))
            .await
            .unwrap(),
        EpochWrite::Stale { current: 0 }
    );
    storage
        .rotate_sync_key(&account, rotation(1, vec![copy(7, 1)]))
        .await
        .unwrap();
    assert_eq!(
        storage
            .add_sync_key_copy(&account, 1, copy(9, 2))
            .await
            .unwrap(),
        EpochWrite::Stored
    );
    // A repeat keeps the first copy.
    assert_eq!(
        storage
            .add_sync_key_copy(&account, 1, copy(9, 3))
            .await
            .unwrap(),
        EpochWrite::Stored
    );
    assert_eq!(
        storage
            .sync_key_copy(&account, &[9; 16], None)
            .await
            .unwrap(),
        Some(StoredSyncKey {
            epoch: 1,
            sealed: vec![2; 40]
        })
    );
    assert_eq!(storage.sync_epoch(&account).await.unwrap(), 1);

    for write in [
        item("label.b", 1, 1),
        item("label.a", 1, 2),
        item("label.b", 1, 3),
    ] {
        assert_eq!(
            storage.put_shared_item(&account, write).await.unwrap(),
            EpochWrite::Stored
        );
    }
    assert_eq!(
        storage.shared_items(&account).await.unwrap(),
        vec![item("label.a", 1, 2), item("label.b", 1, 3)]
    );
    // After a rotation, writes under the old epoch are refused; items already there stay.
    storage
        .rotate_sync_key(&account, rotation(2, vec![copy(7, 4)]))
        .await
        .unwrap();
    assert_eq!(
        storage
            .put_shared_item(&account, item("label.a", 1, 5))
            .await
            .unwrap(),
        EpochWrite::Stale { current: 2 }
    );
    assert_eq!(
        storage
            .add_sync_key_copy(&account, 1, copy(6, 1))
            .await
            .unwrap(),
        EpochWrite::Stale { current: 2 }
    );
    assert_eq!(
        storage
            .put_shared_item(&account, item("label.a", 2, 6))
            .await
            .unwrap(),
        EpochWrite::Stored
    );
    assert_eq!(
        storage.shared_items(&account).await.unwrap(),
        vec![item("label.a", 2, 6), item("label.b", 1, 3)]
    );
    assert!(storage.shared_items(&[2; 16]).await.unwrap().is_empty());
}

pub(crate) async fn a_password_change_keeps_one_session_and_drops_pending_logins<S: Storage>(
    storage: Arc<S>,
) {
    create_sample_account(&*storage, 1).await;
    create_sample_account(&*storage, 2).await;
    // Three sessions of account 1 (two devices), one of account 2.
    for (id, device) in [(1, 3), (2, 3), (3, 4)] {
        storage.insert_session(session(id, device)).await.unwrap();
    }
    let other_account = SessionRecord {
        account_id: [2; 16],
        ..session(9, 5)
    };
    storage.insert_session(other_account.clone()).await.unwrap();
    let login = |id: u8, account: u8| PendingLogin {
        login_id: [id; 16],
        lookup_key: [account; 32],
        account_id: Some([account; 16]),
        state: vec![7; 10],
        expires_at: 100,
    };
    storage.insert_pending_login(login(20, 1)).await.unwrap();
    storage.insert_pending_login(login(21, 2)).await.unwrap();

    let mut ended = storage
        .change_password(
            &[1; 16],
            PasswordCommit {
                opaque_record: vec![4, 5, 6],
                opaque_salt: vec![8; 16],
                keep_session: [2; 16],
            },
        )
        .await
        .unwrap();
    ended.sort_unstable();
    assert_eq!(ended, vec![[1; 16], [3; 16]]);
    let account = storage.account(&[1; 16]).await.unwrap().unwrap();
    assert_eq!(account.opaque_record, vec![4, 5, 6]);
    assert_eq!(account.opaque_salt, vec![8; 16]);
    assert_eq!(
        account.recovery_epoch, 0,
        "a password change is no recovery"
    );
    assert!(storage.session(&[1; 16]).await.unwrap().is_none());
    assert!(storage.session(&[3; 16]).await.unwrap().is_none());
    assert_eq!(
        storage.session(&[2; 16]).await.unwrap(),
        Some(session(2, 3)),
        "the changing session stays"
    );
    assert!(
        storage
            .take_pending_login(&[20; 16], 50)
            .await
            .unwrap()
            .is_none(),
        "a login started with the old password cannot finish"
    );
    // The other account is untouched.
    assert_eq!(
        storage.session(&[9; 16]).await.unwrap(),
        Some(other_account)
    );
    assert!(
        storage
            .take_pending_login(&[21; 16], 50)
            .await
            .unwrap()
            .is_some()
    );
    let untouched = storage.account(&[2; 16]).await.unwrap().unwrap();
    assert_eq!(untouched.opaque_record, vec![1, 2, 3]);

    // An unknown account: nothing changes, nothing ends.
    let none = storage
        .change_password(
            &[7; 16],
            PasswordCommit {
                opaque_record: vec![1],
                opaque_salt: vec![],
                keep_session: [2; 16],
            },
        )
        .await
        .unwrap();
    assert!(none.is_empty());
    assert!(storage.account(&[7; 16]).await.unwrap().is_none());
}
