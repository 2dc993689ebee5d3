//! What the end-to-end tests share: the real `enigm` service and CLI, the real app started
//! through tauri-driver under Xvfb on its own profile, and small WebDriver steps. The tests
//! themselves are first_run.rs and restore.rs.
//!
//! `cargo xtask test` runs them with `ENIGM_APP_BIN`, `ENIGM_BIN`, `TAURI_DRIVER` and
//! `ENIGM_E2E_SCREENSHOTS` set, inside its keychain session.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use thirtyfour::prelude::*;

/// Generous: a cold WebKit start and an Argon2 registration on a loaded two-core CI machine.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(90);
/// How often a wait looks again.
pub const POLL: Duration = Duration::from_millis(200);

/// A child process whose whole process group is stopped on drop (xvfb-run, Xvfb, tauri-driver,
/// WebKitWebDriver, the app and WebKit's helpers all share it).
pub struct Group(pub Child);

impl Drop for Group {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.wait();
    }
}

/// Starts `command` in a process group of its own.
pub fn spawn_group(command: &mut Command) -> Group {
    use std::os::unix::process::CommandExt;
    Group(
        command
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| panic!("could not start {:?}: {error}", command.get_program())),
    )
}

/// A path the runner passes in the environment.
pub fn env_path(name: &str) -> PathBuf {
    PathBuf::from(
        std::env::var_os(name)
            .unwrap_or_else(|| panic!("{name} must be set (cargo xtask test sets it)")),
    )
}

/// Starts `enigm server` on an ephemeral loopback port and returns it with its URL.
pub fn start_server(data: &Path) -> (Group, String) {
    let mut server = spawn_group(
        Command::new(env_path("ENIGM_BIN"))
            .args(["server", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let mut stdout = BufReader::new(server.0.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line from the server: {line:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    std::thread::spawn(move || {
        let mut rest = Vec::new();
        let _ = stdout.read_to_end(&mut rest);
    });
    (server, url)
}

/// Runs the real `enigm` CLI with `--json` on `profile` against `server`, `stdin` as its input,
/// and returns whether it succeeded and its one JSON line.
pub fn enigm(
    profile: &Path,
    server: &str,
    args: &[&str],
    stdin: &str,
) -> (bool, serde_json::Value) {
    let mut child = Command::new(env_path("ENIGM_BIN"))
        .arg("--profile")
        .arg(profile)
        .args(["--server", server, "--json"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let json = serde_json::from_str(text.trim())
        .unwrap_or_else(|error| panic!("enigm {args:?} printed no JSON ({error})"));
    (output.status.success(), json)
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until tauri-driver accepts connections.
fn wait_for_port(port: u16, driver: &mut Group) {
    let deadline = Instant::now() + STEP_TIMEOUT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = driver.0.try_wait() {
            panic!("tauri-driver exited early ({status})");
        }
        assert!(
            Instant::now() < deadline,
            "tauri-driver did not listen on {port}"
        );
        std::thread::sleep(POLL);
    }
}

/// The real app on its own `profile`, bound to `server`, behind tauri-driver under its own
/// Xvfb: the processes (stopped when dropped) and the WebDriver session.
pub async fn launch_app(profile: &Path, server: &str) -> (Group, WebDriver) {
    let port = free_port();
    let native_port = free_port();
    let mut process = spawn_group(
        Command::new("xvfb-run")
            .args(["-a", "-s", "-screen 0 1280x800x24"])
            .arg(env_path("TAURI_DRIVER"))
            .args(["--port", &port.to_string()])
            .args(["--native-port", &native_port.to_string()])
            .env("ENIGM_PROFILE", profile)
            .env("ENIGM_SERVER", server)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit()),
    );
    wait_for_port(port, &mut process);

    let mut capabilities = Capabilities::new();
    capabilities
        .set(
            "tauri:options",
            serde_json::json!({ "application": env_path("ENIGM_APP_BIN") }),
        )
        .unwrap();
    capabilities.set("browserName", "wry").unwrap();
    // tauri-driver listens before WebKitWebDriver behind it does: retry until a deadline.
    let deadline = Instant::now() + STEP_TIMEOUT;
    let driver = loop {
        match WebDriver::new(format!("http://127.0.0.1:{port}"), capabilities.clone()).await {
            Ok(driver) => break driver,
            Err(error) if Instant::now() < deadline => {
                eprintln!("no WebDriver session yet ({error}); retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(error) => panic!("no WebDriver session: {error}"),
        }
    };
    (process, driver)
}

/// The first element matching `xpath`, waiting for it to appear.
pub async fn find(driver: &WebDriver, xpath: &str) -> WebElement {
    driver
        .query(By::XPath(xpath))
        .wait(STEP_TIMEOUT, POLL)
        .and_displayed()
        .first()
        .await
        .unwrap_or_else(|error| panic!("{xpath} did not appear: {error}"))
}

/// Clicks the first element matching `xpath` once it appears.
pub async fn click(driver: &WebDriver, xpath: &str) -> WebDriverResult<()> {
    find(driver, xpath).await.click().await
}

/// Opens a section from the navigation and waits for its heading.
pub async fn open_section(driver: &WebDriver, section: &str, heading: &str) -> WebDriverResult<()> {
    click(
        driver,
        &format!("//nav//button[normalize-space()='{section}']"),
    )
    .await?;
    find(
        driver,
        &format!("//*[self::h1 or self::h2][normalize-space()='{heading}']"),
    )
    .await;
    Ok(())
}

/// Numbered PNGs of the screens, in `ENIGM_E2E_SCREENSHOTS`, for a person to look at.
pub struct Screens {
    dir: PathBuf,
    prefix: &'static str,
    count: usize,
}

impl Screens {
    /// Screenshots named `<prefix>-NN-<name>.png`, so that tests do not overwrite each other.
    pub fn new(prefix: &'static str) -> Self {
        let dir = env_path("ENIGM_E2E_SCREENSHOTS");
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            dir,
            prefix,
            count: 0,
        }
    }

    /// Saves what the window shows now.
    pub async fn save(&mut self, driver: &WebDriver, name: &str) {
        self.count += 1;
        let path = self
            .dir
            .join(format!("{}-{:02}-{name}.png", self.prefix, self.count));
        driver.screenshot(&path).await.unwrap();
    }
}
