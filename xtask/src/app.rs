//! The app's own commands: `cargo xtask run` (the local service and the app together),
//! `cargo xtask bundle` (the .deb and .rpm) and the installed-package check of `cargo xtask
//! test`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::shell::{KeychainSession, cmd, run};
use crate::{build_ui, setup, target_dir};

/// Where `cargo xtask run` serves the local service: the address the app and the CLI use when
/// none is configured.
const LOCAL_SERVICE: &str = "127.0.0.1:8080";

/// Which build a bundle packs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum BundleProfile {
    /// Optimized, as shipped.
    Release,
    /// The debug build the tests already made, for the installed-package check.
    Debug,
}

/// `cargo xtask run`: set up, build, start the local service on an embedded SQLite store
/// (kept under `target/xtask-run/service`), then the app against it; the service stops when the
/// app does.
pub fn run_app(root: &Path) -> Result<()> {
    setup::all(root)?;
    build_ui(root)?;
    if cfg!(target_os = "linux")
        && std::env::var_os("DISPLAY").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
    {
        bail!(
            "no display: set DISPLAY or WAYLAND_DISPLAY, or start a virtual one with \
             `xvfb-run -a cargo xtask run`"
        );
    }
    run(cmd("cargo", root).args([
        "build",
        "--package",
        "enigm-cli",
        "--package",
        "enigm-app",
        "--bins",
    ]))?;
    let service = LocalService::start(root)?;
    println!("local service: {}", service.url);
    run(cmd("cargo", root)
        .args(["run", "--package", "enigm-app"])
        .env("ENIGM_SERVER", &service.url))
}

/// The `enigm server` that `cargo xtask run` starts; stopped on drop.
struct LocalService {
    child: Child,
    url: String,
}

impl LocalService {
    fn start(root: &Path) -> Result<Self> {
        let data = target_dir(root).join("xtask-run").join("service");
        std::fs::create_dir_all(&data)
            .with_context(|| format!("could not create {}", data.display()))?;
        let binary = target_dir(root)
            .join("debug")
            .join(format!("enigm{}", std::env::consts::EXE_SUFFIX));
        let mut child = Command::new(&binary)
            .args(["server", "--listen", LOCAL_SERVICE, "--data"])
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("could not start {}", binary.display()))?;
        let stdout = child.stdout.take().context("the service has no stdout")?;
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .context("could not read the service's first line")?;
        let Some(url) = first.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "the local service did not start on {LOCAL_SERVICE} (is another `cargo xtask \
                 run` using the port?); its log is above"
            );
        };
        let url = url.to_owned();
        Ok(Self { child, url })
    }
}

impl Drop for LocalService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `cargo xtask bundle`: the .deb and .rpm of the release build, with their sizes.
pub fn bundle_command(root: &Path) -> Result<()> {
    setup::all(root)?;
    for package in bundle(root, BundleProfile::Release)? {
        let size = std::fs::metadata(&package)?.len();
        println!(
            "{}: {:.1} MiB",
            package.display(),
            size as f64 / (1024.0 * 1024.0)
        );
    }
    Ok(())
}

/// Builds the UI and the app, then packs them with the Tauri CLI; returns the packages.
pub fn bundle(root: &Path, profile: BundleProfile) -> Result<Vec<PathBuf>> {
    build_ui(root)?;
    let tauri = root.join("ui/node_modules/.bin/tauri");
    let mut command = cmd(&tauri.to_string_lossy(), root);
    command.args(["build", "--bundles", "deb,rpm", "--ci"]);
    if profile == BundleProfile::Debug {
        command.arg("--debug");
    }
    run(&mut command)?;
    let dir = target_dir(root)
        .join(match profile {
            BundleProfile::Release => "release",
            BundleProfile::Debug => "debug",
        })
        .join("bundle");
    let mut packages = Vec::new();
    for (kind, extension) in [("deb", "deb"), ("rpm", "rpm")] {
        let found = newest_with_extension(&dir.join(kind), extension)?
            .with_context(|| format!("the Tauri CLI made no .{extension} in {}", dir.display()))?;
        packages.push(found);
    }
    Ok(packages)
}

fn newest_with_extension(dir: &Path, extension: &str) -> Result<Option<PathBuf>> {
    let mut newest: Option<(std::time::SystemTime, PathBuf)> = None;
    for entry in std::fs::read_dir(dir).with_context(|| format!("no {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == extension) {
            let modified = std::fs::metadata(&path)?.modified()?;
            if newest.as_ref().is_none_or(|(time, _)| modified > *time) {
                newest = Some((modified, path));
            }
        }
    }
    Ok(newest.map(|(_, path)| path))
}

/// The package a user installs must work like the build the tests ran: pack the debug build,
/// install the .deb with dpkg (its declared dependencies must already be there), run the app
/// smoke test against the installed `/usr/bin/enigm-app`, and remove the package again.
pub fn check_installed_package(root: &Path, session: &KeychainSession) -> Result<()> {
    if !cfg!(target_os = "linux") || !crate::shell::on_path("dpkg") {
        println!("\nskipping the installed-package check: not a Debian-based system");
        return Ok(());
    }
    let packages = bundle(root, BundleProfile::Debug)?;
    let deb = packages
        .iter()
        .find(|path| path.extension().is_some_and(|e| e == "deb"))
        .context("no .deb was made")?;
    run(setup::privileged("dpkg").arg("--install").arg(deb))?;
    let installed = InstalledPackage;
    let mut smoke = cmd("cargo", root);
    smoke.env("ENIGM_APP_BIN", "/usr/bin/enigm-app");
    // Selected from the same packages as the main test run, nextest reuses its build; a build of
    // enigm-tests alone unifies features differently and recompiled half the graph (2 min cold).
    if crate::shell::has_cargo_subcommand("nextest") {
        smoke.args([
            "nextest",
            "run",
            "--workspace",
            "--exclude",
            "enigm-e2e",
            "--locked",
            "--run-ignored",
            "all",
            "-E",
            "binary(app_smoke)",
        ]);
    } else {
        smoke.args([
            "test",
            "--package",
            "enigm-tests",
            "--test",
            "app_smoke",
            "--locked",
            "--",
            "--include-ignored",
        ]);
    }
    let result = session.run(&mut smoke);
    drop(installed);
    result
}

/// Removes the installed package on drop, whether the check passed or not.
struct InstalledPackage;

impl Drop for InstalledPackage {
    fn drop(&mut self) {
        let _ = run(setup::privileged("dpkg").args(["--remove", "enigm"]));
    }
}
