//! A way out of the removed screen: a computer whose membership ended (its keys are already
//! erased, DESIGN §6) may be set up again from scratch, to be added back by approval, to create
//! an account or to restore one with a recovery phrase. The engine only says whether the
//! profile is such a computer; the app then erases the profile (its store, its keychain entry,
//! the record of the removal) and starts from the first-run choices.

use crate::{ClientError, Engine};

impl Engine {
    /// Refuses unless this computer was removed from its account (and its keys erased), so
    /// that setting it up again never throws away a working membership.
    ///
    /// # Errors
    /// [`ClientError::NotAllowed`] for a computer that was not removed; the store's errors.
    pub async fn ensure_removed(&self) -> Result<(), ClientError> {
        let removed = self
            .with_store_blocking(|store| {
                Ok(store.revoked()?.is_some() && store.device_secrets()?.is_none())
            })
            .await?;
        if removed {
            Ok(())
        } else {
            Err(ClientError::NotAllowed(
                "this computer still belongs to its account; sign out or remove it from the device list instead",
            ))
        }
    }
}
