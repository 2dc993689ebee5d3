//! How the service is configured: where it listens, where its data lives, and its limits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::storage::Backoff;

/// The service's configuration. [`Config::new`] gives the defaults for a listen address and a
/// data directory; the fields can be adjusted before [`crate::Server::bind`].
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Data directory: the SQLite database and the service secrets (pepper, OPAQUE setup,
    /// pseudonym master secret). Created if missing.
    pub data_dir: PathBuf,
    /// A PostgreSQL URL; `None` uses the embedded SQLite database.
    pub database: Option<String>,
    /// The username pepper as 64 hex digits, instead of `DATA_DIR/pepper` (from `ENIGM_PEPPER`).
    pub pepper_hex: Option<String>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Longest time a request may take.
    pub request_timeout: Duration,
    /// Session lifetime; a refresh moves the expiry this far from now.
    pub session_ttl_secs: u64,
    /// How long a login may sit between its start and its finish.
    pub login_ttl_secs: u64,
    /// How long a recovery may sit between its start and its finish (the user picks the
    /// devices to revoke in between).
    pub recovery_ttl_secs: u64,
    /// How far a request timestamp may be from the service clock (either way).
    pub max_clock_skew_secs: u64,
    /// Backoff for login attempts per account (by lookup key, so unknown usernames get the
    /// same treatment as known ones).
    pub account_backoff: Backoff,
    /// Backoff for login attempts per source address.
    pub source_backoff: Backoff,
}

impl Config {
    /// The defaults for `listen` and `data_dir`.
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        Self {
            listen,
            data_dir,
            database: None,
            pepper_hex: None,
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(15),
            session_ttl_secs: 60 * 60,
            login_ttl_secs: 120,
            recovery_ttl_secs: 600,
            max_clock_skew_secs: enigm_core::request::MAX_CLOCK_SKEW_SECS,
            account_backoff: Backoff {
                free: 5,
                base_secs: 2,
                max_secs: 15 * 60,
                decay_secs: 60 * 60,
            },
            source_backoff: Backoff {
                free: 30,
                base_secs: 1,
                max_secs: 15 * 60,
                decay_secs: 15 * 60,
            },
        }
    }
}
