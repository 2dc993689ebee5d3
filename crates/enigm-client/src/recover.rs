//! Account recovery with the recovery phrase (DESIGN §8), and regenerating the phrase.
//!
//! Recovery runs on a new profile in two steps, so that the user sees the account's devices
//! before choosing which are lost: [`Engine::begin_recovery`] proves the recovery key to the
//! service, which then discloses the ledger; the engine verifies it from genesis and checks that
//! it pins this phrase's key, so the list it shows was signed by the account's devices, not
//! made up by the service. [`RecoveryCandidate::finish`] then sets the new password (OPAQUE
//! re-registration authorized by the recovery key), appends the `Recover` entry that adds this
//! device and revokes the lost ones, pins the verified ledger, starts a new account sync key
//! epoch on this device (DESIGN §3: a recovered device gets no earlier keys), and signs in with
//! the new password.
//!
//! The service binds OPAQUE's registration request to the recovery it starts, and the request
//! needs the password, which the user chooses after seeing the devices. So `finish` starts a
//! second recovery with the password, verifies the ledger disclosed again, and checks that it
//! still begins with what the user was shown (a service cannot swap the history in between).
//!
//! A wrong phrase (valid words, but not this account's key) and an unknown username get the
//! same `recovery_refused` from the service; nothing is written locally before the service
//! accepted the recovery, except this device's new keys (saved before any service sees them).
//! If the process dies after the service accepted the recovery but before the profile recorded
//! it, `enigm account login` with the new password adopts the account and verifies the ledger.
//!
//! [`Engine::rotate_recovery`] replaces the phrase from an active device with a
//! `RotateRecovery` entry signed by the device and by the new recovery key.

use enigm_core::identity::{DeviceId, DeviceSecrets};
use enigm_core::ledger::{EntryKind, LedgerEntry, LedgerState, Signer, verify_chain};
use enigm_core::opaque::ClientRegistration;
use enigm_core::recovery::{
    RECOVERY_ID_LEN, RecoveryKey, RecoveryPhrase, recovery_authorization_message,
    recovery_proof_message,
};
use enigm_proto::{
    RecoveryFinish, RecoveryFinishReply, RecoveryLedger, RecoveryLedgerReply, RecoveryStart,
    RecoveryStartReply,
};
use enigm_store::PinnedHead;
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use crate::engine::{b64, now, unb64, wire_head};
use crate::registration;
use crate::{ClientError, DeviceList, Engine};

/// Checks what the user typed as a recovery phrase, offline: 24 words, each in the BIP39 list
/// (or an unambiguous prefix of four letters or more), and a valid checksum.
///
/// # Errors
/// [`ClientError::Phrase`], whose code says which: `phrase_word_count`,
/// `phrase_unknown_word` (with the closest list words in the message) or `phrase_checksum`.
pub fn check_phrase(text: &str) -> Result<RecoveryPhrase, ClientError> {
    RecoveryPhrase::parse(text).map_err(ClientError::Phrase)
}

/// A recovery the user has begun: the account's verified devices, waiting for the user to mark
/// the lost ones. Holds the recovery key until [`RecoveryCandidate::finish`] consumes it.
pub struct RecoveryCandidate {
    engine: Engine,
    username: String,
    key: RecoveryKey,
    entries: Vec<LedgerEntry>,
    devices: DeviceList,
}

/// What a finished recovery leaves on this device.
#[derive(Debug)]
pub struct Recovered {
    /// This device's id (active now).
    pub device_id: DeviceId,
    /// The verified device list, with the `Recover` entry as its head.
    pub devices: DeviceList,
}

/// A recovery started with the service and proven: its id and the ledger it disclosed.
struct Disclosed {
    id: [u8; RECOVERY_ID_LEN],
    registration: ClientRegistration,
    registration_response: Vec<u8>,
    entries: Vec<LedgerEntry>,
    state: LedgerState,
}

impl Engine {
    /// Starts recovering the account `username` on this (new) profile: proves `phrase`'s
    /// recovery key to the service and verifies the ledger it discloses. Nothing is stored.
    ///
    /// # Errors
    /// [`ClientError::AlreadyRegistered`] if this profile has an account;
    /// [`ClientError::DeviceRevoked`] for a revoked profile; the service's `recovery_refused`
    /// for a phrase that is not the account's (or an unknown username) and `rate_limited`;
    /// [`ClientError::LedgerRejected`] / [`ClientError::LedgerInconsistent`] (both
    /// `ledger_rejected`) when the disclosed ledger does not verify, does not reach the head the
    /// service names, or does not pin this phrase's key.
    pub async fn begin_recovery(
        &self,
        username: &str,
        phrase: &RecoveryPhrase,
    ) -> Result<RecoveryCandidate, ClientError> {
        let account = self
            .with_store_blocking(|store| {
                if let Some(mark) = store.revoked()? {
                    return Ok(Err(crate::removal::removal_error(store, &mark)?));
                }
                Ok(Ok(store.account_id()?))
            })
            .await??;
        if account.is_some() {
            return Err(ClientError::AlreadyRegistered);
        }
        let key = phrase.recovery_key();
        // The password comes later; this start only opens the ledger to the recovery key.
        let mut placeholder = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(placeholder.as_mut());
        let disclosed = self.disclose(username, &key, placeholder.as_ref()).await?;
        let this = self
            .with_store_blocking(|store| store.device_secrets())
            .await?
            .map(|device| device.device_id());
        Ok(RecoveryCandidate {
            engine: self.clone(),
            username: username.to_owned(),
            key,
            devices: DeviceList::from_state(&disclosed.state, this),
            entries: disclosed.entries,
        })
    }

