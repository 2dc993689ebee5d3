//! Live session state: the engine holds the device's push socket open, turns what arrives into
//! [`SessionState`] changes (enigm-core's one transition function) and tells an observer.
//!
//! Ledger news is never taken on the service's word: a `ledger_appended` or
//! `device_state_changed` event makes the engine sync and verify, and the observer sees the
//! verified device list (not while the app is locked: the list carries the devices' labels).
//! A `session_ended` with reason `revoked` erases this device's keys once the removal verifies
//! against this device's own ledger (see `removal.rs`); the profile keeps the mark of when and
//! why, and who removed it. A removal that does not verify erases nothing: the state becomes
//! `restricted` (`refused_by_service`).
//! A recovery elsewhere (`recovery_started`, the `Recover` entry's events, then
//! `session_ended{recovery}`) ends this session: the old session can no longer read the ledger,
//! so the engine does not try; the state becomes `recovering_elsewhere` (sign in again with the
//! new password), and then `revoked`, keys erased, when the recovery named this device lost
//! (the service refuses it from then on, as for any revocation).
//! Lost connections are retried with exponential backoff; the observer sees `offline` meanwhile.
//! A suspended device keeps its session (the service refuses it until it is resumed): the state
//! is `restricted` (`suspended`), the engine keeps who paused it (see `pause.rs`) and asks every
//! few seconds whether it was resumed, lifting the pause once its own verified ledger shows it
//! active again.

use std::time::Duration;

use enigm_core::lifecycle::DeviceState;
use enigm_core::request::{SessionId, sign_request};
use enigm_core::session::{Restriction, Revocation, SessionEnd, SessionEvent, SessionState};
use enigm_core::trust::SessionKind;
use enigm_proto::{EndReason, ErrorCode, PushEvent, Stage};
use futures_util::StreamExt;
use rand_core::OsRng;
use reqwest::Method;
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::engine::now;
use crate::removal::revocation;
use crate::{ClientError, DeviceList, Engine};

/// First wait before reconnecting; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Bound on opening the socket.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a paused device asks whether it was resumed.
const PAUSED_POLL: Duration = Duration::from_secs(3);
/// The state of a paused device.
const PAUSED: SessionState = SessionState::Restricted {
    reason: Restriction::Suspended,
};
/// Largest frame accepted from the service (its events are at most about 3 KiB: one ledger
/// entry in base64url and a few fields).
const MAX_FRAME: usize = 4 * 1024;

/// An open push connection.
pub(crate) type PushSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What the observer is told.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WatchUpdate {
    /// The session state changed (or, first, what it is).
    State {
        /// The new state.
        #[serde(flatten)]
        state: SessionState,
    },
    /// The device list changed; this is the newly verified list.
    Devices {
        /// The verified list.
        #[serde(flatten)]
        list: DeviceList,
    },
    /// A new device asks to join the account.
    EnrollmentRequest {
        /// The request id.
        id: String,
    },
    /// An enrollment request moved on or closed (accepted, rejected, cancelled, ...): a list of
    /// open requests on screen is stale.
    EnrollmentUpdated {
        /// The request id.
        id: String,
        /// Its new stage on the relay.
        state: Stage,
    },
    /// Someone started a recovery of the account with the recovery phrase.
    RecoveryStarted,
    /// The push connection is down; the engine retries after `retry_in_ms`.
    Offline {
        /// Wait before the next attempt.
        retry_in_ms: u64,
    },
    /// The push connection is up.
    Online,
}

impl Engine {
    /// The session state as the profile records it.
    ///
    /// # Errors
    /// The store's errors.
    pub async fn session_state(&self) -> Result<SessionState, ClientError> {
        self.with_store_blocking(|store| {
            Ok(match (store.revoked()?, store.session()?) {
                (Some(mark), _) => SessionState::Revoked(revocation(store, &mark)?),
                (None, None) => SessionState::SignedOut,
                (None, Some(session)) if session.kind == SessionKind::Full => {
                    SessionState::Active {
                        expires_at: session.expires_at,
                    }
                }
                (None, Some(_)) => SessionState::Enrolling,
            })
        })
        .await
    }

