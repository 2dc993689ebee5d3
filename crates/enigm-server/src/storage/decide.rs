//! The decisions of the check-then-write calls, shared by both backends: each backend reads
//! what a decision needs inside its transaction (with its own locking), asks the function
//! here, and writes only on [`Decision::Write`]. So the compare-and-swap rules are written and
//! tested once, and the two databases cannot drift apart on them.

use super::{
    AppendOutcome, EnrollmentInsert, EpochWrite, RotationOutcome, StoredEnrollment, StoredEntry,
    StoredHead, SyncKeyRotation,
};

/// What a check-then-write call does after its reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Decision<W, A> {
    /// Go on and write; what the writes need.
    Write(W),
    /// Write nothing and return this.
    Answer(A),
}

/// A ledger compare-and-swap ([`super::Storage::append_ledger`],
/// [`super::Storage::complete_recovery`]): with the account's head at `current`, appending
/// `entries` on `expected` conflicts unless the two are equal; otherwise the new head is the
/// last entry's (nothing to write for no entries).
pub(super) fn append(
    current: StoredHead,
    expected: StoredHead,
    entries: &[StoredEntry],
) -> Decision<StoredHead, AppendOutcome> {
    if current != expected {
        return Decision::Answer(AppendOutcome::Conflict(current));
    }
    match entries.last() {
        Some(last) => Decision::Write(StoredHead {
            seq: last.seq,
            hash: last.hash,
        }),
        None => Decision::Answer(AppendOutcome::Appended(current)),
    }
}

/// A sync-key rotation ([`super::Storage::rotate_sync_key`]) with the ledger at `head` and the
/// account's sync epoch at `current`: the head is checked first (a device added or removed
/// makes the copies wrong), then the epoch must be the next one.
pub(super) fn rotation(
    head: StoredHead,
    current: u64,
    rotation: &SyncKeyRotation,
) -> Decision<(), RotationOutcome> {
    if head != rotation.expected_head {
        return Decision::Answer(RotationOutcome::HeadMoved(head));
    }
    if current.checked_add(1) != Some(rotation.epoch) {
        return Decision::Answer(RotationOutcome::EpochTaken { current });
    }
    Decision::Write(())
}

/// A write accepted only under the account's current sync epoch
/// ([`super::Storage::add_sync_key_copy`], [`super::Storage::put_shared_item`]).
pub(super) fn epoch_write(current: u64, epoch: u64) -> Decision<(), EpochWrite> {
    if current == epoch {
        Decision::Write(())
    } else {
        Decision::Answer(EpochWrite::Stale { current })
    }
}

/// A new enrollment request ([`super::Storage::insert_enrollment`]): refused when its device
/// already has an open one (`device_open`, which is returned), else when the account already
/// has `max_open` open ones (`account_open` counts them).
pub(super) fn enrollment_insert(
    device_open: Option<StoredEnrollment>,
    account_open: u64,
    max_open: u64,
) -> Decision<(), EnrollmentInsert> {
    if let Some(existing) = device_open {
        return Decision::Answer(EnrollmentInsert::DeviceHasOpen(existing));
    }
    if account_open >= max_open {
        return Decision::Answer(EnrollmentInsert::LimitReached);
    }
    Decision::Write(())
}

/// Whether something that expires at `expires_at` is still usable at `now`: expiry is
/// inclusive, so nothing is honoured at the second it expires.
pub(super) fn live(expires_at: u64, now: u64) -> bool {
    now < expires_at
}

