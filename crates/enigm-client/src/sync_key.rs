//! The account sync key in the engine (DESIGN §3): creating epoch 1 at registration, rotating
//! it after a device is suspended or revoked, fetching this device's copy, and the device labels
//! the devices share encrypted under it.
//!
//! Nothing here takes the service's word for a key: a rotation seals the new key to the public
//! keys of the devices active in the ledger this engine verified itself and signs each copy
//! with this device's key, stating the head it verified; a fetched copy is saved only once its
//! signer is a device active in this engine's own verified ledger at that head (and still),
//! its signature verifies, and it opens with this device's own secret and names this device
//! and the epoch the service claims ([`ClientError::SyncKeyRefused`] otherwise, and nothing is
//! saved). The service sees signed, sealed copies and ciphertext only.
//!
//! The head a copy's signer names is also how devices compare what the service shows them: a
//! validly signed copy naming a ledger entry the service does not show this device (a later
//! one, or another one at that seq) means the service withholds or forks the ledger. The
//! engine keeps that head as a warning ([`Engine::withheld_head`]) and every sync refuses with
//! [`ClientError::LedgerWithheld`] until the service shows that entry.

use enigm_core::identity::{DeviceId, DeviceSecrets};
use enigm_core::ledger::{EntryHash, Head, LedgerEntry, LedgerState};
use enigm_core::lifecycle::DeviceState;
use enigm_core::sync_copy::{SignedSyncKey, check_peer_head};
use enigm_core::sync_key::{SealedItem, SyncKey};
use enigm_proto::{
    ErrorCode, MissingCopies, RotateSyncKey, RotatedSyncKey, SealedCopy, SharedItems, SharedWrite,
    SharedWritten, SyncKeyCopyReply,
};
use rand_core::OsRng;
use reqwest::Method;

use crate::engine::{b64, unb64};
use crate::view::DeviceList;
use crate::{ClientError, DeviceView, Engine};

/// The longest label, in characters.
pub(crate) const MAX_LABEL_CHARS: usize = 64;

/// How often a rotation is retried after losing a race (another device rotated, or the ledger
/// moved).
const MAX_ROTATION_ATTEMPTS: usize = 3;
/// Store meta key: `1` while a rotation a device change requires has not reached the service.
const ROTATION_OWED: &str = "sync_key_rotation_owed";

/// The prefix of a device label's item name.
const LABEL_PREFIX: &str = "label.";
/// Store meta key: the ledger head (`seq(8, BE) || hash(32)`) another device signed that the
/// service did not show this device; empty or absent when there is none.
const WITHHELD_HEAD: &str = "ledger_withheld_head";

/// A head stored under [`WITHHELD_HEAD`].
fn decode_head(bytes: &[u8]) -> Option<Head> {
    let (seq, hash) = bytes.split_first_chunk::<8>()?;
    let hash: [u8; 32] = hash.try_into().ok()?;
    Some(Head {
        seq: u64::from_be_bytes(*seq),
        hash: EntryHash(hash),
    })
}

/// [`ClientError::LedgerWithheld`] for a head another device saw, against `entries`.
fn withheld(seen: &Head, entries: &[LedgerEntry]) -> ClientError {
    ClientError::LedgerWithheld {
        seen: seen.seq,
        served: entries.last().map_or(0, |entry| entry.seq),
    }
}

/// The item name of a device's label.
fn label_item(device: &DeviceId) -> String {
    format!("{LABEL_PREFIX}{}", device.to_hex())
}

/// A label as users type it, trimmed; refused when empty, too long or with control characters.
///
/// # Errors
/// [`ClientError::InvalidLabel`].
pub(crate) fn normalize_label(text: &str) -> Result<String, ClientError> {
    let label = text.trim();
    if label.is_empty() {
        return Err(ClientError::InvalidLabel("a label cannot be empty"));
    }
    if label.chars().count() > MAX_LABEL_CHARS {
        return Err(ClientError::InvalidLabel(
            "a label is at most 64 characters long",
        ));
    }
    if label.chars().any(char::is_control) {
        return Err(ClientError::InvalidLabel(
            "a label cannot contain control characters",
        ));
    }
    Ok(label.to_owned())
}

impl Engine {
    /// The account id and this device's secrets.
    async fn identity(&self) -> Result<([u8; 16], DeviceSecrets), ClientError> {
        let (account_id, secrets) = self
            .with_store_blocking(|store| Ok((store.account_id()?, store.device_secrets()?)))
            .await?;
        match (account_id, secrets) {
            (Some(account_id), Some(secrets)) => Ok((account_id, secrets)),
            (None, _) | (_, None) => Err(ClientError::NoAccount),
        }
    }

