//! TLS termination in the service itself (`enigm server --tls-cert FILE --tls-key FILE`), so a
//! self-hoster needs no proxy: the clients require https off loopback (issue 13, item 7).
//!
//! rustls with the ring provider, TLS 1.2 and 1.3, HTTP/1.1 (ALPN), no client certificates.
//! Handshakes run in their own tasks, each bounded in time and in number, so a client that
//! opens a connection and says nothing holds up neither the accept loop nor anyone else's
//! handshake. Handlers see the TCP peer as `ConnectInfo<SocketAddr>`, as without TLS.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request};
use axum::serve::{IncomingStream, Listener};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::error::ServerError;

/// The longest a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at once; further connections wait in the kernel's backlog.
const MAX_HANDSHAKES: usize = 512;

/// The certificate chain and key files (PEM) the service presents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Reads the files into a rustls server configuration.
///
/// # Errors
/// [`ServerError::Config`] naming the file that cannot be read or used (never its contents).
pub(crate) fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    let unreadable = |what: &str, path: &Path| {
        ServerError::Config(format!("cannot use {what} {}", path.display()))
    };
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|_| unreadable("the TLS certificate chain", &files.cert))?;
    if certs.is_empty() {
        return Err(unreadable("the TLS certificate chain", &files.cert));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|_| unreadable("the TLS private key", &files.key))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| ServerError::Config(format!("TLS setup failed: {error}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|error| {
            ServerError::Config(format!(
                "the TLS certificate and key do not go together: {error}"
            ))
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A listener that hands out connections once their TLS handshake is done.
pub(crate) struct TlsListener {
    local_addr: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    accepting: JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `tcp`, handshaking with `config`.
    pub(crate) fn new(
        tcp: TcpListener,
        config: Arc<rustls::ServerConfig>,
    ) -> Result<Self, ServerError> {
        let local_addr = tcp.local_addr().map_err(|error| {
            ServerError::Config(format!("cannot read the listen address: {error}"))
        })?;
        let (sender, ready) = mpsc::channel(64);
        let accepting = tokio::spawn(accept_loop(tcp, TlsAcceptor::from(config), sender));
        Ok(Self {
            local_addr,
            ready,
            accepting,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// Accepts TCP connections and handshakes each in its own task.
async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let (stream, peer) = match tcp.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors and the like: say so, and do not spin.
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
            drop(slot);
            match handshake {
                Ok(Ok(tls)) => {
                    let _ = ready.send((tls, peer)).await;
                }
                Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        });
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept loop ended (it only does when aborted): accept nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

/// The TCP peer of a TLS connection, as connect info.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TlsPeer(SocketAddr);

impl Connected<IncomingStream<'_, TlsListener>> for TlsPeer {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

/// Gives handlers the peer as `ConnectInfo<SocketAddr>`, as a plain TCP connection does.
pub(crate) async fn peer_as_socket_addr(mut request: Request) -> Request {
    if let Some(ConnectInfo(TlsPeer(peer))) =
        request.extensions().get::<ConnectInfo<TlsPeer>>().copied()
    {
        request.extensions_mut().insert(ConnectInfo(peer));
    }
    request
}
