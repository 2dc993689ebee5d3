//! `GET /v1/push`: a WebSocket per device session (DESIGN §6).
//!
//! The upgrade request is a signed request like any other (same header, nonce, replay, expiry
//! and trust checks), so a refused upgrade gets the usual 401 or 403. Once open, the service
//! sends [`PushEvent`]s as JSON text frames and pings every [`PING_INTERVAL`]; a missed pong,
//! a data frame from the client, or a queue that overflows closes the socket. When the
//! session ends (revoked, suspended, recovery, sign-out, expiry) the socket receives
//! `session_ended` and a close frame with code [`CLOSE_SESSION_ENDED`] and the reason as text;
//! a removed device's `session_ended{revoked}` carries the ledger entry that removed it, a
//! suspended one's `session_ended{suspended}` the entry that suspended it.
//!
//! A session holds at most `Config::push_sockets_per_session` sockets on a node (4 by
//! default); one more is refused with 429 `too_many_push_sockets` (`max` says the bound).
//!
//! Buffers are kept small on purpose: a socket that only receives small events and control
//! frames needs a few KiB, and the service must hold tens of thousands of idle ones.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::on;
use enigm_core::identity::DeviceId;
use enigm_core::ledger::{EntryKind, LedgerEntry, LedgerState};
use enigm_core::lifecycle::DeviceState;
use enigm_core::pseudonym::{PseudonymKind, pseudonym};
use enigm_core::trust::SessionKind;
use tokio::time::{Instant, MissedTickBehavior, timeout};

use super::sessions::natural_operation;
use super::{Doc, Endpoint, Reply, Verb, encode_b64};
use crate::audit::entry_code;
use crate::auth::Authenticated;
use crate::error::{LimitRefusal, ServerError};
use crate::push::{Audience, EndReason, Listener, PushEvent};
use crate::state::AppState;
use crate::storage::AccountId;

/// How often the service pings; a ping still unanswered at the next one closes the socket.
const PING_INTERVAL: Duration = Duration::from_secs(30);

/// The longest a single frame may take to send.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Read buffer per socket (the client sends only control frames).
const READ_BUFFER: usize = 4 * 1024;

/// Write buffer bound per socket (events are at most `MAX_EVENT_BYTES`; frames go out at once).
const MAX_WRITE_BUFFER: usize = 16 * 1024;

/// The largest frame or message accepted from the client (control frames are at most 125).
const MAX_INCOMING: usize = 1024;

/// Close code: the session ended; the reason text is the [`EndReason`].
const CLOSE_SESSION_ENDED: u16 = 4001;

/// Close code: a ping went unanswered.
const CLOSE_UNRESPONSIVE: u16 = 4002;

/// Close code: events arrived faster than the client read them.
const CLOSE_TOO_SLOW: u16 = 4008;

/// Close code: the client sent a data frame (this socket only pushes).
const CLOSE_UNSUPPORTED: u16 = 1003;

/// Close code: a failure on the service's side.
const CLOSE_INTERNAL: u16 = 1011;

/// The push endpoint.
pub(super) const ENDPOINTS: &[Endpoint] = &[Endpoint {
    verb: Verb::Get,
    path: "/v1/push",
    handler: |filter| on(filter, connect),
    doc: Doc {
        id: "push",
        summary: "WebSocket upgrade (a signed request like any other). The service sends `PushEvent`s as JSON text frames and pings every 30 s; the client sends control frames only. A session that ends gets `session_ended`, then a close frame with code 4001 and the reason as text (4002: ping unanswered, 4008: too slow, 1003: the client sent data).",
        signed: true,
        query: &[],
        request: None,
        reply: Reply::Upgrade,
        errors: &[400, 401, 403, 408, 413, 429, 500, 503],
    },
}];

/// Checks the signed upgrade request, then hands the socket to [`serve`].
async fn connect(
    State(state): State<AppState>,
    upgrade: WebSocketUpgrade,
    request: Authenticated,
) -> Result<Response, ServerError> {
    request.authorize(natural_operation(request.session.kind))?;
    let listener = Listener {
        account_id: request.account.account_id,
        session_id: request.session.session_id,
        device_id: request.session.device_id,
        restricted: match request.session.kind {
            SessionKind::Full => false,
            SessionKind::EnrollmentRestricted => true,
        },
    };
    let expires_at = request.session.expires_at;
    let max = state.config().push_sockets_per_session;
    let permit = state
        .push_sockets()
        .acquire(request.session.session_id, max)
        .ok_or(ServerError::Limit(LimitRefusal::PushSockets { max }))?;
    Ok(upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(MAX_INCOMING)
        .max_frame_size(MAX_INCOMING)
        .on_upgrade(move |socket| async move {
            // Held while the socket is served; dropped with the callback if the upgrade fails.
            let _permit = permit;
            serve(state, listener, expires_at, socket).await;
        }))
}

