//! A removed device learns who removed it, when and why (DESIGN §6); a service alone cannot
//! remove a device (DESIGN §14).
//!
//! The service refuses a removed device's every signed request (and ends its push socket) with
//! the ledger entry that removed it. The engine does not take the service's word for it: it
//! checks the entry with enigm-core's `verify_removal` against the ledger this device verified
//! itself. When the entry does not verify there (a remover this device has not seen yet, or no
//! entry at all), it syncs the ledger up to its removal (`GET /v1/ledger/removal`, the one read
//! the service serves a removed device) and verifies that instead: a removal the verified
//! ledger shows counts too. Only a verified removal erases the keys, session, sync
//! keys and Lock, and the profile's revoked mark records the remover and the reason. Otherwise
//! nothing is erased and the caller gets [`ClientError::ServiceRefusesDevice`]: a hostile
//! service can refuse to serve a device, but cannot make it destroy its own keys.

use enigm_core::identity::DeviceId;
use enigm_core::ledger::{
    LedgerEntry, LedgerState, Removal, RemovalCause, Remover, verify_removal,
};
use enigm_core::lifecycle::DeviceState;
use enigm_core::session::{DeviceName, RemovalReason, RemovedBy, Revocation};
use enigm_store::{RevokedMark, Store};

use crate::engine::{LedgerRead, now, unb64};
use crate::{ClientError, Engine};

impl Engine {
    /// Settles the service's refusal of this device as removed: erases this device when the
    /// removal verifies (`entry`, the service's proof, against the verified ledger, or the
    /// ledger synced again) and returns the error that says it,
    /// [`ClientError::DeviceRevoked`] or [`ClientError::DeviceReplaced`];
    /// [`ClientError::ServiceRefusesDevice`] with everything kept when it does not verify (or
    /// the store's error when the erasure failed).
    pub(crate) async fn removed(&self, entry: Option<String>) -> ClientError {
        match self.record_removal(entry).await {
            Ok(error) | Err(error) => error,
        }
    }

    async fn record_removal(&self, entry: Option<String>) -> Result<ClientError, ClientError> {
        // The same news may arrive twice (a refusal, then the push): the first mark stands.
        let known = self
            .with_store_blocking(|store| {
                Ok(match store.revoked()? {
                    Some(mark) => Err(removal_error(store, &mark)?),
                    None => Ok(store.device_secrets()?.map(|secrets| secrets.device_id())),
                })
            })
            .await?;
        let Some(me) = known? else {
            // No keys and no mark: nothing to erase, and nothing verified.
            return Ok(ClientError::ServiceRefusesDevice);
        };
        // A local ledger that no longer verifies proves nothing.
        let local = self.local_state().await.ok().flatten();
        let handed = match (&local, entry) {
            (Some((state, _)), Some(text)) => unb64(&text)
                .ok()
                .and_then(|bytes| LedgerEntry::decode(&bytes).ok())
                .and_then(|entry| verify_removal(state, me, &entry).ok()),
            (None | Some(_), None) | (None, Some(_)) => None,
        };
        let proven = match handed {
            Some(removal) => Some(removal),
            None => self.removal_in_synced_ledger(me).await,
        };
        let Some(removal) = proven else {
            tracing::warn!(
                "the service refuses this device, but no removing entry verifies against its \
                 own ledger; nothing is erased"
            );
            return Ok(ClientError::ServiceRefusesDevice);
        };
        let mark = mark_for(removal, now());
        let reason = mark.reason.as_str();
        let error = self
            .with_store_blocking(move |store| {
                store.mark_revoked(&mark)?;
                // The first mark stands (the same news may arrive twice).
                let kept = store.revoked()?.unwrap_or(mark);
                removal_error(store, &kept)
            })
            .await?;
        tracing::warn!(
            reason,
            "this device was removed from its account; its keys are erased"
        );
        Ok(error)
    }

