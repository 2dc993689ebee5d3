//! One running enrollment, on either side, as a handle the app and the CLI both drive: the
//! steps to show (the request posted, the short code), the user's answer about the code, and
//! cancel, which also withdraws the request on the relay (DESIGN §7).
//!
//! The protocol runs in a task of its own, so a window or a terminal waits on the handle's
//! steps instead of lending its callbacks to the protocol's future; the answer and cancel go
//! through an [`EnrollmentControl`] that can be kept apart (the app keeps it for its Cancel
//! button while the command awaits the outcome).

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use crate::{ClientError, Engine, EnrollEvent, EnrollmentOutcome, ReplacedView, ShortCodeView};

/// What a running enrollment shows its user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnrollmentStep {
    /// The new device posted its request: the account's other devices can see it.
    Requested {
        /// The request id (what `device approve` takes).
        id: String,
    },
    /// Both sides derived the short code: the user compares it with the other screen, then
    /// answers with [`EnrollmentControl::answer`].
    Code {
        /// The code.
        code: ShortCodeView,
        /// On the approving side, the device this new one replaces (approving removes it).
        replaces: Option<ReplacedView>,
    },
}

/// The answer and cancel of a running enrollment. Cloning it shares it.
#[derive(Clone)]
pub struct EnrollmentControl {
    slots: Arc<Mutex<ControlSlots>>,
}

struct ControlSlots {
    /// Where the answer to the code on screen goes, while one is shown.
    answer: Option<oneshot::Sender<bool>>,
    /// Where a cancel goes, until the first.
    cancel: Option<oneshot::Sender<()>>,
}

impl EnrollmentControl {
    fn new(cancel: oneshot::Sender<()>) -> Self {
        Self {
            slots: Arc::new(Mutex::new(ControlSlots {
                answer: None,
                cancel: Some(cancel),
            })),
        }
    }

