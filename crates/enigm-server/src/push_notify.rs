//! Push across nodes with PostgreSQL `LISTEN`/`NOTIFY` (DESIGN §13).
//!
//! Nodes sharing a database share nothing else, yet a device revoked through one node must see
//! its socket on another node close at once. [`NotifyBus`] delivers an event to this node's
//! [`PushHub`] first and then sends it as a `NOTIFY` on a channel named after the database
//! schema (so deployments or test runs in other schemas of the same database never hear it).
//! Every node keeps one dedicated connection `LISTEN`ing on that channel ([`NotifyListener`])
//! and hands what arrives to its own hub, skipping what it sent itself: every event reaches
//! each connection once.
//!
//! The payload is `{"node","account","audience","event"}`: the sending node's random id, the
//! raw account id (the channel is internal to the database; account ids are never logged), the
//! audience and the event. PostgreSQL refuses payloads of 8000 bytes or more; events are at
//! most [`crate::push::MAX_EVENT_BYTES`], so a larger payload is a bug and is refused.
//!
//! The listener reconnects with exponential backoff. Events sent while it was away are lost,
//! so once it listens again it drops every socket of this node: clients reconnect, and the
//! upgrade's checks see whatever they missed (a revocation, a suspension).

use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::ServerError;
use crate::push::{Audience, Listener, PushBus, PushEvent, PushHub, Subscription};
use crate::storage::{AccountId, PostgresStorage};

/// PostgreSQL refuses a `NOTIFY` payload of this many bytes or more.
const MAX_PAYLOAD_BYTES: usize = 8000;

/// How long connecting and starting to listen may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// First wait before reconnecting the listener; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(200);

/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// TCP keepalive on the listener connection, so a silently dead peer is noticed.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);

/// How the listener's connection shows in `pg_stat_activity`.
const APPLICATION_NAME: &str = "enigm-push-listener";

/// One event on the wire between nodes.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Notice {
    /// The sending node (hex), so it can skip its own notices.
    node: String,
    /// The account (hex).
    account: String,
    /// Which of the account's connections.
    audience: Audience,
    /// The event itself.
    event: PushEvent,
}

impl Notice {
    /// The payload, refused if PostgreSQL would refuse it.
    fn encode(&self) -> Result<String, ServerError> {
        let text = serde_json::to_string(self)
            .map_err(|error| ServerError::Internal(format!("push notice encoding: {error}")))?;
        if text.len() >= MAX_PAYLOAD_BYTES {
            return Err(ServerError::Internal(
                "push notice too large for NOTIFY".into(),
            ));
        }
        Ok(text)
    }

    /// The account id, if the notice names one well formed.
    fn account_id(&self) -> Option<AccountId> {
        hex::decode(&self.account)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
    }
}

/// The channel for the schema `schema`: the same on every node of one deployment, different
/// for another schema in the same database. A plain identifier (no quoting needed).
fn channel_for(schema: &str) -> String {
    let digest = Sha256::digest(schema.as_bytes());
    format!("enigm_push_{}", hex::encode(&digest[..8]))
}

/// The push bus of a node on PostgreSQL: local delivery plus a `NOTIFY` for the other nodes.
pub(crate) struct NotifyBus {
    node: String,
    channel: String,
    hub: Arc<PushHub>,
    storage: PostgresStorage,
}

impl std::fmt::Debug for NotifyBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyBus")
            .field("channel", &self.channel)
            .field("hub", &self.hub)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl PushBus for NotifyBus {
    async fn publish(
        &self,
        account_id: &AccountId,
        audience: Audience,
        event: &PushEvent,
    ) -> Result<(), ServerError> {
        // This node's sockets first: they do not wait for the database, and they still hear
        // the event if the NOTIFY fails.
        self.hub.deliver_local(account_id, audience, event)?;
        let payload = Notice {
            node: self.node.clone(),
            account: hex::encode(account_id),
            audience,
            event: event.clone(),
        }
        .encode()?;
        self.storage.notify(&self.channel, &payload).await
    }

    fn subscribe(&self, listener: Listener) -> Subscription {
        self.hub.subscribe(listener)
    }

    fn unsubscribe(&self, account_id: &AccountId, id: u64) {
        self.hub.unsubscribe(account_id, id);
    }
}

