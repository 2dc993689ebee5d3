//! The enrollment relay's steps as tests drive them over HTTP (DESIGN §7): a new device B signs
//! in restricted and asks to join, an active device A accepts with enigm-core's SAS types, and
//! both listen on their push sockets.

use std::net::SocketAddr;
use std::time::Duration;

use enigm_core::identity::{AgreementPublicKey, DevicePublicKeys, DeviceSecrets, SigningPublicKey};
use enigm_core::sas::{Commitment, EnrollmentContext, ExistingDeviceOffered, NewDeviceCommitted};
use enigm_server::push::PushEvent;
use futures_util::StreamExt;
use rand_core::OsRng;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::Http;
use super::enigm::{self, Account, Device, SignOptions, b64, login, unb64};

pub const PASSWORD: &str = "correct horse battery staple 42";

/// A new device signed in to `account`: its session is restricted to enrollment.
pub fn new_device(http: &Http, account: &Account) -> Device {
    let secrets = DeviceSecrets::generate(&mut OsRng);
    let session = login(http, &account.username, PASSWORD, &secrets).unwrap();
    assert_eq!(session.kind, "enrollment_restricted");
    Device { secrets, session }
}

/// B's side of a request just created.
pub struct Requested {
    /// The request id (hex).
    pub id: String,
    /// B's SAS state.
    pub committed: NewDeviceCommitted,
}

/// B asks to join; returns the id and its SAS state.
pub fn request(http: &Http, b: &Device) -> Requested {
    let committed = NewDeviceCommitted::start(&mut OsRng, b.secrets.public());
    let reply = b.post(http, "/v1/enrollments", create_body(b, &committed), 201);
    assert_eq!(reply["state"], "requested");
    Requested {
        id: reply["id"].as_str().unwrap().to_owned(),
        committed,
    }
}

pub fn create_body(b: &Device, committed: &NewDeviceCommitted) -> Value {
    let keys = b.secrets.public();
    json!({
        "commitment": b64(committed.commitment().as_bytes()),
        "signing_key": b64(keys.signing.as_bytes()),
        "agreement_key": b64(keys.agreement.as_bytes()),
        "platform": "linux",
    })
}

pub fn b32(value: &Value) -> [u8; 32] {
    unb64(value.as_str().unwrap()).try_into().unwrap()
}

pub fn id_bytes(id: &str) -> Vec<u8> {
    hex::decode(id).unwrap()
}

/// A accepts the request `view` (as listed): its SAS state.
pub fn accept(http: &Http, account: &Account, a: &Device, view: &Value) -> ExistingDeviceOffered {
    let id = view["id"].as_str().unwrap();
    let context =
        EnrollmentContext::new(account.account_id, &id_bytes(id), a.secrets.device_id()).unwrap();
    let new_device = DevicePublicKeys {
        signing: SigningPublicKey::from_bytes(&b32(&view["signing_key"])).unwrap(),
        agreement: AgreementPublicKey::from_bytes(b32(&view["agreement_key"])),
    };
    let offered = ExistingDeviceOffered::start(
        &mut OsRng,
        context,
        new_device,
        Commitment::from_bytes(b32(&view["commitment"])),
    );
    let reply = a.post(
        http,
        &format!("/v1/enrollments/{id}/accept"),
        json!({ "ephemeral": b64(offered.ephemeral_key().as_bytes()) }),
        200,
    );
    assert_eq!(reply["state"], "accepted");
    offered
}

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens `/v1/push` as `device`.
pub async fn connect(addr: SocketAddr, device: &Device) -> Socket {
    let header = enigm::authorization(
        &device.session,
        &device.secrets,
        "GET",
        "/v1/push",
        b"",
        &SignOptions::default(),
    );
    let mut request = format!("ws://{addr}/v1/push")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Authorization", header.parse().unwrap());
    let (socket, _) = timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(request),
    )
    .await
    .unwrap()
    .unwrap();
    socket
}

/// Reads events until `wanted` arrives (other events are skipped), within five seconds.
pub async fn expect_event(socket: &mut Socket, wanted: &PushEvent) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .unwrap_or_else(|_| panic!("no {wanted:?} within five seconds"))
            .expect("socket ended")
            .unwrap();
        if let Message::Text(text) = message
            && serde_json::from_str::<PushEvent>(text.as_str()).unwrap() == *wanted
        {
            return;
        }
    }
}

pub fn updated(id: &str, state: &str) -> PushEvent {
    PushEvent::EnrollmentUpdated {
        id: id.to_owned(),
        state: serde_json::from_value(serde_json::json!(state)).unwrap(),
    }
}
