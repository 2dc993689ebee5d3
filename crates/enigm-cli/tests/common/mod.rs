//! Test harness: spawns the real `enigm server` on an ephemeral loopback port and captures its
//! stderr; the CLI run as a person or a script does (`cli.rs`, `running.rs`). The HTTP client,
//! the protocol spoken directly and the hostile proxy are the service's test harness
//! (`crates/enigm-server/tests/common`), included here.

// The service's harness serves three test binaries; this one uses part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[cfg(unix)]
pub use secrets::mode;
pub use secrets::{contains, read_tree};
use service::IO_TIMEOUT;
pub use service::{Http, Response, fresh_postgres_url};

/// A running `enigm server`.
pub struct ServerProcess {
    child: Child,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its data directory.
    pub data_dir: PathBuf,
    stderr: Arc<Mutex<Vec<u8>>>,
    _dir: Option<tempfile::TempDir>,
}

impl ServerProcess {
    /// Starts a server on a fresh temporary data directory.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server on a fresh temporary data directory with extra arguments (its flags).
    pub fn start_with(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let mut server = Self::start_in(&data_dir, extra);
        server._dir = Some(dir);
        server
    }

    /// Starts a server on `data_dir` with extra arguments.
    pub fn start_in(data_dir: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_enigm"))
            .args(["server", "--listen", "127.0.0.1:0", "--data"])
            .arg(data_dir)
            .args(extra)
            .env("ENIGM_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let url = line
            .trim_end()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        let addr: SocketAddr = url.parse().unwrap();
        assert!(addr.ip().is_loopback());
        assert_ne!(addr.port(), 0);
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut rest = Vec::new();
            let _ = stdout.read_to_end(&mut rest);
        });
        Self {
            child,
            addr,
            data_dir: data_dir.to_path_buf(),
            stderr,
            _dir: None,
        }
    }

    /// Starts a new server, with `extra` arguments, on the data directory of this one (killed or
    /// stopped before), and hands it the temporary directory this one kept alive.
    pub fn restart(mut self, extra: &[&str]) -> Self {
        let mut next = Self::start_in(&self.data_dir, extra);
        next._dir = self._dir.take();
        next
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Kills the process at once (SIGKILL): no shutdown code runs.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM (kill on other platforms) and waits for the exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        #[cfg(unix)]
        {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
        }
        #[cfg(not(unix))]
        let _ = self.child.kill();
        let deadline = std::time::Instant::now() + IO_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("server did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A temporary home holding one profile path per name, for the devices a test plays (the CLI
/// makes each profile on first use); the paths last as long as the returned directory.
pub fn profiles<const N: usize>(names: [&str; N]) -> (tempfile::TempDir, [PathBuf; N]) {
    let home = tempfile::tempdir().unwrap();
    let paths = names.map(|name| home.path().join(name));
    (home, paths)
}

/// A server on a fresh data directory and [`profiles`] for `names`: how most tests of the CLI
/// begin.
pub fn server_and_profiles<const N: usize>(
    names: [&str; N],
) -> (ServerProcess, tempfile::TempDir, [PathBuf; N]) {
    let (home, paths) = profiles(names);
    (ServerProcess::start(), home, paths)
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub mod cli;
#[path = "../../../enigm-server/tests/common/enigm.rs"]
pub mod enigm;
#[path = "../../../enigm-server/tests/common/hostile.rs"]
pub mod hostile;
#[path = "../../../enigm-server/tests/common/push.rs"]
pub mod push;
#[path = "../../../enigm-server/tests/common/relay.rs"]
pub mod relay;
pub mod running;
#[path = "../../../enigm-server/tests/common/secrets.rs"]
mod secrets;
#[path = "../../../enigm-server/tests/common/service.rs"]
mod service;
