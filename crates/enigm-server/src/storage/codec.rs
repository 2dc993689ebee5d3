//! The row codecs both backends share: how the storage types are laid out in columns, and how
//! a row is read back into them. A backend keeps only its SQL and a [`Columns`] impl over its
//! driver's row, so a column added, a range check or a status name is written once and both
//! databases decode the same bytes the same way (and fail on the same corrupt values).

use enigm_core::trust::SessionKind;

use super::{
    AccountRecord, AccountStatus, PendingLogin, PendingRecovery, RateLimitState, SessionRecord,
    SharedItem, StoredAudit, StoredEnrollment, StoredEntry, StoredHead, StoredSyncKey, decide,
};
use crate::error::ServerError;

/// One result row, read by column position. Each backend implements it over its driver's row
/// (mapping the driver's error), so the decoders below serve both.
pub(super) trait Columns {
    /// An integer column.
    fn int(&self, index: usize) -> Result<i64, ServerError>;
    /// A nullable integer column.
    fn maybe_int(&self, index: usize) -> Result<Option<i64>, ServerError>;
    /// A byte column.
    fn bytes(&self, index: usize) -> Result<Vec<u8>, ServerError>;
    /// A nullable byte column.
    fn maybe_bytes(&self, index: usize) -> Result<Option<Vec<u8>>, ServerError>;
    /// A text column.
    fn text(&self, index: usize) -> Result<String, ServerError>;
    /// A boolean column (an integer 0 or 1 in SQLite).
    fn flag(&self, index: usize) -> Result<bool, ServerError>;
}

/// Database integers are signed; our counters and times are not. Both backends store them
/// through this and [`from_sql`], so a value out of range is the same error everywhere.
pub(super) fn to_sql(value: u64) -> Result<i64, ServerError> {
    i64::try_from(value).map_err(|_| ServerError::Storage("integer out of range".into()))
}

/// Reads a non-negative integer column.
pub(super) fn from_sql(value: i64) -> Result<u64, ServerError> {
    u64::try_from(value).map_err(|_| ServerError::Storage("negative integer in database".into()))
}

/// Reads a fixed-size byte column.
pub(super) fn fixed<const N: usize>(bytes: Vec<u8>) -> Result<[u8; N], ServerError> {
    bytes
        .try_into()
        .map_err(|_| ServerError::Storage("byte column of unexpected length in database".into()))
}

/// A row count as a SQL `LIMIT` (a count past `i64::MAX` means no limit).
pub(super) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// A single non-negative integer in column 0 (a count, an epoch, a next position).
pub(super) fn count(row: &impl Columns) -> Result<u64, ServerError> {
    from_sql(row.int(0)?)
}

/// The `status` and `locked_until` columns of an account status.
pub(super) fn status_columns(
    status: AccountStatus,
) -> Result<(&'static str, Option<i64>), ServerError> {
    Ok(match status {
        AccountStatus::Active => ("active", None),
        AccountStatus::Locked { until } => ("locked", until.map(to_sql).transpose()?),
        AccountStatus::Recovering => ("recovering", None),
    })
}

/// The `kind` column of a session.
pub(super) fn kind_column(kind: SessionKind) -> &'static str {
    match kind {
        SessionKind::Full => "full",
        SessionKind::EnrollmentRestricted => "enrollment",
    }
}

/// The columns [`account`] reads, in its order.
pub(super) const ACCOUNT_COLUMNS: &str = "account_id, lookup_key, opaque_record, status, \
     locked_until, recovery_epoch, head_seq, head_hash, created_at, opaque_salt";

/// An account from the [`ACCOUNT_COLUMNS`] of its row.
pub(super) fn account(row: &impl Columns) -> Result<AccountRecord, ServerError> {
    let status = match row.text(3)?.as_str() {
        "active" => AccountStatus::Active,
        "locked" => AccountStatus::Locked {
            until: row.maybe_int(4)?.map(from_sql).transpose()?,
        },
        "recovering" => AccountStatus::Recovering,
        _ => return Err(ServerError::Storage("unknown account status".into())),
    };
    Ok(AccountRecord {
        account_id: fixed(row.bytes(0)?)?,
        lookup_key: fixed(row.bytes(1)?)?,
        opaque_record: row.bytes(2)?,
        opaque_salt: row.bytes(9)?,
        status,
        recovery_epoch: from_sql(row.int(5)?)?,
        head: StoredHead {
            seq: from_sql(row.int(6)?)?,
            hash: fixed(row.bytes(7)?)?,
        },
        created_at: from_sql(row.int(8)?)?,
    })
}

