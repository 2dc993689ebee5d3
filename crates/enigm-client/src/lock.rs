//! The app's Lock: the account stays hidden until the account password, checked online by the
//! service, or this computer's unlock PIN, checked here, is given again.
//!
//! The account password is never kept on the device in any form (docs/security.md, issue 13
//! item 9): unlocking with it signs in with the service again (OPAQUE), under the service's
//! guess budget, so it needs the network. The profile keeps the account's username (not a
//! secret) so that only the password is asked. What unlocks offline is an optional PIN of 6 to
//! 12 digits, set in Settings: its verifier ([`enigm_core::unlock::PinVerifier`]) is in the
//! encrypted store and keyed by a secret in the OS keychain. Wrong PINs make the next try wait
//! ([`UnlockAttempts`]); the fifth in a row erases the PIN. The lock and the wait survive a
//! restart.
//!
//! Locking changes nothing else: the session and its push watch keep running, so a revocation
//! while locked still erases this device's keys. But nothing of the account reaches a locked
//! window: the watch sends it no device list (the list carries the devices' labels), and the
//! steps of joining an account (enrolling, listing the devices to replace, giving up) are
//! refused with [`ClientError::Locked`] until it is unlocked. The app's other commands check
//! the Lock before they reach the engine.
//!
//! The app also locks itself after some minutes without use ([`LockStatus::auto_lock_minutes`],
//! kept in the store; the app watches for activity, since only it sees the keyboard and mouse).

use enigm_core::unlock::{Pin, PinVerifier, UnlockAttempts, WrongPin, after_wrong_pin};
use enigm_store::LockState;
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use crate::engine::now;
use crate::{ClientError, Engine};

/// Where the Lock stands, for the app to pick its screen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
pub struct LockStatus {
    /// The app hides the account until the PIN or the password is given again.
    pub locked: bool,
    /// A device unlock PIN is set: it unlocks offline. The account password always works too,
    /// checked online.
    pub pin_set: bool,
    /// Unlocking with the password needs the username too (this profile has not signed in
    /// since it started keeping it).
    pub needs_username: bool,
    /// Seconds before the next PIN is accepted (0: now).
    pub retry_in: u64,
    /// Minutes without use after which the app locks itself; 0 never.
    pub auto_lock_minutes: u32,
}

/// The store's `meta` key of [`LockStatus::auto_lock_minutes`].
const AUTO_LOCK_KEY: &str = "auto_lock_minutes";

/// The store's `meta` key of the account's username, saved at each sign-in.
pub(crate) const USERNAME_KEY: &str = "username";

/// Until the user chooses otherwise, the app locks after a quarter of an hour without use.
pub const DEFAULT_AUTO_LOCK_MINUTES: u32 = 15;

/// The longest wait before locking that can be set: a day.
pub(crate) const MAX_AUTO_LOCK_MINUTES: u32 = 24 * 60;

