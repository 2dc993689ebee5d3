//! Replacing the recovery phrase in two steps (DESIGN §8), so that one careless click cannot
//! lose recovery: a new phrase is made and shown first, changing nothing
//! ([`Engine::fresh_recovery_phrase`]); only once the user proved they wrote it down (three of
//! its words typed back, in the app) is it put in force ([`Engine::replace_recovery_phrase`]),
//! and the old phrase stops working then. Nothing is kept between the two steps: the phrase
//! lives only on the user's screen, so a crash, a closed window or a cancel in between leaves
//! the old phrase in force and the new one forgotten.

use enigm_core::ledger::{EntryKind, Signer};
use enigm_core::recovery::RecoveryPhrase;
use rand_core::OsRng;

use crate::engine::now;
use crate::{ClientError, Engine};

impl Engine {
    /// A new recovery phrase, not in force: the account's phrase is unchanged until
    /// [`Engine::replace_recovery_phrase`] is called with it.
    pub fn fresh_recovery_phrase() -> RecoveryPhrase {
        RecoveryPhrase::generate(&mut OsRng)
    }

    /// Puts `phrase` in force: a `RotateRecovery` entry signed by this (active) device and by
    /// the phrase's recovery key, appended on the head just verified. The old phrase stops
    /// working. Putting the same phrase in force again (a retry after a lost answer) is fine.
    ///
    /// # Errors
    /// [`ClientError::NoAccount`]; [`ClientError::NotAllowed`] when this device may not change
    /// the account (not active); the service's refusals (`ledger_conflict` when the ledger
    /// moved meanwhile: run it again); [`ClientError::Unreachable`] when the entry's fate is
    /// unknown and the ledger does not show it.
    pub async fn replace_recovery_phrase(
        &self,
        phrase: &RecoveryPhrase,
    ) -> Result<(), ClientError> {
        let state = self.sync_state().await?;
        let key = phrase.recovery_key();
        if state.recovery_key() == &key.public() {
            return Ok(());
        }
        let (account_id, secrets) = self
            .with_store_blocking(|store| Ok((store.account_id()?, store.device_secrets()?)))
            .await?;
        let (Some(account_id), Some(secrets)) = (account_id, secrets) else {
            return Err(ClientError::NoAccount);
        };
        let mut entry = state
            .next_entry(EntryKind::RotateRecovery {
                new_recovery_pub: key.public(),
            })
            .signed_at(now());
        entry.sign_device(&account_id, &secrets);
        entry.sign_with(&account_id, Signer::NewRecovery, key.signing_key());
        match self.append(&state, &entry).await {
            Ok(()) => {}
            // The answer was lost, not the entry: if it landed, the phrase is the account's now.
            Err(ClientError::Unreachable(_) | ClientError::MalformedResponse(_)) => {
                let after = self.sync_state().await?;
                if after.recovery_key() != &key.public() {
                    return Err(ClientError::Unreachable(self.api().base_url().to_string()));
                }
            }
            Err(other) => return Err(other),
        }
        let after = self.sync_state().await?;
        if after.recovery_key() != &key.public() {
            return Err(ClientError::LedgerInconsistent(
                "the service accepted the new recovery key but the ledger does not pin it",
            ));
        }
        tracing::info!(seq = after.head().seq, "recovery phrase replaced");
        Ok(())
    }
}