    /// The sync epoch this device holds (0 for none yet).
    ///
    /// # Errors
    /// The store's errors.
    pub async fn sync_epoch(&self) -> Result<u64, ClientError> {
        let key = self.with_store_blocking(|store| store.sync_key()).await?;
        Ok(key.map_or(0, |key| key.epoch()))
    }

    /// Fetches this device's newest copy of the sync key, checks who signed it, opens it and
    /// saves it. Returns the epoch this device now holds (0 when the service has no copy for
    /// it). A copy of an epoch this device already holds is left unopened: it could only repeat
    /// the key this device has (and its signer may have left the account since).
    ///
    /// # Errors
    /// [`ClientError::SyncKeyRefused`] when the copy is malformed or unsigned, its signer is
    /// not a device active in this engine's verified ledger at the head it names (and still),
    /// its signature does not verify, or it names another device or another epoch than the
    /// service says, or does not open (nothing is saved); [`ClientError::LedgerWithheld`] when
    /// the copy's signer saw a ledger head the service does not show this device (even for an
    /// epoch already held); the service's refusals.
    pub async fn refresh_sync_key(&self) -> Result<u64, ClientError> {
        let reply: Result<SyncKeyCopyReply, ClientError> =
            self.signed(Method::GET, "/v1/sync-keys/mine", None).await;
        let reply = match reply {
            Err(error) if error.service_code() == Some(&ErrorCode::NoSyncKey) => {
                return self.sync_epoch().await;
            }
            other => other?,
        };
        let copy = SignedSyncKey::from_bytes(&unb64(&reply.sealed)?)
            .map_err(ClientError::SyncKeyRefused)?;
        if copy.epoch() != reply.epoch {
            return Err(ClientError::SyncKeyRefused(
                enigm_core::Error::SyncKeyMalformed,
            ));
        }
        let epoch = copy.epoch();
        let held = self
            .with_store_blocking(move |store| store.sync_key_at(epoch))
            .await?;
        if held.is_some() {
            // Still a signed statement of the head its signer saw.
            return match self.verify_copy(&copy).await {
                Ok(()) | Err(ClientError::SyncKeyRefused(_)) => self.sync_epoch().await,
                Err(error) => Err(error),
            };
        }
        let key = self.open_copy(&copy).await?;
        let epoch = key.epoch();
        self.with_store_blocking(move |store| store.save_sync_key(&key))
            .await?;
        Ok(self.sync_epoch().await?.max(epoch))
    }

    /// Opens a copy of the sync key handed to this device, once [`Engine::verify_copy`]
    /// accepts it.
    ///
    /// # Errors
    /// As [`Engine::verify_copy`]; [`ClientError::SyncKeyRefused`] when it does not open.
    pub(crate) async fn open_copy(&self, copy: &SignedSyncKey) -> Result<SyncKey, ClientError> {
        self.verify_copy(copy).await?;
        let (account_id, secrets) = self.identity().await?;
        copy.sealed()
            .open(&account_id, &secrets)
            .map_err(ClientError::SyncKeyRefused)
    }

    /// Checks a copy with [`SignedSyncKey::verify`] against the ledger this engine verified.
    /// A validly signed copy naming a head this engine has not verified (its signer saw a
    /// newer ledger) is checked again after a sync; if the service still does not show that
    /// head, or shows another entry there, the service is withholding the ledger from this
    /// device: the head is kept as a warning that [`Engine::check_withheld`] enforces.
    ///
    /// # Errors
    /// [`ClientError::LedgerWithheld`]; [`ClientError::SyncKeyRefused`] when the copy's signer,
    /// signature or head is refused; the ledger's and the store's errors.
    async fn verify_copy(&self, copy: &SignedSyncKey) -> Result<(), ClientError> {
        let (account_id, _) = self.identity().await?;
        let mut verified = copy.verify(&account_id, &self.verified_entries().await?);
        if matches!(
            verified,
            Err(enigm_core::Error::SyncKeyCopyHeadAhead { .. })
        ) {
            self.sync_state().await?;
            verified = copy.verify(&account_id, &self.verified_entries().await?);
        }
        match verified {
            Ok(()) => Ok(()),
            Err(
                enigm_core::Error::SyncKeyCopyHeadAhead { .. }
                | enigm_core::Error::SyncKeyCopyHeadForked { .. },
            ) => {
                let seen = copy.head();
                let mut bytes = seen.seq.to_be_bytes().to_vec();
                bytes.extend_from_slice(&seen.hash.0);
                self.with_store_blocking(move |store| store.set_meta(WITHHELD_HEAD, &bytes))
                    .await?;
                tracing::warn!(
                    seen = seen.seq,
                    "another device signed a ledger head the service does not show this device"
                );
                let entries = self.verified_entries().await?;
                Err(withheld(&seen, &entries))
            }
            Err(error) => Err(ClientError::SyncKeyRefused(error)),
        }
    }

