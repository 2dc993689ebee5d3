//! Whole-service figures for `cargo xtask bench` (DESIGN §15): the real `enigm server`, built
//! with the bench (release) profile, on loopback with its embedded SQLite database, driven by
//! real clients.
//!
//! - **Logins per second**: full OPAQUE logins (client side included: Argon2id, 19 MiB, t = 2)
//!   by one client, then by [`CLIENTS`] concurrent clients on their own accounts, and the
//!   service's CPU time per login (what a node can do when clients bring their own CPUs).
//! - **Signed requests per second**: `GET /v1/sessions/current` by [`CLIENTS`] clients, each a
//!   new connection: parsing, signature, nonce insert, ledger and trust evaluation.
//! - **Revocation push latency**: a device listens on `/v1/push`; another revokes it; the time
//!   from the append's 201 (and from sending the append) to the `session_ended` frame, over
//!   [`REVOCATIONS`] revocations.
//! - **Memory per idle WebSocket**: the service's RSS growth (`VmRSS`) per open, idle push
//!   socket at 1,000 and 10,000 sockets, and the kernel's TCP buffer memory for them.
//!
//! The service throttles logins and registrations per source address, as it should; clients
//! here spread over loopback source addresses (`127.1.x.y`) so the figures measure work, not
//! backoff. Runs only under `cargo bench` (`--bench`); writes its rows as JSON to
//! `ENIGM_BENCH_OUT` when set, for xtask's table.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use data_encoding::BASE64URL_NOPAD;
use ed25519_dalek::SigningKey;
use enigm_core::identity::DeviceSecrets;
use enigm_core::ledger::{EntryKind, LedgerEntry, LedgerState, RevokeReason, verify_chain};
use enigm_core::opaque::{
    ClientLogin, ClientLoginFinishParameters, ClientRegistration,
    ClientRegistrationFinishParameters, CredentialResponse, RegistrationResponse,
};
use enigm_core::request::{SessionId, sign_request};
use enigm_proto::{
    Append, LoginFinish, LoginStart, LoginStartReply, RegisterFinish, RegisterStart,
    RegisterStartReply, SessionIssued,
};
use enigm_server::protocol::session_binding_message;
use futures_util::{SinkExt, StreamExt};
use rand_core::{OsRng, RngCore};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Error = Box<dyn std::error::Error + Send + Sync>;
type Result<T, E = Error> = std::result::Result<T, E>;

/// Concurrent clients for the throughput figures.
const CLIENTS: usize = 8;
/// Logins by the single client.
const SEQUENTIAL_LOGINS: usize = 30;
/// Logins per concurrent client.
const LOGINS_PER_CLIENT: usize = 12;
/// Signed requests per concurrent client.
const REQUESTS_PER_CLIENT: usize = 250;
/// Revocations timed.
const REVOCATIONS: usize = 200;
/// Idle socket counts measured.
const SOCKET_COUNTS: [usize; 2] = [1_000, 10_000];
/// Handshakes in flight while opening idle sockets.
const HANDSHAKES_IN_FLIGHT: usize = 32;
/// Any single network step.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// Quiet time before reading the service's memory.
const SETTLE: Duration = Duration::from_secs(2);
/// Logs in again this often while changing devices (the step-up window is 5 minutes).
const STEP_UP_REFRESH: Duration = Duration::from_secs(120);
/// Linux's USER_HZ: `/proc/PID/stat` times are in these ticks.
const TICKS_PER_SEC: f64 = 100.0;
const PASSWORD: &str = "bench password, long enough";

fn main() -> Result<()> {
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("service figures run under `cargo bench` (or `cargo xtask bench`) only");
        return Ok(());
    }
    check_open_files()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let rows = runtime.block_on(run())?;
    println!("\n{:<52} {:>16}  detail", "service figure", "value");
    for row in &rows {
        println!("{:<52} {:>16}  {}", row.figure, row.value, row.detail);
    }
    if let Some(path) = std::env::var_os("ENIGM_BENCH_OUT") {
        let rows: Vec<Value> = rows
            .iter()
            .map(|row| json!({ "figure": row.figure, "value": row.value, "detail": row.detail }))
            .collect();
        std::fs::write(path, serde_json::to_vec_pretty(&rows)?)?;
    }
    Ok(())
}

/// One line of the table.
struct Row {
    figure: String,
    value: String,
    detail: String,
}