    /// The removal of `me` as the ledger the service serves a removed device (up to the entry
    /// that removed it) shows it, verified and pinned like any sync; `None` when that read
    /// fails or the verified ledger does not show `me` removed.
    async fn removal_in_synced_ledger(&self, me: DeviceId) -> Option<Removal> {
        // Boxed: a sync can end up here (it settles refusals), and this sync is one.
        let state = match Box::pin(self.sync_state_with(LedgerRead::UpToRemoval)).await {
            Ok(state) => state,
            Err(error) => {
                tracing::info!(
                    code = error.code(),
                    "the ledger could not be synced to check the removal"
                );
                return None;
            }
        };
        let seq = removed_at(&state, me)?;
        let bytes = self
            .with_store_blocking(move |store| store.ledger_entries())
            .await
            .ok()?
            .into_iter()
            .nth(usize::try_from(seq).ok()?)?;
        let entry = LedgerEntry::decode(&bytes).ok()?;
        verify_removal(&state, me, &entry).ok()
    }
}

/// Where the verified `state` removed device `me` (revoked, replaced, or retired after either),
/// if it did.
fn removed_at(state: &LedgerState, me: DeviceId) -> Option<u64> {
    let record = state.device(&me)?;
    match record.state {
        DeviceState::Revoked | DeviceState::Replaced | DeviceState::Retired => record.removed_at,
        DeviceState::Pending
        | DeviceState::Review
        | DeviceState::Active
        | DeviceState::Suspended => None,
    }
}

/// The mark to record for a verified removal.
fn mark_for(removal: Removal, at: u64) -> RevokedMark {
    let Removal {
        by,
        cause,
        signed_at,
    } = removal;
    let (reason, replaced_by) = match cause {
        RemovalCause::Revoked(reason) => (reason.into(), None),
        RemovalCause::Replaced(new) => (RemovalReason::Replaced, Some(new)),
        RemovalCause::Recovered => (RemovalReason::Recovery, None),
        RemovalCause::Rejected => (RemovalReason::Rejected, None),
    };
    RevokedMark {
        at,
        signed_at,
        reason,
        by: Some(by),
        replaced_by,
    }
}

/// What the profile's mark says, with the devices named by the labels it last read.
pub(crate) fn revocation(
    store: &Store,
    mark: &RevokedMark,
) -> Result<Revocation, enigm_store::Error> {
    let name = |device: DeviceId| -> Result<DeviceName, enigm_store::Error> {
        Ok(DeviceName {
            label: store.label(&device)?,
            fingerprint: device.fingerprint(),
        })
    };
    Ok(Revocation {
        at: mark.at,
        signed_at: mark.signed_at,
        by: match mark.by {
            Some(Remover::Device(device)) => Some(RemovedBy::Device(name(device)?)),
            Some(Remover::Recovery) => Some(RemovedBy::Recovery),
            Some(Remover::Organization) => Some(RemovedBy::Organization),
            None => None,
        },
        reason: mark.reason,
        replaced_by: mark.replaced_by.map(name).transpose()?,
    })
}

/// The error a profile marked removed answers everything with.
pub(crate) fn removal_error(
    store: &Store,
    mark: &RevokedMark,
) -> Result<ClientError, enigm_store::Error> {
    let revocation = Box::new(revocation(store, mark)?);
    Ok(if mark.reason == RemovalReason::Replaced {
        ClientError::DeviceReplaced(revocation)
    } else {
        ClientError::DeviceRevoked(revocation)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use enigm_core::ledger::RevokeReason;

    #[test]
    fn the_mark_keeps_what_was_proven() {
        let laptop = DeviceId::from_bytes([1; 16]);
        let desk = DeviceId::from_bytes([2; 16]);
        let revoked = mark_for(
            Removal {
                by: Remover::Device(laptop),
                cause: RemovalCause::Revoked(RevokeReason::Stolen),
                signed_at: Some(5),
            },
            7,
        );
        assert_eq!(
            (
                revoked.reason,
                revoked.by,
                revoked.replaced_by,
                revoked.signed_at
            ),
            (
                RemovalReason::Stolen,
                Some(Remover::Device(laptop)),
                None,
                Some(5)
            )
        );
        let replaced = mark_for(
            Removal {
                by: Remover::Device(laptop),
                cause: RemovalCause::Replaced(desk),
                signed_at: None,
            },
            7,
        );
        assert_eq!(
            (replaced.reason, replaced.replaced_by),
            (RemovalReason::Replaced, Some(desk))
        );
        let recovered = mark_for(
            Removal {
                by: Remover::Recovery,
                cause: RemovalCause::Recovered,
                signed_at: None,
            },
            9,
        );
        assert_eq!(
            (recovered.at, recovered.reason, recovered.by),
            (9, RemovalReason::Recovery, Some(Remover::Recovery))
        );
    }
}