    /// Settles the service's word that this device was removed (see [`Engine::removed`]):
    /// moves `state` to `revoked` with what it verified (the keys are erased), or to
    /// `restricted` (`refused_by_service`, everything kept) when the removal does not verify.
    async fn end_as_removed(
        &self,
        state: SessionState,
        entry: Option<String>,
    ) -> Result<SessionState, ClientError> {
        match self.removed(entry).await {
            ClientError::DeviceRevoked(revocation) | ClientError::DeviceReplaced(revocation) => {
                self.transition(
                    state,
                    SessionEvent::Ended(SessionEnd::DeviceRemoved(*revocation)),
                )
            }
            ClientError::ServiceRefusesDevice => self.transition(
                state,
                SessionEvent::Restricted(Restriction::RefusedByService),
            ),
            failed => Err(failed),
        }
    }

    /// The revocation a recovery made of this device, verified: the session still stands for
    /// one more request, which the service refuses with the `Recover` entry. `None` when the
    /// removal does not verify (nothing is erased then).
    async fn removal_by_recovery(&self) -> Result<Option<Revocation>, ClientError> {
        let asked: Result<serde_json::Value, ClientError> =
            self.signed(Method::GET, "/v1/ledger", None).await;
        let settled = match asked {
            Err(settled @ (ClientError::DeviceRevoked(_) | ClientError::DeviceReplaced(_))) => {
                settled
            }
            Err(ClientError::ServiceRefusesDevice) => return Ok(None),
            Ok(_) | Err(_) => self.removed(None).await,
        };
        match settled {
            ClientError::DeviceRevoked(revocation) | ClientError::DeviceReplaced(revocation) => {
                Ok(Some(*revocation))
            }
            ClientError::ServiceRefusesDevice => Ok(None),
            failed => Err(failed),
        }
    }

