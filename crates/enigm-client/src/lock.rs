//! The app's Lock: the account stays hidden until its password is typed again, checked on this
//! device so it works offline.
//!
//! Whenever the engine holds the right password (registration, sign-in, recovery, enrollment's
//! sign-in), it saves an Argon2id [`PasswordVerifier`] in the encrypted store. Unlocking checks
//! the typed password against it; wrong passwords make the next try wait
//! ([`UnlockAttempts`]), and the lock and the wait survive a restart. A profile from before the
//! Lock has no verifier: unlocking it signs in with the service instead, which then saves one.
//!
//! Locking changes nothing else: the session and its push watch keep running, so a revocation
//! while locked still erases this device's keys. But nothing of the account reaches a locked
//! window: the watch sends it no device list (the list carries the devices' labels), and the
//! steps of joining an account (enrolling, listing the devices to replace, giving up) are
//! refused with [`ClientError::Locked`] until the password is given again. The app's other
//! commands check the Lock before they reach the engine.
//!
//! The app also locks itself after some minutes without use ([`LockStatus::auto_lock_minutes`],
//! kept in the store; the app watches for activity, since only it sees the keyboard and mouse).

use enigm_core::unlock::{PasswordVerifier, UnlockAttempts};
use enigm_store::LockState;
use rand_core::OsRng;
use zeroize::Zeroizing;

use crate::engine::now;
use crate::{ClientError, Engine};

/// Where the Lock stands, for the app to pick its screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockStatus {
    /// The app hides the account until the password is typed again.
    pub locked: bool,
    /// The password can be checked on this device; without a verifier, unlocking signs in
    /// with the service (and needs the username).
    pub offline_unlock: bool,
    /// Seconds before the next unlock attempt is accepted (0: now).
    pub retry_in: u64,
    /// Minutes without use after which the app locks itself; 0 never.
    pub auto_lock_minutes: u32,
}

/// The store's `meta` key of [`LockStatus::auto_lock_minutes`].
const AUTO_LOCK_KEY: &str = "auto_lock_minutes";

/// Until the user chooses otherwise, the app locks after a quarter of an hour without use.
pub const DEFAULT_AUTO_LOCK_MINUTES: u32 = 15;

/// The longest wait before locking that can be set: a day.
pub(crate) const MAX_AUTO_LOCK_MINUTES: u32 = 24 * 60;

impl Engine {
    /// Saves a verifier of `password`, the account's password this engine just used
    /// successfully, replacing an older one (the password may have changed).
    ///
    /// # Errors
    /// The store's errors.
    pub(crate) async fn remember_password(
        &self,
        password: &Zeroizing<String>,
    ) -> Result<(), ClientError> {
        let password = password.clone();
        let verifier = tokio::task::spawn_blocking(move || {
            PasswordVerifier::create(password.as_bytes(), &mut OsRng)
        })
        .await
        .map_err(|_| ClientError::Task)?
        .map_err(ClientError::Protocol)?;
        self.with_store_blocking(move |store| store.save_password_verifier(&verifier))
            .await
    }

    /// Refuses with [`ClientError::Locked`] while the app is locked: for the steps that act on
    /// the account behind the Lock (joining it, listing its devices to replace, giving up
    /// joining, which erases the profile).
    ///
    /// # Errors
    /// [`ClientError::Locked`]; the store's errors.
    pub(crate) async fn ensure_unlocked(&self) -> Result<(), ClientError> {
        if self.is_locked().await? {
            return Err(ClientError::Locked);
        }
        Ok(())
    }

    /// Whether the app is locked now.
    ///
    /// # Errors
    /// The store's errors.
    pub(crate) async fn is_locked(&self) -> Result<bool, ClientError> {
        self.with_store_blocking(|store| Ok(store.lock_state()?.locked))
            .await
    }

    /// Where the Lock stands now.
    ///
    /// # Errors
    /// The store's errors.
    pub async fn lock_status(&self) -> Result<LockStatus, ClientError> {
        let (state, offline_unlock) = self.lock_parts().await?;
        let saved = self
            .with_store_blocking(|store| store.meta(AUTO_LOCK_KEY))
            .await?;
        Ok(LockStatus {
            locked: state.locked,
            offline_unlock,
            retry_in: state.attempts.wait_at(now()),
            auto_lock_minutes: saved.map_or(DEFAULT_AUTO_LOCK_MINUTES, |bytes| {
                parse_minutes(&bytes).unwrap_or_else(|| {
                    tracing::warn!("the saved inactivity lock is unreadable; using the default");
                    DEFAULT_AUTO_LOCK_MINUTES
                })
            }),
        })
    }

