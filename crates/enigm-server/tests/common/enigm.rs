//! A small Enigm client for tests: OPAQUE registration and login with the real client side of
//! enigm-core, the genesis entry, signed requests, and a device with its session that tests
//! speaking the protocol directly share.

use std::time::{SystemTime, UNIX_EPOCH};

use data_encoding::BASE64URL_NOPAD;
use ed25519_dalek::SigningKey;
use enigm_core::audit::{AuditAction, AuditRecord};
use enigm_core::identity::DeviceSecrets;
use enigm_core::ledger::{EntryKind, LedgerEntry, LedgerState, RevokeReason, verify_chain};
use enigm_core::opaque::{
    ClientLogin, ClientLoginFinishParameters, ClientRegistration,
    ClientRegistrationFinishParameters, CredentialResponse, RegistrationResponse,
};
use enigm_core::recovery::RecoveryPhrase;
use enigm_core::request::{SessionId, login_start_message, sign_request};
use enigm_proto::{
    Append, LoginFinish, LoginStart, LoginStartReply, RegisterFinish, RegisterFinishReply,
    RegisterStart, RegisterStartReply,
};
use enigm_server::protocol::session_binding_message;
use rand_core::{OsRng, RngCore};
use serde_json::Value;

use super::{Http, Response};

/// Unpadded base64url.
pub fn b64(bytes: &[u8]) -> String {
    BASE64URL_NOPAD.encode(bytes)
}