    /// The warning state: the seq of a ledger entry another device signed that the service has
    /// not shown this device yet (every sync refuses with [`ClientError::LedgerWithheld`] while
    /// there is one), or `None`.
    ///
    /// # Errors
    /// The store's errors.
    pub async fn withheld_head(&self) -> Result<Option<u64>, ClientError> {
        let stored = self
            .with_store_blocking(|store| store.meta(WITHHELD_HEAD))
            .await?
            .unwrap_or_default();
        Ok(decode_head(&stored).map(|head| head.seq))
    }

    /// Refuses to go on while a head another device signed ([`Engine::verify_copy`]) is not in
    /// the ledger this engine verified, and lifts the warning once it is. Every sync runs it,
    /// so nothing that depends on the device list proceeds on a ledger the service withholds.
    ///
    /// # Errors
    /// [`ClientError::LedgerWithheld`]; the store's errors.
    pub(crate) async fn check_withheld(&self) -> Result<(), ClientError> {
        let stored = self
            .with_store_blocking(|store| store.meta(WITHHELD_HEAD))
            .await?
            .unwrap_or_default();
        let Some(seen) = decode_head(&stored) else {
            return Ok(());
        };
        let entries = self.verified_entries().await?;
        if check_peer_head(&entries, &seen).is_err() {
            return Err(withheld(&seen, &entries));
        }
        self.with_store_blocking(|store| store.set_meta(WITHHELD_HEAD, b""))
            .await?;
        tracing::info!(
            seq = seen.seq,
            "the service now shows the head another device saw"
        );
        Ok(())
    }

