//! End-to-end tests of the desktop app (first_run.rs, two_devices.rs, restore.rs, dark.rs):
//! what they share.
//!
//! A real `enigm server` on loopback and real debug app instances, each with its own profile,
//! started through its own tauri-driver (and WebKitWebDriver behind it) under its own Xvfb
//! display, driven with thirtyfour. `cargo xtask test` sets `ENIGM_APP_BIN`, `ENIGM_BIN`,
//! `TAURI_DRIVER` and `ENIGM_E2E_SCREENSHOTS` and runs them inside its keychain session.
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
pub struct Group(Child);

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

fn spawn_group(command: &mut Command) -> Group {
    use std::os::unix::process::CommandExt;
    Group(
        command
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| panic!("could not start {:?}: {error}", command.get_program())),
    )
}

/// The path in environment variable `name`, which the runner must set.
pub fn env_path(name: &str) -> PathBuf {
    PathBuf::from(
        std::env::var_os(name)
            .unwrap_or_else(|| panic!("{name} must be set (cargo xtask test sets it)")),
    )
}

/// Starts `enigm server` on an ephemeral loopback port and returns it with its URL.
pub fn start_server(data: &Path) -> (Group, String) {
    start_server_with(data, &[])
}

/// [`start_server`] with extra `enigm server` flags (lower limits, say).
pub fn start_server_with(data: &Path, flags: &[&str]) -> (Group, String) {
    let mut server = spawn_group(
        Command::new(env_path("ENIGM_BIN"))
            .args(["server", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(flags)
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
fn free_port() -> u16 {
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

/// The desktop theme an app instance starts under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    /// GTK's default.
    Light,
    /// GTK's dark variant (`GTK_THEME=Adwaita:dark`), which WebKitGTK passes on to the page as
    /// `prefers-color-scheme: dark`.
    Dark,
}

/// One app instance: its own profile, display and tauri-driver, and the WebDriver session.
pub struct App {
    /// The WebDriver session driving the app's window.
    pub driver: WebDriver,
    _processes: Group,
}

impl App {
    /// Starts the app with profile directory `profile`, talking to the service at `server`.
    pub async fn launch(profile: &Path, server: &str) -> Self {
        Self::launch_themed(profile, server, Theme::Light).await
    }

    /// [`App::launch`] under `theme`.
    pub async fn launch_themed(profile: &Path, server: &str, theme: Theme) -> Self {
        let port = free_port();
        let native_port = free_port();
        let mut command = Command::new("xvfb-run");
        command
            .args(["-a", "-s", "-screen 0 1280x800x24"])
            .arg(env_path("TAURI_DRIVER"))
            .args(["--port", &port.to_string()])
            .args(["--native-port", &native_port.to_string()])
            .env("ENIGM_PROFILE", profile)
            .env("ENIGM_SERVER", server)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        match theme {
            Theme::Light => command.env_remove("GTK_THEME"),
            Theme::Dark => command.env("GTK_THEME", "Adwaita:dark"),
        };
        let mut processes = spawn_group(&mut command);
        wait_for_port(port, &mut processes);

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
        Self {
            driver,
            _processes: processes,
        }
    }

    /// Ends the WebDriver session (closing the app), then stops the processes.
    pub async fn quit(self) {
        let Self { driver, _processes } = self;
        driver.quit().await.unwrap();
    }
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

/// Waits until nothing matching `xpath` is shown, for at most `within`; panics naming `what`
/// otherwise. Returns how long it took.
pub async fn gone(driver: &WebDriver, xpath: &str, within: Duration, what: &str) -> Duration {
    let started = Instant::now();
    loop {
        let mut shown = false;
        for element in driver.find_all(By::XPath(xpath)).await.unwrap() {
            // An element removed between the two calls is gone too.
            shown |= element.is_displayed().await.unwrap_or(false);
        }
        if !shown {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{what} was still shown after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Clicks the first element matching `xpath` once it appears.
pub async fn click(driver: &WebDriver, xpath: &str) -> WebDriverResult<()> {
    find(driver, xpath).await.click().await
}

/// Types `text` into the input with id `id`.
pub async fn type_into(driver: &WebDriver, id: &str, text: &str) -> WebDriverResult<()> {
    find(driver, &format!("//input[@id='{id}']"))
        .await
        .send_keys(text)
        .await
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

    /// Saves what `driver`'s window shows now.
    pub async fn save(&mut self, driver: &WebDriver, name: &str) {
        self.count += 1;
        let path = self
            .dir
            .join(format!("{}-{:02}-{name}.png", self.prefix, self.count));
        driver.screenshot(&path).await.unwrap();
    }

    /// Saves the screen in the narrowest window the app allows (800x600) as `<name>-800x600`,
    /// then gives the window its usual size back.
    pub async fn save_narrow(&mut self, driver: &WebDriver, name: &str) -> WebDriverResult<()> {
        driver.set_window_rect(0, 0, 800, 600).await?;
        self.save(driver, &format!("{name}-800x600")).await;
        driver.set_window_rect(0, 0, 960, 660).await
    }
}

/// From the first-run screen, creates an account on the service the app was started with and
/// confirms the recovery phrase, ending on the verified device list. Returns the phrase.
/// With `screens`, every step is saved.
pub async fn create_account(
    driver: &WebDriver,
    url: &str,
    username: &str,
    password: &str,
    mut screens: Option<&mut Screens>,
) -> WebDriverResult<Vec<String>> {
    find(driver, "//h1[normalize-space()='Welcome to Enigm']").await;
    // The screenshot shows what the user chooses from, not the store opening before it.
    let create = find(
        driver,
        "//button[.//strong[normalize-space()='Create account']]",
    )
    .await;
    find(driver, "//button[.//strong[normalize-space()='Restore']]").await;
    if let Some(screens) = screens.as_deref_mut() {
        screens.save(driver, "first-run").await;
    }
    create.click().await?;

    let server = find(driver, "//input[@id='server']").await;
    assert_eq!(
        server.value().await?.as_deref(),
        Some(url),
        "the address comes from ENIGM_SERVER"
    );
    type_into(driver, "username", username).await?;
    type_into(driver, "password", password).await?;
    find(driver, "//p[@id='strength'][contains(., 'Strong')]").await;
    if let Some(screens) = screens.as_deref_mut() {
        screens.save(driver, "create-account").await;
    }
    click(
        driver,
        "//button[@type='submit'][normalize-space()='Create account']",
    )
    .await?;

    let words = phrase_words(driver).await?;
    assert!(
        words.len() >= 12,
        "a whole phrase is shown: {}",
        words.len()
    );
    if let Some(screens) = screens.as_deref_mut() {
        screens.save(driver, "recovery-phrase").await;
    }
    click(driver, "//button[normalize-space()='I wrote them down']").await?;

    find(
        driver,
        "//h1[normalize-space()='Check your recovery phrase']",
    )
    .await;
    retype_three(driver, &words).await?;
    if let Some(screens) = screens {
        screens.save(driver, "confirm-phrase").await;
    }
    click(driver, "//button[normalize-space()='Confirm']").await?;
    let verified = find(driver, "//*[@data-testid='verified']").await;
    let verified = verified.text().await?;
    assert!(
        verified.starts_with("Device list verified at "),
        "{verified}"
    );
    Ok(words)
}

/// The words of the recovery phrase on screen, in order.
pub async fn phrase_words(driver: &WebDriver) -> WebDriverResult<Vec<String>> {
    find(driver, "//ol[@aria-label='Recovery phrase']").await;
    let mut words = Vec::new();
    for element in driver
        .find_all(By::Css("ol[aria-label='Recovery phrase'] .word"))
        .await?
    {
        words.push(element.text().await?);
    }
    assert!(words.iter().all(|word| !word.is_empty()));
    Ok(words)
}

/// Types the three words the check asks for.
pub async fn retype_three(driver: &WebDriver, words: &[String]) -> WebDriverResult<()> {
    find(driver, "//input[starts-with(@id, 'word-')]").await;
    let inputs = driver.find_all(By::Css("input[id^='word-']")).await?;
    assert_eq!(inputs.len(), 3);
    for input in &inputs {
        let id = input.id().await?.unwrap_or_default();
        let position: usize = id.trim_start_matches("word-").parse().unwrap();
        input.send_keys(&words[position]).await?;
    }
    Ok(())
}
