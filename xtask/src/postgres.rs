//! A throwaway PostgreSQL for the test run (DESIGN §15): Debian's server binaries, a cluster in
//! a temporary directory, a free loopback port, unix sockets in that directory too, and one
//! database. The tests find it through `ENIGM_TEST_POSTGRES_URL`; the server stops when the
//! guard drops, whether the tests passed or not.
//!
//! `initdb` refuses to run as root, so a root developer (or CI) runs the cluster as the
//! `postgres` system user the Debian package creates; anyone else runs it as themselves.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::shell::{on_path, run};

/// Where Debian installs the server binaries, one directory per major version.
const DEBIAN_POSTGRES: &str = "/usr/lib/postgresql";
/// The superuser initdb creates (trust authentication on loopback only).
const USER: &str = "enigm";
/// The database the tests use.
const DATABASE: &str = "enigm_test";
/// The system user that runs the cluster when we are root.
const SYSTEM_USER: &str = "postgres";

/// A running PostgreSQL, stopped on drop.
pub struct TestPostgres {
    bin: PathBuf,
    data: PathBuf,
    run_as: Option<&'static str>,
    url: String,
    /// Whether `pg_ctl start` ran, so there is a server to stop.
    started: bool,
    /// Removed (with the cluster) after `drop` has stopped the server.
    dir: tempfile::TempDir,
}

impl TestPostgres {
    /// Creates a cluster, starts it and creates the test database.
    pub fn start() -> Result<Self> {
        let bin = newest_bin_dir()?;
        let run_as = if is_root()? {
            if !user_exists(SYSTEM_USER) {
                bail!(
                    "running as root, and initdb refuses root: the `{SYSTEM_USER}` system user \
                     (created by Debian's postgresql package) is missing; `apt-get install \
                     postgresql`, or run as a non-root user"
                );
            }
            Some(SYSTEM_USER)
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("enigm-pg-")
            .tempdir()
            .context("could not create a temporary directory for PostgreSQL")?;
        if let Some(user) = run_as {
            run(Command::new("chown")
                .arg(format!("{user}:"))
                .arg(dir.path()))?;
        }
        let data = dir.path().join("data");
        let port = free_port()?;
        let mut guard = Self {
            bin,
            data,
            run_as,
            url: format!("postgres://{USER}@127.0.0.1:{port}/{DATABASE}"),
            started: false,
            dir,
        };
        run(guard
            .command("initdb")
            .arg("--pgdata")
            .arg(&guard.data)
            .args(["--username", USER, "--auth", "trust"])
            .args(["--encoding", "UTF8", "--locale", "C", "--no-sync"]))?;
        guard.started = true;
        // Tests never crash the database itself, so durability is traded for speed; the
        // connection limit covers every test's pool running at once.
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off \
             -c max_connections=400 -c shared_buffers=32MB",
            guard.dir.path().display()
        );
        run(guard
            .command("pg_ctl")
            .args(["start", "--wait", "--timeout", "60", "--pgdata"])
            .arg(&guard.data)
            .arg("--log")
            .arg(guard.dir.path().join("postgres.log"))
            .args(["-o", &options]))
        .inspect_err(|_| guard.show_log())?;
        run(guard
            .command("createdb")
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--username", USER, DATABASE]))?;
        println!("PostgreSQL for the tests: {}", guard.url);
        Ok(guard)
    }

    /// The test database's URL (no password: trust authentication on loopback).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `program` from the server's bin directory, as the cluster's owner.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        match self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        }
    }

    /// Prints the server log, to explain a start failure.
    fn show_log(&self) {
        if let Ok(log) = std::fs::read_to_string(self.dir.path().join("postgres.log")) {
            eprintln!("--- postgres.log ---\n{log}--- end of postgres.log ---");
        }
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if !self.started {
            return;
        }
        let stopped = run(self
            .command("pg_ctl")
            .args(["stop", "--wait", "--mode", "fast", "--pgdata"])
            .arg(&self.data));
        if stopped.is_err() {
            let _ = run(self
                .command("pg_ctl")
                .args(["stop", "--mode", "immediate", "--pgdata"])
                .arg(&self.data));
        }
    }
}

/// The bin directory of the newest installed major version.
fn newest_bin_dir() -> Result<PathBuf> {
    let missing = || {
        format!(
            "no PostgreSQL server binaries under {DEBIAN_POSTGRES}/*/bin: `apt-get install \
             postgresql` (cargo xtask setup does it)"
        )
    };
    let entries = std::fs::read_dir(DEBIAN_POSTGRES).with_context(missing)?;
    let mut newest: Option<(u32, PathBuf)> = None;
    for entry in entries.flatten() {
        let Some(version) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let bin = entry.path().join("bin");
        if !bin.join("initdb").is_file() {
            continue;
        }
        if newest.as_ref().is_none_or(|(best, _)| version > *best) {
            newest = Some((version, bin));
        }
    }
    newest.map(|(_, bin)| bin).with_context(missing)
}

/// Whether this process runs as root.
fn is_root() -> Result<bool> {
    let output = Command::new("id")
        .arg("-u")
        .output()
        .context("could not run `id -u`")?;
    Ok(String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// Whether the system user exists (and `runuser` is there to switch to it).
fn user_exists(user: &str) -> bool {
    on_path("runuser")
        && Command::new("id")
            .arg("-u")
            .arg(user)
            .output()
            .is_ok_and(|output| output.status.success())
}

/// A loopback port free right now (the kernel picks it; the listener is closed at once).
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .context("could not find a free loopback port")?;
    Ok(listener.local_addr()?.port())
}
