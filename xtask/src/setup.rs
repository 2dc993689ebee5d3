//! Installs what the build and the tests need, or says exactly what to install.
//!
//! On Debian and Ubuntu the missing packages are installed with apt-get (through sudo when
//! not root). Elsewhere nothing is installed: the list of what is needed is printed instead.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::shell::{cmd, on_path, run};

/// Debian packages the app, its bundles and its tests need (DEVELOPERS.md lists them too).
pub const DEBIAN_PACKAGES: &[&str] = &[
    // Building the Tauri app (WebKitGTK, tray, icons, input) and SQLCipher (libcrypto).
    "build-essential",
    "pkg-config",
    "libwebkit2gtk-4.1-dev",
    "libsoup-3.0-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    "libxdo-dev",
    "libssl-dev",
    "libsecret-1-dev",
    // Tests: a private D-Bus session with gnome-keyring (gdbus locks it), a virtual display,
    // the WebView driver.
    "dbus",
    "gnome-keyring",
    "libsecret-tools",
    "libglib2.0-bin",
    "xvfb",
    "xauth",
    "webkit2gtk-driver",
    // The short code's emoji in the end-to-end screenshots (a desktop has an emoji font).
    "fonts-noto-color-emoji",
    // Tests: the plain (unencrypted) SQLite library, to prove it cannot read our store.
    "python3",
    "sqlite3",
    // The service's PostgreSQL backend.
    "postgresql",
    // Tests: certificates for the TLS tests, and a client that is not ours for HTTPS.
    "openssl",
    "curl",
];

/// Runs every setup step.
pub fn all(root: &Path) -> Result<()> {
    system_packages()?;
    npm_packages(root)
}

fn system_packages() -> Result<()> {
    if !cfg!(target_os = "linux") {
        println!(
            "setup: no system packages needed on this platform beyond Node.js 20+ and the Rust toolchain"
        );
        return Ok(());
    }
    if !Path::new("/etc/debian_version").exists() {
        println!(
            "setup: not a Debian-based system; install the equivalents of: {}",
            DEBIAN_PACKAGES.join(" ")
        );
        return Ok(());
    }
    let missing: Vec<&str> = DEBIAN_PACKAGES
        .iter()
        .copied()
        .filter(|package| !is_installed(package))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("setup: installing {}", missing.join(" "));
    if !is_root() && !on_path("sudo") {
        bail!(
            "missing packages and no sudo; as root run: apt-get install -y {}",
            missing.join(" ")
        );
    }
    let apt = |args: &[&str]| -> Command {
        let mut command = privileged("apt-get");
        command.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        command
    };
    run(&mut apt(&["update", "-qq"]))?;
    let mut install = apt(&["install", "-y", "-qq", "--no-install-recommends"]);
    install.args(&missing);
    run(&mut install)
}

fn is_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|output| {
            output.status.success()
                && String::from_utf8_lossy(&output.stdout).ends_with("install ok installed")
        })
}

/// `program` as root: directly when we are root, otherwise through sudo.
pub(crate) fn privileged(program: &str) -> Command {
    if is_root() {
        Command::new(program)
    } else {
        let mut sudo = Command::new("sudo");
        sudo.arg(program);
        sudo
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// Installs the UI's npm packages when `node_modules` is missing or older than the lockfile.
fn npm_packages(root: &Path) -> Result<()> {
    if !on_path("npm") {
        bail!(
            "npm not found: install Node.js 20 or newer (https://nodejs.org or your package manager)"
        );
    }
    let ui = root.join("ui");
    let stamp = ui.join("node_modules/.package-lock.json");
    let lock = ui.join("package-lock.json");
    let modified = |path: &Path| {
        std::fs::metadata(path)
            .and_then(|meta| meta.modified())
            .ok()
    };
    let current = match (modified(&stamp), modified(&lock)) {
        (Some(installed), Some(locked)) => installed >= locked,
        _ => false,
    };
    if current {
        return Ok(());
    }
    // Not `npm ci`: npm 11 writes lockfiles without other platforms' optional packages
    // (rollup's and the Tauri CLI's native builds) and then `npm ci` refuses its own lockfile.
    // `npm install` honours the same lockfile without rewriting it, and package.json pins
    // every direct dependency exactly.
    run(cmd("npm", &ui).args(["install", "--no-audit", "--no-fund"]))
        .context("installing the UI's npm packages failed")
}