/// Decodes unpadded base64url.
pub fn unb64(text: &str) -> Vec<u8> {
    BASE64URL_NOPAD.decode(text.as_bytes()).unwrap()
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A registered account as its first device knows it.
pub struct Account {
    pub username: String,
    pub account_id: [u8; 16],
    pub device: DeviceSecrets,
    /// The recovery phrase shown at registration.
    pub phrase: RecoveryPhrase,
    /// The recovery key it derives (pinned by the genesis).
    pub recovery: SigningKey,
}

/// Registers `username` with `password`; panics unless the service answers 201.
pub fn register(http: &Http, username: &str, password: &str) -> Account {
    try_register(http, username, password).unwrap_or_else(|reply| panic!("{:?}", reply.json()))
}

/// Registers `username` with `password`; the finish reply when it is not 201.
pub fn try_register(http: &Http, username: &str, password: &str) -> Result<Account, Response> {
    try_register_with(http, username, password, str::to_owned)
}

/// `POST /v1/accounts/register/start` for `username` with `password`, which must be
/// answered 200; the client state and the reply.
fn start_registration(
    http: &Http,
    username: &str,
    password: &str,
) -> (ClientRegistration, RegisterStartReply) {
    let start = ClientRegistration::start(&mut OsRng, password.as_bytes()).unwrap();
    let reply = http.post_json(
        "/v1/accounts/register/start",
        &RegisterStart {
            username: username.to_owned(),
            registration_request: b64(&start.message.serialize()),
        },
    );
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    (start.state, reply.decode())
}

/// The OPAQUE registration upload that finishes `registration` with `password`, given the
/// service's `registration_response` (base64url), as registration and recovery send it.
pub fn registration_upload(
    registration: ClientRegistration,
    password: &str,
    registration_response: &str,
) -> Vec<u8> {
    let response = RegistrationResponse::deserialize(&unb64(registration_response)).unwrap();
    registration
        .finish(
            &mut OsRng,
            password.as_bytes(),
            response,
            ClientRegistrationFinishParameters::default(),
        )
        .unwrap()
        .message
        .serialize()
        .to_vec()
}

/// A `registration_id` the service issues for `username`.
pub fn registration_id(http: &Http, username: &str) -> String {
    start_registration(http, username, "any").1.registration_id
}

/// Registers as [`try_register`] does, finishing with the registration id `choose_id` makes of
/// the one the start returned.
pub fn try_register_with(
    http: &Http,
    username: &str,
    password: &str,
    choose_id: impl FnOnce(&str) -> String,
) -> Result<Account, Response> {
    let mut account_id = [0u8; 16];
    OsRng.fill_bytes(&mut account_id);
    let device = DeviceSecrets::generate(&mut OsRng);
    let phrase = RecoveryPhrase::generate(&mut OsRng);
    let recovery = phrase.recovery_key().signing_key().clone();
    let (registration, started) = start_registration(http, username, password);
    let registration_id = choose_id(&started.registration_id);
    let upload = registration_upload(registration, password, &started.registration_response);
    let genesis = LedgerEntry::genesis(account_id, &device, &recovery);
    let reply = http.post_json(
        "/v1/accounts/register/finish",
        &RegisterFinish {
            registration_id,
            username: username.to_owned(),
            registration_upload: b64(&upload),
            genesis: b64(&genesis.encode()),
        },
    );
    if reply.status != 201 {
        return Err(reply);
    }
    assert_eq!(
        reply.decode::<RegisterFinishReply>().account_id,
        hex::encode(account_id)
    );
    Ok(Account {
        username: username.to_owned(),
        account_id,
        device,
        phrase,
        recovery,
    })
}

/// The first half of a login: the client state, the login id and the raw reply.
pub struct LoginStarted {
    pub state: ClientLogin,
    pub login_id: String,
    pub reply: Response,
}

/// `POST /v1/sessions/login/start`.
pub fn login_start(http: &Http, username: &str, password: &str) -> LoginStarted {
    start_login(http, username, password, None)
}

/// `POST /v1/sessions/login/start` signed by `device` (so that it draws on the device's own
/// guess budget when the ledger holds it); the reply.
pub fn device_login_start(
    http: &Http,
    username: &str,
    password: &str,
    device: &DeviceSecrets,
) -> Response {
    start_login(http, username, password, Some((device, now()))).reply
}

/// [`device_login_start`] with the signed timestamp given.
pub fn device_login_start_with(
    http: &Http,
    username: &str,
    password: &str,
    device: &DeviceSecrets,
    timestamp: u64,
) -> Response {
    start_login(http, username, password, Some((device, timestamp))).reply
}

fn start_login(
    http: &Http,
    username: &str,
    password: &str,
    signer: Option<(&DeviceSecrets, u64)>,
) -> LoginStarted {
    let start = ClientLogin::start(&mut OsRng, password.as_bytes()).unwrap();
    let request = start.message.serialize();
    let mut body = LoginStart {
        username: username.to_owned(),
        credential_request: b64(&request),
        device_key: None,
        device_timestamp: None,
        device_signature: None,
    };
    if let Some((device, timestamp)) = signer {
        let signature = device.sign(&login_start_message(timestamp, &request));
        body.device_key = Some(b64(device.public().signing.as_bytes()));
        body.device_timestamp = Some(timestamp);
        body.device_signature = Some(b64(&signature.to_bytes()));
    }
    let reply = http.post_json("/v1/sessions/login/start", &body);
    let login_id = if reply.status == 200 {
        reply.decode::<LoginStartReply>().login_id
    } else {
        String::new()
    };
    LoginStarted {
        state: start.state,
        login_id,
        reply,
    }
}

/// Finishes a started login (`POST /v1/sessions/login/finish`) with `password`, which must be
/// right; the reply and the OPAQUE session key the client derived.
pub fn login_finish(
    http: &Http,
    started: LoginStarted,
    password: &str,
    device: &DeviceSecrets,
) -> (Response, Vec<u8>) {
    let response = CredentialResponse::deserialize(&unb64(
        &started
            .reply
            .decode::<LoginStartReply>()
            .credential_response,
    ))
    .unwrap();
    let finished = started
        .state
        .finish(
            password.as_bytes(),
            response,
            ClientLoginFinishParameters::default(),
        )
        .unwrap();
    let login_id: [u8; 16] = unb64(&started.login_id).try_into().unwrap();
    let device_key = *device.public().signing.as_bytes();
    let binding = session_binding_message(&login_id, &finished.session_key, &device_key);
    let reply = http.post_json(
        "/v1/sessions/login/finish",
        &LoginFinish {
            login_id: started.login_id,
            credential_finalization: b64(&finished.message.serialize()),
            device_key: b64(&device_key),
            device_signature: b64(&device.sign(&binding).to_bytes()),
        },
    );
    (reply, finished.session_key.to_vec())
}

/// A session as the device holds it.
#[derive(Debug)]
pub struct Session {
    pub id: SessionId,
    pub kind: String,
}

/// Logs in `device` with the account's credentials; returns the session or the error reply.
pub fn login(
    http: &Http,
    username: &str,
    password: &str,
    device: &DeviceSecrets,
) -> Result<Session, Response> {
    finish_login(
        http,
        login_start(http, username, password),
        password,
        device,
    )
}

/// Logs in as [`login`] does, with a start signed by `device`.
pub fn device_login(
    http: &Http,
    username: &str,
    password: &str,
    device: &DeviceSecrets,
) -> Result<Session, Response> {
    let started = start_login(http, username, password, Some((device, now())));
    finish_login(http, started, password, device)
}

fn finish_login(
    http: &Http,
    started: LoginStarted,
    password: &str,
    device: &DeviceSecrets,
) -> Result<Session, Response> {
    if started.reply.status != 200 {
        return Err(started.reply);
    }
    let (reply, _) = login_finish(http, started, password, device);
    if reply.status != 200 {
        return Err(reply);
    }
    let body = reply.json();
    Ok(Session {
        id: SessionId::from_b64url(body["session_id"].as_str().unwrap()).unwrap(),
        kind: body["kind"].as_str().unwrap().to_owned(),
    })
}

/// How to sign a request; the defaults make a valid one.
#[derive(Default)]
pub struct SignOptions {
    /// Timestamp to sign with (default: now).
    pub timestamp: Option<u64>,
    /// Body to send instead of the signed one (tampering).
    pub send_body: Option<Vec<u8>>,
}

/// The Authorization header for a request.
pub fn authorization(
    session: &Session,
    device: &DeviceSecrets,
    method: &str,
    path: &str,
    body: &[u8],
    options: &SignOptions,
) -> String {
    let timestamp = options.timestamp.unwrap_or_else(now);
    sign_request(
        device, session.id, method, path, body, timestamp, &mut OsRng,
    )
    .to_header()
}

/// Sends a signed request.
pub fn signed(
    http: &Http,
    session: &Session,
    device: &DeviceSecrets,
    method: &str,
    path: &str,
    body: &[u8],
    options: &SignOptions,
) -> Response {
    let header = authorization(session, device, method, path, body, options);
    let sent = options.send_body.as_deref().unwrap_or(body);
    http.request(method, path, &[("Authorization", &header)], sent)
}

/// Sends one request signed now (`GET /v1/ledger`) through `first`, which must accept it, and
/// the very same request again through `second`: the reply to the replay.
pub fn replay(first: &Http, second: &Http, session: &Session, device: &DeviceSecrets) -> Response {
    let options = SignOptions::default();
    let header = authorization(session, device, "GET", "/v1/ledger", b"", &options);
    let accepted = first.request("GET", "/v1/ledger", &[("Authorization", &header)], b"");
    assert_eq!(accepted.status, 200, "{:?}", accepted.json());
    second.request("GET", "/v1/ledger", &[("Authorization", &header)], b"")
}

/// Posts every `(client, header, body)` ledger append at once, each from its own thread: the
/// replies, in the order of `appends`.
pub fn race_appends(appends: &[(Http, String, Vec<u8>)]) -> Vec<Response> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = appends
            .iter()
            .map(|(http, header, body)| {
                scope.spawn(move || {
                    http.request("POST", "/v1/ledger", &[("Authorization", header)], body)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    })
}

/// Of the replies to appends raced from one head: exactly one won (201), and every other is a
/// `ledger_conflict` naming the winner's head, which is returned.
pub fn one_append_won(replies: &[Response]) -> Value {
    let statuses: Vec<u16> = replies.iter().map(|reply| reply.status).collect();
    let won: Vec<&Response> = replies.iter().filter(|reply| reply.status == 201).collect();
    assert_eq!(won.len(), 1, "{statuses:?}");
    let head = won[0].json()["head"].clone();
    for reply in replies.iter().filter(|reply| reply.status != 201) {
        reply.assert_refused(409, "ledger_conflict");
        assert_eq!(reply.json()["error"]["head"], head);
    }
    head
}

/// Sends a request signed now as `session`, the body as signed.
pub fn send(
    http: &Http,
    session: &Session,
    device: &DeviceSecrets,
    method: &str,
    path: &str,
    body: &[u8],
) -> Response {
    signed(
        http,
        session,
        device,
        method,
        path,
        body,
        &SignOptions::default(),
    )
}

/// `POST /v1/ledger` with `entries` as `session`; the reply, whatever it is.
pub fn post_entries(
    http: &Http,
    session: &Session,
    device: &DeviceSecrets,
    entries: &[&LedgerEntry],
) -> Response {
    send(
        http,
        session,
        device,
        "POST",
        "/v1/ledger",
        &append_body(entries),
    )
}

/// The body of `POST /v1/ledger` appending `entries`.
fn append_body(entries: &[&LedgerEntry]) -> Vec<u8> {
    serde_json::to_vec(&Append {
        entries: entries.iter().map(|entry| b64(&entry.encode())).collect(),
    })
    .unwrap()
}

/// An append of `entries` signed now as `session` but not sent: its Authorization header and
/// its body, for a test that sends it later (twice, or many at once, or across a crash).
pub fn signed_append(
    session: &Session,
    device: &DeviceSecrets,
    entries: &[&LedgerEntry],
) -> (String, Vec<u8>) {
    let body = append_body(entries);
    let header = authorization(
        session,
        device,
        "POST",
        "/v1/ledger",
        &body,
        &SignOptions::default(),
    );
    (header, body)
}

/// Appends `entry` as `session`; panics unless 201.
pub fn append(http: &Http, session: &Session, device: &DeviceSecrets, entry: &LedgerEntry) {
    let reply = post_entries(http, session, device, &[entry]);
    assert_eq!(reply.status, 201, "{:?}", reply.json());
}

/// Revokes `device` for `reason` with an entry `by` signs, appended as `session`; the entry.
pub fn revoke(
    http: &Http,
    session: &Session,
    account_id: &[u8; 16],
    by: &DeviceSecrets,
    device: &DeviceSecrets,
    reason: RevokeReason,
) -> LedgerEntry {
    let state = ledger(http, session, by);
    let mut entry = state.next_entry(EntryKind::Revoke {
        device: device.device_id(),
        reason,
    });
    entry.sign_device(account_id, by);
    append(http, session, by, &entry);
    entry
}

/// The entries of a ledger page (`GET /v1/ledger`), decoded.
pub fn page_entries(page: &Value) -> Vec<LedgerEntry> {
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|text| LedgerEntry::decode(&unb64(text.as_str().unwrap())).unwrap())
        .collect()
}

/// The account's whole ledger as `session` reads it, verified.
pub fn ledger(http: &Http, session: &Session, device: &DeviceSecrets) -> LedgerState {
    let page = send(http, session, device, "GET", "/v1/ledger", b"").json();
    let entries = page_entries(&page);
    verify_chain(&entries).unwrap()
}

/// A new device's `AddDevice` entry after `state`'s head, approved and signed by `approver`
/// and signed by the new device, as an enrollment ends; the new device and the entry, not
/// appended.
pub fn add_device_entry(
    state: &LedgerState,
    account_id: &[u8; 16],
    approver: &DeviceSecrets,
) -> (DeviceSecrets, LedgerEntry) {
    let device = DeviceSecrets::generate(&mut OsRng);
    let mut add = state.next_entry(EntryKind::AddDevice {
        device: device.public(),
        approved_by: approver.device_id(),
        replaces: None,
    });
    add.sign_device(account_id, approver);
    add.sign_device(account_id, &device);
    (device, add)
}

/// Adds a new device approved by `approver` (signed by both, as an enrollment ends); returns
/// the new device's secrets.
pub fn add_device(
    http: &Http,
    session: &Session,
    account_id: [u8; 16],
    approver: &DeviceSecrets,
) -> DeviceSecrets {
    let state = ledger(http, session, approver);
    let (device, add) = add_device_entry(&state, &account_id, approver);
    append(http, session, approver, &add);
    device
}

/// Registers `username` and signs in its first device and a second one the first approved:
/// the account, the first device's session, the second device and its session.
pub fn two_devices(
    http: &Http,
    username: &str,
    password: &str,
) -> (Account, Session, DeviceSecrets, Session) {
    let account = register(http, username, password);
    let first_session = login(http, username, password, &account.device).unwrap();
    let second = add_device(http, &first_session, account.account_id, &account.device);
    let second_session = login(http, username, password, &second).unwrap();
    (account, first_session, second, second_session)
}

/// A device with its session.
pub struct Device {
    /// Its keys.
    pub secrets: DeviceSecrets,
    /// Its session.
    pub session: Session,
}

impl Device {
    /// Its id in hex.
    pub fn id(&self) -> String {
        self.secrets.device_id().to_hex()
    }

    /// Sends a signed request with a JSON body (`Value::Null` for none).
    pub fn call(&self, http: &Http, method: &str, path: &str, body: &Value) -> Response {
        let bytes = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        signed(
            http,
            &self.session,
            &self.secrets,
            method,
            path,
            &bytes,
            &SignOptions::default(),
        )
    }

    /// Expects `status`; returns the body.
    pub fn expect(&self, http: &Http, method: &str, path: &str, body: Value, status: u16) -> Value {
        let reply = self.call(http, method, path, &body);
        assert_eq!(reply.status, status, "{method} {path}: {:?}", reply.json());
        reply.json()
    }

    /// `POST` expecting `status`; returns the body.
    pub fn post(&self, http: &Http, path: &str, body: Value, status: u16) -> Value {
        self.expect(http, "POST", path, body, status)
    }

    /// `GET` expecting 200; returns the body.
    pub fn get(&self, http: &Http, path: &str) -> Value {
        self.expect(http, "GET", path, Value::Null, 200)
    }

    /// The actions of the account's audit records, as `GET /v1/audit` shows them to this device.
    pub fn audit_actions(&self, http: &Http) -> Vec<AuditAction> {
        let audit = self.get(http, "/v1/audit");
        audit["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|record| {
                serde_json::from_value::<AuditRecord>(record["record"].clone())
                    .unwrap()
                    .action
            })
            .collect()
    }

    /// Expects a refusal with `status` and `code`; returns the body.
    pub fn refused(
        &self,
        http: &Http,
        method: &str,
        path: &str,
        body: Value,
        status: u16,
        code: &str,
    ) -> Value {
        let reply = self.call(http, method, path, &body);
        assert_eq!(
            (reply.status, reply.error_code().as_str()),
            (status, code),
            "{method} {path}: {:?}",
            reply.json()
        );
        reply.json()
    }
}

/// Registers `username` and signs its first device in: the account and the session.
pub fn signed_up(http: &Http, username: &str, password: &str) -> (Account, Session) {
    let account = register(http, username, password);
    let session = login(http, username, password, &account.device).unwrap();
    (account, session)
}

/// A username no earlier run on the same database has taken.
pub fn fresh_username(prefix: &str) -> String {
    format!("{prefix}-{:016x}", OsRng.next_u64())
}

/// A new account (a fresh username starting with `prefix`) with its first device signed in on
/// a full session.
pub fn sign_up(http: &Http, prefix: &str, password: &str) -> (Account, Device) {
    let username = fresh_username(prefix);
    let account = register(http, &username, password);
    let session = login(http, &username, password, &account.device).unwrap();
    assert_eq!(session.kind, "full");
    let secrets = DeviceSecrets::from_bytes(&account.device.to_bytes());
    (account, Device { secrets, session })
}
