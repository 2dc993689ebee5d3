//! Push over WebSocket against the real `enigm server`: revoking a device closes its socket at
//! once with `session_ended`, the other devices are told, and upgrades are signed requests
//! (unauthenticated or replayed ones get 401).
// The async helpers below are test code too: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::enigm::{self, Account, Session, SignOptions, b64, login, register, signed, unb64};
use common::{Http, ServerProcess};
use enigm_core::identity::DeviceSecrets;
use enigm_core::ledger::{EntryKind, LedgerEntry, LedgerState, RevokeReason, verify_chain};
use enigm_server::push::{EndReason, PushEvent};
use futures_util::StreamExt;
use rand_core::OsRng;
use serde_json::json;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const USERNAME: &str = "push.tester";
const PASSWORD: &str = "correct horse battery staple 42";

/// How long a socket may take to see an event.
const PROMPT: Duration = Duration::from_secs(1);

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens `/v1/push` with this Authorization header (none when `None`).
async fn open(server: &ServerProcess, header: Option<&str>) -> Result<Socket, WsError> {
    let mut request = format!("ws://{}/v1/push", server.addr)
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
fn upgrade_header(session: &Session, device: &DeviceSecrets) -> String {
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
async fn connect(server: &ServerProcess, session: &Session, device: &DeviceSecrets) -> Socket {
    open(server, Some(&upgrade_header(session, device)))
        .await
        .unwrap()
}

/// The next event on `socket`, within [`PROMPT`].
async fn next_event(socket: &mut Socket) -> PushEvent {
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
async fn expect_closed(socket: &mut Socket, reason: EndReason) {
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

/// Appends `entry` as `session`; panics unless 201.
fn append(http: &Http, session: &Session, device: &DeviceSecrets, entry: &LedgerEntry) {
    let body = json!({ "entries": [b64(&entry.encode())] }).to_string();
    let reply = signed(
        http,
        session,
        device,
        "POST",
        "/v1/ledger",
        body.as_bytes(),
        &SignOptions::default(),
    );
    assert_eq!(reply.status, 201, "{:?}", reply.json());
}

/// The account's verified ledger as `session` reads it.
fn ledger(http: &Http, session: &Session, device: &DeviceSecrets) -> LedgerState {
    let page = signed(
        http,
        session,
        device,
        "GET",
        "/v1/ledger",
        b"",
        &SignOptions::default(),
    )
    .json();
    let entries: Vec<LedgerEntry> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|text| LedgerEntry::decode(&unb64(text.as_str().unwrap())).unwrap())
        .collect();
    verify_chain(&entries).unwrap()
}

/// Adds a second device approved by the first; returns it.
fn add_device(http: &Http, account: &Account, session: &Session) -> DeviceSecrets {
    let state = ledger(http, session, &account.device);
    let phone = DeviceSecrets::generate(&mut OsRng);
    let mut add = state.next_entry(EntryKind::AddDevice {
        device: phone.public(),
        approved_by: account.device.device_id(),
        replaces: None,
    });
    add.sign_device(&account.account_id, &account.device);
    add.sign_device(&account.account_id, &phone);
    append(http, session, &account.device, &add);
    phone
}

#[tokio::test]
async fn revoking_a_device_closes_its_socket_and_tells_the_others() {
    let server = ServerProcess::start();
    let http = Http::new(server.addr);
    let account = register(&http, USERNAME, PASSWORD);
    let laptop = &account.device;
    let laptop_session = login(&http, USERNAME, PASSWORD, laptop).unwrap();
    let phone = add_device(&http, &account, &laptop_session);
    let phone_session = login(&http, USERNAME, PASSWORD, &phone).unwrap();
    assert_eq!(phone_session.kind, "full");
    // A device the ledger does not know gets an enrollment-restricted session.
    let newcomer = DeviceSecrets::generate(&mut OsRng);
    let newcomer_session = login(&http, USERNAME, PASSWORD, &newcomer).unwrap();
    assert_eq!(newcomer_session.kind, "enrollment_restricted");

    let mut laptop_socket = connect(&server, &laptop_session, laptop).await;
    let mut phone_socket = connect(&server, &phone_session, &phone).await;
    let mut newcomer_socket = connect(&server, &newcomer_session, &newcomer).await;

    // The laptop revokes the phone.
    let state = ledger(&http, &laptop_session, laptop);
    let mut revoke = state.next_entry(EntryKind::Revoke {
        device: phone.device_id(),
        reason: RevokeReason::Lost,
    });
    revoke.sign_device(&account.account_id, laptop);
    append(&http, &laptop_session, laptop, &revoke);

    // The phone is told and closed at once.
    assert_eq!(
        next_event(&mut phone_socket).await,
        PushEvent::SessionEnded {
            reason: EndReason::Revoked
        }
    );
    expect_closed(&mut phone_socket, EndReason::Revoked).await;

    // The laptop hears about the entry and the phone's new state.
    assert_eq!(
        next_event(&mut laptop_socket).await,
        PushEvent::LedgerAppended {
            seq: revoke.seq,
            hash: revoke.hash().to_hex(),
            kind: "device_revoked".into(),
        }
    );
    assert_eq!(
        next_event(&mut laptop_socket).await,
        PushEvent::DeviceStateChanged {
            device_id: hex::encode(phone.device_id().as_bytes()),
            state: "revoked".into(),
        }
    );

    // The phone's next request is refused, and so is a new socket.
    let refused = signed(
        &http,
        &phone_session,
        &phone,
        "GET",
        "/v1/ledger",
        b"",
        &SignOptions::default(),
    );
    assert_eq!(refused.status, 401);
    assert_eq!(refused.error_code(), "unknown_session");
    let again = open(&server, Some(&upgrade_header(&phone_session, &phone))).await;
    assert_http_status(again, 401);

    // The restricted session heard none of the account's events: the first thing it gets is
    // the end of its own session when it signs out.
    let signed_out = signed(
        &http,
        &newcomer_session,
        &newcomer,
        "DELETE",
        "/v1/sessions/current",
        b"",
        &SignOptions::default(),
    );
    assert_eq!(signed_out.status, 204);
    assert_eq!(
        next_event(&mut newcomer_socket).await,
        PushEvent::SessionEnded {
            reason: EndReason::SignedOut
        }
    );
    expect_closed(&mut newcomer_socket, EndReason::SignedOut).await;

    // The events above are compared whole, so they carried nothing else; nor do the logs.
    let logs = server.stderr();
    assert!(!logs.contains(USERNAME), "username in logs");
}

#[tokio::test]
async fn suspending_a_device_closes_its_socket_and_refuses_it() {
    let server = ServerProcess::start();
    let http = Http::new(server.addr);
    let account = register(&http, USERNAME, PASSWORD);
    let laptop = &account.device;
    let laptop_session = login(&http, USERNAME, PASSWORD, laptop).unwrap();
    let phone = add_device(&http, &account, &laptop_session);
    let phone_session = login(&http, USERNAME, PASSWORD, &phone).unwrap();
    let mut laptop_socket = connect(&server, &laptop_session, laptop).await;
    let mut phone_socket = connect(&server, &phone_session, &phone).await;

    let state = ledger(&http, &laptop_session, laptop);
    let mut suspend = state.next_entry(EntryKind::Suspend {
        device: phone.device_id(),
    });
    suspend.sign_device(&account.account_id, laptop);
    append(&http, &laptop_session, laptop, &suspend);

    assert_eq!(
        next_event(&mut phone_socket).await,
        PushEvent::SessionEnded {
            reason: EndReason::Suspended
        }
    );
    expect_closed(&mut phone_socket, EndReason::Suspended).await;
    assert_eq!(
        next_event(&mut laptop_socket).await,
        PushEvent::LedgerAppended {
            seq: suspend.seq,
            hash: suspend.hash().to_hex(),
            kind: "device_suspended".into(),
        }
    );
    assert_eq!(
        next_event(&mut laptop_socket).await,
        PushEvent::DeviceStateChanged {
            device_id: hex::encode(phone.device_id().as_bytes()),
            state: "suspended".into(),
        }
    );
    // A suspended device keeps its session but trust refuses it, sockets included.
    let refused = signed(
        &http,
        &phone_session,
        &phone,
        "GET",
        "/v1/ledger",
        b"",
        &SignOptions::default(),
    );
    assert_eq!(refused.status, 403, "{:?}", refused.json());
    let again = open(&server, Some(&upgrade_header(&phone_session, &phone))).await;
    assert_http_status(again, 403);
}

#[tokio::test]
async fn unauthenticated_and_replayed_upgrades_are_refused() {
    let server = ServerProcess::start();
    let http = Http::new(server.addr);
    let account = register(&http, USERNAME, PASSWORD);
    let session = login(&http, USERNAME, PASSWORD, &account.device).unwrap();

    assert_http_status(open(&server, None).await, 401);
    assert_http_status(open(&server, Some("Enigm nonsense")).await, 401);

    let header = upgrade_header(&session, &account.device);
    let mut first = open(&server, Some(&header)).await.unwrap();
    assert_http_status(open(&server, Some(&header)).await, 401);

    // The first socket is unaffected and closes cleanly when the client leaves.
    futures_util::SinkExt::close(&mut first).await.unwrap();
}

/// Asserts the upgrade was refused with `status`.
fn assert_http_status(result: Result<Socket, WsError>, status: u16) {
    match result {
        Err(WsError::Http(response)) => assert_eq!(response.status().as_u16(), status),
        Err(other) => panic!("expected HTTP {status}, got {other}"),
        Ok(_) => panic!("expected HTTP {status}, the upgrade succeeded"),
    }
}
