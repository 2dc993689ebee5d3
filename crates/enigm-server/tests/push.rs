//! Push over WebSocket against the real `enigm server`: revoking a device closes its socket at
//! once with `session_ended`, the other devices are told, and upgrades are signed requests
//! (unauthenticated or replayed ones get 401). A removed device is refused everything but the
//! ledger up to its removal.

use crate::common;

use common::enigm::{self, Session, append, b64, ledger, login};
use common::push::{
    add_device, assert_http_status, connect, expect_closed, expect_device_changed, expect_ended,
    expect_revoked, next_event, open, upgrade_header,
};
use common::{Http, Response, Service};
use enigm_core::identity::DeviceSecrets;
use enigm_core::ledger::{EntryKind, RevokeReason};
use enigm_core::lifecycle::DeviceState;
use enigm_server::push::{EndReason, PushEvent};
use rand_core::OsRng;

const USERNAME: &str = "push.tester";
const PASSWORD: &str = "correct horse battery staple 42";

/// `device`'s next request and a new socket of its are both refused (403): the request's reply.
async fn refused_everywhere(
    server: &Service,
    session: &Session,
    device: &DeviceSecrets,
) -> Response {
    let http = Http::new(server.addr);
    let refused = enigm::send(&http, session, device, "GET", "/v1/ledger", b"");
    assert_eq!(refused.status, 403, "{:?}", refused.json());
    let again = open(server.addr, Some(&upgrade_header(session, device))).await;
    assert_http_status(again, 403);
    refused
}

#[tokio::test]
async fn revoking_a_device_closes_its_socket_and_tells_the_others() {
    let server = Service::start();
    let http = Http::new(server.addr);
    let (account, laptop_session, phone, phone_session) =
        enigm::two_devices(&http, USERNAME, PASSWORD);
    let laptop = &account.device;
    assert_eq!(phone_session.kind, "full");
    // A device the ledger does not know gets an enrollment-restricted session.
    let newcomer = DeviceSecrets::generate(&mut OsRng);
    let newcomer_session = login(&http, USERNAME, PASSWORD, &newcomer).unwrap();
    assert_eq!(newcomer_session.kind, "enrollment_restricted");

    let mut laptop_socket = connect(server.addr, &laptop_session, laptop).await;
    let mut phone_socket = connect(server.addr, &phone_session, &phone).await;
    let mut newcomer_socket = connect(server.addr, &newcomer_session, &newcomer).await;

    // The laptop revokes the phone.
    let revoke = enigm::revoke(
        &http,
        &laptop_session,
        &account.account_id,
        laptop,
        &phone,
        RevokeReason::Lost,
    );

    // The phone is told and closed at once.
    expect_revoked(&mut phone_socket, &revoke).await;

    // The laptop hears about the entry and the phone's new state.
    expect_device_changed(
        &mut laptop_socket,
        &revoke,
        "device_revoked",
        &phone,
        DeviceState::Revoked,
    )
    .await;

    // The phone's next request is refused, and so is a new socket.
    let refused = refused_everywhere(&server, &phone_session, &phone).await;
    assert_eq!(refused.error_code(), "device_removed");
    // It may still read the ledger up to the entry that removed it, and no further, to verify
    // its removal itself; a device that was not removed has nothing to read there.
    add_device(&http, &account, &laptop_session);
    let read_removal = |session, device| {
        enigm::send(
            &http,
            session,
            device,
            "GET",
            "/v1/ledger/removal?since=1",
            b"",
        )
    };
    let page = read_removal(&phone_session, &phone);
    assert_eq!(page.status, 200);
    let page = page.json();
    assert_eq!(page["head"]["seq"], revoke.seq);
    assert_eq!(page["head"]["hash"], revoke.hash().to_hex());
    assert_eq!(
        page["entries"].as_array().unwrap().last().unwrap(),
        &serde_json::json!(b64(&revoke.encode())),
        "nothing written after the removal: {page}"
    );
    assert_ne!(
        ledger(&http, &laptop_session, laptop).head().seq,
        revoke.seq,
        "the tablet came later"
    );
    let not_removed = read_removal(&laptop_session, laptop);
    not_removed.assert_refused(404, "not_found");

    // The restricted session heard none of the account's events: the first thing it gets is
    // the end of its own session when it signs out.
    let signed_out = enigm::send(
        &http,
        &newcomer_session,
        &newcomer,
        "DELETE",
        "/v1/sessions/current",
        b"",
    );
    assert_eq!(signed_out.status, 204);
    expect_ended(&mut newcomer_socket, EndReason::SignedOut).await;

    // The events above are compared whole, so they carried nothing else; nor do the logs.
    let logs = server.logs();
    assert!(!logs.contains(USERNAME), "username in logs");
}

