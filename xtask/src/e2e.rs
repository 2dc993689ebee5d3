//! The end-to-end step of `cargo xtask test`: the real app driven through tauri-driver and
//! WebKitWebDriver under Xvfb (tests/e2e). tauri-driver is installed into a directory this
//! step owns (`<target>/tools`) when it is missing; WebKitWebDriver and Xvfb come from setup.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::shell::{KeychainSession, cmd, has_cargo_subcommand, installed_tool, on_path};

/// The tauri-driver release line that matches Tauri 2.12's WebDriver support.
const TAURI_DRIVER_VERSION: &str = "~2.1";

/// Runs the end-to-end tests inside `session`, after the other tests; screenshots of every
/// screen go to `<target>/e2e-screenshots/`.
pub fn run_tests(root: &Path, session: &KeychainSession) -> Result<()> {
    if !cfg!(target_os = "linux") {
        println!("e2e: skipped (tauri-driver drives WebKitGTK on Linux only)");
        return Ok(());
    }
    if !on_path("WebKitWebDriver") {
        bail!("WebKitWebDriver not found: install the webkit2gtk-driver package");
    }
    let target = crate::target_dir(root);
    let driver = tauri_driver(&target)?;
    let screenshots = target.join("e2e-screenshots");
    if screenshots.exists() {
        std::fs::remove_dir_all(&screenshots)
            .with_context(|| format!("could not clear {}", screenshots.display()))?;
    }
    let bin = |name: &str| {
        target
            .join("debug")
            .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
    };
    let mut tests = cmd("cargo", root);
    tests
        .env("ENIGM_APP_BIN", bin("enigm-app"))
        .env("ENIGM_BIN", bin("enigm"))
        .env("TAURI_DRIVER", &driver)
        .env("ENIGM_E2E_SCREENSHOTS", &screenshots);
    if has_cargo_subcommand("nextest") {
        tests.args([
            "nextest",
            "run",
            "--package",
            "enigm-e2e",
            "--locked",
            "--run-ignored",
            "all",
        ]);
    } else {
        tests.args([
            "test",
            "--package",
            "enigm-e2e",
            "--locked",
            "--",
            "--include-ignored",
        ]);
    }
    session.run(&mut tests)?;
    println!("e2e: screenshots in {}", screenshots.display());
    Ok(())
}

/// `<target>/tools/bin/tauri-driver`, installed with `cargo install` when missing.
fn tauri_driver(target: &Path) -> Result<PathBuf> {
    installed_tool(target, "tauri-driver", TAURI_DRIVER_VERSION)
}