/// Why the service stops serving a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Closing {
    /// The session ended; `session_ended` must still be sent.
    Ended(EndReason),
    /// The session ended and the bus's `session_ended` was sent.
    Told(EndReason),
    /// The queue overflowed.
    TooSlow,
    /// A ping went unanswered.
    Unresponsive,
    /// The client sent a data frame.
    Unsupported,
    /// A failure on our side.
    Failed,
    /// The client closed or the connection broke: nothing more to send.
    Gone,
}

impl Closing {
    /// The close frame to send, if any.
    fn frame(self) -> Option<CloseFrame> {
        let (code, reason) = match self {
            Closing::Ended(reason) | Closing::Told(reason) => {
                (CLOSE_SESSION_ENDED, reason.as_str())
            }
            Closing::TooSlow => (CLOSE_TOO_SLOW, "too_slow"),
            Closing::Unresponsive => (CLOSE_UNRESPONSIVE, "ping_timeout"),
            Closing::Unsupported => (CLOSE_UNSUPPORTED, "push_only"),
            Closing::Failed => (CLOSE_INTERNAL, "internal"),
            Closing::Gone => return None,
        };
        Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        })
    }
}

/// Unregisters the connection however the task ends.
struct Registration {
    state: AppState,
    account_id: AccountId,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.state.push().unsubscribe(&self.account_id, self.id);
    }
}