fn row(figure: impl Into<String>, value: impl Into<String>, detail: impl Into<String>) -> Row {
    Row {
        figure: figure.into(),
        value: value.into(),
        detail: detail.into(),
    }
}

fn fail(message: impl Into<String>) -> Error {
    message.into().into()
}

/// opaque-ke's errors are not `std::error::Error`.
fn opaque(error: impl std::fmt::Debug) -> Error {
    fail(format!("OPAQUE: {error:?}"))
}

async fn run() -> Result<Vec<Row>> {
    let server = Server::start()?;
    let client = Client::new(server.addr);
    let mut rows = Vec::new();

    let mut accounts = Vec::new();
    for index in 0..CLIENTS {
        accounts.push(Arc::new(client.register(&format!("bench-{index}")).await?));
    }

    // Logins: one client, then several at once.
    let cpu = server.cpu_secs()?;
    let started = Instant::now();
    for _ in 0..SEQUENTIAL_LOGINS {
        client.login(&accounts[0], &accounts[0].device).await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_one = (server.cpu_secs()? - cpu) / SEQUENTIAL_LOGINS as f64;
    rows.push(row(
        "logins/s, 1 client (OPAQUE, client side included)",
        format!("{:.1}", SEQUENTIAL_LOGINS as f64 / elapsed),
        format!("{SEQUENTIAL_LOGINS} logins in {elapsed:.2} s"),
    ));
    let cpu = server.cpu_secs()?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for account in &accounts {
        let (client, account) = (client.clone(), Arc::clone(account));
        tasks.push(tokio::spawn(async move {
            for _ in 0..LOGINS_PER_CLIENT {
                client.login(&account, &account.device).await?;
            }
            Ok::<_, Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = CLIENTS * LOGINS_PER_CLIENT;
    let cpu_many = (server.cpu_secs()? - cpu) / total as f64;
    rows.push(row(
        format!("logins/s, {CLIENTS} concurrent clients"),
        format!("{:.1}", total as f64 / elapsed),
        format!(
            "{total} logins in {elapsed:.2} s; clients and service share {} cores",
            available_cores()
        ),
    ));
    rows.push(row(
        "service CPU per login",
        format!("{:.2} ms", cpu_one.min(cpu_many) * 1e3),
        format!(
            "1 client {:.2} ms, {CLIENTS} clients {:.2} ms: about {:.0} logins/s per core \
             when clients bring their own CPUs",
            cpu_one * 1e3,
            cpu_many * 1e3,
            1.0 / cpu_one.min(cpu_many)
        ),
    ));

    // Signed requests through the whole service.
    let mut sessions = Vec::new();
    for account in &accounts {
        sessions.push(client.login(account, &account.device).await?);
    }
    let cpu = server.cpu_secs()?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (account, session) in accounts.iter().zip(&sessions) {
        let (client, account, session) = (client.clone(), Arc::clone(account), *session);
        tasks.push(tokio::spawn(async move {
            for _ in 0..REQUESTS_PER_CLIENT {
                let reply = client
                    .signed(
                        &session,
                        &account.device,
                        "GET",
                        "/v1/sessions/current",
                        b"",
                    )
                    .await?;
                reply.expect(200)?;
            }
            Ok::<_, Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = CLIENTS * REQUESTS_PER_CLIENT;
    let cpu_per = (server.cpu_secs()? - cpu) / total as f64;
    rows.push(row(
        format!("signed requests/s, {CLIENTS} clients (whole service)"),
        format!("{:.0}", total as f64 / elapsed),
        format!(
            "GET /v1/sessions/current, a connection each; service CPU {:.0} µs per request",
            cpu_per * 1e6
        ),
    ));

    rows.extend(revocation_latency(&client, &accounts[0]).await?);
    rows.extend(idle_sockets(&server, &client, Arc::clone(&accounts[1]), sessions[1]).await?);
    Ok(rows)
}

/// Times [`REVOCATIONS`] revocations of a listening device.
async fn revocation_latency(client: &Client, account: &Account) -> Result<Vec<Row>> {
    let laptop = &account.device;
    // Changing devices needs a password entered within the step-up window (5 minutes).
    let mut session = client.login(account, laptop).await?;
    let mut logged_in = Instant::now();
    let mut ledger = account.ledger(client, &session).await?;
    let mut after_ack = Vec::with_capacity(REVOCATIONS);
    let mut after_send = Vec::with_capacity(REVOCATIONS);
    for _ in 0..REVOCATIONS {
        if logged_in.elapsed() > STEP_UP_REFRESH {
            session = client.login(account, laptop).await?;
            logged_in = Instant::now();
        }
        let phone = DeviceSecrets::generate(&mut OsRng);
        let mut add = ledger.next_entry(EntryKind::AddDevice {
            device: phone.public(),
            approved_by: laptop.device_id(),
            replaces: None,
        });
        add.sign_device(&account.account_id, laptop);
        add.sign_device(&account.account_id, &phone);
        client.append(&session, laptop, &add).await?;
        ledger.apply(std::slice::from_ref(&add))?;

        let phone_session = client.login(account, &phone).await?;
        let mut socket = client.push_socket(&phone_session, &phone).await?;
        // A pong proves the service is serving the socket, so it is subscribed.
        socket.send(Message::Ping(Vec::new().into())).await?;
        loop {
            match timeout(STEP_TIMEOUT, socket.next()).await? {
                Some(Ok(Message::Pong(_))) => break,
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error.into()),
                None => return Err(fail("push socket closed before the revocation")),
            }
        }
        let told = tokio::spawn(async move {
            while let Some(message) = socket.next().await {
                if let Message::Text(text) = message?
                    && text.as_str().contains("\"session_ended\"")
                {
                    return Ok(Instant::now());
                }
            }
            Err::<Instant, Error>(fail("push socket closed without session_ended"))
        });

        let mut revoke = ledger.next_entry(EntryKind::Revoke {
            device: phone.device_id(),
            reason: RevokeReason::Lost,
        });
        revoke.sign_device(&account.account_id, laptop);
        let sent = Instant::now();
        client.append(&session, laptop, &revoke).await?;
        let acknowledged = Instant::now();
        ledger.apply(std::slice::from_ref(&revoke))?;
        let told = timeout(STEP_TIMEOUT, told).await???;
        after_send.push(told.duration_since(sent).as_secs_f64());
        // Signed: the frame can arrive before the 201 is read.
        let after = if told >= acknowledged {
            told.duration_since(acknowledged).as_secs_f64()
        } else {
            -acknowledged.duration_since(told).as_secs_f64()
        };
        after_ack.push(after);
    }
    let first = after_ack.iter().filter(|value| **value < 0.0).count();
    Ok(vec![
        row(
            "revocation push latency p50 (201 -> session_ended)",
            format!("{:.3} ms", percentile(&mut after_ack, 50.0) * 1e3),
            format!(
                "{REVOCATIONS} revocations on loopback; negative: the frame came before the 201 \
                 ({first} of {REVOCATIONS})"
            ),
        ),
        row(
            "revocation push latency p99 (201 -> session_ended)",
            format!("{:.3} ms", percentile(&mut after_ack, 99.0) * 1e3),
            "",
        ),
        row(
            "revocation push latency p50 (append sent -> session_ended)",
            format!("{:.3} ms", percentile(&mut after_send, 50.0) * 1e3),
            "includes the append itself: verification, SQLite commit, audit",
        ),
        row(
            "revocation push latency p99 (append sent -> session_ended)",
            format!("{:.3} ms", percentile(&mut after_send, 99.0) * 1e3),
            "",
        ),
    ])
}

/// The `p`th percentile (nearest rank) of `values`.
fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values
        .get(rank.saturating_sub(1).min(values.len().saturating_sub(1)))
        .copied()
        .unwrap_or(f64::NAN)
}

/// The service's memory per idle push socket.
async fn idle_sockets(
    server: &Server,
    client: &Client,
    account: Arc<Account>,
    session: Session,
) -> Result<Vec<Row>> {
    let closed = Arc::new(AtomicUsize::new(0));
    tokio::time::sleep(SETTLE).await;
    let rss_before = server.rss_bytes()?;
    let kernel_before = kernel_tcp_bytes()?;
    let mut rows = Vec::new();
    let mut open = 0;
    for target in SOCKET_COUNTS {
        let mut handshakes = tokio::task::JoinSet::new();
        while open < target {
            while handshakes.len() >= HANDSHAKES_IN_FLIGHT {
                if let Some(done) = handshakes.join_next().await {
                    done??;
                }
            }
            let (client, account, closed) =
                (client.clone(), Arc::clone(&account), Arc::clone(&closed));
            handshakes.spawn(async move {
                let mut socket = client.push_socket(&session, &account.device).await?;
                // Idle, but answering pings as a real client does.
                tokio::spawn(async move {
                    while let Some(Ok(_)) = socket.next().await {}
                    closed.fetch_add(1, Ordering::Relaxed);
                });
                Ok::<_, Error>(())
            });
            open += 1;
        }
        while let Some(done) = handshakes.join_next().await {
            done??;
        }
        tokio::time::sleep(SETTLE).await;
        let gone = closed.load(Ordering::Relaxed);
        if gone > 0 {
            return Err(fail(format!(
                "{gone} idle sockets were closed by the service"
            )));
        }
        let rss = server.rss_bytes()?.saturating_sub(rss_before) as f64 / target as f64;
        let kernel = kernel_tcp_bytes()?.saturating_sub(kernel_before) as f64 / target as f64;
        rows.push(row(
            format!("service memory per idle WebSocket, {target} sockets"),
            format!("{:.1} KiB", rss / 1024.0),
            format!(
                "RSS growth / sockets; {:.0} idle sockets per GB; kernel TCP buffers {:.2} KiB \
                 per socket (both ends)",
                1e9 / rss,
                kernel / 1024.0
            ),
        ));
    }
    Ok(rows)
}

/// The idle-socket figure needs the largest count of sockets, plus some, as open files in
/// this process and in the service (which inherits the limit).
fn check_open_files() -> Result<()> {
    let needed = SOCKET_COUNTS.iter().max().copied().unwrap_or(0) + 1_000;
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    let soft: Option<usize> = limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok());
    match soft {
        Some(soft) if soft < needed => Err(fail(format!(
            "the open files limit is {soft}; the idle-socket figure needs {needed}: raise it \
             with `ulimit -n {needed}` (cargo xtask bench raises it to the hard limit)"
        ))),
        Some(_) | None => Ok(()),
    }
}

/// Cores this machine offers.
fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The kernel's memory for TCP buffers, machine-wide (`/proc/net/sockstat`, in pages).
fn kernel_tcp_bytes() -> Result<u64> {
    let text = std::fs::read_to_string("/proc/net/sockstat")?;
    let line = text
        .lines()
        .find(|line| line.starts_with("TCP:"))
        .ok_or_else(|| fail("/proc/net/sockstat has no TCP line"))?;
    let mut fields = line.split_whitespace();
    while let Some(field) = fields.next() {
        if field == "mem" {
            let pages: u64 = fields
                .next()
                .ok_or_else(|| fail("no TCP mem value"))?
                .parse()?;
            return Ok(pages * 4096);
        }
    }
    Err(fail("/proc/net/sockstat has no TCP mem"))
}

/// The real `enigm server`, on a temporary data directory.
struct Server {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Result<Self> {
        use std::io::BufRead;
        let dir = tempfile::tempdir()?;
        let mut child = Command::new(env!("CARGO_BIN_EXE_enigm"))
            .args(["server", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path().join("data"))
            // The idle-socket figure opens all its sockets on one session.
            .args(["--push-sockets-per-session", "100000"])
            .env("ENIGM_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| fail("no server stdout"))?;
        let mut stdout = std::io::BufReader::new(stdout);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let addr = line
            .trim_end()
            .strip_prefix("listening on http://")
            .ok_or_else(|| fail(format!("unexpected first line {line:?}")))?
            .parse()?;
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Ok(Self {
            child,
            addr,
            _dir: dir,
        })
    }

    /// `VmRSS` of the service.
    fn rss_bytes(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .ok_or_else(|| fail("no VmRSS"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()?;
        Ok(kib * 1024)
    }

    /// User plus system CPU time of the service so far.
    fn cpu_secs(&self) -> Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        let after_name = stat
            .rsplit_once(')')
            .ok_or_else(|| fail("malformed /proc stat"))?
            .1;
        // Fields after the name start at field 3 (state); utime and stime are fields 14, 15.
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks = |index: usize| -> Result<f64> {
            Ok(fields
                .get(index)
                .ok_or_else(|| fail("short /proc stat"))?
                .parse::<u64>()? as f64)
        };
        Ok((ticks(11)? + ticks(12)?) / TICKS_PER_SEC)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP reply.
struct Reply {
    status: u16,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Result<Value> {
        Ok(serde_json::from_slice(&self.body)?)
    }

    fn expect(&self, status: u16) -> Result<&Self> {
        if self.status == status {
            Ok(self)
        } else {
            Err(fail(format!(
                "expected {status}, got {}: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )))
        }
    }

    /// The body as the enigm-proto type `T`.
    fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        Ok(serde_json::from_slice(&self.body)?)
    }
}

/// A registered account as its first device knows it.
struct Account {
    username: String,
    account_id: [u8; 16],
    device: DeviceSecrets,
    genesis: LedgerEntry,
}

impl Account {
    /// The verified ledger as the service serves it.
    async fn ledger(&self, client: &Client, session: &Session) -> Result<LedgerState> {
        let reply = client
            .signed(session, &self.device, "GET", "/v1/ledger", b"")
            .await?;
        let mut entries = Vec::new();
        for text in reply.expect(200)?.json()?["entries"]
            .as_array()
            .ok_or_else(|| fail("no entries"))?
        {
            let text = text.as_str().ok_or_else(|| fail("entry not a string"))?;
            entries.push(LedgerEntry::decode(
                &BASE64URL_NOPAD.decode(text.as_bytes())?,
            )?);
        }
        if entries.first().map(LedgerEntry::encode) != Some(self.genesis.encode()) {
            return Err(fail("the ledger does not start with our genesis"));
        }
        Ok(verify_chain(&entries)?)
    }
}

/// A session as a device holds it.
#[derive(Clone, Copy)]
struct Session {
    id: SessionId,
}

/// A client of the service: connections from rotating loopback source addresses.
#[derive(Clone)]
struct Client {
    server: SocketAddr,
    next_source: Arc<AtomicU32>,
}

/// Connections per source address: below the service's free attempts per address.
const CONNECTIONS_PER_SOURCE: u32 = 10;

impl Client {
    fn new(server: SocketAddr) -> Self {
        Self {
            server,
            next_source: Arc::new(AtomicU32::new(0)),
        }
    }

    /// A connection from the next source address (`127.1.0.1` onwards).
    async fn connect(&self) -> Result<TcpStream> {
        let n = self.next_source.fetch_add(1, Ordering::Relaxed) / CONNECTIONS_PER_SOURCE + 1;
        let [_, a, b, c] = n.to_be_bytes();
        let source = IpAddr::V4(Ipv4Addr::new(127, a.wrapping_add(1), b, c));
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(source, 0))?;
        Ok(timeout(STEP_TIMEOUT, socket.connect(self.server)).await??)
    }

    /// One HTTP/1.1 request on its own connection.
    async fn request(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<Reply> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.server,
            body.len()
        );
        if !body.is_empty() {
            head.push_str("Content-Type: application/json\r\n");
        }
        if let Some(value) = authorization {
            head.push_str(&format!("Authorization: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut stream = self.connect().await?;
        let exchange = async {
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body).await?;
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw).await?;
            Ok::<_, Error>(raw)
        };
        let raw = timeout(STEP_TIMEOUT, exchange).await??;
        let split = raw
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .ok_or_else(|| fail("no HTTP head in the reply"))?;
        let head = String::from_utf8_lossy(&raw[..split]);
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            return Err(fail("chunked replies are not expected"));
        }
        let status = head
            .split(' ')
            .nth(1)
            .ok_or_else(|| fail("no status"))?
            .parse()?;
        Ok(Reply {
            status,
            body: raw[split + 4..].to_vec(),
        })
    }

    async fn post_json(&self, path: &str, body: &impl serde::Serialize) -> Result<Reply> {
        self.request("POST", path, None, &serde_json::to_vec(body)?)
            .await
    }

    /// A signed request.
    async fn signed(
        &self,
        session: &Session,
        device: &DeviceSecrets,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Reply> {
        let header = authorization(session, device, method, path, body)?;
        self.request(method, path, Some(&header), body).await
    }

    /// Appends one entry; an error unless 201.
    async fn append(
        &self,
        session: &Session,
        device: &DeviceSecrets,
        entry: &LedgerEntry,
    ) -> Result<()> {
        let body = serde_json::to_string(&Append {
            entries: vec![b64(&entry.encode())],
        })?;
        let reply = self
            .signed(session, device, "POST", "/v1/ledger", body.as_bytes())
            .await?;
        reply.expect(201)?;
        Ok(())
    }

    /// Registers `username` with a fresh device.
    async fn register(&self, username: &str) -> Result<Account> {
        let mut account_id = [0u8; 16];
        OsRng.fill_bytes(&mut account_id);
        let device = DeviceSecrets::generate(&mut OsRng);
        let recovery = SigningKey::generate(&mut OsRng);
        let start = ClientRegistration::start(&mut OsRng, PASSWORD.as_bytes()).map_err(opaque)?;
        let reply = self
            .post_json(
                "/v1/accounts/register/start",
                &RegisterStart {
                    username: username.to_owned(),
                    registration_request: b64(&start.message.serialize()),
                },
            )
            .await?;
        let started: RegisterStartReply = reply.expect(200)?.decode()?;
        let registration_id = started.registration_id;
        let response = RegistrationResponse::deserialize(&unb64(&started.registration_response)?)
            .map_err(opaque)?;
        let state = start.state;
        let finish = tokio::task::spawn_blocking(move || {
            state.finish(
                &mut OsRng,
                PASSWORD.as_bytes(),
                response,
                ClientRegistrationFinishParameters::default(),
            )
        })
        .await?
        .map_err(opaque)?;
        let genesis = LedgerEntry::genesis(account_id, &device, &recovery);
        let reply = self
            .post_json(
                "/v1/accounts/register/finish",
                &RegisterFinish {
                    registration_id,
                    username: username.to_owned(),
                    registration_upload: b64(&finish.message.serialize()),
                    genesis: b64(&genesis.encode()),
                },
            )
            .await?;
        reply.expect(201)?;
        Ok(Account {
            username: username.to_owned(),
            account_id,
            device,
            genesis,
        })
    }

    /// A full OPAQUE login of `device` into `account`.
    async fn login(&self, account: &Account, device: &DeviceSecrets) -> Result<Session> {
        let start = ClientLogin::start(&mut OsRng, PASSWORD.as_bytes()).map_err(opaque)?;
        let reply = self
            .post_json(
                "/v1/sessions/login/start",
                &LoginStart {
                    username: account.username.clone(),
                    credential_request: b64(&start.message.serialize()),
                    device_key: None,
                    device_timestamp: None,
                    device_signature: None,
                },
            )
            .await?;
        let started: LoginStartReply = reply.expect(200)?.decode()?;
        let login_id = started.login_id;
        let response = CredentialResponse::deserialize(&unb64(&started.credential_response)?)
            .map_err(opaque)?;
        let state = start.state;
        let finished = tokio::task::spawn_blocking(move || {
            state.finish(
                PASSWORD.as_bytes(),
                response,
                ClientLoginFinishParameters::default(),
            )
        })
        .await?
        .map_err(opaque)?;
        let login_id_bytes: [u8; 16] = unb64(&login_id)?
            .try_into()
            .map_err(|_| fail("login id is not 16 bytes"))?;
        let device_key = *device.public().signing.as_bytes();
        let binding = session_binding_message(&login_id_bytes, &finished.session_key, &device_key);
        let signature = device.sign(&binding);
        let reply = self
            .post_json(
                "/v1/sessions/login/finish",
                &LoginFinish {
                    login_id,
                    credential_finalization: b64(&finished.message.serialize()),
                    device_key: b64(&device_key),
                    device_signature: b64(&signature.to_bytes()),
                },
            )
            .await?;
        let issued: SessionIssued = reply.expect(200)?.decode()?;
        Ok(Session {
            id: SessionId::from_b64url(&issued.session_id)?,
        })
    }

    /// Opens `/v1/push` as this session.
    async fn push_socket(
        &self,
        session: &Session,
        device: &DeviceSecrets,
    ) -> Result<WebSocketStream<TcpStream>> {
        let mut request = format!("ws://{}/v1/push", self.server).into_client_request()?;
        request.headers_mut().insert(
            "Authorization",
            authorization(session, device, "GET", "/v1/push", b"")?.parse()?,
        );
        let stream = self.connect().await?;
        let (socket, _) = timeout(
            STEP_TIMEOUT,
            tokio_tungstenite::client_async(request, stream),
        )
        .await??;
        Ok(socket)
    }
}

/// A fresh Authorization header.
fn authorization(
    session: &Session,
    device: &DeviceSecrets,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    Ok(sign_request(device, session.id, method, path, body, now, &mut OsRng).to_header())
}

fn b64(bytes: &[u8]) -> String {
    BASE64URL_NOPAD.encode(bytes)
}

fn unb64(text: &str) -> Result<Vec<u8>> {
    Ok(BASE64URL_NOPAD.decode(text.as_bytes())?)
}
