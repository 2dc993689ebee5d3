//! Binding and running the service.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use enigm_core::opaque::ServerSetup;
use rand_core::OsRng;
use tokio::net::TcpListener;
use zeroize::Zeroizing;

use crate::config::Config;
use crate::error::ServerError;
use crate::push::{PushBus, PushHub};
use crate::push_notify::NotifyListener;
use crate::secrets::Secrets;
use crate::state::AppState;
use crate::storage::{PostgresStorage, SqliteStorage, Storage};

/// How often expired nonces, logins, sessions, old enrollment requests and quiet rate-limit
/// counters are purged.
const PURGE_INTERVAL: Duration = Duration::from_secs(60);

/// A bound, ready-to-run service.
pub struct Server {
    listener: TcpListener,
    state: AppState,
    /// With PostgreSQL: this node's end of cross-node push, already listening.
    push_listener: Option<NotifyListener>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Opens the data directory (secrets, database) and binds the listen address.
    ///
    /// # Errors
    /// [`ServerError::Config`] for a malformed PostgreSQL URL or a bad pepper,
    /// [`ServerError::DataDir`] / [`ServerError::Storage`] when the data directory or the
    /// database cannot be used, [`ServerError::Config`] when the address cannot be bound.
    pub async fn bind(config: Config) -> Result<Self, ServerError> {
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
        let listener = TcpListener::bind(config.listen).await.map_err(|error| {
            ServerError::Config(format!("cannot listen on {}: {error}", config.listen))
        })?;
        let state = AppState::new(storage, secrets, opaque_setup, config, push);
        Ok(Self {
            listener,
            state,
            push_listener,
        })
    }

    /// The address actually bound (the real port when the configured one was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| self.state.config().listen)
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
        let app =
            crate::api::api_router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|error| ServerError::Internal(format!("server failed: {error}")));
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
