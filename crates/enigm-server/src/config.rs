//! How the service is configured: where it listens, where its data lives, and its limits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::client_source::Cidr;
use crate::storage::Backoff;
use crate::tls::TlsFiles;

/// The service's configuration. [`Config::new`] gives the defaults for a listen address and a
/// data directory; the fields can be adjusted before [`crate::Server::bind`].
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Data directory: the SQLite database and the service secrets (pepper, OPAQUE setup,
    /// pseudonym master secret). Created if missing.
    pub data_dir: PathBuf,
    /// A PostgreSQL URL; `None` uses the embedded SQLite database. Its `sslmode` decides
    /// whether TLS is used; TLS always verifies the server.
    pub database: Option<String>,
    /// CA certificates (PEM) trusted for PostgreSQL TLS besides the system's.
    pub database_ca: Option<PathBuf>,
    /// The username pepper as 64 hex digits, instead of `DATA_DIR/pepper` (from `ENIGM_PEPPER`).
    pub pepper_hex: Option<String>,
    /// The audit export signing key's Ed25519 seed as 64 hex digits, instead of
    /// `DATA_DIR/audit-signing-key` (from `ENIGM_AUDIT_KEY`).
    pub audit_key_hex: Option<String>,
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
    /// How long an enrollment request stays open (DESIGN §7: 10 minutes by default).
    pub enrollment_ttl_secs: u64,
    /// Open enrollment requests an account may have at once.
    pub enrollment_max_open: u64,
    /// Backoff for creating enrollment requests, per account (every creation counts).
    pub enrollment_backoff: Backoff,
    /// Push sockets one session may hold open on one node.
    pub push_sockets_per_session: usize,
    /// Sync-key rotations an account may make per clock hour (a rotation follows each device
    /// added or removed, so a real account needs a handful).
    pub sync_rotations_per_hour: u32,
    /// Entries an account's ledger may hold; appends past it get 409 `ledger_full`. Every
    /// request verifies against the ledger, so it must not grow without bound.
    pub max_ledger_entries: u64,
    /// Reverse proxies whose forwarded headers name the client (`--trusted-proxy`); from
    /// any other peer they are ignored (`client_source.rs`).
    pub trusted_proxies: Vec<Cidr>,
    /// The certificate and key to terminate TLS with (`--tls-cert`, `--tls-key`); `None`
    /// serves plain HTTP (for loopback, or behind a proxy that terminates TLS).
    pub tls: Option<TlsFiles>,
}

impl Config {
    /// The longest `decay_secs` of the backoffs: a rate-limit counter quiet for that long and
    /// not blocking counts for nothing, so it can be purged.
    pub fn longest_decay_secs(&self) -> u64 {
        [
            self.account_backoff,
            self.source_backoff,
            self.enrollment_backoff,
            self.sync_rotation_backoff(),
        ]
        .iter()
        .map(|backoff| backoff.decay_secs)
        .max()
        .unwrap_or_default()
    }

    /// The defaults for `listen` and `data_dir`.
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        Self {
            listen,
            data_dir,
            database: None,
            database_ca: None,
            pepper_hex: None,
            audit_key_hex: None,
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
            enrollment_ttl_secs: 10 * 60,
            enrollment_max_open: 5,
            enrollment_backoff: Backoff {
                free: 10,
                base_secs: 60,
                max_secs: 60 * 60,
                decay_secs: 60 * 60,
            },
            push_sockets_per_session: 4,
            sync_rotations_per_hour: 20,
            max_ledger_entries: 10_000,
            trusted_proxies: Vec::new(),
            tls: None,
        }
    }

    /// The counter behind [`Config::sync_rotations_per_hour`], kept per account and clock
    /// hour: the first `sync_rotations_per_hour` attempts pass, the next one waits out the
    /// hour.
    pub fn sync_rotation_backoff(&self) -> Backoff {
        Backoff {
            // The throttle counts an attempt after checking it, so the free count is one less.
            free: self.sync_rotations_per_hour.saturating_sub(1),
            base_secs: 60 * 60,
            max_secs: 60 * 60,
            decay_secs: 60 * 60,
        }
    }
}
