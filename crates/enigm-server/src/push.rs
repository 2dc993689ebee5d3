//! Push (DESIGN §6, §7, §13): what the service tells connected devices at once.
//!
//! A device keeps one WebSocket per session open on `GET /v1/push`; the service sends
//! [`PushEvent`]s as JSON text frames and never receives anything but control frames. Events
//! carry ids, hashes and states only: never plaintext, never a username.
//!
//! Delivery goes through the [`PushBus`] trait so that several nodes can share it: the
//! in-process [`PushHub`] serves one node; a bus over the shared database can fan events out
//! across nodes and hand them to each node's hub. The hub keeps a few bytes per connection and
//! a small bounded queue: a connection that cannot keep up is dropped, never buffered for.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

pub use enigm_proto::{EndReason, PushEvent};

use crate::error::ServerError;
use crate::storage::AccountId;

/// Events queued per connection; past this the connection is too slow and is dropped.
pub const QUEUE_CAPACITY: usize = 8;

/// The largest event, encoded, in bytes: room for a `session_ended{revoked}` carrying one
/// ledger entry in base64url; every other event is far smaller.
pub const MAX_EVENT_BYTES: usize = 256 + (enigm_core::ledger::MAX_ENTRY_LEN * 4).div_ceil(3);

/// Encodes `event` as its JSON text frame.
///
/// # Errors
/// [`ServerError::Internal`] if it cannot be encoded or exceeds [`MAX_EVENT_BYTES`].
pub fn encode_event(event: &PushEvent) -> Result<String, ServerError> {
    let text = serde_json::to_string(event)
        .map_err(|error| ServerError::Internal(format!("push encoding: {error}")))?;
    if text.len() > MAX_EVENT_BYTES {
        return Err(ServerError::Internal("push event too large".into()));
    }
    Ok(text)
}

/// Which connections of an account an event is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Every full session (enrollment-restricted sessions are not told account events).
    TrustedSessions,
    /// Every session of the account, restricted ones included.
    AllSessions,
    /// Every session of one device.
    Device([u8; 16]),
    /// One session.
    Session([u8; 16]),
}

/// A connection as the hub knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listener {
    /// The account.
    pub account_id: AccountId,
    /// The session that opened the connection.
    pub session_id: [u8; 16],
    /// The session's device.
    pub device_id: [u8; 16],
    /// Whether the session is restricted to enrollment.
    pub restricted: bool,
}

impl Listener {
    fn hears(&self, audience: Audience) -> bool {
        match audience {
            Audience::TrustedSessions => !self.restricted,
            Audience::AllSessions => true,
            Audience::Device(device) => self.device_id == device,
            Audience::Session(session) => self.session_id == session,
        }
    }
}

/// What a connection receives: an encoded event, and whether it ends the session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outbound {
    /// The JSON text frame, shared by every recipient.
    pub text: Arc<str>,
    /// Set when the connection must close after sending it.
    pub ends: Option<EndReason>,
}

/// A registered connection: its id (to unsubscribe) and its queue. When the queue closes the
/// bus dropped the connection (too slow, or its session ended).
#[derive(Debug)]
pub struct Subscription {
    /// Id within the bus.
    pub id: u64,
    /// Events for this connection.
    pub events: mpsc::Receiver<Outbound>,
}

/// Delivery of push events to connected devices, on one node or across nodes.
#[async_trait]
pub trait PushBus: Send + Sync + 'static {
    /// Delivers `event` to the connections of `account_id` that `audience` selects, on every
    /// node. Delivery is best effort: a connection that is too slow is dropped. An event that
    /// ends the session also drops its connections once it is queued.
    async fn publish(
        &self,
        account_id: &AccountId,
        audience: Audience,
        event: &PushEvent,
    ) -> Result<(), ServerError>;

    /// Registers a connection on this node.
    fn subscribe(&self, listener: Listener) -> Subscription;

    /// Forgets a connection (it closed).
    fn unsubscribe(&self, account_id: &AccountId, id: u64);
}

