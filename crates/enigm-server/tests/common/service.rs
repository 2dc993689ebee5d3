//! The HTTP side of the test harness, apart from the `enigm` binary: a minimal HTTP/1.1 client
//! that records every request body it sends (so tests can search them for secrets), and a
//! fresh PostgreSQL schema per test.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long any single network operation may take in tests.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP response.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    /// The body as the enigm-proto type `T`; panics if it is not one.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "not a {}: {error}: {}",
                std::any::type_name::<T>(),
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// `error.code` of an error body.
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Asserts a refusal: `status` with the error code `code`.
    #[track_caller]
    pub fn assert_refused(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.error_code().as_str()),
            (status, code),
            "{}",
            String::from_utf8_lossy(&self.body)
        );
    }

    /// The wait a refusal asks for, in seconds: the error body's `retry_after`, which the
    /// `Retry-After` header repeats.
    #[track_caller]
    pub fn retry_after(&self) -> u64 {
        let retry_after = self.json()["error"]["retry_after"].as_u64().unwrap();
        let header = retry_after.to_string();
        assert_eq!(self.header("retry-after"), Some(header.as_str()));
        retry_after
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A minimal HTTP/1.1 client that keeps every request it sends.
#[derive(Clone)]
pub struct Http {
    addr: SocketAddr,
    /// Every request sent: head and body.
    pub sent: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Http {
    /// A client for `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            sent: Arc::default(),
        }
    }

    /// Sends one request and reads the whole response (`Connection: close`); `None` when the
    /// connection fails or ends before a response head (the server died, say).
    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Option<Response> {
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        if !body.is_empty() {
            request.push_str("Content-Type: application/json\r\n");
        }
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body);
        self.sent.lock().unwrap().push(bytes.clone());

        let mut stream = TcpStream::connect_timeout(&self.addr, IO_TIMEOUT).ok()?;
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        // The server may answer (413) before reading a large body and close; ignore write errors.
        let _ = stream.write_all(&bytes);
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        raw.windows(4)
            .any(|window| window == b"\r\n\r\n")
            .then(|| parse_response(&raw))
    }

    /// Sends one request and reads the whole response (`Connection: close`).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        self.try_request(method, path, headers, body)
            .unwrap_or_else(|| panic!("no response to {method} {path}"))
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], b"")
    }

    /// `POST path` with a JSON body.
    pub fn post_json(&self, path: &str, body: &impl serde::Serialize) -> Response {
        self.request("POST", path, &[], &serde_json::to_vec(body).unwrap())
    }

    /// Every byte sent so far.
    pub fn all_sent(&self) -> Vec<u8> {
        self.sent.lock().unwrap().concat()
    }
}

fn parse_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
}

/// The test database's URL with a new, empty schema as its search path, so tests and runs
/// sharing one database never see each other's rows (accounts, rate-limit counters, audit
/// chains) or push channels. Fails loudly without `ENIGM_TEST_POSTGRES_URL`: these tests must
/// never pass vacuously.
pub fn fresh_postgres_url() -> String {
    let url = std::env::var("ENIGM_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "ENIGM_TEST_POSTGRES_URL is not set: this test needs a PostgreSQL server; run it \
             with `cargo xtask test`, or set it to postgres://USER@HOST:PORT/DB"
        )
    });
    let mut suffix = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut suffix);
    let schema = format!("enigm_it_{}", hex::encode(suffix));
    let (target, name) = (url.clone(), schema.clone());
    // Its own thread and runtime: callers may be inside a runtime already.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&target, tokio_postgres::NoTls)
                .await
                .unwrap();
            let driver = tokio::spawn(connection);
            client
                .batch_execute(&format!("CREATE SCHEMA {name}"))
                .await
                .unwrap();
            drop(client);
            driver.await.unwrap().unwrap();
        });
    })
    .join()
    .unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}