#[tokio::test]
async fn suspending_a_device_closes_its_socket_and_refuses_it() {
    let server = Service::start();
    let http = Http::new(server.addr);
    let (account, laptop_session, phone, phone_session) =
        enigm::two_devices(&http, USERNAME, PASSWORD);
    let laptop = &account.device;
    let mut laptop_socket = connect(server.addr, &laptop_session, laptop).await;
    let mut phone_socket = connect(server.addr, &phone_session, &phone).await;

    let state = ledger(&http, &laptop_session, laptop);
    let mut suspend = state.next_entry(EntryKind::Suspend {
        device: phone.device_id(),
    });
    suspend.sign_device(&account.account_id, laptop);
    append(&http, &laptop_session, laptop, &suspend);

    // The suspended device is handed the entry that suspended it, to name who did.
    assert_eq!(
        next_event(&mut phone_socket).await,
        PushEvent::SessionEnded {
            reason: EndReason::Suspended,
            entry: Some(b64(&suspend.encode())),
        }
    );
    expect_closed(&mut phone_socket, EndReason::Suspended).await;
    expect_device_changed(
        &mut laptop_socket,
        &suspend,
        "device_suspended",
        &phone,
        DeviceState::Suspended,
    )
    .await;
    // A suspended device keeps its session but trust refuses it, sockets included.
    refused_everywhere(&server, &phone_session, &phone).await;
}

#[tokio::test]
async fn unauthenticated_and_replayed_upgrades_are_refused() {
    let server = Service::start();
    let http = Http::new(server.addr);
    let (account, session) = enigm::signed_up(&http, USERNAME, PASSWORD);

    assert_http_status(open(server.addr, None).await, 401);
    assert_http_status(open(server.addr, Some("Enigm nonsense")).await, 401);

    let header = upgrade_header(&session, &account.device);
    let mut first = open(server.addr, Some(&header)).await.unwrap();
    assert_http_status(open(server.addr, Some(&header)).await, 401);

    // The first socket is unaffected and closes cleanly when the client leaves.
    futures_util::SinkExt::close(&mut first).await.unwrap();
}

#[tokio::test]
async fn a_committed_revocation_is_answered_and_announced_even_when_its_audit_fails() {
    let server = Service::start();
    let http = Http::new(server.addr);
    let (account, laptop_session) = enigm::signed_up(&http, "audit.outage", PASSWORD);
    let laptop = &account.device;
    let phone = add_device(&http, &account, &laptop_session);
    let phone_session = login(&http, "audit.outage", PASSWORD, &phone).unwrap();
    let mut phone_socket = connect(server.addr, &phone_session, &phone).await;

    // From now on every audit write fails, as on a full or broken disk.
    let database = rusqlite::Connection::open(server.data_dir.join("enigm.db")).unwrap();
    database
        .execute_batch(
            "CREATE TRIGGER audit_outage BEFORE INSERT ON audit
             BEGIN SELECT RAISE(ABORT, 'audit outage'); END;",
        )
        .unwrap();

    // The append commits: the answer says so (not 500), and the phone is told and closed.
    let revoke = enigm::revoke(
        &http,
        &laptop_session,
        &account.account_id,
        laptop,
        &phone,
        RevokeReason::Stolen,
    );
    expect_revoked(&mut phone_socket, &revoke).await;
    assert!(
        server.logs().contains("audit"),
        "the lost audit record is logged"
    );
}