    /// The ledger entries this engine verified and pinned, from genesis.
    async fn verified_entries(&self) -> Result<Vec<LedgerEntry>, ClientError> {
        let stored = self
            .with_store_blocking(|store| store.ledger_entries())
            .await?;
        stored
            .iter()
            .map(|bytes| LedgerEntry::decode(bytes))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ClientError::LedgerRejected)
    }

    /// Starts the next sync-key epoch: a new key sealed to every device active in the locally
    /// verified ledger, uploaded, saved, and the device labels re-encrypted under it. Returns
    /// the new epoch. Call it after every suspend, revoke, replace and recovery.
    ///
    /// # Errors
    /// [`ClientError::SyncKeyRefused`] for a hostile copy met while catching up; the ledger's
    /// and the service's refusals (after [`MAX_ROTATION_ATTEMPTS`] lost races, the last one).
    pub async fn rotate_sync_key(&self) -> Result<u64, ClientError> {
        let (account_id, secrets) = self.identity().await?;
        let mut attempt = 0;
        // A device without a copy (a recovered one) learns the account's epoch from the
        // service's refusal; epochs only grow, so building on it is safe.
        let mut newest_elsewhere = 0;
        loop {
            attempt += 1;
            let state = self.sync_state().await?;
            let held = self.refresh_sync_key().await?;
            let key = SyncKey::generate(&mut OsRng, held.max(newest_elsewhere).saturating_add(1));
            let copies: Vec<SealedCopy> = state
                .devices()
                .filter(|(_, record)| record.state == DeviceState::Active)
                .map(|(id, record)| {
                    let sealed = SignedSyncKey::seal(
                        &key,
                        &mut OsRng,
                        &account_id,
                        &record.keys,
                        &secrets,
                        state.head(),
                    );
                    SealedCopy {
                        device_id: id.to_hex(),
                        sealed: b64(sealed.as_bytes()),
                    }
                })
                .collect();
            let body = RotateSyncKey {
                epoch: key.epoch(),
                copies,
            };
            let posted: Result<RotatedSyncKey, ClientError> =
                self.signed_json(Method::POST, "/v1/sync-keys", &body).await;
            match posted {
                Ok(_) => break self.adopt_rotation(key, &state).await,
                Err(ClientError::SyncEpochConflict { current })
                    if attempt < MAX_ROTATION_ATTEMPTS =>
                {
                    newest_elsewhere = current;
                }
                Err(error)
                    if attempt < MAX_ROTATION_ATTEMPTS
                        && matches!(
                            error.service_code(),
                            Some(ErrorCode::LedgerConflict | ErrorCode::SyncKeyCopiesMismatch)
                        ) => {}
                Err(error) => break Err(error),
            }
        }
    }

    /// Rotates after a change that removed trust (or restored it), first recording in the
    /// store that a rotation is owed: if the service refuses or cannot be reached, the ledger
    /// change stands and the next sync rotates ([`Engine::settle_owed_rotation`]), so a
    /// removed device never keeps the current key for long.
    ///
    /// # Errors
    /// As [`Engine::rotate_sync_key`]; the rotation stays owed.
    pub(crate) async fn rotate_after_change(&self) -> Result<u64, ClientError> {
        self.with_store_blocking(|store| store.set_meta(ROTATION_OWED, b"1"))
            .await?;
        let epoch = self.rotate_sync_key().await?;
        self.with_store_blocking(|store| store.set_meta(ROTATION_OWED, b"0"))
            .await?;
        Ok(epoch)
    }

    /// Performs a rotation an earlier change left owed, if any.
    ///
    /// # Errors
    /// As [`Engine::rotate_sync_key`]; the rotation stays owed.
    pub(crate) async fn settle_owed_rotation(&self) -> Result<(), ClientError> {
        let owed = self
            .with_store_blocking(|store| store.meta(ROTATION_OWED))
            .await?;
        if owed.as_deref() == Some(b"1".as_slice()) {
            self.rotate_after_change().await?;
            tracing::info!("owed sync key rotation done");
        }
        Ok(())
    }

    /// Rotates when a device active in `state` (this engine's verified ledger) holds no copy of
    /// the current epoch, so it gets one: an approver that died between adding a device and
    /// handing it the key leaves it active without the key
    /// ([`ClientError::EnrolledWithoutSyncKey`]). Only a device holding the current epoch does
    /// it; the service's list is a hint checked against the verified ledger, and the worst a
    /// lying service gets is one rotation per sync.
    ///
    /// # Errors
    /// As [`Engine::rotate_sync_key`]; the service's refusals.
    pub(crate) async fn heal_missing_copies(&self, state: &LedgerState) -> Result<(), ClientError> {
        let held = self.sync_epoch().await?;
        if held == 0 {
            return Ok(());
        }
        let reply: MissingCopies = self
            .signed(Method::GET, "/v1/sync-keys/missing", None)
            .await?;
        if reply.epoch != held {
            return Ok(());
        }
        let (_, secrets) = self.identity().await?;
        let own = secrets.device_id();
        let lacking = reply
            .devices
            .iter()
            .filter_map(|text| DeviceId::from_hex(text))
            .any(|id| {
                id != own
                    && state
                        .device(&id)
                        .is_some_and(|record| record.state == DeviceState::Active)
            });
        if lacking {
            tracing::info!("an active device has no copy of the sync key; rotating");
            self.rotate_after_change().await?;
        }
        Ok(())
    }

    /// Saves a rotation the service accepted and re-encrypts the labels under it.
    async fn adopt_rotation(&self, key: SyncKey, state: &LedgerState) -> Result<u64, ClientError> {
        let epoch = key.epoch();
        let stored = SyncKey::from_bytes(epoch, &key.to_bytes());
        self.with_store_blocking(move |store| store.save_sync_key(&stored))
            .await?;
        tracing::info!(epoch, "sync key rotated");
        let labels = self.labels(state).await?;
        for (device, label) in labels {
            self.put_label(&key, &device, &label).await?;
        }
        Ok(epoch)
    }

    /// Encrypts `label` for `device` under `key` and stores it on the service.
    async fn put_label(
        &self,
        key: &SyncKey,
        device: &DeviceId,
        label: &str,
    ) -> Result<(), ClientError> {
        let (account_id, _) = self.identity().await?;
        let name = label_item(device);
        let sealed = key
            .encrypt(&mut OsRng, &account_id, &name, label.as_bytes())
            .map_err(ClientError::Protocol)?;
        let body = SharedWrite {
            epoch: key.epoch(),
            ciphertext: b64(sealed.as_bytes()),
        };
        let _: SharedWritten = self
            .signed_json(Method::PUT, &format!("/v1/shared/{name}"), &body)
            .await?;
        Ok(())
    }

    /// Gives a device of the account a label, encrypted with the account sync key so the
    /// service never reads it. `target` is a device id or a unique prefix of one.
    ///
    /// # Errors
    /// [`ClientError::InvalidLabel`]; [`ClientError::UnknownDevice`] /
    /// [`ClientError::AmbiguousDevice`]; [`ClientError::NoSyncKey`] when this device holds no
    /// sync key; the service's refusals.
    pub async fn rename_device(
        &self,
        target: &str,
        label: &str,
    ) -> Result<DeviceView, ClientError> {
        let label = normalize_label(label)?;
        let state = self.sync_state().await?;
        let device = DeviceList::from_state(&state, None)
            .resolve(target)?
            .device_id;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.refresh_sync_key().await?;
            let key = self
                .with_store_blocking(|store| store.sync_key())
                .await?
                .ok_or(ClientError::NoSyncKey)?;
            match self.put_label(&key, &device, &label).await {
                Ok(()) => break,
                Err(error)
                    if attempt < MAX_ROTATION_ATTEMPTS
                        && error.service_code() == Some(&ErrorCode::StaleSyncEpoch) => {}
                Err(error) => return Err(error),
            }
        }
        tracing::info!("device label changed");
        self.device_list(&state)
            .await?
            .devices
            .into_iter()
            .find(|view| view.device_id == device)
            .ok_or(ClientError::UnknownDevice(device.to_hex()))
    }

    /// The labels of the ledger's devices that this device can decrypt, also kept in the store.
    /// A label that does not decrypt (an epoch this device never held, tampered ciphertext) is
    /// left out; an item that names no device of the ledger is ignored.
    pub(crate) async fn labels(
        &self,
        state: &LedgerState,
    ) -> Result<Vec<(DeviceId, String)>, ClientError> {
        let (account_id, _) = self.identity().await?;
        let list: SharedItems = self.signed(Method::GET, "/v1/shared", None).await?;
        let mut labels = Vec::new();
        for item in list.items {
            let Some(device) = item
                .name
                .strip_prefix(LABEL_PREFIX)
                .and_then(DeviceId::from_hex)
                .filter(|device| item.name == label_item(device))
                .filter(|device| state.device(device).is_some())
            else {
                continue;
            };
            let Some(key) = self
                .with_store_blocking(move |store| store.sync_key_at(item.epoch))
                .await?
            else {
                continue;
            };
            let Ok(bytes) = unb64(&item.ciphertext) else {
                continue;
            };
            let opened = SealedItem::from_bytes(&bytes)
                .and_then(|sealed| key.decrypt(&account_id, &item.name, &sealed));
            let Ok(plaintext) = opened else {
                tracing::warn!("a device label did not decrypt; it is shown as unknown");
                continue;
            };
            if let Some(label) = std::str::from_utf8(&plaintext)
                .ok()
                .and_then(|text| normalize_label(text).ok())
            {
                labels.push((device, label));
            }
        }
        // Kept, so that this device can still name the one that removes it.
        let kept = labels.clone();
        self.with_store_blocking(move |store| store.save_labels(&kept))
            .await?;
        Ok(labels)
    }

    /// Fills in the labels of `list` from the service, as far as they decrypt. Best effort:
    /// signed out, offline or a refusal leaves every label unknown, never fails the list.
    pub(crate) async fn add_labels(&self, state: &LedgerState, list: &mut DeviceList) {
        match self.labels(state).await {
            Ok(labels) => {
                for (device, label) in labels {
                    if let Some(view) = list.devices.iter_mut().find(|v| v.device_id == device) {
                        view.label = Some(label);
                    }
                }
            }
            Err(error) => {
                tracing::debug!(code = error.code(), "device labels unavailable");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_trimmed_bounded_and_printable() {
        assert_eq!(normalize_label("  Work laptop \n").unwrap(), "Work laptop");
        assert_eq!(normalize_label(&"é".repeat(64)).unwrap(), "é".repeat(64));
        for bad in ["", "   ", "a\u{7}b", "line\nbreak", &"x".repeat(65)] {
            assert_eq!(
                normalize_label(bad).unwrap_err().code(),
                "invalid_label",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn label_items_name_the_device_in_hex() {
        let device = DeviceId::from_bytes([0xab; 16]);
        assert_eq!(label_item(&device), format!("label.{}", "ab".repeat(16)));
    }
}
