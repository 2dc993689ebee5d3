//! `enigm server`: runs the service until SIGTERM or Ctrl-C.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use enigm_server::{Cidr, Config, Server, ServerError, TlsFiles};

use crate::{CliError, Global};

/// `enigm server --listen ADDR --data DIR [--database URL]`.
#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Data directory: database and service secrets (created if missing).
    #[arg(long)]
    data: PathBuf,
    /// PostgreSQL URL, for several nodes sharing one database. `?sslmode=require` insists on
    /// TLS; TLS always verifies the server's certificate.
    #[arg(long, env = "ENIGM_DATABASE")]
    database: Option<String>,
    /// CA certificates (PEM) to trust for PostgreSQL TLS, besides the system's.
    #[arg(long, env = "ENIGM_DATABASE_CA", requires = "database")]
    database_ca: Option<PathBuf>,
    /// Seconds an enrollment request stays open before it expires.
    #[arg(long, env = "ENIGM_ENROLLMENT_TTL_SECS", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    enrollment_ttl_secs: u64,
    /// Seconds a session lasts without a refresh.
    #[arg(long, env = "ENIGM_SESSION_TTL_SECS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    session_ttl_secs: u64,
    /// Open enrollment requests an account may have at once.
    #[arg(long, env = "ENIGM_ENROLLMENT_MAX_OPEN", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=100))]
    enrollment_max_open: u64,
    /// Sign-in attempts an account gets before each further one must wait (the counter resets
    /// on a successful sign-in).
    #[arg(long, env = "ENIGM_LOGIN_FREE_ATTEMPTS", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    login_free_attempts: u32,
    /// Seconds the first of those waits lasts; each further attempt doubles it.
    #[arg(long, env = "ENIGM_LOGIN_BACKOFF_SECS", default_value_t = 2,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    login_backoff_secs: u64,
    /// Push connections one session may hold at once on a node; more are refused with
    /// `too_many_push_sockets`.
    #[arg(long, env = "ENIGM_PUSH_SOCKETS_PER_SESSION", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    push_sockets_per_session: u32,
    /// Entries an account's ledger may hold; appends past it are refused with `ledger_full`.
    #[arg(long, env = "ENIGM_MAX_LEDGER_ENTRIES", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(2..=10_000_000))]
    max_ledger_entries: u64,
    /// A reverse proxy (ADDRESS or ADDRESS/PREFIX) whose X-Forwarded-For / Forwarded headers
    /// name the client for rate limits; repeat for several. Headers from any other peer are
    /// ignored.
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    trusted_proxies: Vec<Cidr>,
    /// Serve HTTPS with this certificate chain (PEM, leaf first), so no proxy is needed.
    #[arg(
        long,
        env = "ENIGM_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of `--tls-cert`.
    #[arg(
        long,
        env = "ENIGM_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,
}

impl From<ServerError> for CliError {
    /// Names what an operator starting the service can fix (its configuration, its data
    /// directory, its database); every other error is the service's own, whatever it is, so a
    /// new request-time variant needs no decision here.
    fn from(error: ServerError) -> Self {
        let code = match &error {
            ServerError::Config(_) => "config",
            ServerError::DataDir(_) => "data_dir",
            ServerError::Storage(_) | ServerError::Unavailable(_) => "storage",
            _ => "server",
        };
        Self {
            code: code.to_owned(),
            message: error.to_string(),
        }
    }
}

/// Starts the service; prints `listening on http://ADDR` as the first stdout line.
pub(crate) fn run(global: &Global, args: ServerArgs) -> Result<(), CliError> {
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| {
            CliError::new(
                "runtime",
                format!("cannot start the async runtime: {error}"),
            )
        })?;
    runtime.block_on(async move {
        let mut config = Config::new(args.listen, args.data);
        config.database = args.database;
        config.database_ca = args.database_ca;
        config.enrollment_ttl_secs = args.enrollment_ttl_secs;
        config.session_ttl_secs = args.session_ttl_secs;
        config.enrollment_max_open = args.enrollment_max_open;
        config.account_backoff.free = args.login_free_attempts;
        config.push_sockets_per_session =
            usize::try_from(args.push_sockets_per_session).unwrap_or(usize::MAX);
        config.account_backoff.base_secs = args.login_backoff_secs;
        config.max_ledger_entries = args.max_ledger_entries;
        config.trusted_proxies = args.trusted_proxies;
        config.tls = args
            .tls_cert
            .zip(args.tls_key)
            .map(|(cert, key)| TlsFiles { cert, key });
        config.pepper_hex = std::env::var("ENIGM_PEPPER").ok();
        config.audit_key_hex = std::env::var("ENIGM_AUDIT_KEY").ok();
        let server = Server::bind(config).await?;
        let url = server.url();
        let mut stdout = std::io::stdout().lock();
        let line = if global.json {
            serde_json::json!({ "event": "listening", "url": url }).to_string()
        } else {
            format!("listening on {url}")
        };
        writeln!(stdout, "{line}")
            .and_then(|()| stdout.flush())
            .map_err(|error| CliError::new("stdout", format!("cannot write to stdout: {error}")))?;
        drop(stdout);
        server.run(shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// Logs to stderr; `ENIGM_LOG` sets the filter (default `info`). Log lines carry pseudonyms,
/// never usernames, keys or device ids. tokio-postgres stays at `info` whatever the filter
/// says: its debug lines print every query's parameters (account ids, keys, OPAQUE records).
fn init_tracing() {
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("ENIGM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if let Ok(quiet) = "tokio_postgres=info".parse() {
        filter = filter.add_directive(quiet);
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
