//! Enrollment by approval (DESIGN §7) from the window: adding this computer to an account, and
//! deciding on another device's request from a trusted one.
//!
//! The engine runs the protocol in a task of its own behind an `EnrollmentHandle`; these
//! commands start it, forward its steps to the window as `enrollment-progress` events and keep
//! its control in [`EnrollmentFlow`], where the user's answer about the short code and Cancel
//! (which ends it on the relay as well) reach it. One flow runs at a time.

use std::sync::{Arc, Mutex, PoisonError};

use enigm_client::{
    ClientError, DeviceView, EnrollmentControl, EnrollmentHandle, EnrollmentOutcome,
    EnrollmentRequest, EnrollmentStep,
};
use tauri::{AppHandle, Emitter, State};
use tauri_plugin_notification::NotificationExt;
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
    /// The running enrollment's control, once it started.
    control: Option<EnrollmentControl>,
    /// Cancel was asked before the enrollment started: it is cancelled as it starts.
    cancel_asked: bool,
}

/// Clears the flow's slots when its command ends, however it ends.
struct Running(EnrollmentFlow);

impl Drop for Running {
    fn drop(&mut self) {
        *self.0.slots() = Slots::default();
    }
}

impl EnrollmentFlow {
    fn slots(&self) -> std::sync::MutexGuard<'_, Slots> {
        // The slots hold only a flag and the control: a panic elsewhere leaves them usable.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims the flow for a new run; refused while another runs.
    fn begin(&self) -> Result<Running, IpcError> {
        let mut slots = self.slots();
        if slots.running {
            return Err(IpcError::new(
                AppCode::EnrollmentBusy,
                "Another enrollment is already in progress on this computer. Finish or cancel it first.",
            ));
        }
        *slots = Slots {
            running: true,
            ..Slots::default()
        };
        Ok(Running(self.clone()))
    }

    /// Follows the started enrollment: forwards its steps to the window until it ends, and
    /// returns its outcome.
    async fn follow(
        &self,
        app: &AppHandle,
        mut handle: EnrollmentHandle,
    ) -> Result<EnrollmentOutcome, IpcError> {
        let control = handle.control();
        let cancel_asked = {
            let mut slots = self.slots();
            slots.control = Some(control.clone());
            slots.cancel_asked
        };
        if cancel_asked {
            control.cancel();
        }
        while let Some(step) = handle.next_step().await {
            let progress = match step {
                EnrollmentStep::Requested { .. } => EnrollmentProgress::Requested,
                EnrollmentStep::Code { code, replaces } => EnrollmentProgress::code(code, replaces),
            };
            if let Err(error) = app.emit(ENROLLMENT_PROGRESS_EVENT, progress) {
                tracing::warn!(%error, "enrollment progress could not reach the window");
            }
        }
        Ok(handle.outcome().await?)
    }

    /// Hands the user's answer to the code on screen.
    fn answer(&self, same: bool) -> Result<(), IpcError> {
        let control = self.slots().control.clone();
        Ok(control.ok_or(ClientError::NoCodeShown)?.answer(same)?)
    }

    /// Asks the running flow to cancel; nothing running is fine.
    fn cancel(&self) {
        let mut slots = self.slots();
        match &slots.control {
            Some(control) => control.cancel(),
            None => slots.cancel_asked = slots.running,
        }
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
    let _running = flow.begin()?;
    let handle = engine.start_enrollment(username, password, replaces);
    let outcome = flow.follow(&app, handle).await?;
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
    let engine = profile.engine().await?;
    let _running = flow.begin()?;
    flow.follow(&app, engine.start_approval(request_id)).await
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
pub async fn confirm_short_code(
    flow: State<'_, EnrollmentFlow>,
    same: bool,
) -> Result<(), IpcError> {
    flow.answer(same)
}

/// Cancels the running enrollment, here and on the service; nothing running is fine.
#[tauri::command]
pub async fn cancel_enrollment(flow: State<'_, EnrollmentFlow>) -> Result<(), IpcError> {
    flow.cancel();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_enrollment_runs_at_a_time() {
        let flow = EnrollmentFlow::default();
        let running = flow.begin().unwrap();
        assert_eq!(flow.begin().err().unwrap().code, "enrollment_busy");
        // Cancelling with nothing started yet is kept for the start; twice is not an error.
        flow.cancel();
        flow.cancel();
        assert!(flow.slots().cancel_asked);
        drop(running);
        assert!(!flow.slots().cancel_asked);
        assert!(flow.begin().is_ok());
    }

    #[test]
    fn an_answer_without_a_code_on_screen_is_refused() {
        let flow = EnrollmentFlow::default();
        assert_eq!(flow.answer(true).unwrap_err().code, "no_code_shown");
        let _running = flow.begin().unwrap();
        assert_eq!(flow.answer(true).unwrap_err().code, "no_code_shown");
        // Cancel with nothing running is not remembered for the next run.
        drop(_running);
        flow.cancel();
        assert!(!flow.slots().cancel_asked);
    }
}
