//! A hostile service for client tests: an HTTP/1.1 proxy in front of the service
//! that forwards every request unchanged and rewrites ledger pages (`GET /v1/ledger`) the way a
//! compromised or buggy service could: a rewritten past entry (a fork), a shorter history (a
//! rollback), a forged entry (an injected device), or entries withheld behind the true head; or
//! it hands a device a sync-key copy of its choosing (`GET /v1/sync-keys/mine`), shows an
//! enrollment request naming another device to replace, swallows an approver's hand-over, or
//! refuses a device as removed. It keeps every reply it sent (method, path, body), so a test
//! can search what a client received.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use enigm_core::ledger::LedgerEntry;
use serde_json::{Value, json};

use super::Http;
use super::enigm::{b64, unb64};

/// How ledger pages are rewritten.
#[derive(Clone, Debug)]
pub enum Tamper {
    /// Forward unchanged.
    Honest,
    /// Serve `bytes` in place of the entry at `seq`.
    Replace { seq: u64, bytes: Vec<u8> },
    /// Serve the history only up to `seq`, with that entry as the head.
    RollBackTo { seq: u64 },
    /// Serve `bytes` as one more entry after the real head, and make it the head.
    Inject { bytes: Vec<u8> },
    /// Drop the last entry but keep announcing the real head.
    Withhold,
    /// Answer `GET /v1/sync-keys/mine` with `sealed` as the device's copy (signed or not), at
    /// the epoch its header names (ledger pages are forwarded unchanged).
    SyncKeyCopy { sealed: Vec<u8> },
    /// Answer every sync-key rotation (`POST /v1/sync-keys`) with 503 without forwarding it, as
    /// a service that is down at the wrong moment would.
    RefuseRotations,
    /// Show every enrollment request (`/v1/enrollments...` answers) as replacing `replaces`
    /// (a device id in hex).
    EnrollmentReplaces { replaces: String },
    /// Never answer an enrollment's `POST .../complete` (the hand-over); say so on `held`, so
    /// the test can kill the approver while it waits.
    HoldCompletions { held: Sender<()> },
    /// Put `bytes` in place of the removing entry a `device_removed`/`device_replaced` refusal
    /// carries.
    RemovalEntry { bytes: Vec<u8> },
    /// Refuse every signed request (the push socket and ledger reads included) with 403
    /// `device_removed`, carrying `entry` as the removing entry when given, without forwarding
    /// it: a service that claims an active device was removed.
    RefuseAsRemoved { entry: Option<Vec<u8>> },
}

/// One reply the proxy sent: the request's method and path, and the body as sent.
pub type Reply = (String, String, Vec<u8>);

/// The proxy; it serves until the test process ends.
pub struct HostileService {
    /// Where clients connect.
    pub addr: SocketAddr,
    tamper: Arc<Mutex<Tamper>>,
    replies: Arc<Mutex<Vec<Reply>>>,
}

impl HostileService {
    /// Starts a proxy in front of the service at `upstream`.
    pub fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let tamper = Arc::new(Mutex::new(Tamper::Honest));
        let replies = Arc::new(Mutex::new(Vec::new()));
        let (shared, log) = (Arc::clone(&tamper), Arc::clone(&replies));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let tamper = Arc::clone(&shared);
                let replies = Arc::clone(&log);
                let http = Http::new(upstream);
                std::thread::spawn(move || serve(stream, &http, &tamper, &replies));
            }
        });
        Self {
            addr,
            tamper,
            replies,
        }
    }

    /// Every reply sent so far, in order.
    pub fn replies(&self) -> Vec<Reply> {
        self.replies.lock().unwrap().clone()
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets how ledger pages are rewritten from now on.
    pub fn set(&self, tamper: Tamper) {
        *self.tamper.lock().unwrap() = tamper;
    }
}

