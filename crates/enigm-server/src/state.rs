//! What every handler shares: storage, secrets, configuration and the clock.

use std::sync::Arc;

use enigm_core::opaque::ServerSetup;

use crate::clock::Clock;
use crate::config::Config;
use crate::ledger_cache::LedgerCache;
use crate::login_seal::LoginSeal;
use crate::push::{PushBus, SessionSockets};
use crate::secrets::Secrets;
use crate::storage::Storage;

/// The state behind every request; cheap to clone.
#[derive(Clone)]
pub(crate) struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    storage: Arc<dyn Storage>,
    secrets: Secrets,
    login_seal: LoginSeal,
    opaque_setup: ServerSetup,
    config: Config,
    ledgers: LedgerCache,
    push: Arc<dyn PushBus>,
    push_sockets: SessionSockets,
    clock: Clock,
}

impl AppState {
    /// Builds the state; `push` is the node's bus (a [`crate::push::PushHub`] for one node),
    /// `clock` the time every expiry is decided by.
    pub(crate) fn new(
        storage: Arc<dyn Storage>,
        secrets: Secrets,
        opaque_setup: ServerSetup,
        config: Config,
        push: Arc<dyn PushBus>,
        clock: Clock,
    ) -> Self {
        // With PostgreSQL a login may finish on another node, which must open its seal.
        let login_seal = if config.database.is_some() {
            LoginSeal::derived(&secrets.pepper)
        } else {
            LoginSeal::random()
        };
        Self {
            inner: Arc::new(Inner {
                storage,
                secrets,
                login_seal,
                opaque_setup,
                config,
                ledgers: LedgerCache::default(),
                push,
                push_sockets: SessionSockets::default(),
                clock,
            }),
        }
    }

    /// The OPAQUE server setup.
    pub(crate) fn opaque_setup(&self) -> &ServerSetup {
        &self.inner.opaque_setup
    }

    /// This node's verified ledgers.
    pub(crate) fn ledger_cache(&self) -> &LedgerCache {
        &self.inner.ledgers
    }

    /// Push delivery to connected devices.
    pub(crate) fn push(&self) -> &dyn PushBus {
        self.inner.push.as_ref()
    }

    /// The push sockets each session holds on this node.
    pub(crate) fn push_sockets(&self) -> &SessionSockets {
        &self.inner.push_sockets
    }

    /// The storage backend.
    pub(crate) fn storage(&self) -> &dyn Storage {
        self.inner.storage.as_ref()
    }

    /// The service secrets.
    pub(crate) fn secrets(&self) -> &Secrets {
        &self.inner.secrets
    }

    /// The key pending logins are sealed under (`login_seal.rs`).
    pub(crate) fn login_seal(&self) -> &LoginSeal {
        &self.inner.login_seal
    }

    /// The configuration.
    pub(crate) fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The service's clock.
    pub(crate) fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Seconds since the Unix epoch, from the service's clock.
    pub(crate) fn now(&self) -> u64 {
        self.inner.clock.now()
    }
}
