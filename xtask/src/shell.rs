//! Running child processes loudly (every command is echoed) and inside a private keychain.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// A command that runs in `dir`.
pub fn cmd(program: &str, dir: &Path) -> Command {
    let mut command = Command::new(program);
    command.current_dir(dir);
    command
}

/// `<target>/tools/bin/<name>`: the binary of the crate `name` at `version`, installed with
/// `cargo install` when missing.
pub fn installed_tool(target: &Path, name: &str, version: &str) -> Result<PathBuf> {
    let root = target.join("tools");
    let binary = root
        .join("bin")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if binary.is_file() {
        return Ok(binary);
    }
    let mut install = cmd("cargo", target.parent().unwrap_or(target));
    install
        // Its own build directory: the workspace's target would rebuild our crates' deps.
        .env_remove("CARGO_TARGET_DIR")
        .args(["install", name, "--locked", "--version", version, "--root"])
        .arg(&root);
    run(&mut install).with_context(|| format!("installing {name} failed"))?;
    Ok(binary)
}

/// Runs `command`, echoing it first; a non-zero exit is an error naming the command.
pub fn run(command: &mut Command) -> Result<()> {
    let shown = describe(command);
    println!("\n$ {shown}");
    let started = std::time::Instant::now();
    let status = command
        .status()
        .with_context(|| format!("could not start `{shown}`"))?;
    // Where the minutes of a CI run go, next to each step.
    println!("[{:.0} s] {shown}", started.elapsed().as_secs_f64());
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// Whether `program` can be found on PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Whether `cargo <name>` is installed.
pub fn has_cargo_subcommand(name: &str) -> bool {
    on_path(&format!("cargo-{name}"))
}

fn describe(command: &Command) -> String {
    let mut shown = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        shown.push(' ');
        shown.push_str(&arg.to_string_lossy());
    }
    shown
}

/// The password of the throwaway test keyring (the keychain tests re-unlock it after locking).
const TEST_KEYRING_PASSWORD: &str = "pw";

/// A private D-Bus session with an unlocked gnome-keyring and its own keyring directory, so
/// tests use the real Secret Service without touching the developer's own keyrings.
pub struct KeychainSession {
    dir: tempfile::TempDir,
}

impl KeychainSession {
    /// Prepares the session's private directories (the daemon starts with each command).
    pub fn new() -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("enigm-keychain-")
            .tempdir()
            .context("could not create a temporary keychain directory")?;
        std::fs::create_dir_all(dir.path().join("data"))?;
        let runtime = dir.path().join("runtime");
        std::fs::create_dir_all(&runtime)?;
        restrict_to_owner(&runtime)?;
        Ok(Self { dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `command` inside `dbus-run-session` after unlocking a fresh gnome-keyring. On
    /// macOS and Windows the platform keychain needs no session, so the command runs as is.
    pub fn run(&self, command: &mut Command) -> Result<()> {
        if !cfg!(target_os = "linux") {
            return run(command);
        }
        let mut wrapped = Command::new("dbus-run-session");
        if let Some(dir) = command.get_current_dir() {
            wrapped.current_dir(dir);
        }
        wrapped
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_RUNTIME_DIR", self.path("runtime"))
            .env("ENIGM_TEST_KEYRING_PASSWORD", TEST_KEYRING_PASSWORD)
            .args([
                "--",
                "sh",
                "-c",
                "printf %s \"$ENIGM_TEST_KEYRING_PASSWORD\" | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec \"$@\"",
                "sh",
            ])
            .arg(command.get_program())
            .args(command.get_args());
        for (key, value) in command.get_envs() {
            match value {
                Some(value) => wrapped.env(key, value),
                None => wrapped.env_remove(key),
            };
        }
        run(&mut wrapped)
    }
}

#[cfg(unix)]
fn restrict_to_owner(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("could not restrict {}", path.display()))
}

#[cfg(not(unix))]
fn restrict_to_owner(_path: &Path) -> Result<()> {
    Ok(())
}
