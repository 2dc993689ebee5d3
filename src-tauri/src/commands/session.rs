//! Where this session and device stand, with a decision per protected operation; signing
//! out; replacing the recovery phrase.

use tauri::State;

use crate::error::IpcError;
use enigm_client::{SessionStatusView, SignOut};

use crate::ipc::NewRecoveryPhrase;
use crate::profile::Profile;

/// The service's evaluation of this session and device.
#[tauri::command]
pub async fn session_status(profile: State<'_, Profile>) -> Result<SessionStatusView, IpcError> {
    let engine = profile.engine().await?;
    Ok(engine.session_status().await?.into())
}

/// Signs this computer out; offline, the session is forgotten here and the answer says so.
#[tauri::command]
pub async fn sign_out(profile: State<'_, Profile>) -> Result<SignOut, IpcError> {
    let engine = profile.engine().await?;
    let outcome = engine.sign_out().await?;
    profile.stop_watch();
    Ok(outcome)
}

/// Replaces the account's recovery phrase and returns the new one, once.
#[tauri::command]
pub async fn regenerate_recovery_phrase(
    profile: State<'_, Profile>,
) -> Result<NewRecoveryPhrase, IpcError> {
    let engine = profile.engine().await?;
    let phrase = engine.rotate_recovery().await?;
    Ok(NewRecoveryPhrase {
        words: phrase
            .words()
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    })
}
