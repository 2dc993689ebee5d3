//! Project automation: the two README commands (`cargo xtask run`, `cargo xtask test`) and the
//! benchmarks, so a new machine and CI do exactly the same thing.
//!
//! Every command first runs [`setup`], which installs what is missing (Debian packages, the
//! UI's npm packages) and says precisely what to install where it cannot.

mod app;
mod bench;
mod e2e;
mod fuzz;
mod postgres;
mod setup;
mod shell;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::shell::{cmd, run};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  run      set up, build, start the local service and the app against it
  test     set up, then fmt, clippy, UI checks, every test (real keychain, real WebView)
           and 15 s of each fuzz target
  bundle   the release .deb and .rpm, with their sizes
  bench    benchmarks (criterion, the service, the release app) as one table
  fuzz     every libFuzzer target of fuzz/ for 60 s each (needs the nightly toolchain);
           --seconds N for another duration, --seeds to rewrite the committed seed corpus
  openapi  rewrite docs/openapi.json from the service's endpoint tables and enigm-proto
  setup    install missing system and npm packages only";

fn main() -> Result<()> {
    let command = std::env::args().nth(1).unwrap_or_default();
    let root = workspace_root()?;
    match command.as_str() {
        "run" => app::run_app(&root),
        "bundle" => app::bundle_command(&root),
        "test" => test(&root),
        "bench" => bench::run(&root),
        "fuzz" => {
            let args: Vec<String> = std::env::args().skip(2).collect();
            fuzz::command(&root, fuzz::parse_args(&args)?)
        }
        "setup" => setup::all(&root),
        "openapi" => run(cmd("cargo", &root)
            .env("UPDATE_OPENAPI", "1")
            .args([
                "test",
                "--package",
                "enigm-server",
                "--lib",
                "--locked",
                "--",
            ])
            .arg("api::openapi::tests::the_committed_document_is_the_generated_one")),
        "" | "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}

/// The repository root: xtask's manifest dir is `<root>/xtask`.
fn workspace_root() -> Result<PathBuf> {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .context("xtask has no parent directory")
}

/// `cargo xtask test`: everything CI checks, in the order that fails fastest.
fn test(root: &Path) -> Result<()> {
    setup::all(root)?;
    run(cmd("cargo", root).args(["fmt", "--all", "--check"]))?;
    let ui = root.join("ui");
    run(cmd("npm", &ui).args(["run", "check"]))?;
    run(cmd("npm", &ui).args(["test"]))?;
    build_ui(root)?;
    run(cmd("cargo", root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    check_capabilities(root)?;
    // The app smoke test starts the real binary. Building every binary of the workspace at once
    // unifies features as the test build does, so the tests reuse these artifacts.
    run(cmd("cargo", root).args(["build", "--workspace", "--bins", "--locked"]))?;
    let app_bin = target_dir(root)
        .join("debug")
        .join(format!("enigm-app{}", std::env::consts::EXE_SUFFIX));
    let session = shell::KeychainSession::new()?;
    // Stopped when it drops, after the tests, whether they passed or not.
    let postgres = postgres::TestPostgres::start()?;
    let mut tests = cmd("cargo", root);
    tests
        .env("ENIGM_APP_BIN", &app_bin)
        .env("ENIGM_TEST_POSTGRES_URL", postgres.url());
    if shell::has_cargo_subcommand("nextest") {
        session.run(tests.args([
            "nextest",
            "run",
            "--workspace",
            "--locked",
            "--run-ignored",
            "all",
            "--no-fail-fast",
            "--exclude",
            "enigm-e2e",
        ]))?;
    } else {
        session.run(tests.args([
            "test",
            "--workspace",
            "--locked",
            "--exclude",
            "enigm-e2e",
            "--",
            "--include-ignored",
        ]))?;
    }
    run(cmd("cargo", root).args(["test", "--workspace", "--locked", "--doc"]))?;
    app::check_installed_package(root, &session)?;
    e2e::run_tests(root, &session)?;
    // Bounded: one build of the fuzz crate, then a few seconds per target (`cargo xtask fuzz`
    // runs longer).
    fuzz::run_all(root, fuzz::TEST_SECONDS)?;
    println!("\nxtask test: all checks passed");
    Ok(())
}

/// Cargo's target directory, honouring `CARGO_TARGET_DIR`.
pub(crate) fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// Builds `ui/dist`, which the app embeds at compile time.
fn build_ui(root: &Path) -> Result<()> {
    run(cmd("npm", &root.join("ui")).args(["run", "build"]))
}

/// Tauri silently generates an empty ACL when the capabilities path pattern matches nothing,
/// and then every command is refused at runtime. Fail here instead.
fn check_capabilities(root: &Path) -> Result<()> {
    let path = root.join("gen/schemas/capabilities.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{} was not generated by the app build", path.display()))?;
    let compact: String = text.split_whitespace().collect();
    if compact == "{}" {
        bail!(
            "{} is empty: tauri-build found no capabilities (check capabilities_path_pattern in src-tauri/build.rs)",
            path.display()
        );
    }
    println!("capabilities: {} bytes of ACL generated", text.len());
    Ok(())
}
