//! Restoring an account on this computer with the recovery phrase (DESIGN §8), in the engine's
//! two steps: `begin_recovery` proves the phrase and returns the account's verified devices,
//! `finish_recovery` sets the new password and revokes the devices the user marked lost. The
//! engine's candidate waits between the two in [`PendingRecovery`]; `cancel_recovery` drops
//! it, and a `begin_recovery` still running when cancelled keeps nothing.
//!
//! The word list and every check of what is typed come from enigm-core; the UI only matches
//! prefixes in the list it was given.

use std::sync::atomic::{AtomicU64, Ordering};

use enigm_client::{
    ClientError, DeviceList, PhraseCheck, RecoveryCandidate, RecoveryWordList, check_phrase,
};
use enigm_core::identity::DeviceId;
use tauri::{AppHandle, State};
use zeroize::Zeroizing;

use crate::error::{AppCode, IpcError};
use crate::profile::Profile;

/// The recovery the user has begun, holding the recovery key until it finishes or is cancelled.
#[derive(Default)]
pub struct PendingRecovery {
    /// Bumped by every begin and cancel: a begin that finds it moved was cancelled.
    generation: AtomicU64,
    candidate: tokio::sync::Mutex<Option<RecoveryCandidate>>,
}

/// The phrase's word list, for completing what is typed.
#[tauri::command]
pub async fn recovery_words() -> Result<RecoveryWordList, IpcError> {
    Ok(RecoveryWordList::english())
}

/// Checks the words typed so far (one per field): each word, then the checksum. Offline.
#[tauri::command]
pub async fn check_recovery_phrase(words: Vec<String>) -> Result<PhraseCheck, IpcError> {
    let words = Zeroizing::new(words);
    Ok(PhraseCheck::new(&words))
}

/// Proves the phrase to the service at `server` for `username` and returns the account's
/// devices, verified against the phrase's key. Nothing is stored on this computer yet.
#[tauri::command]
pub async fn begin_recovery(
    profile: State<'_, Profile>,
    pending: State<'_, PendingRecovery>,
    server: String,
    username: String,
    words: Vec<String>,
) -> Result<DeviceList, IpcError> {
    let generation = pending.generation.fetch_add(1, Ordering::SeqCst) + 1;
    pending.candidate.lock().await.take();
    let phrase = check_phrase(&Zeroizing::new(words.join(" ")))?;
    drop(Zeroizing::new(words));
    let engine = profile.bind(&server).await?;
    let candidate = engine
        .begin_recovery(username.trim(), &phrase)
        .await
        .map_err(refused)?;
    if pending.generation.load(Ordering::SeqCst) != generation {
        return Err(IpcError::new(
            AppCode::Cancelled,
            "The restore was cancelled.",
        ));
    }
    let devices = candidate.devices().clone();
    *pending.candidate.lock().await = Some(candidate);
    Ok(devices)
}

/// Finishes the begun recovery: `password` becomes the account's password, this computer is
/// added, the devices in `lost` (ids from `begin_recovery`) are revoked, and this computer
/// signs in. Returns the verified device list.
#[tauri::command]
pub async fn finish_recovery(
    app: AppHandle,
    profile: State<'_, Profile>,
    pending: State<'_, PendingRecovery>,
    password: String,
    lost: Vec<String>,
) -> Result<DeviceList, IpcError> {
    let password = Zeroizing::new(password);
    let Some(candidate) = pending.candidate.lock().await.take() else {
        return Err(IpcError::new(
            AppCode::RecoveryNotStarted,
            "This restore is no longer open. Enter your recovery phrase again.",
        ));
    };
    let lost = lost
        .iter()
        .map(|id| {
            DeviceId::from_hex(id)
                .filter(|id| {
                    candidate
                        .devices()
                        .devices
                        .iter()
                        .any(|d| d.device_id == *id)
                })
                .ok_or_else(|| {
                    IpcError::explained(
                        &ClientError::UnknownDevice(id.clone()),
                        "A device marked lost is not of this account.",
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let recovered = candidate.finish(&password, &lost).await?;
    profile.mark_account().await;
    profile.start_watch(&app, profile.engine().await?);
    Ok(recovered.devices)
}

/// Drops a begun recovery (and makes one still being begun keep nothing).
#[tauri::command]
pub async fn cancel_recovery(pending: State<'_, PendingRecovery>) -> Result<(), IpcError> {
    pending.generation.fetch_add(1, Ordering::SeqCst);
    pending.candidate.lock().await.take();
    Ok(())
}

/// The service refuses an unknown username and a phrase that is not the account's alike, so
/// the message names both.
fn refused(error: enigm_client::ClientError) -> IpcError {
    if error.service_code() == Some(&enigm_proto::ErrorCode::RecoveryRefused) {
        return IpcError::explained(
            &error,
            "The service did not accept this recovery phrase for this username. Check the username, then each word against what you wrote down.",
        );
    }
    error.into()
}