/// A live `LISTEN` connection: the client (dropping it ends the connection) and the task that
/// drives the connection and hands notices to the hub.
struct Listening {
    _client: Client,
    driver: JoinHandle<()>,
}

/// This node's listener: hears the other nodes' events and hands them to the hub.
pub(crate) struct NotifyListener {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    channel: String,
    node: String,
    hub: Arc<PushHub>,
    current: Option<Listening>,
}

impl std::fmt::Debug for NotifyListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The configuration holds the password: never print it.
        f.debug_struct("NotifyListener")
            .field("channel", &self.channel)
            .field("listening", &self.current.is_some())
            .finish_non_exhaustive()
    }
}

/// Starts cross-node push for `storage`: the bus for the handlers and the listener, which is
/// already listening when this returns (so a node that says it is ready hears every event
/// published from then on). Run [`NotifyListener::run`] to keep it listening.
///
/// # Errors
/// [`ServerError::Storage`] if the database cannot be reached or refuses `LISTEN`.
pub(crate) async fn start(
    storage: &PostgresStorage,
) -> Result<(NotifyBus, NotifyListener), ServerError> {
    let mut id = [0u8; 16];
    OsRng.fill_bytes(&mut id);
    let node = hex::encode(id);
    let channel = channel_for(&storage.current_schema().await?);
    let hub = Arc::new(PushHub::default());
    let mut config = storage.connection_config().clone();
    config
        .keepalives(true)
        .keepalives_idle(KEEPALIVE_IDLE)
        .application_name(APPLICATION_NAME);
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    let mut listener = NotifyListener {
        config,
        tls: storage.tls().clone(),
        channel: channel.clone(),
        node: node.clone(),
        hub: Arc::clone(&hub),
        current: None,
    };
    listener.current = Some(listener.listen().await?);
    let bus = NotifyBus {
        node,
        channel,
        hub,
        storage: storage.clone(),
    };
    Ok((bus, listener))
}

impl NotifyListener {
    /// Opens a connection, starts driving it, and `LISTEN`s.
    async fn listen(&self) -> Result<Listening, ServerError> {
        let unreachable =
            |error: tokio_postgres::Error| ServerError::Storage(format!("push listener: {error}"));
        let (client, mut connection) =
            tokio::time::timeout(CONNECT_TIMEOUT, self.config.connect(self.tls.clone()))
                .await
                .map_err(|_| ServerError::Storage("push listener: connecting timed out".into()))?
                .map_err(unreachable)?;
        let hub = Arc::clone(&self.hub);
        let node = self.node.clone();
        let driver = tokio::spawn(async move {
            loop {
                match poll_fn(|cx| connection.poll_message(cx)).await {
                    Some(Ok(AsyncMessage::Notification(notification))) => {
                        receive(&hub, &node, notification.payload());
                    }
                    // Notices and whatever else the server volunteers.
                    Some(Ok(_)) => {}
                    Some(Err(error)) => {
                        tracing::warn!(%error, "push listener connection failed");
                        return;
                    }
                    None => return,
                }
            }
        });
        let listen = format!("LISTEN {}", self.channel);
        match tokio::time::timeout(CONNECT_TIMEOUT, client.batch_execute(&listen)).await {
            Ok(Ok(())) => Ok(Listening {
                _client: client,
                driver,
            }),
            Ok(Err(error)) => {
                driver.abort();
                Err(unreachable(error))
            }
            Err(_) => {
                driver.abort();
                Err(ServerError::Storage(
                    "push listener: LISTEN timed out".into(),
                ))
            }
        }
    }

