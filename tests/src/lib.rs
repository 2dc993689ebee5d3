//! Shared helpers for the cross-process tests.
//!
//! The keychain tests drive the `store-probe` binary (src/bin/store_probe.rs) as a separate
//! process and read its `key=value` output with [`Probe`].

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What one `store-probe` run printed, and how it ended.
#[derive(Debug)]
pub struct Probe {
    /// The `key=value` lines.
    pub values: BTreeMap<String, String>,
    /// The process exited with status 0.
    pub success: bool,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

impl Probe {
    /// The value printed for `key`, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// The error code printed on failure, if any.
    pub fn error(&self) -> Option<&str> {
        self.get("error")
    }
}

/// Runs `program args…` with extra environment `env`, killing it after `timeout`.
///
/// # Errors
/// The process could not be spawned or waited on, or it outlived `timeout`.
pub fn run_probe(
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    timeout: Duration,
) -> std::io::Result<Probe> {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn()?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > timeout {
            child.kill()?;
            child.wait()?;
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("{} {args:?} timed out", program.display()),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut stdout)?;
    }
    if let Some(mut err) = child.stderr.take() {
        err.read_to_string(&mut stderr)?;
    }
    let values = stdout
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
    Ok(Probe {
        values,
        success: status.success(),
        stderr,
    })
}

/// The app started as the leader of its own process group (with xvfb-run and Xvfb when it runs
/// under them, and WebKit's helpers): the whole group is stopped on drop.
pub struct AppProcess(pub Child);

impl Drop for AppProcess {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.0.wait();
    }
}