    fn with<T>(&self, use_slots: impl FnOnce(&mut ControlSlots) -> T) -> T {
        // The slots hold only senders: a panic elsewhere leaves them usable.
        use_slots(&mut self.slots.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The user's answer to "same code on both screens?"; `false` ends the enrollment with
    /// nothing added.
    ///
    /// # Errors
    /// [`ClientError::NoCodeShown`] when no code waits for an answer.
    pub fn answer(&self, same: bool) -> Result<(), ClientError> {
        match self.with(|slots| slots.answer.take()) {
            Some(answer) => answer.send(same).map_err(|_| ClientError::NoCodeShown),
            None => Err(ClientError::NoCodeShown),
        }
    }

    /// Cancels the enrollment, here and on the relay; cancelling twice, or after it ended,
    /// does nothing.
    pub fn cancel(&self) {
        if let Some(cancel) = self.with(|slots| slots.cancel.take()) {
            // The run may have ended meanwhile: then there is nothing left to cancel.
            let _ = cancel.send(());
        }
    }

    /// Shows `code` and waits for the user's answer; no answer (the handle is gone) is a no.
    async fn ask(
        &self,
        steps: &mpsc::UnboundedSender<EnrollmentStep>,
        code: ShortCodeView,
        replaces: Option<ReplacedView>,
    ) -> bool {
        let (answer, answered) = oneshot::channel();
        self.with(|slots| slots.answer = Some(answer));
        if steps.send(EnrollmentStep::Code { code, replaces }).is_err() {
            return false;
        }
        answered.await.unwrap_or(false)
    }
}

/// A running enrollment: its steps, its control, and its outcome.
pub struct EnrollmentHandle {
    steps: mpsc::UnboundedReceiver<EnrollmentStep>,
    control: EnrollmentControl,
    run: JoinHandle<Result<EnrollmentOutcome, ClientError>>,
}

impl EnrollmentHandle {
    /// The next step to show; `None` once the enrollment has ended (then [`Self::outcome`]).
    pub async fn next_step(&mut self) -> Option<EnrollmentStep> {
        self.steps.recv().await
    }

    /// The answer and cancel of this enrollment.
    pub fn control(&self) -> EnrollmentControl {
        self.control.clone()
    }

    /// How it ended: [`EnrollmentOutcome::Cancelled`] after a cancel, whatever the protocol had
    /// reached.
    ///
    /// # Errors
    /// The protocol's errors; [`ClientError::Task`] if its task panicked.
    pub async fn outcome(self) -> Result<EnrollmentOutcome, ClientError> {
        self.run.await.map_err(|_| ClientError::Task)?
    }
}

impl Engine {
    /// Starts adding this device to the account of `username`, as the replacement of device
    /// `replaces` when given: the steps come through the handle, which answers the code and
    /// cancels (withdrawing the request on the relay). Needs a tokio runtime.
    pub fn start_enrollment(
        &self,
        username: String,
        password: Zeroizing<String>,
        replaces: Option<String>,
    ) -> EnrollmentHandle {
        let engine = self.clone();
        EnrollmentHandle::spawn(move |steps, control, cancelled| async move {
            let requests = steps.clone();
            let run = engine.enroll_replacing(
                username.trim(),
                &password,
                std::env::consts::OS,
                replaces.as_deref(),
                |event| match event {
                    EnrollEvent::Request { id } => {
                        let _ = requests.send(EnrollmentStep::Requested { id: id.clone() });
                    }
                },
                |code| async move { control.ask(&steps, code, None).await },
            );
            tokio::select! {
                outcome = run => outcome,
                Ok(()) = cancelled => {
                    engine.cancel_enrollment().await?;
                    Ok(EnrollmentOutcome::Cancelled)
                }
            }
        })
    }

    /// Starts approving request `request_id` from this (active) device: the code comes
    /// through the handle, with the device a replacement removes; cancelling withdraws the
    /// request. Needs a tokio runtime.
    pub fn start_approval(&self, request_id: String) -> EnrollmentHandle {
        let engine = self.clone();
        EnrollmentHandle::spawn(move |steps, control, cancelled| async move {
            let run = engine.approve_enrollment_showing(&request_id, |code, replaces| async move {
                control.ask(&steps, code, replaces).await
            });
            tokio::select! {
                outcome = run => outcome,
                Ok(()) = cancelled => {
                    engine.cancel_enrollment_request(&request_id).await?;
                    Ok(EnrollmentOutcome::Cancelled)
                }
            }
        })
    }
}

impl EnrollmentHandle {
    fn spawn<Run>(
        run: impl FnOnce(
            mpsc::UnboundedSender<EnrollmentStep>,
            EnrollmentControl,
            oneshot::Receiver<()>,
        ) -> Run,
    ) -> Self
    where
        Run: Future<Output = Result<EnrollmentOutcome, ClientError>> + Send + 'static,
    {
        let (steps, received) = mpsc::unbounded_channel();
        let (cancel, cancelled) = oneshot::channel();
        let control = EnrollmentControl::new(cancel);
        let run = tokio::spawn(run(steps, control.clone(), cancelled));
        Self {
            steps: received,
            control,
            run,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code() -> ShortCodeView {
        ShortCodeView {
            code: "482 913".to_owned(),
            emoji: Vec::new(),
        }
    }

    #[tokio::test]
    async fn the_answer_reaches_the_code_on_screen_once_and_only_then() {
        let mut handle = EnrollmentHandle::spawn(|steps, control, _cancelled| async move {
            Ok(if control.ask(&steps, code(), None).await {
                EnrollmentOutcome::Active
            } else {
                EnrollmentOutcome::CodesDiffer
            })
        });
        let control = handle.control();
        assert_eq!(
            handle.next_step().await,
            Some(EnrollmentStep::Code {
                code: code(),
                replaces: None
            })
        );
        control.answer(true).unwrap();
        assert_eq!(control.answer(true).unwrap_err().code(), "no_code_shown");
        assert_eq!(handle.next_step().await, None);
        assert_eq!(handle.outcome().await.unwrap(), EnrollmentOutcome::Active);
    }

    #[tokio::test]
    async fn cancel_reaches_the_run_once_and_a_second_cancel_is_harmless() {
        let handle = EnrollmentHandle::spawn(|_steps, _control, cancelled| async move {
            Ok(match cancelled.await {
                Ok(()) => EnrollmentOutcome::Cancelled,
                Err(_) => EnrollmentOutcome::Expired,
            })
        });
        let control = handle.control();
        assert_eq!(control.answer(false).unwrap_err().code(), "no_code_shown");
        control.cancel();
        control.cancel();
        assert_eq!(
            handle.outcome().await.unwrap(),
            EnrollmentOutcome::Cancelled
        );
    }
}