/// The last failure time a rate-limit counter may have to be purged at `now`
/// ([`super::Storage::purge_rate_limits`]): quiet for at least `decay_secs`.
pub(super) fn quiet_since(now: u64, decay_secs: u64) -> u64 {
    now.saturating_sub(decay_secs)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::SyncKeyCopy;
    use super::*;

    fn head(seq: u64, byte: u8) -> StoredHead {
        StoredHead {
            seq,
            hash: [byte; 32],
        }
    }

    fn entry(seq: u64, byte: u8) -> StoredEntry {
        StoredEntry {
            seq,
            hash: [byte; 32],
            bytes: vec![byte],
        }
    }

    fn any_head() -> impl Strategy<Value = StoredHead> {
        (0u64..4, 0u8..3).prop_map(|(seq, byte)| head(seq, byte))
    }

    proptest! {
        #[test]
        fn an_append_writes_only_on_the_expected_head(
            current in any_head(),
            expected in any_head(),
            seqs in proptest::collection::vec((0u64..100, any::<u8>()), 0..4),
        ) {
            let entries: Vec<StoredEntry> =
                seqs.iter().map(|(seq, byte)| entry(*seq, *byte)).collect();
            let decided = append(current, expected, &entries);
            if current != expected {
                prop_assert_eq!(decided, Decision::Answer(AppendOutcome::Conflict(current)));
            } else if let Some(last) = entries.last() {
                prop_assert_eq!(decided, Decision::Write(head(last.seq, last.hash[0])));
            } else {
                prop_assert_eq!(decided, Decision::Answer(AppendOutcome::Appended(current)));
            }
        }

        #[test]
        fn a_rotation_checks_the_head_first_then_the_next_epoch(
            current_head in any_head(),
            expected_head in any_head(),
            current in any::<u64>(),
            epoch in any::<u64>(),
        ) {
            let wanted = SyncKeyRotation {
                expected_head,
                epoch,
                copies: vec![SyncKeyCopy { device_id: [1; 16], sealed: vec![2] }],
            };
            let decided = rotation(current_head, current, &wanted);
            let expected = if current_head != expected_head {
                Decision::Answer(RotationOutcome::HeadMoved(current_head))
            } else if current.checked_add(1) == Some(epoch) {
                Decision::Write(())
            } else {
                Decision::Answer(RotationOutcome::EpochTaken { current })
            };
            prop_assert_eq!(decided, expected);
        }

        #[test]
        fn an_epoch_write_needs_the_current_epoch(current in 0u64..4, epoch in 0u64..4) {
            let decided = epoch_write(current, epoch);
            if current == epoch {
                prop_assert_eq!(decided, Decision::Write(()));
            } else {
                prop_assert_eq!(decided, Decision::Answer(EpochWrite::Stale { current }));
            }
        }

        #[test]
        fn open_enrollments_stop_at_the_limit(open in 0u64..8, max_open in 0u64..8) {
            let decided = enrollment_insert(None, open, max_open);
            if open < max_open {
                prop_assert_eq!(decided, Decision::Write(()));
            } else {
                prop_assert_eq!(decided, Decision::Answer(EnrollmentInsert::LimitReached));
            }
        }
    }

    #[test]
    fn a_rotation_past_the_last_epoch_is_taken_not_wrapped() {
        let wanted = SyncKeyRotation {
            expected_head: head(1, 1),
            epoch: 0,
            copies: Vec::new(),
        };
        assert_eq!(
            rotation(head(1, 1), u64::MAX, &wanted),
            Decision::Answer(RotationOutcome::EpochTaken { current: u64::MAX })
        );
    }

    #[test]
    fn a_device_with_an_open_request_gets_it_back_even_under_the_limit() {
        let existing = StoredEnrollment {
            id: [1; 16],
            account_id: [2; 16],
            device_id: [3; 16],
            version: 0,
            open: true,
            created_at: 0,
            expires_at: 10,
            purge_after: 20,
            data: Vec::new(),
        };
        assert_eq!(
            enrollment_insert(Some(existing.clone()), 0, 5),
            Decision::Answer(EnrollmentInsert::DeviceHasOpen(existing.clone()))
        );
        assert_eq!(
            enrollment_insert(Some(existing.clone()), 9, 5),
            Decision::Answer(EnrollmentInsert::DeviceHasOpen(existing))
        );
    }

    #[test]
    fn expiry_is_inclusive() {
        assert!(live(10, 9));
        assert!(!live(10, 10));
        assert!(!live(0, 0));
    }

    #[test]
    fn the_quiet_cutoff_never_goes_below_zero() {
        assert_eq!(quiet_since(100, 60), 40);
        assert_eq!(quiet_since(10, 60), 0);
    }
}