/// The push sockets each session holds open on this node, so one session cannot hold an
/// unbounded number of them (each costs a task and its buffers). The bound is per node: a
/// socket is a node's resource, and counting it in the shared database would cost a write per
/// connect and disconnect.
#[derive(Clone, Default)]
pub(crate) struct SessionSockets {
    open: Arc<Mutex<HashMap<[u8; 16], usize>>>,
}

impl SessionSockets {
    /// A place for one more socket of `session_id`, or `None` when it already holds `max`.
    /// The place is given back when the permit drops.
    pub(crate) fn acquire(&self, session_id: [u8; 16], max: usize) -> Option<SocketPermit> {
        let mut open = self.open.lock().ok()?;
        let count = open.entry(session_id).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(SocketPermit {
            sockets: self.clone(),
            session_id,
        })
    }

    /// Sockets `session_id` holds.
    #[cfg(test)]
    fn held(&self, session_id: &[u8; 16]) -> usize {
        self.open
            .lock()
            .map_or(0, |open| open.get(session_id).copied().unwrap_or(0))
    }
}

/// One socket's place in [`SessionSockets`], given back on drop.
pub(crate) struct SocketPermit {
    sockets: SessionSockets,
    session_id: [u8; 16],
}

impl Drop for SocketPermit {
    fn drop(&mut self) {
        if let Ok(mut open) = self.sockets.open.lock()
            && let Some(count) = open.get_mut(&self.session_id)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.session_id);
            }
        }
    }
}

/// One connection in the hub: who it is and where its events go.
struct Slot {
    id: u64,
    listener: Listener,
    queue: mpsc::Sender<Outbound>,
}

/// The in-process bus: connections of this node by account.
#[derive(Default)]
pub struct PushHub {
    next_id: AtomicU64,
    accounts: Mutex<HashMap<AccountId, Vec<Slot>>>,
}

impl std::fmt::Debug for PushHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushHub")
            .field("connections", &self.connections())
            .finish()
    }
}

impl PushHub {
    /// Connections currently registered.
    pub fn connections(&self) -> usize {
        self.accounts
            .lock()
            .map_or(0, |accounts| accounts.values().map(Vec::len).sum())
    }

    /// Drops every connection of this node (their queues close, so their sockets close and
    /// the clients reconnect); what a cross-node bus does after it may have missed events.
    /// Returns how many were dropped.
    pub fn disconnect_all(&self) -> usize {
        self.accounts.lock().map_or(0, |mut accounts| {
            let dropped = accounts.values().map(Vec::len).sum();
            accounts.clear();
            dropped
        })
    }

    /// Hands `event` to this node's connections only (what a cross-node bus calls when an
    /// event arrives from another node).
    ///
    /// # Errors
    /// [`ServerError::Internal`] if the event cannot be encoded or the hub's lock is poisoned.
    pub fn deliver_local(
        &self,
        account_id: &AccountId,
        audience: Audience,
        event: &PushEvent,
    ) -> Result<(), ServerError> {
        let outbound = Outbound {
            text: Arc::from(encode_event(event)?),
            ends: event.ends_session(),
        };
        let mut accounts = self
            .accounts
            .lock()
            .map_err(|_| ServerError::Internal("push hub poisoned".into()))?;
        let Some(slots) = accounts.get_mut(account_id) else {
            return Ok(());
        };
        slots.retain(|slot| {
            if !slot.listener.hears(audience) {
                return true;
            }
            // A full queue means a slow consumer: dropping the sender closes its connection.
            let queued = slot.queue.try_send(outbound.clone()).is_ok();
            queued && outbound.ends.is_none()
        });
        if slots.is_empty() {
            accounts.remove(account_id);
        }
        Ok(())
    }
}

#[async_trait]
impl PushBus for PushHub {
    async fn publish(
        &self,
        account_id: &AccountId,
        audience: Audience,
        event: &PushEvent,
    ) -> Result<(), ServerError> {
        self.deliver_local(account_id, audience, event)
    }