/// The columns [`session`] reads, in its order (the id is the caller's).
pub(super) const SESSION_COLUMNS: &str = "account_id, device_key, device_id, kind, issued_at, \
     expires_at, strong_auth_at, recovery_epoch, seen_day";

/// The session `session_id` from the [`SESSION_COLUMNS`] of its row.
pub(super) fn session(
    row: &impl Columns,
    session_id: [u8; 16],
) -> Result<SessionRecord, ServerError> {
    let kind = match row.text(3)?.as_str() {
        "full" => SessionKind::Full,
        "enrollment" => SessionKind::EnrollmentRestricted,
        _ => return Err(ServerError::Storage("unknown session kind".into())),
    };
    Ok(SessionRecord {
        session_id,
        account_id: fixed(row.bytes(0)?)?,
        device_key: fixed(row.bytes(1)?)?,
        device_id: fixed(row.bytes(2)?)?,
        kind,
        issued_at: from_sql(row.int(4)?)?,
        expires_at: from_sql(row.int(5)?)?,
        strong_auth_at: from_sql(row.int(6)?)?,
        recovery_epoch: from_sql(row.int(7)?)?,
        seen_day: from_sql(row.int(8)?)?,
    })
}

/// A ledger head from `head_seq, head_hash`.
pub(super) fn head(row: &impl Columns) -> Result<StoredHead, ServerError> {
    Ok(StoredHead {
        seq: from_sql(row.int(0)?)?,
        hash: fixed(row.bytes(1)?)?,
    })
}

/// A ledger entry from `seq, hash, bytes`.
pub(super) fn entry(row: &impl Columns) -> Result<StoredEntry, ServerError> {
    Ok(StoredEntry {
        seq: from_sql(row.int(0)?)?,
        hash: fixed(row.bytes(1)?)?,
        bytes: row.bytes(2)?,
    })
}

/// The last link of an audit chain from `seq, hash`.
pub(super) fn audit_head(row: &impl Columns) -> Result<(u64, [u8; 32]), ServerError> {
    Ok((from_sql(row.int(0)?)?, fixed(row.bytes(1)?)?))
}

/// An audit record of `account`'s chain from `seq, hash, bytes`.
pub(super) fn audit(row: &impl Columns, account: &str) -> Result<StoredAudit, ServerError> {
    Ok(StoredAudit {
        seq: from_sql(row.int(0)?)?,
        hash: fixed(row.bytes(1)?)?,
        account: account.to_owned(),
        bytes: row.bytes(2)?,
    })
}

/// A rate-limit counter from `failures, last_failure_at, blocked_until`.
pub(super) fn rate_limit(row: &impl Columns) -> Result<RateLimitState, ServerError> {
    Ok(RateLimitState {
        failures: u32::try_from(row.int(0)?)
            .map_err(|_| ServerError::Storage("failure count out of range".into()))?,
        last_failure_at: from_sql(row.int(1)?)?,
        blocked_until: from_sql(row.int(2)?)?,
    })
}

/// The expiry in column `index`, unless it passed at `now` (read before the rest of a pending
/// row, so an expired row is gone whatever else it holds).
fn live_until(row: &impl Columns, index: usize, now: u64) -> Result<Option<u64>, ServerError> {
    let expires_at = from_sql(row.int(index)?)?;
    Ok(decide::live(expires_at, now).then_some(expires_at))
}

