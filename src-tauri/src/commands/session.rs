//! Where this session and device stand, with a decision per protected operation; where the
//! account is signed in, and ending those sessions; signing out; who paused this computer;
//! replacing the recovery phrase, in two steps.

use enigm_client::{Engine, check_phrase};
use enigm_core::session::RemovedBy;
use tauri::State;
use zeroize::Zeroizing;

use crate::error::IpcError;
use enigm_client::{SessionStatusView, SessionView, SignOut};

use crate::ipc::NewRecoveryPhrase;
use crate::profile::Profile;

/// The service's evaluation of this session and device.
#[tauri::command]
pub async fn session_status(profile: State<'_, Profile>) -> Result<SessionStatusView, IpcError> {
    let engine = profile.engine().await?;
    Ok(engine.session_status().await?.into())
}

/// Who paused this computer, as it verified the suspending entry; null when unknown or not
/// paused.
#[tauri::command]
pub async fn paused_by(profile: State<'_, Profile>) -> Result<Option<RemovedBy>, IpcError> {
    Ok(profile.engine().await?.paused_by().await?)
}

/// Signs this computer out; offline, the session is forgotten here and the answer says so.
#[tauri::command]
pub async fn sign_out(profile: State<'_, Profile>) -> Result<SignOut, IpcError> {
    let engine = profile.engine().await?;
    let outcome = engine.sign_out().await?;
    profile.stop_watch();
    Ok(outcome)
}

/// Where the account is signed in, named with the verified device list.
#[tauri::command]
pub async fn signed_in_sessions(profile: State<'_, Profile>) -> Result<Vec<SessionView>, IpcError> {
    let engine = profile.engine().await?;
    Ok(engine.signed_in_sessions().await?)
}

/// Ends one session of the account; the device holding it is signed out at once (this
/// computer, when it names this computer's session).
#[tauri::command]
pub async fn end_session(profile: State<'_, Profile>, session_id: String) -> Result<(), IpcError> {
    let engine = profile.engine().await?;
    Ok(engine.end_session(&session_id).await?)
}

/// Signs the account out everywhere but here; resolves to how many sessions ended.
#[tauri::command]
pub async fn end_other_sessions(profile: State<'_, Profile>) -> Result<u64, IpcError> {
    let engine = profile.engine().await?;
    Ok(engine.end_other_sessions().await?)
}

/// Makes a new recovery phrase and returns it, once; it is not in force (the old one still
/// works) until [`confirm_recovery_phrase`] is given it back, after the user retyped three of
/// its words. Nothing keeps it here meanwhile.
#[tauri::command]
pub async fn regenerate_recovery_phrase(
    profile: State<'_, Profile>,
) -> Result<NewRecoveryPhrase, IpcError> {
    // Only for an account this computer may act for; the phrase itself changes nothing yet.
    profile.engine().await?;
    let phrase = Engine::fresh_recovery_phrase();
    Ok(NewRecoveryPhrase {
        words: phrase
            .words()
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    })
}

/// Puts the new recovery phrase `words` in force (the user proved they wrote it down); the old
/// one stops working.
#[tauri::command]
pub async fn confirm_recovery_phrase(
    profile: State<'_, Profile>,
    words: Vec<String>,
) -> Result<(), IpcError> {
    let phrase = check_phrase(&Zeroizing::new(words.join(" ")))?;
    let engine = profile.engine().await?;
    Ok(engine.replace_recovery_phrase(&phrase).await?)
}
