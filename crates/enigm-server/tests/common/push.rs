//! Push sockets for tests: open `/v1/push` as a session, read events within a deadline (never
//! sleeping), and the ledger steps that make the service push.

use std::net::SocketAddr;
use std::time::Duration;

use enigm_core::identity::DeviceSecrets;
use enigm_core::ledger::LedgerEntry;
use enigm_core::lifecycle::DeviceState;
use enigm_server::push::{EndReason, PushEvent};
use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::Http;
use super::enigm::{self, Account, Session, SignOptions};

/// How long a socket may take to see an event.
pub const PROMPT: Duration = Duration::from_secs(1);

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A client socket.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens `/v1/push` with this Authorization header (none when `None`).
pub async fn open(server: SocketAddr, header: Option<&str>) -> Result<Socket, WsError> {
    let mut request = format!("ws://{server}/v1/push")
        .into_client_request()
        .unwrap();
    if let Some(header) = header {
        request
            .headers_mut()
            .insert("Authorization", header.parse().unwrap());
    }
    let (socket, _) = timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(request))
        .await
        .expect("connecting timed out")?;
    Ok(socket)
}

/// A fresh, valid Authorization header for the upgrade.
pub fn upgrade_header(session: &Session, device: &DeviceSecrets) -> String {
    enigm::authorization(
        session,
        device,
        "GET",
        "/v1/push",
        b"",
        &SignOptions::default(),
    )
}

/// Opens `/v1/push` as this session.
pub async fn connect(server: SocketAddr, session: &Session, device: &DeviceSecrets) -> Socket {
    open(server, Some(&upgrade_header(session, device)))
        .await
        .unwrap()
}

/// The next event on `socket`, within [`PROMPT`].
pub async fn next_event(socket: &mut Socket) -> PushEvent {
    loop {
        let message = timeout(PROMPT, socket.next())
            .await
            .expect("no event within a second")
            .expect("socket ended")
            .unwrap();
        match message {
            Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected an event, got {other:?}"),
        }
    }
}

/// Asserts the socket closes within [`PROMPT`] with the session-ended close frame.
pub async fn expect_closed(socket: &mut Socket, reason: EndReason) {
    let message = timeout(PROMPT, socket.next())
        .await
        .expect("not closed within a second")
        .expect("socket ended without a close frame")
        .unwrap();
    let Message::Close(Some(frame)) = message else {
        panic!("expected a close frame, got {message:?}");
    };
    assert_eq!(frame.code, CloseCode::Library(4001));
    assert_eq!(frame.reason.as_str(), reason.as_str());
    let end = timeout(PROMPT, socket.next()).await.expect("not closed");
    assert!(
        matches!(end, None | Some(Err(_))),
        "after the close frame: {end:?}"
    );
}

/// Asserts `socket` hears that its device was revoked by `entry`, then closes.
pub async fn expect_revoked(socket: &mut Socket, entry: &LedgerEntry) {
    assert_eq!(
        next_event(socket).await,
        PushEvent::SessionEnded {
            reason: EndReason::Revoked,
            entry: Some(enigm::b64(&entry.encode())),
        }
    );
    expect_closed(socket, EndReason::Revoked).await;
}

/// Asserts `socket` hears that its session ended for `reason` (no entry), then closes.
pub async fn expect_ended(socket: &mut Socket, reason: EndReason) {
    assert_eq!(
        next_event(socket).await,
        PushEvent::SessionEnded {
            reason,
            entry: None,
        }
    );
    expect_closed(socket, reason).await;
}

/// Asserts `socket` hears `entry` appended (of `kind`), then `device`'s new `state`.
pub async fn expect_device_changed(
    socket: &mut Socket,
    entry: &LedgerEntry,
    kind: &str,
    device: &DeviceSecrets,
    state: DeviceState,
) {
    assert_eq!(
        next_event(socket).await,
        PushEvent::LedgerAppended {
            seq: entry.seq,
            hash: entry.hash().to_hex(),
            kind: kind.into(),
        }
    );
    assert_eq!(
        next_event(socket).await,
        PushEvent::DeviceStateChanged {
            device_id: hex::encode(device.device_id().as_bytes()),
            state,
        }
    );
}

/// Adds a second device approved by the account's first; returns it.
pub fn add_device(http: &Http, account: &Account, session: &Session) -> DeviceSecrets {
    super::enigm::add_device(http, session, account.account_id, &account.device)
}

/// Asserts the upgrade was refused with `status`.
pub fn assert_http_status(result: Result<Socket, WsError>, status: u16) {
    match result {
        Err(WsError::Http(response)) => assert_eq!(response.status().as_u16(), status),
        Err(other) => panic!("expected HTTP {status}, got {other}"),
        Ok(_) => panic!("expected HTTP {status}, the upgrade succeeded"),
    }
}