    /// Keeps listening: waits for the connection to end, then reconnects with backoff. Once
    /// listening again, drops this node's sockets (they may have missed events). Never returns;
    /// abort the task to stop it.
    pub(crate) async fn run(mut self) {
        let mut delay = MIN_BACKOFF;
        loop {
            if let Some(listening) = self.current.take() {
                let _ = listening.driver.await;
                tracing::warn!("push listener lost its database connection; reconnecting");
            }
            tokio::time::sleep(delay).await;
            match self.listen().await {
                Ok(listening) => {
                    self.current = Some(listening);
                    delay = MIN_BACKOFF;
                    let dropped = self.hub.disconnect_all();
                    tracing::info!(dropped, "push listener reconnected");
                }
                Err(error) => {
                    delay = next_backoff(delay);
                    tracing::warn!(%error, retry_in = ?delay, "push listener cannot reconnect");
                }
            }
        }
    }
}

/// The wait after `delay` failed: doubled, at most [`MAX_BACKOFF`].
fn next_backoff(delay: Duration) -> Duration {
    delay.saturating_mul(2).min(MAX_BACKOFF)
}

/// Hands one notice to the hub, unless this node sent it. A malformed notice is logged
/// (without its content) and dropped.
fn receive(hub: &PushHub, node: &str, payload: &str) {
    let Ok(notice) = serde_json::from_str::<Notice>(payload) else {
        tracing::warn!(
            bytes = payload.len(),
            "push listener: malformed notice dropped"
        );
        return;
    };
    if notice.node == node {
        return;
    }
    let Some(account_id) = notice.account_id() else {
        tracing::warn!("push listener: notice without a valid account dropped");
        return;
    };
    if let Err(error) = hub.deliver_local(&account_id, notice.audience, &notice.event) {
        tracing::warn!(%error, "push listener: local delivery failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::EndReason;

    const ACCOUNT: AccountId = [3; 16];

    fn listener(session: u8, device: u8) -> Listener {
        Listener {
            account_id: ACCOUNT,
            session_id: [session; 16],
            device_id: [device; 16],
            restricted: false,
        }
    }

    fn ended() -> PushEvent {
        PushEvent::SessionEnded {
            reason: EndReason::Revoked,
            entry: None,
        }
    }

    fn notice(node: &str, audience: Audience, event: PushEvent) -> String {
        Notice {
            node: node.into(),
            account: hex::encode(ACCOUNT),
            audience,
            event,
        }
        .encode()
        .unwrap()
    }

    #[test]
    fn notices_from_other_nodes_are_delivered_and_own_ones_skipped() {
        let hub = PushHub::default();
        let mut phone = hub.subscribe(listener(1, 7));
        let mut laptop = hub.subscribe(listener(2, 8));
        receive(
            &hub,
            "me",
            &notice("me", Audience::Device([7; 16]), ended()),
        );
        assert!(
            phone.events.try_recv().is_err(),
            "own notice delivered twice"
        );
        receive(
            &hub,
            "me",
            &notice("other", Audience::Device([7; 16]), ended()),
        );
        assert_eq!(
            phone.events.try_recv().unwrap().ends,
            Some(EndReason::Revoked)
        );
        assert!(laptop.events.try_recv().is_err());
        for bad in [
            "",
            "{}",
            "not json",
            &notice("other", Audience::AllSessions, ended())[1..],
        ] {
            receive(&hub, "me", bad);
        }
        let wrong_account = notice("other", Audience::AllSessions, PushEvent::Wipe {})
            .replace(&hex::encode(ACCOUNT), "abcd");
        receive(&hub, "me", &wrong_account);
        assert!(laptop.events.try_recv().is_err());
        assert_eq!(hub.connections(), 1);
    }

    #[test]
    fn payloads_are_small_and_channels_per_schema() {
        let text = notice(&"ab".repeat(16), Audience::Session([9; 16]), ended());
        assert!(text.len() < 400, "{}", text.len());
        let back: Notice = serde_json::from_str(&text).unwrap();
        assert_eq!(back.event, ended());
        assert_eq!(back.account_id(), Some(ACCOUNT));
        let oversized = Notice {
            node: "x".repeat(MAX_PAYLOAD_BYTES),
            account: hex::encode(ACCOUNT),
            audience: Audience::AllSessions,
            event: PushEvent::Wipe {},
        };
        assert!(oversized.encode().is_err());
        let public = channel_for("public");
        assert_eq!(public, channel_for("public"));
        assert_ne!(public, channel_for("enigm_test_1"));
        assert!(public.len() < 64, "a PostgreSQL identifier");
        assert!(
            public
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        );
    }

    #[test]
    fn backoff_doubles_up_to_a_ceiling() {
        assert_eq!(next_backoff(MIN_BACKOFF), MIN_BACKOFF * 2);
        assert_eq!(next_backoff(MAX_BACKOFF), MAX_BACKOFF);
        assert_eq!(next_backoff(Duration::from_secs(20)), MAX_BACKOFF);
    }

    /// Two nodes on one schema: an event published on one reaches the other's sockets, and
    /// the publisher's own sockets exactly once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL; run by cargo xtask test"]
    async fn events_cross_nodes_once() {
        let config = crate::storage::postgres_tests::fresh_schema().await;
        let first = PostgresStorage::from_config(config.clone(), None)
            .await
            .unwrap();
        let second = PostgresStorage::from_config(config, None).await.unwrap();
        let (bus1, listener1) = start(&first).await.unwrap();
        let (bus2, listener2) = start(&second).await.unwrap();
        assert_eq!(bus1.channel, bus2.channel);
        let run1 = tokio::spawn(listener1.run());
        let run2 = tokio::spawn(listener2.run());
        let mut local = bus1.subscribe(listener(1, 1));
        let mut remote = bus2.subscribe(listener(2, 7));
        let wait = Duration::from_secs(5);

        bus1.publish(&ACCOUNT, Audience::TrustedSessions, &PushEvent::Wipe {})
            .await
            .unwrap();
        bus1.publish(&ACCOUNT, Audience::Device([7; 16]), &ended())
            .await
            .unwrap();
        let first_remote = tokio::time::timeout(wait, remote.events.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&*first_remote.text, r#"{"type":"wipe"}"#);
        let second_remote = tokio::time::timeout(wait, remote.events.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second_remote.ends, Some(EndReason::Revoked));
        assert!(
            tokio::time::timeout(wait, remote.events.recv())
                .await
                .unwrap()
                .is_none(),
            "the ended connection is dropped"
        );
        // The publisher's socket got the wipe once, locally; a later event from node 2 is the
        // next thing it sees (its own notice was skipped).
        assert_eq!(
            &*local.events.try_recv().unwrap().text,
            r#"{"type":"wipe"}"#
        );
        bus2.publish(
            &ACCOUNT,
            Audience::AllSessions,
            &PushEvent::RecoveryStarted {},
        )
        .await
        .unwrap();
        let next = tokio::time::timeout(wait, local.events.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&*next.text, r#"{"type":"recovery_started"}"#);
        assert!(local.events.try_recv().is_err());

        // Node 1's listener loses its connection (the database ends it): it reconnects, drops
        // its sockets (they may have missed events), and hears node 2 again.
        let (killer, connection) = second
            .connection_config()
            .connect(tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let killed = killer
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE application_name = $1 AND query = $2 AND pid <> pg_backend_pid()",
                &[&APPLICATION_NAME, &format!("LISTEN {}", bus1.channel)],
            )
            .await
            .unwrap();
        assert_eq!(killed, 2, "both nodes' listeners");
        let dropped = tokio::time::timeout(wait, local.events.recv())
            .await
            .unwrap();
        assert!(dropped.is_none(), "sockets dropped once listening again");
        let mut again = bus1.subscribe(listener(3, 3));
        // Node 2's listener reconnected too; an event from it proves node 1 listens again.
        bus2.publish(&ACCOUNT, Audience::AllSessions, &PushEvent::Wipe {})
            .await
            .unwrap();
        let heard = tokio::time::timeout(wait, again.events.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&*heard.text, r#"{"type":"wipe"}"#);
        run1.abort();
        run2.abort();
    }
}
