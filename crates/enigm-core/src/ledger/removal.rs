//! Proof of a removal (DESIGN §6): the ledger entry that removed a device, checked by that
//! device against the ledger it verified itself.
//!
//! A removed device can no longer read the ledger, so the service hands it the one entry that
//! removed it. The device does not take the service's word for it: [`verify_removal`] accepts
//! the entry only when it names the device as removed and carries a valid signature of the
//! one who may make that change, with the key the device's own verified ledger holds for them.

use crate::Error;
use crate::identity::{DeviceId, SigningPublicKey};

use super::entry::{EntryKind, LedgerEntry, RevokeReason, Signer};
use super::state::LedgerState;

/// Who removed a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remover {
    /// A device of the account.
    Device(DeviceId),
    /// The account's recovery key (the recovery phrase was used).
    Recovery,
    /// The organization that manages the account.
    Organization,
}

/// How a device was removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemovalCause {
    /// Revoked, for this reason.
    Revoked(RevokeReason),
    /// Replaced by this newer device.
    Replaced(DeviceId),
    /// Revoked by a recovery that marked it lost.
    Recovered,
    /// Rejected by the organization's review.
    Rejected,
}

/// A verified removal: who did it and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Removal {
    /// Who removed the device.
    pub by: Remover,
    /// How.
    pub cause: RemovalCause,
    /// When the removing entry was made, by its signer's clock (`LedgerEntry::signed_at`).
    pub signed_at: Option<u64>,
}

/// Checks that `entry` removes `device` and is signed by who made the removal, under the key
/// `state` (the device's own verified ledger) holds for them.
///
/// # Errors
/// [`Error::LedgerUnknownDevice`] when the entry does not remove `device`;
/// [`Error::LedgerMissingSignature`] / [`Error::LedgerUnknownSigner`] when the remover's
/// signature is absent or its key is not in `state`; [`Error::LedgerBadSignature`] when it
/// does not verify.
pub fn verify_removal(
    state: &LedgerState,
    device: DeviceId,
    entry: &LedgerEntry,
) -> Result<Removal, Error> {
    let seq = entry.seq;
    let (by, cause) = match &entry.kind {
        EntryKind::Revoke {
            device: revoked,
            reason,
        } if *revoked == device => (any_signer(entry)?, RemovalCause::Revoked(*reason)),
        EntryKind::AddDevice {
            device: new,
            approved_by,
            replaces: Some(old),
        } if *old == device => (
            Remover::Device(*approved_by),
            RemovalCause::Replaced(new.device_id()),
        ),
        EntryKind::Recover { revoke, .. } if revoke.contains(&device) => {
            (Remover::Recovery, RemovalCause::Recovered)
        }
        EntryKind::Review {
            device: reviewed,
            approve: false,
        } if *reviewed == device => (Remover::Organization, RemovalCause::Rejected),
        EntryKind::Review {
            device: reviewed,
            approve: true,
        } if state
            .device(reviewed)
            .is_some_and(|record| record.replaces == Some(device)) =>
        {
            (Remover::Organization, RemovalCause::Replaced(*reviewed))
        }
        EntryKind::Genesis { .. }
        | EntryKind::AddDevice { .. }
        | EntryKind::Suspend { .. }
        | EntryKind::Resume { .. }
        | EntryKind::Revoke { .. }
        | EntryKind::Retire { .. }
        | EntryKind::Review { .. }
        | EntryKind::Recover { .. }
        | EntryKind::RotateRecovery { .. }
        | EntryKind::JoinOrganization { .. }
        | EntryKind::LeaveOrganization => return Err(Error::LedgerUnknownDevice { seq }),
    };
    let (signer, key) = match by {
        Remover::Device(id) => (
            Signer::Device(id),
            state.device(&id).map(|record| record.keys.signing),
        ),
        Remover::Recovery => (Signer::Recovery, Some(*state.recovery_key())),
        Remover::Organization => (
            Signer::Organization,
            state.organization().map(|org| org.key),
        ),
    };
    check_signature(state, entry, signer, key)?;
    Ok(Removal {
        by,
        cause,
        signed_at: entry.signed_at,
    })
}

/// Checks that `entry` suspends `device` and is signed by the device or organization that
/// suspended it, under the key `state` (the device's own verified ledger) holds for them: a
/// paused device names who paused it from this, not from the service's word.
///
/// # Errors
/// As [`verify_removal`]: [`Error::LedgerUnknownDevice`] when the entry does not suspend
/// `device`; [`Error::LedgerMissingSignature`], [`Error::LedgerUnknownSigner`],
/// [`Error::LedgerBadSignature`].
pub fn verify_suspension(
    state: &LedgerState,
    device: DeviceId,
    entry: &LedgerEntry,
) -> Result<Remover, Error> {
    let seq = entry.seq;
    if !matches!(&entry.kind, EntryKind::Suspend { device: paused } if *paused == device) {
        return Err(Error::LedgerUnknownDevice { seq });
    }
    let by = any_signer(entry)?;
    let (signer, key) = match by {
        Remover::Device(id) => (
            Signer::Device(id),
            state.device(&id).map(|record| record.keys.signing),
        ),
        Remover::Organization => (
            Signer::Organization,
            state.organization().map(|org| org.key),
        ),
        Remover::Recovery => return Err(Error::LedgerUnknownSigner { seq }),
    };
    check_signature(state, entry, signer, key)?;
    Ok(by)
}