    /// Replaces the recovery phrase with a new one, at once: [`Engine::fresh_recovery_phrase`]
    /// then [`Engine::replace_recovery_phrase`]. Returns the new phrase, which is stored
    /// nowhere: show it once. The old phrase stops working at once.
    ///
    /// # Errors
    /// As [`Engine::replace_recovery_phrase`].
    pub async fn rotate_recovery(&self) -> Result<RecoveryPhrase, ClientError> {
        let phrase = Engine::fresh_recovery_phrase();
        self.replace_recovery_phrase(&phrase).await?;
        Ok(phrase)
    }

    /// Starts a recovery whose OPAQUE registration is for `password`, proves `key`, and verifies
    /// the ledger the service discloses.
    async fn disclose(
        &self,
        username: &str,
        key: &RecoveryKey,
        password: &[u8],
    ) -> Result<Disclosed, ClientError> {
        let (registration, registration_request) = registration::start(password)?;
        let reply: RecoveryStartReply = self
            .api()
            .post(
                "/v1/recovery/start",
                &RecoveryStart {
                    username: username.to_owned(),
                    registration_request,
                },
            )
            .await?;
        let id: [u8; RECOVERY_ID_LEN] = unb64(&reply.recovery_id)?
            .try_into()
            .map_err(|_| ClientError::MalformedResponse("recovery id"))?;
        let proof = key.sign(&recovery_proof_message(&id));
        let ledger: RecoveryLedgerReply = self
            .api()
            .post(
                "/v1/recovery/ledger",
                &RecoveryLedger {
                    recovery_id: b64(&id),
                    recovery_signature: b64(&proof.to_bytes()),
                },
            )
            .await?;
        let entries = ledger
            .entries
            .iter()
            .map(|text| LedgerEntry::decode(&unb64(text)?).map_err(ClientError::LedgerRejected))
            .collect::<Result<Vec<_>, _>>()?;
        let state = verify_chain(&entries).map_err(ClientError::LedgerRejected)?;
        if state.recovery_key() != &key.public() {
            return Err(ClientError::LedgerInconsistent(
                "the disclosed device list does not belong to this recovery phrase",
            ));
        }
        if state.head() != wire_head(&ledger.head)? {
            return Err(ClientError::LedgerInconsistent(
                "the service's head is not where its entries lead (entries withheld)",
            ));
        }
        if ledger.account_id != hex::encode(state.account_id()) {
            return Err(ClientError::LedgerInconsistent(
                "the disclosed device list belongs to another account",
            ));
        }
        Ok(Disclosed {
            id,
            registration,
            registration_response: unb64(&reply.registration_response)?,
            entries,
            state,
        })
    }
}

impl RecoveryCandidate {
    /// The account's devices, from the ledger verified against the recovery key.
    pub fn devices(&self) -> &DeviceList {
        &self.devices
    }