/// Serves one keep-alive connection, request after request.
fn serve(stream: TcpStream, http: &Http, tamper: &Mutex<Tamper>, replies: &Mutex<Vec<Reply>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
            if name == "content-length" {
                length = value.parse().unwrap();
            }
            if name == "authorization" {
                headers.push(("Authorization".to_owned(), value));
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).unwrap();
        let borrowed: Vec<(&str, &str)> = headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        if matches!(*tamper.lock().unwrap(), Tamper::RefuseRotations)
            && method == "POST"
            && path == "/v1/sync-keys"
        {
            let out = json!({ "error": {
                "code": "service_unavailable",
                "message": "the service is unavailable; retry later",
            }})
            .to_string();
            if !reply(&mut writer, replies, (&method, &path), 503, out.as_bytes()) {
                return;
            }
            continue;
        }
        let refusal = match &*tamper.lock().unwrap() {
            Tamper::RefuseAsRemoved { entry } if !headers.is_empty() => {
                let mut error = json!({
                    "code": "device_removed",
                    "message": "this device was removed from the account",
                });
                if let Some(entry) = entry {
                    error["entry"] = json!(b64(entry));
                }
                Some(json!({ "error": error }).to_string())
            }
            _ => None,
        };
        if let Some(out) = refusal {
            if !reply(&mut writer, replies, (&method, &path), 403, out.as_bytes()) {
                return;
            }
            continue;
        }
        let hold = match &*tamper.lock().unwrap() {
            Tamper::HoldCompletions { held } if method == "POST" && path.ends_with("/complete") => {
                Some(held.clone())
            }
            _ => None,
        };
        if let Some(held) = hold {
            let _ = held.send(());
            // The approver waits for an answer that never comes, until the test kills it.
            loop {
                std::thread::park();
            }
        }
        let response = http.request(&method, &path, &borrowed, &body);
        let mut out = response.body;
        let mut status = response.status;
        if let Tamper::SyncKeyCopy { sealed } = &*tamper.lock().unwrap()
            && method == "GET"
            && path.starts_with("/v1/sync-keys/mine")
        {
            let epoch = sealed
                .get(1..9)
                .map_or(0, |bytes| u64::from_be_bytes(bytes.try_into().unwrap()));
            out = json!({ "epoch": epoch, "sealed": b64(sealed) })
                .to_string()
                .into_bytes();
            status = 200;
        }
        if let Tamper::EnrollmentReplaces { replaces } = &*tamper.lock().unwrap()
            && path.starts_with("/v1/enrollments")
            && let Ok(mut view) = serde_json::from_slice::<Value>(&out)
            && view.get("replaces").is_some()
        {
            view["replaces"] = json!(replaces);
            out = view.to_string().into_bytes();
        }
        if let Tamper::RemovalEntry { bytes } = &*tamper.lock().unwrap()
            && let Ok(mut refusal) = serde_json::from_slice::<Value>(&out)
            && refusal["error"].get("entry").is_some()
        {
            refusal["error"]["entry"] = json!(b64(bytes));
            out = refusal.to_string().into_bytes();
        }
        if method == "GET" && path.starts_with("/v1/ledger") && response.status == 200 {
            let since: u64 = path
                .split_once("since=")
                .map_or(0, |(_, value)| value.parse().unwrap());
            let current = tamper.lock().unwrap().clone();
            out = rewrite(&serde_json::from_slice(&out).unwrap(), since, &current)
                .to_string()
                .into_bytes();
        }
        if !reply(&mut writer, replies, (&method, &path), status, &out) {
            return;
        }
    }
}

/// Sends the client `status` with the JSON `body` as the reply to `request` (method, path),
/// and keeps it; false when the client is gone.
fn reply(
    writer: &mut TcpStream,
    replies: &Mutex<Vec<Reply>>,
    (method, path): (&str, &str),
    status: u16,
    body: &[u8],
) -> bool {
    replies
        .lock()
        .unwrap()
        .push((method.to_owned(), path.to_owned(), body.to_vec()));
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    writer.write_all(head.as_bytes()).is_ok() && writer.write_all(body).is_ok()
}

/// The page a hostile service would serve instead of `page` (which starts at `since`).
fn rewrite(page: &Value, since: u64, tamper: &Tamper) -> Value {
    let mut entries: Vec<Vec<u8>> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|text| unb64(text.as_str().unwrap()))
        .collect();
    let mut head = page["head"].clone();
    match tamper {
        Tamper::Honest
        | Tamper::SyncKeyCopy { .. }
        | Tamper::RefuseRotations
        | Tamper::EnrollmentReplaces { .. }
        | Tamper::HoldCompletions { .. }
        | Tamper::RemovalEntry { .. }
        | Tamper::RefuseAsRemoved { .. } => {
            return page.clone();
        }
        Tamper::Replace { seq, bytes } => {
            if let Some(slot) = seq
                .checked_sub(since)
                .and_then(|i| entries.get_mut(i as usize))
            {
                *slot = bytes.clone();
            }
            head = head_of(&entries, since);
        }
        Tamper::RollBackTo { seq } => {
            entries.truncate((seq + 1).saturating_sub(since) as usize);
            head = head_of(&entries, since);
        }
        Tamper::Inject { bytes } => {
            entries.push(bytes.clone());
            head = head_of(&entries, since);
        }
        Tamper::Withhold => {
            entries.pop();
        }
    }
    json!({
        "entries": entries.iter().map(|bytes| b64(bytes)).collect::<Vec<_>>(),
        "head": head,
        "more": false,
    })
}

/// The head a page of entries (starting at `since`) ends at.
fn head_of(entries: &[Vec<u8>], since: u64) -> Value {
    match entries.last() {
        Some(last) => json!({
            "seq": since + entries.len() as u64 - 1,
            "hash": hex::encode(LedgerEntry::decode(last).map_or([0; 32], |entry| entry.hash().0)),
        }),
        None => json!({ "seq": since.saturating_sub(1), "hash": hex::encode([0u8; 32]) }),
    }
}