/// Checks `signer`'s signature on `entry` under `key` (none: the signer is unknown to `state`).
fn check_signature(
    state: &LedgerState,
    entry: &LedgerEntry,
    signer: Signer,
    key: Option<SigningPublicKey>,
) -> Result<(), Error> {
    let seq = entry.seq;
    let key = key.ok_or(Error::LedgerUnknownSigner { seq })?;
    let signature = entry
        .signatures
        .iter()
        .find(|signature| signature.signer == signer)
        .ok_or(Error::LedgerMissingSignature { seq })?;
    key.verify(
        &entry.signing_message(state.account_id()),
        &signature.signature,
    )
    .map_err(|_| Error::LedgerBadSignature { seq })
}

/// The remover of a revocation: the device or the organization that signed it.
fn any_signer(entry: &LedgerEntry) -> Result<Remover, Error> {
    entry
        .signatures
        .iter()
        .find_map(|signature| match signature.signer {
            Signer::Device(id) => Some(Remover::Device(id)),
            Signer::Organization => Some(Remover::Organization),
            Signer::Recovery | Signer::NewRecovery => None,
        })
        .ok_or(Error::LedgerMissingSignature { seq: entry.seq })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::test_support::{History, Key, device, recovery_key};

    fn id(n: u8) -> DeviceId {
        device(n).device_id()
    }

    #[test]
    fn a_signed_suspension_names_its_signer_and_nothing_else_passes_for_one() {
        let mut history = History::new();
        history.add(2, 1).unwrap();
        history.add(3, 1).unwrap();
        let before = history.state.clone();
        let suspend = history.draft(
            EntryKind::Suspend { device: id(2) },
            &[Key::Device(&device(1))],
        );
        assert_eq!(
            verify_suspension(&before, id(2), &suspend),
            Ok(Remover::Device(id(1)))
        );
        // Another device's suspension, a revocation, or one signed by a stranger.
        assert!(verify_suspension(&before, id(3), &suspend).is_err());
        let revoke = history.draft(
            EntryKind::Revoke {
                device: id(2),
                reason: RevokeReason::Lost,
            },
            &[Key::Device(&device(1))],
        );
        assert!(verify_suspension(&before, id(2), &revoke).is_err());
        let forged = history.draft(
            EntryKind::Suspend { device: id(2) },
            &[Key::Device(&device(9))],
        );
        assert!(verify_suspension(&before, id(2), &forged).is_err());
    }

    #[test]
    fn a_signed_revocation_names_its_signer_and_reason() {
        let history = History::with_two_devices();
        let before = history.state.clone();
        let revoke = history.draft(
            EntryKind::Revoke {
                device: id(2),
                reason: RevokeReason::Lost,
            },
            &[Key::Device(&device(1))],
        );
        assert_eq!(
            verify_removal(&before, id(2), &revoke),
            Ok(Removal {
                by: Remover::Device(id(1)),
                cause: RemovalCause::Revoked(RevokeReason::Lost),
                signed_at: None,
            })
        );
        // It does not remove device 1, whatever the service says.
        assert_eq!(
            verify_removal(&before, id(1), &revoke),
            Err(Error::LedgerUnknownDevice { seq: revoke.seq })
        );
    }

    #[test]
    fn a_forged_or_foreign_signature_proves_nothing() {
        let history = History::with_two_devices();
        let state = history.state.clone();
        let kind = EntryKind::Revoke {
            device: id(2),
            reason: RevokeReason::Stolen,
        };
        // Signed by a device the ledger does not know.
        let stranger = history.draft(kind.clone(), &[Key::Device(&device(9))]);
        assert_eq!(
            verify_removal(&state, id(2), &stranger),
            Err(Error::LedgerUnknownSigner { seq: stranger.seq })
        );
        // Claiming device 1 signed it, with device 9's signature.
        let mut forged = history.draft(kind, &[Key::Device(&device(1))]);
        let bad = history.draft(
            EntryKind::Revoke {
                device: id(2),
                reason: RevokeReason::Lost,
            },
            &[Key::Device(&device(1))],
        );
        forged.signatures = bad.signatures;
        assert_eq!(
            verify_removal(&state, id(2), &forged),
            Err(Error::LedgerBadSignature { seq: forged.seq })
        );
    }

    #[test]
    fn a_replacement_names_the_approver_and_the_new_device() {
        let history = History::with_two_devices();
        let state = history.state.clone();
        let add = history.draft(
            EntryKind::AddDevice {
                device: device(3).public(),
                approved_by: id(1),
                replaces: Some(id(2)),
            },
            &[Key::Device(&device(1)), Key::Device(&device(3))],
        );
        assert_eq!(
            verify_removal(&state, id(2), &add),
            Ok(Removal {
                by: Remover::Device(id(1)),
                cause: RemovalCause::Replaced(id(3)),
                signed_at: None,
            })
        );
        assert!(verify_removal(&state, id(1), &add).is_err());
    }

    #[test]
    fn a_recovery_is_checked_with_the_recovery_key() {
        let history = History::with_two_devices();
        let state = history.state.clone();
        let kind = EntryKind::Recover {
            new_device: device(3).public(),
            revoke: vec![id(2)],
        };
        let recover = history.draft(
            kind.clone(),
            &[
                Key::Raw(Signer::Recovery, &recovery_key(1)),
                Key::Device(&device(3)),
            ],
        );
        assert_eq!(
            verify_removal(&state, id(2), &recover),
            Ok(Removal {
                by: Remover::Recovery,
                cause: RemovalCause::Recovered,
                signed_at: None,
            })
        );
        let other = recovery_key(8);
        let forged = history.draft(
            kind,
            &[Key::Raw(Signer::Recovery, &other), Key::Device(&device(3))],
        );
        assert_eq!(
            verify_removal(&state, id(2), &forged),
            Err(Error::LedgerBadSignature { seq: forged.seq })
        );
    }
}