impl Engine {
    /// Refuses with [`ClientError::Locked`] while the app is locked: for the steps that act on
    /// the account behind the Lock (joining it, listing its devices to replace, giving up
    /// joining, which erases the profile, and changing the PIN).
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
        let (state, pin_set, username, saved) = self
            .with_store_blocking(|store| {
                Ok((
                    store.lock_state()?,
                    store.has_pin()?,
                    store.meta(USERNAME_KEY)?,
                    store.meta(AUTO_LOCK_KEY)?,
                ))
            })
            .await?;
        Ok(LockStatus {
            locked: state.locked,
            pin_set,
            needs_username: username.is_none(),
            retry_in: if pin_set {
                state.attempts.wait_at(now())
            } else {
                0
            },
            auto_lock_minutes: saved.map_or(DEFAULT_AUTO_LOCK_MINUTES, |bytes| {
                parse_minutes(&bytes).unwrap_or_else(|| {
                    tracing::warn!("the saved inactivity lock is unreadable; using the default");
                    DEFAULT_AUTO_LOCK_MINUTES
                })
            }),
        })
    }

    /// The account's username as this profile saved it at the last sign-in, if any: the Locked
    /// screen says which account it hides. The user's own, so fine to show; never logged.
    ///
    /// # Errors
    /// The store's errors.
    pub async fn username(&self) -> Result<Option<String>, ClientError> {
        let saved = self
            .with_store_blocking(|store| store.meta(USERNAME_KEY))
            .await?;
        Ok(saved.and_then(|bytes| String::from_utf8(bytes).ok()))
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

    /// Locks the app until [`Engine::unlock`] gets the account password or
    /// [`Engine::unlock_with_pin`] the PIN; the lock is saved, so a restart starts locked.
    /// Locking twice is fine.
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

    /// Unlocks the app with the account password, checked online: the engine signs in with
    /// the service again (OPAQUE), as `username` or the username saved at the last sign-in.
    /// Nothing on this device can check the password. Unlocking an unlocked app is fine.
    ///
    /// # Errors
    /// [`ClientError::UnlockWrongPassword`]; [`ClientError::UnlockNeedsUsername`] when no
    /// username is given or saved; [`ClientError::UnlockNeedsService`] when the service cannot
    /// be reached; the service's other refusals of the sign-in (its guess budget:
    /// `rate_limited` with the wait); the store's errors.
    pub async fn unlock(
        &self,
        username: Option<&str>,
        password: &Zeroizing<String>,
    ) -> Result<(), ClientError> {
        // One attempt at a time.
        let _one = self.unlocking().lock().await;
        let (state, pin_set, saved_name) = self
            .with_store_blocking(|store| {
                Ok((
                    store.lock_state()?,
                    store.has_pin()?,
                    store.meta(USERNAME_KEY)?,
                ))
            })
            .await?;
        if !state.locked {
            return Ok(());
        }
        let typed = username.map(str::trim).filter(|name| !name.is_empty());
        let saved_name = saved_name.and_then(|bytes| String::from_utf8(bytes).ok());
        let username = typed
            .or(saved_name.as_deref())
            .ok_or(ClientError::UnlockNeedsUsername)?;
        match self.login(username, password).await {
            Ok(_) => {}
            // Another account's credentials are not this account's password either.
            Err(
                ClientError::WrongPassword
                | ClientError::Store(enigm_store::Error::AlreadySet("account id")),
            ) => {
                tracing::info!("wrong password to unlock");
                return Err(ClientError::UnlockWrongPassword);
            }
            Err(ClientError::Unreachable(_)) => {
                return Err(ClientError::UnlockNeedsService { pin_set });
            }
            Err(error) => return Err(error),
        }
        self.with_store_blocking(|store| store.save_lock_state(&LockState::default()))
            .await?;
        tracing::info!("app unlocked with the account password");
        Ok(())
    }

    /// Unlocks the app with this computer's PIN, checked here (it works offline). Wrong PINs
    /// make the next try wait; the fifth in a row erases the PIN. Unlocking an unlocked app is
    /// fine.
    ///
    /// # Errors
    /// [`ClientError::InvalidPin`] for a PIN that is not 6 to 12 digits (nothing is counted);
    /// [`ClientError::NoPin`]; [`ClientError::UnlockDelayed`] while an earlier wrong PIN's
    /// wait runs (nothing is checked); [`ClientError::UnlockWrongPin`] with the wait and the
    /// tries left; [`ClientError::PinErased`] after the last try;
    /// [`ClientError::PinUnusable`] when its keychain secret is gone; the store's errors.
    pub async fn unlock_with_pin(&self, typed: &Zeroizing<String>) -> Result<(), ClientError> {
        let pin = Pin::parse(typed).map_err(ClientError::InvalidPin)?;
        let _one = self.unlocking().lock().await;
        let (state, pin_set) = self
            .with_store_blocking(|store| Ok((store.lock_state()?, store.has_pin()?)))
            .await?;
        if !state.locked {
            return Ok(());
        }
        if !pin_set {
            return Err(ClientError::NoPin);
        }
        let wait = state.attempts.wait_at(now());
        if wait > 0 {
            return Err(ClientError::UnlockDelayed { wait });
        }
        let stored = self
            .with_store_blocking(|store| match store.pin() {
                Ok(stored) => Ok(stored),
                Err(
                    enigm_store::Error::KeyMissing
                    | enigm_store::Error::WrongKey
                    | enigm_store::Error::ValueOutOfRange(_),
                ) => {
                    tracing::warn!("the PIN cannot be checked; turning it off");
                    store.remove_pin()?;
                    Ok(None)
                }
                Err(error) => Err(error),
            })
            .await?;
        let Some((verifier, secret)) = stored else {
            return Err(ClientError::PinUnusable);
        };
        let right = tokio::task::spawn_blocking(move || verifier.verify(&pin, &secret))
            .await
            .map_err(|_| ClientError::Task)?;
        if right {
            self.with_store_blocking(|store| store.save_lock_state(&LockState::default()))
                .await?;
            tracing::info!("app unlocked with the PIN");
            return Ok(());
        }
        let attempts = state.attempts.failed(now());
        match after_wrong_pin(attempts.failures) {
            WrongPin::Retry { wait, left } => {
                self.with_store_blocking(move |store| {
                    store.save_lock_state(&LockState {
                        locked: true,
                        attempts,
                    })
                })
                .await?;
                tracing::info!(failures = attempts.failures, "wrong PIN to unlock");
                Err(ClientError::UnlockWrongPin { wait, left })
            }
            WrongPin::Erased => {
                self.with_store_blocking(|store| {
                    store.save_lock_state(&LockState {
                        locked: true,
                        attempts: UnlockAttempts::default(),
                    })?;
                    store.remove_pin()
                })
                .await?;
                tracing::warn!("too many wrong PINs; the PIN is erased");
                Err(ClientError::PinErased)
            }
        }
    }

    /// Sets (or changes) this computer's unlock PIN: a fresh keychain secret, then the
    /// verifier in the store. Only while unlocked, for an account.
    ///
    /// # Errors
    /// [`ClientError::InvalidPin`]; [`ClientError::Locked`]; [`ClientError::NoAccount`]; the
    /// keychain's and store's errors (a store opened without the keychain cannot hold a PIN:
    /// `keychain_unavailable`).
    pub async fn set_pin(&self, typed: &Zeroizing<String>) -> Result<(), ClientError> {
        let pin = Pin::parse(typed).map_err(ClientError::InvalidPin)?;
        self.ensure_unlocked().await?;
        let has_account = self
            .with_store_blocking(|store| Ok(store.account_id()?.is_some()))
            .await?;
        if !has_account {
            return Err(ClientError::NoAccount);
        }
        let (verifier, secret) = tokio::task::spawn_blocking(move || {
            let mut secret = Zeroizing::new([0u8; enigm_core::unlock::PIN_SECRET_LEN]);
            OsRng.fill_bytes(secret.as_mut_slice());
            PinVerifier::create(&pin, &secret, &mut OsRng).map(|verifier| (verifier, secret))
        })
        .await
        .map_err(|_| ClientError::Task)?
        .map_err(ClientError::Protocol)?;
        self.with_store_blocking(move |store| {
            store.save_pin(&verifier, &secret)?;
            // A new PIN starts with all its tries.
            let mut state = store.lock_state()?;
            state.attempts = UnlockAttempts::default();
            store.save_lock_state(&state)
        })
        .await?;
        tracing::info!("unlock PIN set");
        Ok(())
    }

    /// Removes this computer's unlock PIN (verifier and keychain secret); unlocking then needs
    /// the account password, online. Only while unlocked; removing no PIN is fine.
    ///
    /// # Errors
    /// [`ClientError::Locked`]; the keychain's and store's errors.
    pub async fn remove_pin(&self) -> Result<(), ClientError> {
        self.ensure_unlocked().await?;
        self.with_store_blocking(|store| store.remove_pin()).await?;
        tracing::info!("unlock PIN removed");
        Ok(())
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