/// Serves one socket until it closes.
async fn serve(state: AppState, listener: Listener, expires_at: u64, mut socket: WebSocket) {
    let subscription = state.push().subscribe(listener);
    let _registration = Registration {
        state: state.clone(),
        account_id: listener.account_id,
        id: subscription.id,
    };
    // Subscribed first, checked second: an end between the upgrade's checks and the
    // subscription is seen here, a later one arrives as an event.
    let closing = match standing(&state, &listener).await {
        Ok(Ok(_)) => {
            run(
                &state,
                &listener,
                expires_at,
                &mut socket,
                subscription.events,
            )
            .await
        }
        Ok(Err(reason)) => Closing::Ended(reason),
        Err(error) => {
            tracing::warn!(%error, "push: checking the session failed");
            Closing::Failed
        }
    };
    if let Closing::Ended(reason) = closing {
        // Found by a check here or in `run`; ends from the bus were sent already.
        let entry = match reason {
            EndReason::Revoked => removing_entry(&state, &listener).await,
            EndReason::Suspended
            | EndReason::Recovery
            | EndReason::SignedOut
            | EndReason::Expired
            | EndReason::PasswordChanged => None,
        };
        let _ = send_event(&mut socket, &PushEvent::SessionEnded { reason, entry }).await;
    }
    if let Some(frame) = closing.frame() {
        let _ = timeout(SEND_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
    }
    let logs = &state.secrets().service_logs;
    tracing::debug!(
        device = %pseudonym(logs, PseudonymKind::Device, &listener.device_id),
        closing = ?closing,
        "push socket closed"
    );
}

/// Relays events and pings until something closes the socket. A `session_ended` from the bus
/// is sent here ([`Closing::Told`]); the caller sends it for ends found otherwise.
async fn run(
    state: &AppState,
    listener: &Listener,
    mut expires_at: u64,
    socket: &mut WebSocket,
    mut events: tokio::sync::mpsc::Receiver<crate::push::Outbound>,
) -> Closing {
    let mut ticker = tokio::time::interval_at(Instant::now() + PING_INTERVAL, PING_INTERVAL);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut awaiting_pong = false;
    loop {
        tokio::select! {
            outbound = events.recv() => {
                let Some(outbound) = outbound else { return Closing::TooSlow };
                let frame = Message::Text(Utf8Bytes::from(outbound.text.as_ref()));
                if !send(socket, frame).await {
                    return Closing::Gone;
                }
                if let Some(reason) = outbound.ends {
                    return Closing::Told(reason);
                }
            }
            message = socket.recv() => match message {
                Some(Ok(Message::Pong(_))) => awaiting_pong = false,
                // Answered by the WebSocket layer itself.
                Some(Ok(Message::Ping(_))) => {}
                Some(Ok(Message::Text(_) | Message::Binary(_))) => return Closing::Unsupported,
                Some(Ok(Message::Close(_)) | Err(_)) | None => return Closing::Gone,
            },
            _ = ticker.tick() => {
                if awaiting_pong {
                    return Closing::Unresponsive;
                }
                if state.now() >= expires_at {
                    match standing(state, listener).await {
                        Ok(Ok(later)) => expires_at = later,
                        Ok(Err(reason)) => return Closing::Ended(reason),
                        Err(error) => {
                            tracing::warn!(%error, "push: checking the session failed");
                            return Closing::Failed;
                        }
                    }
                }
                if !send(socket, Message::Ping(axum::body::Bytes::new())).await {
                    return Closing::Gone;
                }
                awaiting_pong = true;
            }
        }
    }
}

/// Sends one frame within [`SEND_TIMEOUT`]; `false` when the connection is unusable.
async fn send(socket: &mut WebSocket, message: Message) -> bool {
    matches!(
        timeout(SEND_TIMEOUT, socket.send(message)).await,
        Ok(Ok(()))
    )
}

/// Sends one event.
async fn send_event(socket: &mut WebSocket, event: &PushEvent) -> Result<(), ServerError> {
    let text = crate::push::encode_event(event)?;
    if send(socket, Message::Text(Utf8Bytes::from(text))).await {
        Ok(())
    } else {
        Err(ServerError::Internal("push socket unusable".into()))
    }
}

/// Whether the session still stands: its new expiry, or why it ended.
async fn standing(
    state: &AppState,
    listener: &Listener,
) -> Result<Result<u64, EndReason>, ServerError> {
    let ledger = state.ledger(&listener.account_id).await?;
    let device = ledger
        .device(&DeviceId::from_bytes(listener.device_id))
        .map(|record| record.state);
    if let Some(reason) = device.and_then(end_reason) {
        return Ok(Err(reason));
    }
    let Some(session) = state.storage().session(&listener.session_id).await? else {
        return Ok(Err(EndReason::SignedOut));
    };
    let account = state.storage().account(&listener.account_id).await?;
    if account.is_none_or(|account| account.recovery_epoch != session.recovery_epoch) {
        return Ok(Err(EndReason::Recovery));
    }
    if state.now() >= session.expires_at {
        return Ok(Err(EndReason::Expired));
    }
    Ok(Ok(session.expires_at))
}

/// The entry that removed the listener's device (base64url), best effort: the device still
/// hears that it was removed without it.
async fn removing_entry(state: &AppState, listener: &Listener) -> Option<String> {
    let found = match state.ledger(&listener.account_id).await {
        Ok(ledger) => {
            state
                .removal(&listener.account_id, &ledger, listener.device_id)
                .await
        }
        Err(error) => Err(error),
    };
    match found {
        Ok(Some(ServerError::DeviceRemoved { entry, .. })) => Some(entry),
        Ok(_) => None,
        Err(error) => {
            tracing::warn!(%error, "push: finding the removing entry failed");
            None
        }
    }
}

/// The end a device state means for the device's sessions, if any.
fn end_reason(state: DeviceState) -> Option<EndReason> {
    match state {
        DeviceState::Revoked | DeviceState::Replaced | DeviceState::Retired => {
            Some(EndReason::Revoked)
        }
        DeviceState::Suspended => Some(EndReason::Suspended),
        DeviceState::Active | DeviceState::Pending | DeviceState::Review => None,
    }
}

/// Ends a session's sockets (`session_ended`, then close).
pub(crate) async fn end_session(
    state: &AppState,
    account_id: &AccountId,
    session_id: [u8; 16],
    reason: EndReason,
) {
    let event = PushEvent::SessionEnded {
        reason,
        entry: None,
    };
    if let Err(error) = state
        .push()
        .publish(account_id, Audience::Session(session_id), &event)
        .await
    {
        tracing::warn!(%error, "push: ending a session's sockets failed");
    }
}

/// Tells the account's devices about an append that is already stored: the sockets of devices
/// it removed or suspended get `session_ended` and close, then every trusted session gets
/// `ledger_appended` per entry and `device_state_changed` per device whose state moved. A
/// recovery (the epoch moved) ends every session instead: every socket first gets
/// `recovery_started`, trusted ones the entry and state events, then every socket gets
/// `session_ended{reason: recovery}` and closes. Failures are logged: the append itself stands.
pub(crate) async fn announce_append(
    state: &AppState,
    account_id: &AccountId,
    before: &LedgerState,
    after: &LedgerState,
    entries: &[LedgerEntry],
) {
    if let Err(error) = announce(state, account_id, before, after, entries).await {
        tracing::warn!(%error, "push: announcing a ledger append failed");
    }
}

async fn announce(
    state: &AppState,
    account_id: &AccountId,
    before: &LedgerState,
    after: &LedgerState,
    entries: &[LedgerEntry],
) -> Result<(), ServerError> {
    let bus = state.push();
    let changed: Vec<([u8; 16], DeviceState)> = after
        .devices()
        .filter(|(id, record)| before.device(id).map(|old| old.state) != Some(record.state))
        .map(|(id, record)| (*id.as_bytes(), record.state))
        .collect();
    // A recovery ends every session, so every socket hears what happened before it closes.
    let recovered = after.recovery_epoch() != before.recovery_epoch();
    if recovered {
        bus.publish(
            account_id,
            Audience::AllSessions,
            &PushEvent::RecoveryStarted {},
        )
        .await?;
    } else {
        for (device, device_state) in &changed {
            if let Some(reason) = end_reason(*device_state) {
                // A removed device is handed the entry that removed it, as in the refusal; a
                // suspended one the entry that suspended it (it can no longer read the ledger,
                // and checks the entry itself to name who paused it).
                let id = DeviceId::from_bytes(*device);
                let entry = match reason {
                    EndReason::Revoked => after
                        .device(&id)
                        .and_then(|record| record.removed_at)
                        .and_then(|seq| entries.iter().find(|entry| entry.seq == seq)),
                    EndReason::Suspended => entries.iter().rev().find(|entry| {
                        matches!(entry.kind, EntryKind::Suspend { device: paused } if paused == id)
                    }),
                    EndReason::Recovery
                    | EndReason::SignedOut
                    | EndReason::Expired
                    | EndReason::PasswordChanged => None,
                }
                .map(|entry| encode_b64(&entry.encode()));
                let event = PushEvent::SessionEnded { reason, entry };
                bus.publish(account_id, Audience::Device(*device), &event)
                    .await?;
            }
        }
    }
    for entry in entries {
        let event = PushEvent::LedgerAppended {
            seq: entry.seq,
            hash: entry.hash().to_hex(),
            kind: entry_code(&entry.kind)?.as_str().to_owned(),
        };
        bus.publish(account_id, Audience::TrustedSessions, &event)
            .await?;
    }
    for (device, device_state) in &changed {
        let event = PushEvent::DeviceStateChanged {
            device_id: hex::encode(device),
            state: *device_state,
        };
        bus.publish(account_id, Audience::TrustedSessions, &event)
            .await?;
    }
    if recovered {
        let event = PushEvent::SessionEnded {
            reason: EndReason::Recovery,
            entry: None,
        };
        bus.publish(account_id, Audience::AllSessions, &event)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_and_suspended_devices_end_their_sessions() {
        let ends = [
            (DeviceState::Revoked, Some(EndReason::Revoked)),
            (DeviceState::Replaced, Some(EndReason::Revoked)),
            (DeviceState::Retired, Some(EndReason::Revoked)),
            (DeviceState::Suspended, Some(EndReason::Suspended)),
            (DeviceState::Active, None),
            (DeviceState::Pending, None),
            (DeviceState::Review, None),
        ];
        for (state, reason) in ends {
            assert_eq!(end_reason(state), reason, "{state:?}");
        }
    }

    #[test]
    fn close_frames_say_why() {
        let frame = Closing::Told(EndReason::Revoked).frame().unwrap();
        assert_eq!(frame.code, CLOSE_SESSION_ENDED);
        assert_eq!(frame.reason.as_str(), "revoked");
        assert_eq!(
            Closing::Ended(EndReason::Expired)
                .frame()
                .unwrap()
                .reason
                .as_str(),
            "expired"
        );
        assert_eq!(Closing::TooSlow.frame().unwrap().code, CLOSE_TOO_SLOW);
        assert_eq!(
            Closing::Unresponsive.frame().unwrap().code,
            CLOSE_UNRESPONSIVE
        );
        assert_eq!(
            Closing::Unsupported.frame().unwrap().code,
            CLOSE_UNSUPPORTED
        );
        assert_eq!(Closing::Failed.frame().unwrap().code, CLOSE_INTERNAL);
        assert!(Closing::Gone.frame().is_none());
    }
}
