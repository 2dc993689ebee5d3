//! Binding and running the service.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use enigm_core::opaque::ServerSetup;
use rand_core::OsRng;
use tokio::net::TcpListener;
use zeroize::Zeroizing;

use crate::clock::Clock;
use crate::config::Config;
use crate::error::ServerError;
use crate::push::{PushBus, PushHub};
use crate::push_notify::NotifyListener;
use crate::secrets::Secrets;
use crate::state::AppState;
use crate::storage::{PostgresStorage, SqliteStorage, Storage};
use crate::tls::{TlsListener, TlsPeer};

/// How often expired nonces, logins, sessions, old enrollment requests and quiet rate-limit
/// counters are purged.
const PURGE_INTERVAL: Duration = Duration::from_secs(60);

/// A bound, ready-to-run service.
pub struct Server {
    listener: Bound,
    state: AppState,
    /// With PostgreSQL: this node's end of cross-node push, already listening.
    push_listener: Option<NotifyListener>,
}

/// The listening socket, with TLS or without.
enum Bound {
    /// Plain HTTP.
    Plain(TcpListener),
    /// HTTPS, terminated here (`tls.rs`).
    Tls(TlsListener),
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Opens the data directory (secrets, database) and binds the listen address; the service
    /// runs on the system clock.
    ///
    /// # Errors
    /// As [`Server::bind_with_clock`].
    pub async fn bind(config: Config) -> Result<Self, ServerError> {
        Self::bind_with_clock(config, Clock::system()).await
    }

    /// As [`Server::bind`], with the service reading the time from `clock` (a test's
    /// [`crate::ManualClock`], so expiries come when the test advances it).
    ///
    /// # Errors
    /// [`ServerError::Config`] for a malformed PostgreSQL URL or a bad pepper,
    /// [`ServerError::DataDir`] / [`ServerError::Storage`] when the data directory or the
    /// database cannot be used, [`ServerError::Config`] when the address cannot be bound or
    /// the TLS certificate or key cannot be used.
    pub async fn bind_with_clock(config: Config, clock: Clock) -> Result<Self, ServerError> {
        let tls = config
            .tls
            .as_ref()
            .map(crate::tls::server_config)
            .transpose()?;
        let secrets = Secrets::load_or_create(
            &config.data_dir,
            config.pepper_hex.as_deref(),
            config.audit_key_hex.as_deref(),
        )?;
        let setup_bytes = crate::secrets::load_or_create(&config.data_dir, "opaque-setup", || {
            Zeroizing::new(ServerSetup::new(&mut OsRng).serialize().to_vec())
        })?;
        let opaque_setup = ServerSetup::deserialize(&setup_bytes).map_err(|_| {
            ServerError::DataDir(
                "opaque-setup is not a valid OPAQUE server setup; restore it".into(),
            )
        })?;
        // The data directory keeps the secrets either way; the data goes to PostgreSQL when a
        // URL is given (several nodes, push fanned out with LISTEN/NOTIFY), else to the
        // embedded SQLite file (one node, push in process).
        let (storage, push, push_listener): (Arc<dyn Storage>, Arc<dyn PushBus>, _) = match &config
            .database
        {
            Some(url) => {
                let storage = PostgresStorage::connect(url, config.database_ca.as_deref()).await?;
                let (bus, listener) = crate::push_notify::start(&storage).await?;
                (Arc::new(storage), Arc::new(bus), Some(listener))
            }
            None => {
                crate::files::private_database(&config.data_dir)?;
                let path = config.data_dir.join(crate::files::DATABASE_FILE);
                let storage = tokio::task::spawn_blocking(move || SqliteStorage::open(&path))
                    .await
                    .map_err(|error| ServerError::Internal(error.to_string()))??;
                (Arc::new(storage), Arc::new(PushHub::default()), None)
            }
        };
        let tcp = TcpListener::bind(config.listen).await.map_err(|error| {
            ServerError::Config(format!("cannot listen on {}: {error}", config.listen))
        })?;
        let listener = match tls {
            Some(tls) => Bound::Tls(TlsListener::new(tcp, tls)?),
            None => Bound::Plain(tcp),
        };
        let state = AppState::new(storage, secrets, opaque_setup, config, push, clock);
        Ok(Self {
            listener,
            state,
            push_listener,
        })
    }

    /// The address actually bound (the real port when the configured one was 0).
    pub fn local_addr(&self) -> SocketAddr {
        let bound = match &self.listener {
            Bound::Plain(tcp) => tcp.local_addr(),
            Bound::Tls(tls) => axum::serve::Listener::local_addr(tls),
        };
        bound.unwrap_or_else(|_| self.state.config().listen)
    }

    /// The service's base URL: `https://ADDR` when it terminates TLS, else `http://ADDR`.
    pub fn url(&self) -> String {
        let scheme = match &self.listener {
            Bound::Plain(_) => "http",
            Bound::Tls(_) => "https",
        };
        format!("{scheme}://{}", self.local_addr())
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests and returns.
    ///
    /// # Errors
    /// [`ServerError::Internal`] if the accept loop fails.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let purger = tokio::spawn(purge_loop(self.state.clone()));
        let push_listener = self
            .push_listener
            .map(|listener| tokio::spawn(listener.run()));
        let router = crate::api::api_router(self.state);
        let served = match self.listener {
            Bound::Plain(tcp) => {
                let app = router.into_make_service_with_connect_info::<SocketAddr>();
                axum::serve(tcp, app).with_graceful_shutdown(shutdown).await
            }
            Bound::Tls(tls) => {
                let app = router
                    .layer(axum::middleware::map_request(
                        crate::tls::peer_as_socket_addr,
                    ))
                    .into_make_service_with_connect_info::<TlsPeer>();
                axum::serve(tls, app).with_graceful_shutdown(shutdown).await
            }
        };
        let result =
            served.map_err(|error| ServerError::Internal(format!("server failed: {error}")));
        purger.abort();
        if let Some(task) = push_listener {
            task.abort();
        }
        result
    }
}

/// Deletes expired rows now and then.
async fn purge_loop(state: AppState) {
    let mut ticker = tokio::time::interval(PURGE_INTERVAL);
    loop {
        ticker.tick().await;
        let now = state.now();
        match state.storage().purge_expired(now).await {
            Ok(removed) => tracing::debug!(removed, "purged expired rows"),
            Err(error) => tracing::warn!(%error, "purging expired rows failed"),
        }
        let decay = state.config().longest_decay_secs();
        match state.storage().purge_rate_limits(now, decay).await {
            Ok(removed) => tracing::debug!(removed, "purged quiet rate-limit counters"),
            Err(error) => tracing::warn!(%error, "purging rate-limit counters failed"),
        }
    }
}
