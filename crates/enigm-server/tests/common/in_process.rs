//! The service in process: `Server::bind_with_clock` on a loopback port, on a runtime and thread
//! of its own, reading a manual clock, with its log lines kept for the test to search. Tests
//! speak HTTP and push to it exactly as to the real `enigm server`; only tests about processes
//! (kill -9, restarts, the command line, two nodes) start that one (enigm-cli's tests).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};
use std::thread::JoinHandle;

use enigm_server::{Config, ManualClock, Server};

/// A running service.
pub struct Service {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Its clock: it reads the system time until a test moves it.
    pub clock: ManualClock,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl Service {
    /// Starts the service on a fresh temporary data directory with the defaults.
    pub fn start() -> Self {
        Self::start_with(|_| {})
    }

    /// Starts the service on a fresh temporary data directory with the defaults as
    /// `configure` leaves them.
    pub fn start_with(configure: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut service = Self::start_in(&dir.path().join("data"), configure);
        service._dir = Some(dir);
        service
    }

    /// Starts the service on SQLite, or on PostgreSQL in a fresh schema when `postgres`.
    pub fn on_backend(postgres: bool) -> Self {
        Self::start_with(|config| {
            if postgres {
                config.database = Some(super::fresh_postgres_url());
            }
        })
    }

    /// Starts the service on `data_dir` (which may hold an earlier run's data) with the
    /// defaults as `configure` leaves them.
    pub fn start_in(data_dir: &Path, configure: impl FnOnce(&mut Config)) -> Self {
        capture_logs();
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), data_dir.to_path_buf());
        configure(&mut config);
        let clock = ManualClock::from_system_time();
        let service_clock = clock.clock();
        let (bound, addr) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let server = Server::bind_with_clock(config, service_clock)
                    .await
                    .unwrap();
                bound.send(server.local_addr()).unwrap();
                server
                    .run(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let addr = addr.recv().expect("the service did not start");
        Self {
            addr,
            data_dir: data_dir.to_path_buf(),
            clock,
            stop: Some(stop),
            thread: Some(thread),
            _dir: None,
        }
    }

    /// The service's URL, for the engine.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every line the services of this test process logged so far (each test runs in a
    /// process of its own under nextest, so these are its service's).
    pub fn logs(&self) -> String {
        String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
    }

    /// Stops the service and waits until it no longer listens: afterwards it cannot be reached.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the service panicked");
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Where the captured log lines go.
struct LogSink;

impl std::io::Write for LogSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Logs as `enigm server` does at `ENIGM_LOG=debug` (tokio-postgres kept at `info`), into
/// [`LOGS`]; once per process.
fn capture_logs() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "debug,tokio_postgres=info",
            ))
            .with_ansi(false)
            .with_writer(|| LogSink)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}
