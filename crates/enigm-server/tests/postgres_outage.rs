//! A node whose PostgreSQL becomes unreachable answers 503 `service_unavailable` with a
//! `Retry-After` header (not 500), keeps its internals to itself, and serves again once the
//! database is back (DESIGN §13, §14).
//!
//! The node reaches the test database through a TCP relay in this process; cutting the relay
//! closes every connection and refuses new ones, as a database host going away does.
//!
//! Needs a PostgreSQL server: `cargo xtask test` starts one and sets `ENIGM_TEST_POSTGRES_URL`.
//! Plain `cargo test` skips this test (ignored); asked for without the variable, it fails.

use crate::common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use common::enigm::{self};
use common::{Http, Service};
use rand_core::{OsRng, RngCore};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const PASSWORD: &str = "correct horse battery staple 42";

/// A TCP relay from a local port to the database; [`Relay::cut`] drops every connection and
/// stops listening.
struct Relay {
    listen: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Relay {
    /// Relays `listen` (port 0 picks one) to `upstream`.
    async fn start(listen: SocketAddr, upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind(listen).await.unwrap();
        let relay = Self {
            listen: listener.local_addr().unwrap(),
            tasks: Arc::default(),
        };
        let tasks = Arc::clone(&relay.tasks);
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let pipe = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().unwrap().push(pipe);
            }
        });
        relay.tasks.lock().unwrap().push(accept);
        relay
    }

    /// Drops every relayed connection and the listening socket.
    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL; run by cargo xtask test"]
async fn an_unreachable_database_is_503_with_retry_after_then_recovers() {
    let url = common::fresh_postgres_url();
    // postgres://USER@HOST:PORT/DB?... -> the relay takes HOST:PORT's place.
    let (scheme_user, rest) = url.split_once('@').unwrap();
    let (host_port, database) = rest.split_once('/').unwrap();
    let upstream: SocketAddr = tokio::net::lookup_host(host_port)
        .await
        .unwrap()
        .next()
        .unwrap();
    let relay = Relay::start("127.0.0.1:0".parse().unwrap(), upstream).await;
    let relayed = format!("{scheme_user}@{}/{database}", relay.listen);

    let node = Service::start_with(|config| config.database = Some(relayed));
    let http = Http::new(node.addr);
    let username = format!("outage-{:016x}", OsRng.next_u64());
    let (account, session) = enigm::signed_up(&http, &username, PASSWORD);
    let read = |http: &Http| enigm::send(http, &session, &account.device, "GET", "/v1/ledger", b"");
    assert_eq!(read(&http).status, 200);

    relay.cut();
    // The node's pooled connections are gone and new ones are refused: a request that needs
    // the database says so, and says when to retry.
    let reply = read(&http);
    assert_eq!(reply.status, 503, "{:?}", reply.json());
    assert_eq!(reply.error_code(), "service_unavailable");
    assert_eq!(reply.header("retry-after"), Some("5"));
    assert_eq!(reply.json()["error"]["retry_after"], 5);
    let body = String::from_utf8_lossy(&reply.body);
    assert!(!body.contains("postgres"), "internals leaked: {body}");
    assert!(!body.contains(&relay.listen.port().to_string()), "{body}");
    // Liveness does not depend on the database.
    assert_eq!(http.get("/v1/health").status, 200);

    // The database is back at the same address: the node serves again without a restart.
    let relay = Relay::start(relay.listen, upstream).await;
    let back = read(&http);
    assert_eq!(back.status, 200, "{:?}", back.json());
    relay.cut();

    let log = node.logs();
    assert!(log.contains("service_unavailable"), "the outage is logged");
    assert!(!log.contains(&username), "username in the log");
}
