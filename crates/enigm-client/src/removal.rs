//! A removed device learns who removed it, when and why (DESIGN §6).
//!
//! The service refuses a removed device's every signed request (and ends its push socket) with
//! the ledger entry that removed it. The engine does not take the service's word for who did
//! it: it checks the entry with enigm-core's `verify_removal` against the ledger this device
//! verified itself. Verified, the profile's revoked mark records the remover and the reason;
//! otherwise only that the device was removed (the service refusing it is reason enough to
//! stop). Either way the keys are erased.

use enigm_core::identity::DeviceId;
use enigm_core::ledger::{LedgerEntry, Removal, RemovalCause, Remover, verify_removal};
use enigm_core::session::{DeviceName, RemovedBy, Revocation};
use enigm_store::{RevokedMark, Store};

use crate::engine::{now, unb64};
use crate::{ClientError, Engine};

/// The mark's reason when a newer device replaced this one.
pub(crate) const REPLACED: &str = "replaced";

impl Engine {
    /// Erases this device after the service refused it as removed (`replaced`: its code was
    /// `device_replaced`), recording what `entry` proves, and returns the error that says it:
    /// [`ClientError::DeviceRevoked`] or [`ClientError::DeviceReplaced`] (or the store's error
    /// when the erasure failed).
    pub(crate) async fn removed(&self, replaced: bool, entry: Option<String>) -> ClientError {
        match self.record_removal(replaced, entry).await {
            Ok(error) | Err(error) => error,
        }
    }

    async fn record_removal(
        &self,
        replaced: bool,
        entry: Option<String>,
    ) -> Result<ClientError, ClientError> {
        // A local ledger that no longer verifies proves nothing; the removal stands anyway.
        let local = self.local_state().await.ok().flatten();
        let me = self
            .with_store_blocking(|store| store.device_secrets())
            .await?
            .map(|secrets| secrets.device_id());
        let proven = match (local, me, entry) {
            (Some((state, _)), Some(me), Some(text)) => unb64(&text)
                .ok()
                .and_then(|bytes| LedgerEntry::decode(&bytes).ok())
                .and_then(|entry| verify_removal(&state, me, &entry).ok()),
            (None | Some(_), None | Some(_), None | Some(_)) => None,
        };
        if proven.is_none() {
            tracing::warn!(
                "the service gave no removing entry this device could verify; who removed it \
                 stays unknown"
            );
        }
        let mark = mark_for(proven, replaced, now());
        let reason = mark.reason.clone();
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
}

/// The mark to record: what `proven` says, or only that the device was removed.
fn mark_for(proven: Option<Removal>, replaced: bool, at: u64) -> RevokedMark {
    let Some(Removal { by, cause }) = proven else {
        let reason = if replaced { REPLACED } else { "revoked" };
        return RevokedMark {
            at,
            reason: reason.to_owned(),
            by: None,
            replaced_by: None,
        };
    };
    let (reason, replaced_by) = match cause {
        RemovalCause::Revoked(reason) => (reason.as_str(), None),
        RemovalCause::Replaced(new) => (REPLACED, Some(new)),
        RemovalCause::Recovered => ("recovery", None),
        RemovalCause::Rejected => ("rejected", None),
    };
    RevokedMark {
        at,
        reason: reason.to_owned(),
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
        by: match mark.by {
            Some(Remover::Device(device)) => Some(RemovedBy::Device(name(device)?)),
            Some(Remover::Recovery) => Some(RemovedBy::Recovery),
            Some(Remover::Organization) => Some(RemovedBy::Organization),
            None => None,
        },
        reason: mark.reason.clone(),
        replaced_by: mark.replaced_by.map(name).transpose()?,
    })
}

/// The error a profile marked removed answers everything with.
pub(crate) fn removal_error(
    store: &Store,
    mark: &RevokedMark,
) -> Result<ClientError, enigm_store::Error> {
    let revocation = Box::new(revocation(store, mark)?);
    Ok(if mark.reason == REPLACED {
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
    fn the_mark_keeps_only_what_was_proven() {
        let laptop = DeviceId::from_bytes([1; 16]);
        let desk = DeviceId::from_bytes([2; 16]);
        let revoked = mark_for(
            Some(Removal {
                by: Remover::Device(laptop),
                cause: RemovalCause::Revoked(RevokeReason::Stolen),
            }),
            false,
            7,
        );
        assert_eq!(
            (revoked.reason.as_str(), revoked.by, revoked.replaced_by),
            ("stolen", Some(Remover::Device(laptop)), None)
        );
        let replaced = mark_for(
            Some(Removal {
                by: Remover::Device(laptop),
                cause: RemovalCause::Replaced(desk),
            }),
            false,
            7,
        );
        assert_eq!(
            (replaced.reason.as_str(), replaced.replaced_by),
            (REPLACED, Some(desk))
        );
        // Unproven: the service's code decides only between revoked and replaced.
        let unproven = mark_for(None, true, 9);
        assert_eq!(
            (unproven.at, unproven.reason.as_str(), unproven.by),
            (9, REPLACED, None)
        );
        assert_eq!(mark_for(None, false, 9).reason, "revoked");
    }
}