    /// Follows the session live until it reaches a state that needs the user (revoked, wiped,
    /// signed out, recovered elsewhere, suspended), telling `observer` every change. Returns
    /// that state.
    ///
    /// # Errors
    /// The store's errors; a session state transition the core refuses.
    pub async fn watch(
        &self,
        mut observer: impl FnMut(&WatchUpdate),
    ) -> Result<SessionState, ClientError> {
        let mut state = self.session_state().await?;
        observer(&WatchUpdate::State {
            state: state.clone(),
        });
        let mut backoff = FIRST_BACKOFF;
        loop {
            if state == PAUSED {
                // The service refuses a paused device's socket: ask it now and then whether
                // this device was resumed, and listen again once it was.
                tokio::time::sleep(PAUSED_POLL).await;
                state = self.after_pause(state, &mut observer).await?;
                continue;
            }
            if !matches!(state, SessionState::Active { .. } | SessionState::Enrolling) {
                return Ok(state);
            }
            match self.listen(&mut state, &mut observer, &mut backoff).await {
                Ok(_)
                    if !matches!(state, SessionState::Active { .. } | SessionState::Enrolling) =>
                {
                    continue;
                }
                // This device signed in again (a password change's step-up): listen with the
                // new session at once.
                Ok(Closed::Superseded) => continue,
                Ok(Closed::Ended | Closed::Dropped) => {}
                // The account was recovered while this device was not listening.
                Err(error) if error.service_code() == Some(&ErrorCode::SessionBeforeRecovery) => {
                    state = self.transition(state, SessionEvent::Ended(SessionEnd::Recovery))?;
                    self.with_store_blocking(enigm_store::Store::clear_session)
                        .await?;
                    observer(&WatchUpdate::State {
                        state: state.clone(),
                    });
                    continue;
                }
                Err(error) if error.is_session_over() => {
                    state = self.transition(state, SessionEvent::Ended(SessionEnd::Expired))?;
                    self.with_store_blocking(enigm_store::Store::clear_session)
                        .await?;
                    observer(&WatchUpdate::State {
                        state: state.clone(),
                    });
                    continue;
                }
                // Refused at the upgrade: this device was removed while it was not listening.
                Err(ClientError::RemovedByService { entry, .. }) => {
                    state = self.end_as_removed(state, entry).await?;
                    observer(&WatchUpdate::State {
                        state: state.clone(),
                    });
                    continue;
                }
                // Refused by a request made while listening (the keys are already erased).
                Err(
                    ClientError::DeviceRevoked(revocation)
                    | ClientError::DeviceReplaced(revocation),
                ) => {
                    state = self.transition(
                        state,
                        SessionEvent::Ended(SessionEnd::DeviceRemoved(*revocation)),
                    )?;
                    observer(&WatchUpdate::State {
                        state: state.clone(),
                    });
                    continue;
                }
                // Refused by a request made while listening, and the removal did not verify.
                Err(ClientError::ServiceRefusesDevice) => {
                    state = self.transition(
                        state,
                        SessionEvent::Restricted(Restriction::RefusedByService),
                    )?;
                    observer(&WatchUpdate::State {
                        state: state.clone(),
                    });
                    continue;
                }
                Err(
                    error @ (ClientError::Unreachable(_)
                    | ClientError::MalformedResponse(_)
                    | ClientError::Service { .. }),
                ) => {
                    // Paused while this device was not listening: the socket is refused.
                    if error.service_code() == Some(&ErrorCode::TrustDenied)
                        && self.paused_now().await
                    {
                        state = self
                            .transition(state, SessionEvent::Restricted(Restriction::Suspended))?;
                        observer(&WatchUpdate::State {
                            state: state.clone(),
                        });
                        continue;
                    }
                }
                Err(other) => return Err(other),
            }
            observer(&WatchUpdate::Offline {
                retry_in_ms: u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
            });
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Whether the service holds this device as suspended now (its session status still
    /// answers a paused device); false when it cannot say.
    async fn paused_now(&self) -> bool {
        matches!(
            self.session_status().await,
            Ok(status) if status.device_state == DeviceState::Suspended
        )
    }

    /// One look, while paused, at whether this device was resumed: the service's session
    /// status first, then the ledger synced and verified here, which must show this device
    /// active again before the pause lifts. Returns the state after it.
    async fn after_pause(
        &self,
        state: SessionState,
        observer: &mut impl FnMut(&WatchUpdate),
    ) -> Result<SessionState, ClientError> {
        let next = match self.session_status().await {
            Ok(status) if status.device_state == DeviceState::Active => {
                let resumed = self.sync().await.is_ok_and(|list| {
                    list.devices
                        .iter()
                        .any(|device| device.this_device && device.state == DeviceState::Active)
                });
                if !resumed {
                    return Ok(state);
                }
                self.forget_pauser().await?;
                tracing::info!("this device was resumed");
                SessionEvent::Unrestricted {
                    expires_at: status.session.expires_at,
                }
            }
            Err(error) if error.is_session_over() => {
                self.with_store_blocking(enigm_store::Store::clear_session)
                    .await?;
                SessionEvent::Ended(SessionEnd::Expired)
            }
            Err(
                ClientError::DeviceRevoked(revocation) | ClientError::DeviceReplaced(revocation),
            ) => SessionEvent::Ended(SessionEnd::DeviceRemoved(*revocation)),
            // Still paused, or the service cannot say now: look again later.
            Ok(_) | Err(_) => return Ok(state),
        };
        let state = self.transition(state, next)?;
        observer(&WatchUpdate::State {
            state: state.clone(),
        });
        Ok(state)
    }

    fn transition(
        &self,
        state: SessionState,
        event: SessionEvent,
    ) -> Result<SessionState, ClientError> {
        state.next(event).map_err(ClientError::Protocol)
    }

    /// Opens this device's push socket, signed with the saved session.
    pub(crate) async fn push_socket(&self) -> Result<PushSocket, ClientError> {
        let (session, device) = self.signer_parts().await?;
        let mut url = self.api().base_url().join("/v1/push").map_err(|_| {
            ClientError::InvalidServerUrl("the service address cannot carry a push path")
        })?;
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme)
            .map_err(|()| ClientError::InvalidServerUrl("no push URL for this address"))?;
        let auth = sign_request(&device, session, "GET", "/v1/push", b"", now(), &mut OsRng);
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|_| ClientError::InvalidServerUrl("no push URL for this address"))?;
        let header = auth
            .to_header()
            .parse()
            .map_err(|_| ClientError::MalformedResponse("authorization header"))?;
        request.headers_mut().insert("Authorization", header);
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(MAX_FRAME))
            .max_frame_size(Some(MAX_FRAME));
        let connected = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio_tungstenite::connect_async_with_config(request, Some(config), false),
        )
        .await
        .map_err(|_| ClientError::Unreachable(self.api().base_url().to_string()))?;
        match connected {
            Ok((socket, _)) => Ok(socket),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let status = response.status();
                let body = response.body().clone().unwrap_or_default();
                Err(crate::api::service_error(status, &body, None))
            }
            Err(_) => Err(ClientError::Unreachable(self.api().base_url().to_string())),
        }
    }

    /// Syncs the ledger (and with it this device's newest sync key), and tells the observer the
    /// verified list unless the app is locked: the list carries the devices' labels, and a
    /// locked window shows nothing of the account (it reads the list again once unlocked).
    async fn sync_and_show(
        &self,
        observer: &mut impl FnMut(&WatchUpdate),
    ) -> Result<(), ClientError> {
        // Asked before the sync too: a removal it verifies erases the Lock with the keys.
        let locked = self.is_locked().await?;
        let list = self.sync().await?;
        if !locked && !self.is_locked().await? {
            observer(&WatchUpdate::Devices { list });
        }
        Ok(())
    }

    /// Whether the saved session is no longer `opened`: this device signed in again since
    /// (changing the password signs in again first), so the end of `opened` is not this
    /// device's.
    async fn superseded(&self, opened: SessionId) -> Result<bool, ClientError> {
        let saved = self.with_store_blocking(|store| store.session()).await?;
        Ok(saved.is_some_and(|saved| saved.session_id != *opened.as_bytes()))
    }

    /// One connection: open, then handle events until it closes.
    async fn listen(
        &self,
        state: &mut SessionState,
        observer: &mut impl FnMut(&WatchUpdate),
        backoff: &mut Duration,
    ) -> Result<Closed, ClientError> {
        let (opened, device) = self.signer_parts().await?;
        let mut socket = self.push_socket().await?;
        observer(&WatchUpdate::Online);
        *backoff = FIRST_BACKOFF;
        let this_device = device.device_id().to_hex();
        // Set by `recovery_started`: the session is over and whether the recovery revoked this
        // device is all that is left to learn.
        let mut recovering = false;
        let mut revoked_by_recovery = false;
        // Whatever happened while offline: catch up once.
        if matches!(state, SessionState::Active { .. }) {
            self.sync_and_show(observer).await?;
        }
        while let Some(message) = socket.next().await {
            let Ok(Message::Text(text)) = message else {
                continue;
            };
            let Ok(event) = serde_json::from_str::<PushEvent>(text.as_str()) else {
                continue;
            };
            match event {
                PushEvent::DeviceStateChanged {
                    device_id,
                    state: changed_to,
                } if recovering => {
                    revoked_by_recovery |=
                        device_id == this_device && changed_to == DeviceState::Revoked;
                }
                PushEvent::LedgerAppended { .. } if recovering => {}
                // A sync fetches this device's newest sync key too, and labels come with the list.
                PushEvent::LedgerAppended { .. }
                | PushEvent::DeviceStateChanged { .. }
                | PushEvent::SyncKeyRotated { .. }
                | PushEvent::SharedUpdated { .. } => {
                    if matches!(state, SessionState::Active { .. }) {
                        self.sync_and_show(observer).await?;
                    }
                }
                PushEvent::EnrollmentRequested { id } => {
                    observer(&WatchUpdate::EnrollmentRequest { id });
                }
                PushEvent::EnrollmentUpdated { id, state } => {
                    observer(&WatchUpdate::EnrollmentUpdated { id, state });
                }
                PushEvent::RecoveryStarted {} => {
                    recovering = true;
                    observer(&WatchUpdate::RecoveryStarted);
                }
                PushEvent::SessionEnded { reason, entry } => {
                    let session_only = matches!(
                        reason,
                        EndReason::SignedOut | EndReason::Expired | EndReason::PasswordChanged
                    );
                    if session_only && self.superseded(opened).await? {
                        return Ok(Closed::Superseded);
                    }
                    let event = match reason {
                        EndReason::Revoked => {
                            *state = self.end_as_removed(state.clone(), entry).await?;
                            observer(&WatchUpdate::State {
                                state: state.clone(),
                            });
                            return Ok(Closed::Ended);
                        }
                        EndReason::Recovery if revoked_by_recovery => {
                            match self.removal_by_recovery().await? {
                                Some(revocation) => {
                                    *state = self.transition(
                                        state.clone(),
                                        SessionEvent::Ended(SessionEnd::Recovery),
                                    )?;
                                    observer(&WatchUpdate::State {
                                        state: state.clone(),
                                    });
                                    SessionEvent::Ended(SessionEnd::DeviceRemoved(revocation))
                                }
                                None => SessionEvent::Ended(SessionEnd::Recovery),
                            }
                        }
                        // The session stands (the service refuses it while paused), so this
                        // device learns of its resume without signing in again.
                        EndReason::Suspended => {
                            self.note_pauser(entry).await?;
                            SessionEvent::Restricted(Restriction::Suspended)
                        }
                        EndReason::Recovery => SessionEvent::Ended(SessionEnd::Recovery),
                        // The password changed elsewhere: signed out, to sign in with the new one.
                        EndReason::SignedOut | EndReason::Expired | EndReason::PasswordChanged => {
                            SessionEvent::Ended(SessionEnd::Expired)
                        }
                    };
                    if !matches!(
                        event,
                        SessionEvent::Ended(SessionEnd::DeviceRemoved(_))
                            | SessionEvent::Restricted(Restriction::Suspended)
                    ) {
                        self.with_store_blocking(enigm_store::Store::clear_session)
                            .await?;
                    }
                    *state = self.transition(state.clone(), event)?;
                    observer(&WatchUpdate::State {
                        state: state.clone(),
                    });
                    return Ok(Closed::Ended);
                }
                // Remote wipe (DESIGN §10) needs the user's opt-in, which this client does not
                // offer yet: a wipe request is ignored.
                PushEvent::Wipe {} => {}
            }
        }
        Ok(Closed::Dropped)
    }
}

/// How one push connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Closed {
    /// The session reached a state the watch reports (the caller looks at it).
    Ended,
    /// The connection dropped; reconnect after a wait.
    Dropped,
    /// The session the connection was opened with ended because this device signed in again.
    Superseded,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_are_one_flat_json_object_each() {
        let update = WatchUpdate::State {
            state: SessionState::Active { expires_at: 5 },
        };
        assert_eq!(
            serde_json::to_value(&update).unwrap(),
            serde_json::json!({ "event": "state", "state": "active", "expires_at": 5 })
        );
        let offline = WatchUpdate::Offline { retry_in_ms: 500 };
        assert_eq!(
            serde_json::to_value(&offline).unwrap(),
            serde_json::json!({ "event": "offline", "retry_in_ms": 500 })
        );
    }
}