    /// Finishes the recovery: `new_password` replaces the account's password, this device is
    /// added, the devices in `lost` are revoked (the others keep working after signing in again
    /// with the new password), and every session of the account ends. Then this device signs in.
    ///
    /// # Errors
    /// [`ClientError::UnknownDevice`] for a lost device that is not the account's;
    /// [`ClientError::NotAllowed`] when the ledger rules refuse the entry (nothing is sent);
    /// [`ClientError::LedgerInconsistent`] when the ledger's history changed since it was shown;
    /// the service's refusals (`ledger_conflict` when a device changed the ledger meanwhile,
    /// `recovery_expired`, `rate_limited`): begin again then.
    pub async fn finish(
        self,
        new_password: &Zeroizing<String>,
        lost: &[DeviceId],
    ) -> Result<Recovered, ClientError> {
        let engine = &self.engine;
        let device = engine.device().await?;
        let disclosed = engine
            .disclose(&self.username, &self.key, new_password.as_bytes())
            .await?;
        let shown = self.entries.iter().map(LedgerEntry::hash);
        let now = disclosed.entries.iter().map(LedgerEntry::hash);
        if disclosed.entries.len() < self.entries.len() || !shown.zip(now).all(|(a, b)| a == b) {
            return Err(ClientError::LedgerInconsistent(
                "the device list's history changed since it was shown",
            ));
        }
        for id in lost {
            if disclosed.state.device(id).is_none() {
                return Err(ClientError::UnknownDevice(id.to_hex()));
            }
        }
        let account_id = *disclosed.state.account_id();
        let entry = recover_entry(&disclosed.state, &self.key, &device, lost)?;
        let upload = registration::finish(
            disclosed.registration,
            new_password.as_bytes(),
            &disclosed.registration_response,
        )?;
        let message =
            recovery_authorization_message(&account_id, &disclosed.id, &upload, &entry.hash());
        let reply: RecoveryFinishReply = engine
            .api()
            .post(
                "/v1/recovery/finish",
                &RecoveryFinish {
                    recovery_id: b64(&disclosed.id),
                    registration_upload: b64(&upload),
                    entry: b64(&entry.encode()),
                    recovery_signature: b64(&self.key.sign(&message).to_bytes()),
                    device_signature: b64(&device.sign(&message).to_bytes()),
                },
            )
            .await?;
        let head = wire_head(&reply.head)?;
        if head.seq != entry.seq
            || head.hash != entry.hash()
            || reply.account_id != hex::encode(account_id)
        {
            return Err(ClientError::LedgerInconsistent(
                "the service acknowledged a recovery other than the one sent",
            ));
        }
        let mut bytes: Vec<Vec<u8>> = disclosed.entries.iter().map(LedgerEntry::encode).collect();
        bytes.push(entry.encode());
        let pinned = PinnedHead {
            seq: head.seq,
            hash: head.hash.0,
        };
        engine
            .with_store_blocking(move |store| {
                store.set_account_id(account_id)?;
                store.append_ledger(0, &bytes, pinned)
            })
            .await?;
        tracing::info!(
            seq = head.seq,
            "account recovered; ledger verified and pinned"
        );
        // The recovery is done: signing in may still fail (rate limit, network), and the user
        // then signs in with the new password.
        // A recovered device starts a new sync-key epoch, sealed to the devices still trusted:
        // it gets no earlier keys.
        match engine.login(&self.username, new_password).await {
            Ok(_) => {
                if let Err(error) = engine.rotate_sync_key().await {
                    tracing::warn!(
                        code = error.code(),
                        "recovered, but the sync key is not rotated"
                    );
                }
            }
            Err(error) => tracing::warn!(code = error.code(), "recovered, but signing in failed"),
        }
        Ok(Recovered {
            device_id: device.device_id(),
            devices: engine.devices().await?,
        })
    }
}

/// The `Recover` entry on `state`'s head adding `device` and revoking `lost`, signed by the
/// recovery key and the device, after checking that the ledger rules accept it.
fn recover_entry(
    state: &LedgerState,
    key: &RecoveryKey,
    device: &DeviceSecrets,
    lost: &[DeviceId],
) -> Result<LedgerEntry, ClientError> {
    let account_id = *state.account_id();
    let mut entry = state
        .next_entry(EntryKind::Recover {
            new_device: device.public(),
            revoke: lost.to_vec(),
        })
        .signed_at(now());
    entry.sign_with(&account_id, Signer::Recovery, key.signing_key());
    entry.sign_device(&account_id, device);
    let mut check = state.clone();
    check
        .apply(std::slice::from_ref(&entry))
        .map_err(|_| ClientError::NotAllowed("the ledger rules refuse this recovery"))?;
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_phrase_mistake_has_its_own_code_and_never_echoes_the_words() {
        // BIP39's all-zero 256-bit vector: 23 times "abandon", then "art".
        let mut words = vec!["abandon"; 23];
        words.push("art");
        assert!(check_phrase(&words.join(" ")).is_ok());
        assert!(check_phrase(&words.join("  \n ").to_uppercase()).is_ok());

        let error = check_phrase(&words[..23].join(" ")).unwrap_err();
        assert_eq!(error.code(), "phrase_word_count");
        assert_eq!(
            error.to_string(),
            "recovery phrase has 23 words; it must have 24"
        );

        let mut typo = words.clone();
        typo[2] = "abandn";
        let error = check_phrase(&typo.join(" ")).unwrap_err();
        assert_eq!(error.code(), "phrase_unknown_word");
        assert_eq!(
            error.to_string(),
            "word 3 of the recovery phrase is not in the word list; did you mean \"abandon\"?"
        );

        let error = check_phrase(&["abandon"; 24].join(" ")).unwrap_err();
        assert_eq!(error.code(), "phrase_checksum");
    }
}
