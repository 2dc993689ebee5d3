//! Where the account is signed in (`GET /v1/sessions`, `DELETE /v1/sessions/{id}`,
//! `POST /v1/sessions/others/end`): each trusted device's session is listed under a pseudonym,
//! ending one closes its socket at once and its next request is refused, and nobody can list or
//! end another account's sessions or use a session id as a handle.

use crate::common;

use common::enigm::{self, Device, login, sign_up};
use common::push::{connect, expect_ended};
use common::{Http, Service};
use enigm_core::identity::DeviceSecrets;
use enigm_server::push::EndReason;
use rand_core::OsRng;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple 42";

/// `(handle, device id, current)` of each session `device` lists, in order.
fn sessions(http: &Http, device: &Device) -> Vec<(String, String, bool)> {
    device.get(http, "/v1/sessions")["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|session| {
            (
                session["id"].as_str().unwrap().to_owned(),
                session["device_id"].as_str().unwrap().to_owned(),
                session["current"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// Asserts `device` cannot end a session named `name`: 404, as for a name never listed.
fn ends_nothing(http: &Http, device: &Device, name: &str) {
    let path = format!("/v1/sessions/{name}");
    device.refused(http, "DELETE", &path, Value::Null, 404, "not_found");
}

/// Asserts `device`'s session is over: its next request is refused as unknown.
fn signed_out(http: &Http, device: &Device) {
    device.refused(
        http,
        "GET",
        "/v1/sessions",
        Value::Null,
        401,
        "unknown_session",
    );
}

/// A new account (username starting with `prefix`) with two devices, each signed in.
fn laptop_and_phone(http: &Http, prefix: &str) -> (enigm::Account, Device, Device) {
    let (account, laptop) = sign_up(http, prefix, PASSWORD);
    let phone = enigm::add_device(http, &laptop.session, account.account_id, &laptop.secrets);
    let phone = Device {
        session: login(http, &account.username, PASSWORD, &phone).unwrap(),
        secrets: phone,
    };
    (account, laptop, phone)
}

#[tokio::test]
async fn a_session_ended_from_another_device_closes_at_once_and_is_refused_after() {
    let server = Service::start();
    let http = Http::new(server.addr);
    let (account, laptop, phone) = laptop_and_phone(&http, "signed-in");
    // A key that only asked to enroll is not "signed in" anywhere.
    let stranger = DeviceSecrets::generate(&mut OsRng);
    let stranger = login(&http, &account.username, PASSWORD, &stranger).unwrap();
    assert_eq!(stranger.kind, "enrollment_restricted");

    // Both signed in within the same second: listed in either order.
    let mut listed = sessions(&http, &laptop);
    listed.sort_by_key(|(_, device, _)| *device != laptop.id());
    assert_eq!(
        listed
            .iter()
            .map(|(_, device, current)| (device.as_str(), *current))
            .collect::<Vec<_>>(),
        vec![(laptop.id().as_str(), true), (phone.id().as_str(), false)],
        "each trusted device's session, the caller's marked"
    );
    for (handle, _, _) in &listed {
        assert!(handle.starts_with("ses_") && handle.len() == 20, "{handle}");
        let body = serde_json::to_string(&listed).unwrap();
        assert!(
            !body.contains(&hex::encode(laptop.session.id.as_bytes())),
            "no session id"
        );
    }
    // The phone sees the same sessions under the same names, its own marked.
    let mut from_phone = sessions(&http, &phone);
    from_phone.sort_by_key(|(_, device, _)| *device != laptop.id());
    assert_eq!(from_phone[0].0, listed[0].0);
    assert_eq!(from_phone[1], (listed[1].0.clone(), phone.id(), true));

    // Another account can neither see nor end them; nor can a session id stand for a handle.
    let (_, elsewhere) = sign_up(&http, "signed-in-elsewhere", PASSWORD);
    assert_eq!(sessions(&http, &elsewhere).len(), 1);
    let phone_handle = &listed[1].0;
    ends_nothing(&http, &elsewhere, phone_handle);
    ends_nothing(&http, &laptop, &hex::encode(phone.session.id.as_bytes()));

    // The laptop signs the phone out: its socket hears it and closes, its next request fails.
    let mut phone_socket = connect(server.addr, &phone.session, &phone.secrets).await;
    let ended = laptop.call(
        &http,
        "DELETE",
        &format!("/v1/sessions/{phone_handle}"),
        &Value::Null,
    );
    assert_eq!(ended.status, 204);
    expect_ended(&mut phone_socket, EndReason::SignedOut).await;
    signed_out(&http, &phone);
    assert_eq!(sessions(&http, &laptop).len(), 1);
    ends_nothing(&http, &laptop, phone_handle);
}

#[tokio::test]
async fn signing_out_everywhere_else_keeps_only_the_callers_session() {
    let server = Service::start();
    let http = Http::new(server.addr);
    let (account, laptop, phone) = laptop_and_phone(&http, "everywhere-else");
    // A second session of the laptop itself counts as elsewhere too.
    let laptop_again = Device {
        session: login(&http, &account.username, PASSWORD, &laptop.secrets).unwrap(),
        secrets: DeviceSecrets::from_bytes(&laptop.secrets.to_bytes()),
    };
    assert_eq!(sessions(&http, &laptop).len(), 3);
    let mut phone_socket = connect(server.addr, &phone.session, &phone.secrets).await;

    let ended = laptop.post(&http, "/v1/sessions/others/end", json!(null), 200);
    assert_eq!(ended["ended"], 2);
    expect_ended(&mut phone_socket, EndReason::SignedOut).await;
    for gone in [&phone, &laptop_again] {
        signed_out(&http, gone);
    }
    let left = sessions(&http, &laptop);
    assert_eq!(left.len(), 1);
    assert!(left[0].2, "the caller's own session stays");
    let again = laptop.post(&http, "/v1/sessions/others/end", json!(null), 200);
    assert_eq!(again["ended"], 0);
}
