//! A paused (suspended) device names who paused it (issue 16).
//!
//! Once suspended, a device can no longer read the ledger, so it cannot learn of its own
//! suspension the usual way. The service hands it the `Suspend` entry with `session_ended`; the
//! engine checks it with enigm-core's `verify_suspension` against the ledger this device
//! verified itself and keeps who signed it in the profile, so the paused screen can say it
//! after a restart too. An entry that does not verify names nobody. Resuming forgets it.

use enigm_core::identity::DeviceId;
use enigm_core::ledger::{LedgerEntry, Remover, verify_suspension};
use enigm_core::session::{DeviceName, RemovedBy};

use crate::engine::unb64;
use crate::{ClientError, Engine};

/// The store's `meta` key of who paused this device: `device:<hex id>` or `organization`;
/// empty when unknown or resumed.
const PAUSED_BY_KEY: &str = "paused_by";

impl Engine {
    /// Keeps who signed `entry`, the service's copy of the `Suspend` entry of this device, once
    /// it verifies against this device's own ledger; forgets any earlier pauser otherwise.
    ///
    /// # Errors
    /// The store's errors.
    pub(crate) async fn note_pauser(&self, entry: Option<String>) -> Result<(), ClientError> {
        let me = self
            .with_store_blocking(|store| Ok(store.device_secrets()?.map(|d| d.device_id())))
            .await?;
        let local = self.local_state().await.ok().flatten();
        let by = match (me, local, entry) {
            (Some(me), Some((state, _)), Some(text)) => unb64(&text)
                .ok()
                .and_then(|bytes| LedgerEntry::decode(&bytes).ok())
                .and_then(|entry| verify_suspension(&state, me, &entry).ok()),
            _ => None,
        };
        if by.is_none() {
            tracing::info!("no suspending entry verifies; the paused screen names nobody");
        }
        let saved = match by {
            Some(Remover::Device(id)) => format!("device:{}", id.to_hex()),
            Some(Remover::Organization) => "organization".to_owned(),
            Some(Remover::Recovery) | None => String::new(),
        };
        self.with_store_blocking(move |store| store.set_meta(PAUSED_BY_KEY, saved.as_bytes()))
            .await
    }

    /// Forgets who paused this device (it was resumed).
    ///
    /// # Errors
    /// The store's errors.
    pub(crate) async fn forget_pauser(&self) -> Result<(), ClientError> {
        self.with_store_blocking(|store| store.set_meta(PAUSED_BY_KEY, b""))
            .await
    }

    /// Who paused this device, as it verified the suspending entry (named by the label it last
    /// read); `None` when unknown or not paused.
    ///
    /// # Errors
    /// The store's errors.
    pub async fn paused_by(&self) -> Result<Option<RemovedBy>, ClientError> {
        self.with_store_blocking(|store| {
            let saved = store.meta(PAUSED_BY_KEY)?.unwrap_or_default();
            Ok(match saved.as_slice() {
                b"organization" => Some(RemovedBy::Organization),
                other => match other
                    .strip_prefix(b"device:")
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(DeviceId::from_hex)
                {
                    Some(device) => Some(RemovedBy::Device(DeviceName {
                        label: store.label(&device)?,
                        fingerprint: device.fingerprint(),
                    })),
                    None => None,
                },
            })
        })
        .await
    }
}
