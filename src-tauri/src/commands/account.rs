//! Creating an account with this computer as its first device, and signing in.

use tauri::{AppHandle, State};
use zeroize::Zeroizing;

use crate::error::IpcError;
use crate::ipc::CreatedAccount;
use crate::profile::Profile;

/// Creates an account on `server` and returns its recovery phrase, once.
#[tauri::command]
pub async fn create_account(
    app: AppHandle,
    profile: State<'_, Profile>,
    server: String,
    username: String,
    password: String,
) -> Result<CreatedAccount, IpcError> {
    let password = Zeroizing::new(password);
    let engine = profile.bind(&server).await?;
    let registered = engine.register(username.trim(), &password).await?;
    profile.mark_account().await;
    profile.start_watch(&app, engine);
    let words = registered.phrase.words();
    Ok(CreatedAccount {
        words: words.split_whitespace().map(str::to_owned).collect(),
    })
}

/// Signs in to this computer's account.
#[tauri::command]
pub async fn sign_in(
    app: AppHandle,
    profile: State<'_, Profile>,
    username: String,
    password: String,
) -> Result<(), IpcError> {
    let password = Zeroizing::new(password);
    let engine = profile.engine().await?;
    engine.login(username.trim(), &password).await?;
    profile.start_watch(&app, engine);
    Ok(())
}

/// Changes the account's password: signs in again with `current` (the step-up the service
/// asks for), then sets `new_password`; every other session of the account ends. Returns how many.
#[tauri::command]
pub async fn change_password(
    profile: State<'_, Profile>,
    current: String,
    new_password: String,
) -> Result<u64, IpcError> {
    let current = Zeroizing::new(current);
    let new = Zeroizing::new(new_password);
    let engine = profile.engine().await?;
    Ok(engine.change_password(&current, &new).await?)
}
