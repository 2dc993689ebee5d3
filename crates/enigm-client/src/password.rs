//! Changing the account password on a signed-in device (DESIGN §3, §6).
//!
//! The user gives the current password and the new one. The engine first signs in again with
//! the current password: OPAQUE checks it (it never leaves the device) and the fresh session is
//! the step-up the service asks for before a password change (`step_up_required` otherwise).
//! It then re-registers with OPAQUE under that session (`POST /v1/accounts/password/{start,
//! finish}`), and the service replaces the record in one step that ends every other session of
//! the account: the other devices hear `session_ended{password_changed}`, are signed out, and
//! sign in again with the new password. This device stays signed in. The recovery phrase, the
//! device list and the keys are untouched.
//!
//! A wrong current password changes nothing ([`ClientError::CurrentPasswordWrong`]); a failure
//! after the sign-in (network, a start that expired) leaves the old password in force and this
//! device signed in, so the user can simply try again.

use enigm_core::trust::SessionKind;
use enigm_proto::{PasswordChanged, PasswordFinish, PasswordStart, PasswordStartReply};
use reqwest::Method;
use zeroize::Zeroizing;

use crate::engine::{b64, unb64};
use crate::lock::USERNAME_KEY;
use crate::registration;
use crate::{ClientError, Engine};

impl Engine {
    /// Changes the account's password from `current` to `new`; returns how many other
    /// sessions of the account ended (each of those devices signs in again).
    ///
    /// # Errors
    /// [`ClientError::Locked`] while the app is locked; [`ClientError::NoAccount`] for a
    /// profile that never signed in; [`ClientError::CurrentPasswordWrong`] (nothing changed);
    /// [`ClientError::NotAllowed`] for a device that is not an active member of the account;
    /// the service's refusals (`rate_limited` on the sign-in, `trust_denied`,
    /// `registration_expired`); [`ClientError::Unreachable`].
    pub async fn change_password(
        &self,
        current: &Zeroizing<String>,
        new: &Zeroizing<String>,
    ) -> Result<u64, ClientError> {
        self.ensure_unlocked().await?;
        let username = self
            .with_store_blocking(|store| store.meta(USERNAME_KEY))
            .await?
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or(ClientError::NoAccount)?;
        // The step-up: a fresh sign-in proves the current password to OPAQUE, here.
        let session = match self.sign_in(&username, current).await {
            Ok(session) => session,
            Err(ClientError::WrongPassword) => {
                tracing::info!("password not changed: the current password is wrong");
                return Err(ClientError::CurrentPasswordWrong);
            }
            Err(error) => return Err(error),
        };
        if session.kind != SessionKind::Full {
            return Err(ClientError::NotAllowed(
                "only a device that is part of the account can change its password",
            ));
        }
        let (state, registration_request) = registration::start(new.as_bytes())?;
        let reply: PasswordStartReply = self
            .signed_json(
                Method::POST,
                "/v1/accounts/password/start",
                &PasswordStart {
                    registration_request,
                },
            )
            .await?;
        let response = unb64(&reply.registration_response)?;
        let upload = registration::finish(state, new.as_bytes(), &response)?;
        let changed: PasswordChanged = self
            .signed_json(
                Method::POST,
                "/v1/accounts/password/finish",
                &PasswordFinish {
                    registration_id: reply.registration_id,
                    registration_upload: b64(&upload),
                },
            )
            .await?;
        tracing::info!(sessions_ended = changed.sessions_ended, "password changed");
        Ok(changed.sessions_ended)
    }
}