/// The pending login `login_id` from `lookup_key, account_id, state, expires_at`, unless it
/// expired at `now`.
pub(super) fn pending_login(
    row: &impl Columns,
    login_id: [u8; 16],
    now: u64,
) -> Result<Option<PendingLogin>, ServerError> {
    let Some(expires_at) = live_until(row, 3, now)? else {
        return Ok(None);
    };
    Ok(Some(PendingLogin {
        login_id,
        lookup_key: fixed(row.bytes(0)?)?,
        account_id: row.maybe_bytes(1)?.map(fixed).transpose()?,
        state: row.bytes(2)?,
        expires_at,
    }))
}

/// The pending recovery `recovery_id` from `lookup_key, account_id, expires_at`, unless it
/// expired at `now`.
pub(super) fn pending_recovery(
    row: &impl Columns,
    recovery_id: [u8; 16],
    now: u64,
) -> Result<Option<PendingRecovery>, ServerError> {
    let Some(expires_at) = live_until(row, 2, now)? else {
        return Ok(None);
    };
    Ok(Some(PendingRecovery {
        recovery_id,
        lookup_key: fixed(row.bytes(0)?)?,
        account_id: row.maybe_bytes(1)?.map(fixed).transpose()?,
        expires_at,
    }))
}

/// The columns [`enrollment`] reads, in its order.
pub(super) const ENROLLMENT_COLUMNS: &str =
    "id, account_id, device_id, version, open, created_at, expires_at, purge_after, data";

/// An enrollment request from the [`ENROLLMENT_COLUMNS`] of its row.
pub(super) fn enrollment(row: &impl Columns) -> Result<StoredEnrollment, ServerError> {
    Ok(StoredEnrollment {
        id: fixed(row.bytes(0)?)?,
        account_id: fixed(row.bytes(1)?)?,
        device_id: fixed(row.bytes(2)?)?,
        version: from_sql(row.int(3)?)?,
        open: row.flag(4)?,
        created_at: from_sql(row.int(5)?)?,
        expires_at: from_sql(row.int(6)?)?,
        purge_after: from_sql(row.int(7)?)?,
        data: row.bytes(8)?,
    })
}

/// A sealed sync-key copy from `epoch, sealed`.
pub(super) fn sync_key(row: &impl Columns) -> Result<StoredSyncKey, ServerError> {
    Ok(StoredSyncKey {
        epoch: from_sql(row.int(0)?)?,
        sealed: row.bytes(1)?,
    })
}

/// A shared item from `name, epoch, ciphertext`.
pub(super) fn shared_item(row: &impl Columns) -> Result<SharedItem, ServerError> {
    Ok(SharedItem {
        name: row.text(0)?,
        epoch: from_sql(row.int(1)?)?,
        ciphertext: row.bytes(2)?,
    })
}

