//! Enrollment by approval (DESIGN §7) from the window: adding this computer to an account, and
//! deciding on another device's request from a trusted one.
//!
//! The engine runs the protocol in a task of its own; these commands start it, tell the window
//! how it goes by `enrollment-progress` events and hand the user's answer about the short code
//! to the engine's `confirm` future through a oneshot channel kept in [`EnrollmentFlow`]. One
//! flow runs at a time; Cancel ends it on the relay as well.

use std::sync::{Arc, Mutex};

use enigm_client::{DeviceView, Engine, EnrollEvent, EnrollmentOutcome, EnrollmentRequest};
use tauri::{AppHandle, Emitter, State};
use tauri_plugin_notification::NotificationExt;
use tokio::sync::oneshot;
use zeroize::Zeroizing;

use crate::error::{AppCode, IpcError};
use crate::ipc::EnrollmentProgress;
use crate::profile::Profile;

/// The event the window listens to while an enrollment runs.
pub const ENROLLMENT_PROGRESS_EVENT: &str = "enrollment-progress";

/// The running enrollment, if any: where the user's answer and a cancel go.
#[derive(Clone, Default)]
pub struct EnrollmentFlow {
    slots: Arc<Mutex<Slots>>,
}

#[derive(Default)]
struct Slots {
    running: bool,
    cancel: Option<oneshot::Sender<()>>,
    confirm: Option<oneshot::Sender<bool>>,
}

/// Clears the flow's slots when its task ends, however it ends.
struct Running(EnrollmentFlow);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(mut slots) = self.0.slots.lock() {
            *slots = Slots::default();
        }
    }
}

impl EnrollmentFlow {
    /// Claims the flow for a new run; refused while another runs.
    fn begin(&self) -> Result<(Running, oneshot::Receiver<()>), IpcError> {
        let mut slots = self.slots.lock().map_err(|_| poisoned())?;
        if slots.running {
            return Err(IpcError::new(
                AppCode::EnrollmentBusy,
                "Another enrollment is already in progress on this computer. Finish or cancel it first.",
            ));
        }
        let (cancel, cancelled) = oneshot::channel();
        *slots = Slots {
            running: true,
            cancel: Some(cancel),
            confirm: None,
        };
        Ok((Running(self.clone()), cancelled))
    }

    /// Hands the user's answer to the code on screen.
    fn answer(&self, same: bool) -> Result<(), IpcError> {
        let answer = self.slots.lock().map_err(|_| poisoned())?.confirm.take();
        match answer.map(|answer| answer.send(same)) {
            Some(Ok(())) => Ok(()),
            Some(Err(_)) | None => Err(IpcError::new(
                AppCode::NoCodeShown,
                "No code is waiting for your answer; the enrollment may have ended.",
            )),
        }
    }

    /// Asks the running flow to cancel; nothing running is fine.
    fn cancel(&self) -> Result<(), IpcError> {
        let cancel = self.slots.lock().map_err(|_| poisoned())?.cancel.take();
        if let Some(cancel) = cancel {
            // The flow may have ended meanwhile: then there is nothing left to cancel.
            let _ = cancel.send(());
        }
        Ok(())
    }

    /// Shows the code (with the device a replacement removes, on the approving side) and waits
    /// for the user's answer; no answer (the flow ended) is a no.
    async fn ask(
        &self,
        app: &AppHandle,
        code: enigm_client::ShortCodeView,
        replaces: Option<enigm_client::ReplacedView>,
    ) -> bool {
        let (answer, answered) = oneshot::channel();
        match self.slots.lock() {
            Ok(mut slots) => slots.confirm = Some(answer),
            Err(_) => return false,
        }
        emit(app, EnrollmentProgress::code(code, replaces));
        answered.await.unwrap_or(false)
    }
}

fn poisoned() -> IpcError {
    IpcError::internal(&"the enrollment flow's lock is poisoned")
}

fn emit(app: &AppHandle, progress: EnrollmentProgress) {
    if let Err(error) = app.emit(ENROLLMENT_PROGRESS_EVENT, progress) {
        tracing::warn!(%error, "enrollment progress could not reach the window");
    }
}

/// Tells the user on the desktop that a device asks to join, for when the window is hidden.
/// Best effort: without a notification service (a bare X server) nothing is shown and the
/// window's own panel is enough. The text names no device: the window shows it after a check.
pub fn notify_request(app: &AppHandle) {
    let shown = app
        .notification()
        .builder()
        .title("A device asks to join your account")
        .body("Open Enigm to compare the code on both screens, then approve or reject it.")
        .show();
    if let Err(error) = shown {
        tracing::info!(%error, "no desktop notification for the enrollment request");
    }
}