    /// Sets how many minutes without use lock the app (0: never).
    ///
    /// # Errors
    /// [`ClientError::InvalidAutoLock`] for more than a day (nothing is saved); the
    /// store's errors.
    pub async fn set_auto_lock(&self, minutes: u32) -> Result<(), ClientError> {
        if minutes > MAX_AUTO_LOCK_MINUTES {
            return Err(ClientError::InvalidAutoLock);
        }
        self.with_store_blocking(move |store| {
            store.set_meta(AUTO_LOCK_KEY, minutes.to_string().as_bytes())
        })
        .await?;
        tracing::info!(minutes, "inactivity lock set");
        Ok(())
    }

    /// Locks the app until [`Engine::unlock`] gets the account password; the lock is saved,
    /// so a restart starts locked. Locking twice is fine.
    ///
    /// # Errors
    /// [`ClientError::NoAccount`] when there is no account to hide; the store's errors.
    pub async fn lock(&self) -> Result<(), ClientError> {
        let locked = self
            .with_store_blocking(|store| {
                if store.account_id()?.is_none() {
                    return Ok(false);
                }
                let mut state = store.lock_state()?;
                state.locked = true;
                store.save_lock_state(&state)?;
                Ok(true)
            })
            .await?;
        if !locked {
            return Err(ClientError::NoAccount);
        }
        tracing::info!("app locked");
        Ok(())
    }

    /// Unlocks the app with the account password. With a verifier the check is local (works
    /// offline); without one the engine signs in as `username` with the service, which saves a
    /// verifier for next time. Unlocking an unlocked app is fine.
    ///
    /// # Errors
    /// [`ClientError::UnlockDelayed`] while an earlier wrong password's wait runs (nothing is
    /// checked); [`ClientError::UnlockWrongPassword`] with the wait before the next try;
    /// [`ClientError::UnlockNeedsUsername`] / [`ClientError::UnlockNeedsService`] for a profile
    /// without a verifier; the service's refusals of that sign-in; the store's errors.
    pub async fn unlock(
        &self,
        username: Option<&str>,
        password: &Zeroizing<String>,
    ) -> Result<(), ClientError> {
        // One attempt at a time, so parallel tries cannot skip the wait.
        let _one = self.unlocking().lock().await;
        let (state, offline_unlock) = self.lock_parts().await?;
        if !state.locked {
            return Ok(());
        }
        let wait = state.attempts.wait_at(now());
        if wait > 0 {
            return Err(ClientError::UnlockDelayed { wait });
        }
        let right = if offline_unlock {
            let verifier = self
                .with_store_blocking(|store| store.password_verifier())
                .await?
                .ok_or(ClientError::Task)?;
            let password = password.clone();
            tokio::task::spawn_blocking(move || verifier.verify(password.as_bytes()))
                .await
                .map_err(|_| ClientError::Task)?
        } else {
            let username = username
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .ok_or(ClientError::UnlockNeedsUsername)?;
            match self.login(username, password).await {
                Ok(_) => true,
                // Another account's credentials are not this account's password either.
                Err(
                    ClientError::WrongPassword
                    | ClientError::Store(enigm_store::Error::AlreadySet("account id")),
                ) => false,
                Err(ClientError::Unreachable(_)) => return Err(ClientError::UnlockNeedsService),
                Err(error) => return Err(error),
            }
        };
        if right {
            self.with_store_blocking(|store| store.save_lock_state(&LockState::default()))
                .await?;
            tracing::info!("app unlocked");
            return Ok(());
        }
        let attempts = state.attempts.failed(now());
        self.with_store_blocking(move |store| {
            store.save_lock_state(&LockState {
                locked: true,
                attempts,
            })
        })
        .await?;
        tracing::info!(failures = attempts.failures, "wrong password to unlock");
        Err(ClientError::UnlockWrongPassword {
            wait: UnlockAttempts::wait_after(attempts.failures),
        })
    }

    /// The saved lock state and whether a usable verifier exists (a damaged one is not: that
    /// profile unlocks by signing in, which writes a new one).
    async fn lock_parts(&self) -> Result<(LockState, bool), ClientError> {
        self.with_store_blocking(|store| {
            let verifier = match store.password_verifier() {
                Ok(verifier) => verifier.is_some(),
                Err(enigm_store::Error::ValueOutOfRange(_)) => {
                    tracing::warn!("the stored password verifier is damaged; unlocking signs in");
                    false
                }
                Err(error) => return Err(error),
            };
            Ok((store.lock_state()?, verifier))
        })
        .await
    }
}

/// Minutes as the store keeps them (decimal), if they are a value that can be set.
fn parse_minutes(bytes: &[u8]) -> Option<u32> {
    std::str::from_utf8(bytes)
        .ok()?
        .parse()
        .ok()
        .filter(|minutes| *minutes <= MAX_AUTO_LOCK_MINUTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_minutes_are_read_only_when_they_could_have_been_set() {
        assert_eq!(parse_minutes(b"0"), Some(0));
        assert_eq!(parse_minutes(b"1440"), Some(1440));
        for bad in [&b"1441"[..], b"-5", b"15 ", b"", b"\xff"] {
            assert_eq!(parse_minutes(bad), None, "{bad:?}");
        }
    }
}