/// A device's last seen day from `device_id, seen_day`.
pub(super) fn seen_day(row: &impl Columns) -> Result<([u8; 16], u64), ServerError> {
    Ok((fixed(row.bytes(0)?)?, from_sql(row.int(1)?)?))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A column value as a database would hand it back.
    #[derive(Clone, Debug)]
    enum Value {
        Null,
        Int(i64),
        Bytes(Vec<u8>),
        Text(String),
    }

    /// A row held in memory; a type mismatch is a storage error, as a driver's would be.
    struct Row(Vec<Value>);

    impl Row {
        fn at(&self, index: usize) -> Result<&Value, ServerError> {
            self.0
                .get(index)
                .ok_or_else(|| ServerError::Storage(format!("no column {index}")))
        }
    }

    fn mismatch(index: usize) -> ServerError {
        ServerError::Storage(format!("column {index} has another type"))
    }

    impl Columns for Row {
        fn int(&self, index: usize) -> Result<i64, ServerError> {
            match self.at(index)? {
                Value::Int(value) => Ok(*value),
                _ => Err(mismatch(index)),
            }
        }
        fn maybe_int(&self, index: usize) -> Result<Option<i64>, ServerError> {
            match self.at(index)? {
                Value::Null => Ok(None),
                _ => self.int(index).map(Some),
            }
        }
        fn bytes(&self, index: usize) -> Result<Vec<u8>, ServerError> {
            match self.at(index)? {
                Value::Bytes(value) => Ok(value.clone()),
                _ => Err(mismatch(index)),
            }
        }
        fn maybe_bytes(&self, index: usize) -> Result<Option<Vec<u8>>, ServerError> {
            match self.at(index)? {
                Value::Null => Ok(None),
                _ => self.bytes(index).map(Some),
            }
        }
        fn text(&self, index: usize) -> Result<String, ServerError> {
            match self.at(index)? {
                Value::Text(value) => Ok(value.clone()),
                _ => Err(mismatch(index)),
            }
        }
        fn flag(&self, index: usize) -> Result<bool, ServerError> {
            match self.at(index)? {
                Value::Int(0) => Ok(false),
                Value::Int(1) => Ok(true),
                _ => Err(mismatch(index)),
            }
        }
    }

    /// The row an account is stored as: the encoders' columns in [`ACCOUNT_COLUMNS`] order.
    fn account_row(account: &AccountRecord) -> Row {
        let (status, until) = status_columns(account.status).unwrap();
        Row(vec![
            Value::Bytes(account.account_id.to_vec()),
            Value::Bytes(account.lookup_key.to_vec()),
            Value::Bytes(account.opaque_record.clone()),
            Value::Text(status.into()),
            until.map_or(Value::Null, Value::Int),
            Value::Int(to_sql(account.recovery_epoch).unwrap()),
            Value::Int(to_sql(account.head.seq).unwrap()),
            Value::Bytes(account.head.hash.to_vec()),
            Value::Int(to_sql(account.created_at).unwrap()),
            Value::Bytes(account.opaque_salt.clone()),
        ])
    }

    fn stored_int() -> impl Strategy<Value = u64> {
        0..=i64::MAX as u64
    }

    fn any_status() -> impl Strategy<Value = AccountStatus> {
        prop_oneof![
            Just(AccountStatus::Active),
            Just(AccountStatus::Recovering),
            proptest::option::of(stored_int()).prop_map(|until| AccountStatus::Locked { until }),
        ]
    }

    prop_compose! {
        fn any_account()(
            account_id in any::<[u8; 16]>(),
            lookup_key in any::<[u8; 32]>(),
            opaque_record in proptest::collection::vec(any::<u8>(), 0..64),
            opaque_salt in proptest::collection::vec(any::<u8>(), 0..32),
            status in any_status(),
            recovery_epoch in stored_int(),
            seq in stored_int(),
            hash in any::<[u8; 32]>(),
            created_at in stored_int(),
        ) -> AccountRecord {
            AccountRecord {
                account_id,
                lookup_key,
                opaque_record,
                opaque_salt,
                status,
                recovery_epoch,
                head: StoredHead { seq, hash },
                created_at,
            }
        }
    }

    proptest! {
        #[test]
        fn an_account_reads_back_as_it_was_stored(account in any_account()) {
            prop_assert_eq!(super::account(&account_row(&account)).unwrap(), account);
        }

        #[test]
        fn integers_in_range_round_trip_and_others_are_refused(value in any::<u64>()) {
            match to_sql(value) {
                Ok(stored) => prop_assert_eq!(from_sql(stored).unwrap(), value),
                Err(error) => {
                    prop_assert!(value > i64::MAX as u64);
                    prop_assert!(matches!(error, ServerError::Storage(_)));
                }
            }
        }

        #[test]
        fn a_negative_integer_is_corruption(value in i64::MIN..0) {
            prop_assert!(matches!(from_sql(value), Err(ServerError::Storage(_))));
        }
    }

    #[test]
    fn a_corrupt_account_row_is_an_error_not_a_wrong_account() {
        let good = AccountRecord {
            account_id: [1; 16],
            lookup_key: [2; 32],
            opaque_record: vec![3],
            opaque_salt: Vec::new(),
            status: AccountStatus::Active,
            recovery_epoch: 0,
            head: StoredHead {
                seq: 0,
                hash: [4; 32],
            },
            created_at: 5,
        };
        let corrupt = |index: usize, value: Value| {
            let mut row = account_row(&good);
            row.0[index] = value;
            super::account(&row)
        };
        for (index, value) in [
            (0, Value::Bytes(vec![1; 15])),
            (3, Value::Text("deleted".into())),
            (5, Value::Int(-1)),
            (7, Value::Bytes(vec![4; 33])),
        ] {
            assert!(
                matches!(corrupt(index, value), Err(ServerError::Storage(_))),
                "column {index}"
            );
        }
    }

    #[test]
    fn a_locked_account_keeps_its_lapse_time_or_none() {
        for until in [None, Some(0), Some(i64::MAX as u64)] {
            let (status, column) = status_columns(AccountStatus::Locked { until }).unwrap();
            assert_eq!(status, "locked");
            assert_eq!(column.map(from_sql).transpose().unwrap(), until);
        }
        assert!(
            status_columns(AccountStatus::Locked {
                until: Some(u64::MAX)
            })
            .is_err()
        );
    }

    #[test]
    fn session_kinds_read_back_and_unknown_ones_are_refused() {
        let row = |kind: &str| {
            Row(vec![
                Value::Bytes(vec![1; 16]),
                Value::Bytes(vec![2; 32]),
                Value::Bytes(vec![3; 16]),
                Value::Text(kind.into()),
                Value::Int(10),
                Value::Int(20),
                Value::Int(10),
                Value::Int(0),
                Value::Int(0),
            ])
        };
        for kind in [SessionKind::Full, SessionKind::EnrollmentRestricted] {
            let session = session(&row(kind_column(kind)), [9; 16]).unwrap();
            assert_eq!((session.kind, session.session_id), (kind, [9; 16]));
            assert_eq!((session.issued_at, session.expires_at), (10, 20));
        }
        assert!(matches!(
            session(&row("admin"), [9; 16]),
            Err(ServerError::Storage(_))
        ));
    }

    #[test]
    fn a_pending_login_is_gone_at_its_expiry() {
        let row = Row(vec![
            Value::Bytes(vec![1; 32]),
            Value::Null,
            Value::Bytes(b"sealed".to_vec()),
            Value::Int(100),
        ]);
        let live = pending_login(&row, [7; 16], 99).unwrap().unwrap();
        assert_eq!((live.account_id, live.expires_at), (None, 100));
        assert_eq!(pending_login(&row, [7; 16], 100).unwrap(), None);
        assert_eq!(pending_login(&row, [7; 16], 101).unwrap(), None);
    }

    #[test]
    fn a_pending_recovery_is_gone_at_its_expiry() {
        let row = Row(vec![
            Value::Bytes(vec![1; 32]),
            Value::Bytes(vec![2; 16]),
            Value::Int(100),
        ]);
        let live = pending_recovery(&row, [7; 16], 99).unwrap().unwrap();
        assert_eq!(live.account_id, Some([2; 16]));
        assert_eq!(pending_recovery(&row, [7; 16], 100).unwrap(), None);
    }

    #[test]
    fn a_failure_count_past_u32_is_corruption() {
        let row = |failures: i64| Row(vec![Value::Int(failures), Value::Int(1), Value::Int(2)]);
        assert_eq!(
            rate_limit(&row(i64::from(u32::MAX))).unwrap().failures,
            u32::MAX
        );
        assert!(rate_limit(&row(i64::from(u32::MAX) + 1)).is_err());
        assert!(rate_limit(&row(-1)).is_err());
    }

    #[test]
    fn an_enrollment_reads_its_open_flag() {
        let row = |open: i64| {
            Row(vec![
                Value::Bytes(vec![1; 16]),
                Value::Bytes(vec![2; 16]),
                Value::Bytes(vec![3; 16]),
                Value::Int(4),
                Value::Int(open),
                Value::Int(5),
                Value::Int(6),
                Value::Int(7),
                Value::Bytes(b"relay".to_vec()),
            ])
        };
        assert!(enrollment(&row(1)).unwrap().open);
        let closed = enrollment(&row(0)).unwrap();
        assert!(!closed.open);
        assert_eq!(
            (closed.version, closed.expires_at, closed.purge_after),
            (4, 6, 7)
        );
    }

    #[test]
    fn a_limit_past_i64_means_no_limit() {
        assert_eq!(sql_limit(10), 10);
        assert_eq!(sql_limit(usize::MAX), i64::MAX);
    }
}