/// Adds this computer to the account of `username` on `server`, as the replacement of device
/// `replaces` when given (an id from `replaceable_devices`): posts the request, shows the
/// short code when the other device has accepted, and ends with the outcome. Active means this
/// computer now belongs to the account and follows its session.
#[tauri::command]
pub async fn enroll_this_computer(
    app: AppHandle,
    profile: State<'_, Profile>,
    flow: State<'_, EnrollmentFlow>,
    server: String,
    username: String,
    password: String,
    replaces: Option<String>,
) -> Result<EnrollmentOutcome, IpcError> {
    let password = Zeroizing::new(password);
    let engine = profile.bind(&server).await?;
    let (running, cancelled) = flow.begin()?;
    let flow = flow.inner().clone();
    let (events, asking) = (app.clone(), app.clone());
    let task = engine.clone();
    let outcome = tauri::async_runtime::spawn(async move {
        let _running = running;
        let run = task.enroll_replacing(
            username.trim(),
            &password,
            std::env::consts::OS,
            replaces.as_deref(),
            |event| match event {
                EnrollEvent::Request { .. } => emit(&events, EnrollmentProgress::Requested),
            },
            |code| async move { flow.ask(&asking, code, None).await },
        );
        tokio::select! {
            outcome = run => outcome,
            _ = cancelled => {
                task.cancel_enrollment().await?;
                Ok(EnrollmentOutcome::Cancelled)
            }
        }
    })
    .await
    .map_err(|error| IpcError::internal(&error))??;
    if outcome == EnrollmentOutcome::Active {
        profile.mark_account().await;
        profile.start_watch(&app, engine);
    }
    Ok(outcome)
}

/// The devices of the account of `username` on `server` that this computer may replace, after
/// signing in with a session that can only enroll (known by fingerprint: their labels are
/// sealed to the account's devices).
#[tauri::command]
pub async fn replaceable_devices(
    profile: State<'_, Profile>,
    server: String,
    username: String,
    password: String,
) -> Result<Vec<DeviceView>, IpcError> {
    let password = Zeroizing::new(password);
    let engine = profile.bind(&server).await?;
    Ok(engine
        .replaceable_devices(username.trim(), &password)
        .await?)
}

/// Gives up joining an account (started with `enroll_this_computer`, not finished): the
/// request is cancelled, and this computer's profile is erased so it can create or join
/// another account. Refused while an enrollment runs, and for a computer already in an account.
#[tauri::command]
pub async fn abandon_joining(
    profile: State<'_, Profile>,
    flow: State<'_, EnrollmentFlow>,
) -> Result<(), IpcError> {
    let _running = flow.begin()?;
    if let Some(engine) = profile.open().await?.engine {
        engine.abandon_joining().await?;
    }
    profile.erase().await
}

/// The account's open requests from new devices, for this (active) computer to decide on.
#[tauri::command]
pub async fn enrollment_requests(
    profile: State<'_, Profile>,
) -> Result<Vec<EnrollmentRequest>, IpcError> {
    let engine = profile.engine().await?;
    Ok(engine.enrollment_requests().await?)
}

/// Approves request `request_id` once the user has compared the short code on both screens.
#[tauri::command]
pub async fn approve_enrollment(
    app: AppHandle,
    profile: State<'_, Profile>,
    flow: State<'_, EnrollmentFlow>,
    request_id: String,
) -> Result<EnrollmentOutcome, IpcError> {
    let engine: Engine = profile.engine().await?;
    let (running, cancelled) = flow.begin()?;
    let flow = flow.inner().clone();
    let outcome = tauri::async_runtime::spawn(async move {
        let _running = running;
        let run = engine.approve_enrollment_showing(&request_id, |code, replaces| async move {
            flow.ask(&app, code, replaces).await
        });
        tokio::select! {
            outcome = run => outcome,
            _ = cancelled => {
                engine.cancel_enrollment_request(&request_id).await?;
                Ok(EnrollmentOutcome::Cancelled)
            }
        }
    })
    .await
    .map_err(|error| IpcError::internal(&error))??;
    Ok(outcome)
}

/// Rejects request `request_id`: that device is not added.
#[tauri::command]
pub async fn reject_enrollment(
    profile: State<'_, Profile>,
    request_id: String,
) -> Result<(), IpcError> {
    let engine = profile.engine().await?;
    engine.reject_enrollment(&request_id).await?;
    Ok(())
}

/// The user's answer to "Same code on both screens?"; `false` ends the enrollment.
#[tauri::command]
pub fn confirm_short_code(flow: State<'_, EnrollmentFlow>, same: bool) -> Result<(), IpcError> {
    flow.answer(same)
}

/// Cancels the running enrollment, here and on the service; nothing running is fine.
#[tauri::command]
pub fn cancel_enrollment(flow: State<'_, EnrollmentFlow>) -> Result<(), IpcError> {
    flow.cancel()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_enrollment_runs_at_a_time_and_cancel_reaches_it() {
        let flow = EnrollmentFlow::default();
        let (running, mut cancelled) = flow.begin().unwrap();
        assert_eq!(flow.begin().err().unwrap().code, "enrollment_busy");
        flow.cancel().unwrap();
        assert!(cancelled.try_recv().is_ok());
        // Cancelling twice, or with nothing running, is not an error.
        flow.cancel().unwrap();
        assert_eq!(flow.begin().err().unwrap().code, "enrollment_busy");
        drop(running);
        assert!(flow.begin().is_ok());
    }

    #[test]
    fn an_answer_without_a_code_on_screen_is_refused() {
        let flow = EnrollmentFlow::default();
        assert_eq!(flow.answer(true).unwrap_err().code, "no_code_shown");
        let (_running, _cancelled) = flow.begin().unwrap();
        assert_eq!(flow.answer(true).unwrap_err().code, "no_code_shown");
        let (answer, mut answered) = oneshot::channel();
        flow.slots.lock().unwrap().confirm = Some(answer);
        flow.answer(false).unwrap();
        assert_eq!(answered.try_recv(), Ok(false));
        assert_eq!(flow.answer(true).unwrap_err().code, "no_code_shown");
    }
}