    fn subscribe(&self, listener: Listener) -> Subscription {
        let (queue, events) = mpsc::channel(QUEUE_CAPACITY);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut accounts) = self.accounts.lock() {
            accounts.entry(listener.account_id).or_default().push(Slot {
                id,
                listener,
                queue,
            });
        }
        // On a poisoned lock the sender is dropped here: the connection closes at once.
        Subscription { id, events }
    }

    fn unsubscribe(&self, account_id: &AccountId, id: u64) {
        if let Ok(mut accounts) = self.accounts.lock()
            && let Some(slots) = accounts.get_mut(account_id)
        {
            slots.retain(|slot| slot.id != id);
            if slots.is_empty() {
                accounts.remove(account_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use enigm_core::lifecycle::DeviceState;
    use enigm_proto::Stage;
    use proptest::prelude::*;

    const ACCOUNT: AccountId = [1; 16];

    fn listener(session: u8, device: u8, restricted: bool) -> Listener {
        Listener {
            account_id: ACCOUNT,
            session_id: [session; 16],
            device_id: [device; 16],
            restricted,
        }
    }

    fn appended(seq: u64) -> PushEvent {
        PushEvent::LedgerAppended {
            seq,
            hash: "ab".repeat(32),
            kind: "device_revoked".into(),
        }
    }

    fn parse(outbound: &Outbound) -> PushEvent {
        serde_json::from_str(&outbound.text).unwrap()
    }

    #[tokio::test]
    async fn account_events_reach_trusted_sessions_only() {
        let hub = PushHub::default();
        let mut full = hub.subscribe(listener(1, 1, false));
        let mut restricted = hub.subscribe(listener(2, 2, true));
        let mut other = hub.subscribe(Listener {
            account_id: [9; 16],
            ..listener(3, 3, false)
        });
        hub.publish(&ACCOUNT, Audience::TrustedSessions, &appended(4))
            .await
            .unwrap();
        assert_eq!(parse(&full.events.try_recv().unwrap()), appended(4));
        assert!(restricted.events.try_recv().is_err());
        assert!(other.events.try_recv().is_err());
        // A restricted session still hears what is meant for it.
        hub.publish(&ACCOUNT, Audience::Device([2; 16]), &PushEvent::Wipe {})
            .await
            .unwrap();
        assert_eq!(
            parse(&restricted.events.try_recv().unwrap()),
            PushEvent::Wipe {}
        );
        hub.publish(
            &ACCOUNT,
            Audience::AllSessions,
            &PushEvent::RecoveryStarted {},
        )
        .await
        .unwrap();
        assert!(full.events.try_recv().is_ok());
        assert!(restricted.events.try_recv().is_ok());
        assert_eq!(hub.connections(), 3);
    }

    #[tokio::test]
    async fn ending_a_session_queues_the_event_then_drops_the_connection() {
        let hub = PushHub::default();
        let mut phone = hub.subscribe(listener(1, 7, false));
        let mut laptop = hub.subscribe(listener(2, 8, false));
        let ended = PushEvent::SessionEnded {
            reason: EndReason::Revoked,
            entry: Some("AQID".into()),
        };
        hub.publish(&ACCOUNT, Audience::Device([7; 16]), &ended)
            .await
            .unwrap();
        let first = phone.events.recv().await.unwrap();
        assert_eq!(first.ends, Some(EndReason::Revoked));
        assert_eq!(parse(&first), ended);
        assert!(phone.events.recv().await.is_none(), "queue closed");
        assert_eq!(hub.connections(), 1);
        // Later account events no longer reach it; the others still get them.
        hub.publish(&ACCOUNT, Audience::TrustedSessions, &appended(2))
            .await
            .unwrap();
        assert!(laptop.events.try_recv().is_ok());
    }

    #[tokio::test]
    async fn a_slow_consumer_is_dropped_not_buffered() {
        let hub = PushHub::default();
        let mut slow = hub.subscribe(listener(1, 1, false));
        for seq in 0..=QUEUE_CAPACITY as u64 {
            hub.publish(&ACCOUNT, Audience::TrustedSessions, &appended(seq))
                .await
                .unwrap();
        }
        assert_eq!(hub.connections(), 0);
        let mut received = 0;
        while slow.events.recv().await.is_some() {
            received += 1;
        }
        assert_eq!(received, QUEUE_CAPACITY);
    }

    #[tokio::test]
    async fn disconnect_all_closes_every_queue() {
        let hub = PushHub::default();
        let mut first = hub.subscribe(listener(1, 1, false));
        let mut second = hub.subscribe(Listener {
            account_id: [9; 16],
            ..listener(2, 2, true)
        });
        assert_eq!(hub.disconnect_all(), 2);
        assert_eq!(hub.connections(), 0);
        assert!(first.events.recv().await.is_none());
        assert!(second.events.recv().await.is_none());
    }

    #[test]
    fn a_session_holds_at_most_max_sockets_until_one_closes() {
        let sockets = SessionSockets::default();
        let held: Vec<_> = (0..4).filter_map(|_| sockets.acquire([1; 16], 4)).collect();
        assert_eq!(held.len(), 4);
        assert!(
            sockets.acquire([1; 16], 4).is_none(),
            "the fifth is refused"
        );
        let other = sockets.acquire([2; 16], 4);
        assert!(other.is_some(), "another session is not affected");
        drop(held);
        assert_eq!(sockets.held(&[1; 16]), 0);
        assert!(sockets.acquire([1; 16], 4).is_some());
        drop(other);
        assert!(
            sockets.open.lock().unwrap().len() <= 1,
            "closed sessions are forgotten"
        );
    }

    #[test]
    fn unsubscribe_forgets_the_connection() {
        let hub = PushHub::default();
        let first = hub.subscribe(listener(1, 1, false));
        let second = hub.subscribe(listener(2, 1, false));
        assert_ne!(first.id, second.id);
        hub.unsubscribe(&ACCOUNT, first.id);
        assert_eq!(hub.connections(), 1);
        hub.unsubscribe(&ACCOUNT, second.id);
        assert_eq!(hub.connections(), 0);
        assert!(hub.accounts.lock().unwrap().is_empty());
    }

    #[test]
    fn wire_format_is_tagged_snake_case_and_small() {
        let events = [
            appended(u64::MAX),
            PushEvent::DeviceStateChanged {
                device_id: "cd".repeat(16),
                state: DeviceState::Suspended,
            },
            PushEvent::SessionEnded {
                reason: EndReason::SignedOut,
                entry: None,
            },
            PushEvent::RecoveryStarted {},
            PushEvent::EnrollmentRequested {
                id: "ef".repeat(16),
            },
            PushEvent::EnrollmentUpdated {
                id: "ef".repeat(16),
                state: Stage::ApproverConfirmed,
            },
            PushEvent::Wipe {},
        ];
        for event in &events {
            let text = encode_event(event).unwrap();
            assert!(text.len() <= MAX_EVENT_BYTES, "{text}");
            assert_eq!(&serde_json::from_str::<PushEvent>(&text).unwrap(), event);
        }
        assert_eq!(
            encode_event(&events[2]).unwrap(),
            r#"{"type":"session_ended","reason":"signed_out"}"#
        );
        assert_eq!(encode_event(&events[6]).unwrap(), r#"{"type":"wipe"}"#);
        assert!(
            encode_event(&events[4])
                .unwrap()
                .starts_with(r#"{"type":"enrollment_requested","id":"#)
        );
        let text = encode_event(&events[1]).unwrap();
        assert!(text.starts_with(r#"{"type":"device_state_changed","device_id":""#));
        for reason in [
            EndReason::Revoked,
            EndReason::Suspended,
            EndReason::Recovery,
            EndReason::SignedOut,
            EndReason::Expired,
        ] {
            assert_eq!(
                serde_json::to_value(reason).unwrap(),
                serde_json::json!(reason.as_str())
            );
        }
        let oversized = PushEvent::EnrollmentRequested {
            id: "x".repeat(MAX_EVENT_BYTES),
        };
        assert!(encode_event(&oversized).is_err());
        // The largest removing entry still fits.
        let largest = PushEvent::SessionEnded {
            reason: EndReason::Revoked,
            entry: Some("A".repeat((enigm_core::ledger::MAX_ENTRY_LEN * 4).div_ceil(3))),
        };
        assert!(encode_event(&largest).is_ok());
    }

    fn any_reason() -> impl Strategy<Value = EndReason> {
        proptest::sample::select(EndReason::ALL.to_vec())
    }

    const STAGES: [Stage; 9] = [
        Stage::Requested,
        Stage::Accepted,
        Stage::Revealed,
        Stage::ApproverConfirmed,
        Stage::Confirmed,
        Stage::Completed,
        Stage::Rejected,
        Stage::Cancelled,
        Stage::Expired,
    ];

    fn any_event() -> impl Strategy<Value = PushEvent> {
        // Any text, including quotes, escapes and non-ASCII, up to past the size limit.
        let text = || ".{0,140}";
        prop_oneof![
            (any::<u64>(), text(), text())
                .prop_map(|(seq, hash, kind)| PushEvent::LedgerAppended { seq, hash, kind }),
            (text(), proptest::sample::select(DeviceState::ALL.to_vec()))
                .prop_map(|(device_id, state)| PushEvent::DeviceStateChanged { device_id, state }),
            (any_reason(), proptest::option::of(text()))
                .prop_map(|(reason, entry)| PushEvent::SessionEnded { reason, entry }),
            Just(PushEvent::RecoveryStarted {}),
            text().prop_map(|id| PushEvent::EnrollmentRequested { id }),
            (text(), proptest::sample::select(STAGES.to_vec()))
                .prop_map(|(id, state)| PushEvent::EnrollmentUpdated { id, state }),
            Just(PushEvent::Wipe {}),
        ]
    }

    proptest! {
        #[test]
        fn events_round_trip_or_are_refused_as_too_large(event in any_event()) {
            let full = serde_json::to_string(&event).unwrap();
            match encode_event(&event) {
                Ok(text) => {
                    prop_assert!(text.len() <= MAX_EVENT_BYTES);
                    prop_assert_eq!(&text, &full);
                    prop_assert_eq!(serde_json::from_str::<PushEvent>(&text).unwrap(), event);
                }
                Err(ServerError::Internal(message)) => {
                    prop_assert!(full.len() > MAX_EVENT_BYTES);
                    prop_assert_eq!(message, "push event too large");
                }
                Err(other) => prop_assert!(false, "{:?}", other),
            }
        }

        #[test]
        fn truncated_or_arbitrary_frames_never_decode_to_an_event(
            event in any_event(),
            cut in any::<prop::sample::Index>(),
            noise in ".{0,300}",
        ) {
            let text = serde_json::to_string(&event).unwrap();
            let boundaries: Vec<usize> =
                (0..text.len()).filter(|i| text.is_char_boundary(*i)).collect();
            let prefix = &text[..boundaries[cut.index(boundaries.len())]];
            prop_assert!(serde_json::from_str::<PushEvent>(prefix).is_err());
            // Arbitrary text: no panic; an event only if it is one encoded exactly.
            if let Ok(decoded) = serde_json::from_str::<PushEvent>(&noise) {
                let again = serde_json::to_value(&decoded).unwrap();
                prop_assert_eq!(again, serde_json::from_str::<serde_json::Value>(&noise).unwrap());
            }
        }

        #[test]
        /// An older client keeps hearing a newer service: a field it does not know is
        /// skipped, never a reason to drop the event (a dropped `session_ended` would leave a
        /// revoked device believing it is active). A type it does not know is not decoded.
        fn unknown_fields_are_skipped_and_unknown_types_refused(
            event in any_event(),
            extra in "[a-z_]{1,12}",
        ) {
            let mut value = serde_json::to_value(&event).unwrap();
            let object = value.as_object_mut().unwrap();
            prop_assume!(!object.contains_key(&extra));
            object.insert(extra.clone(), serde_json::json!(1));
            prop_assert_eq!(serde_json::from_value::<PushEvent>(value.clone()).unwrap(), event);
            value["type"] = serde_json::json!(format!("{extra}_v2"));
            prop_assert!(serde_json::from_value::<PushEvent>(value).is_err());
        }
    }
}
