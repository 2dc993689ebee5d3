//! `cargo xtask fuzz`: every libFuzzer target of `fuzz/` for a bounded time each, so CI and a
//! developer run the same thing. The fuzz crate is its own workspace and builds only with the
//! nightly toolchain (sanitizer flags); the project itself stays on stable.
//!
//! cargo-fuzz is installed into `<target>/tools` when missing (as e2e installs tauri-driver).
//! The committed seeds under `fuzz/corpus/<target>` are read but never written: what libFuzzer
//! finds goes to `<target>/fuzz/corpus/<target>`, which persists between local runs. A crash
//! fails the command; libFuzzer leaves the input in `fuzz/artifacts/<target>/`, to become a
//! regression test in the crate that owns the code.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, bail};

use crate::shell::{cmd, installed_tool, run};

/// Every fuzz target (a `[[bin]]` of `fuzz/Cargo.toml`).
const TARGETS: &[&str] = &[
    "ledger_entry",
    "ledger_chain",
    "request_bodies",
    "auth_header",
    "sas",
    "sync_copy",
    "push_event",
    "recovery_phrase",
];

/// Pinned so CI and developers build the targets the same way.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Seconds per target for `cargo xtask fuzz` without `--seconds`.
pub const DEFAULT_SECONDS: u64 = 60;
/// Seconds per target inside `cargo xtask test`: enough to catch a decoder that panics on its
/// first mutations, small enough to keep CI's added time to one build plus two minutes.
pub const TEST_SECONDS: u64 = 15;

/// What `cargo xtask fuzz` was asked to do.
pub enum Request {
    /// Run every target this long.
    Run { seconds: u64 },
    /// Rewrite the committed seeds from the fixtures.
    Seeds,
}

/// Parses the arguments after `fuzz`.
pub fn parse_args(args: &[String]) -> Result<Request> {
    match args {
        [] => Ok(Request::Run {
            seconds: DEFAULT_SECONDS,
        }),
        [flag] if flag == "--seeds" => Ok(Request::Seeds),
        [flag, value] if flag == "--seconds" => {
            let seconds = value
                .parse::<u64>()
                .ok()
                .filter(|seconds| *seconds > 0)
                .with_context(|| format!("--seconds wants a positive number, not {value:?}"))?;
            Ok(Request::Run { seconds })
        }
        other => bail!("cargo xtask fuzz [--seconds N | --seeds], not {other:?}"),
    }
}

/// `cargo xtask fuzz`.
pub fn command(root: &Path, request: Request) -> Result<()> {
    match request {
        Request::Run { seconds } => run_all(root, seconds),
        Request::Seeds => run(cmd("cargo", &root.join("fuzz"))
            .env("UPDATE_FUZZ_SEEDS", "1")
            .arg("test")
            .arg("--target-dir")
            .arg(crate::target_dir(root).join("fuzz-seeds"))
            .args(["--locked", "--test", "seeds"])),
    }
}

/// Runs every target for `seconds`, then prints each one's figures. Fails on the first crash.
pub fn run_all(root: &Path, seconds: u64) -> Result<()> {
    require_nightly(root)?;
    let target = crate::target_dir(root);
    let tools = cargo_fuzz(&target)?;
    let path = std::env::join_paths(
        std::iter::once(tools).chain(
            std::env::var_os("PATH")
                .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
                .unwrap_or_default(),
        ),
    )
    .context("PATH cannot hold the tools directory")?;
    let mut figures = Vec::new();
    for name in TARGETS {
        let found = target.join("fuzz").join("corpus").join(name);
        std::fs::create_dir_all(&found)
            .with_context(|| format!("could not create {}", found.display()))?;
        let mut fuzz = cmd("cargo", root);
        fuzz.env("PATH", &path)
            .args(["+nightly", "fuzz", "run", name, "--target-dir"])
            .arg(target.join("fuzz"))
            // libFuzzer writes new inputs to the first corpus only: never the committed seeds.
            .arg(&found)
            .arg(root.join("fuzz").join("corpus").join(name))
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg("-print_final_stats=1");
        figures.push((*name, run_fuzzer(&mut fuzz, name)?));
    }
    println!("\nfuzz: {seconds} s per target");
    println!(
        "{:<16} {:>12} {:>9} {:>7} {:>7}",
        "target", "executions", "exec/s", "cov", "ft"
    );
    for (name, stats) in figures {
        println!(
            "{name:<16} {:>12} {:>9} {:>7} {:>7}",
            stats.runs, stats.exec_per_sec, stats.cov, stats.ft
        );
    }
    Ok(())
}

/// libFuzzer's figures from its final status line and statistics.
#[derive(Default)]
struct Stats {
    runs: String,
    exec_per_sec: String,
    cov: String,
    ft: String,
}

/// Runs one fuzzer, echoing its output, and keeps the figures from what libFuzzer prints.
fn run_fuzzer(command: &mut std::process::Command, name: &str) -> Result<Stats> {
    println!("\n$ cargo +nightly fuzz run {name} (…)");
    let started = std::time::Instant::now();
    let mut child = command
        .stderr(Stdio::piped())
        .spawn()
        .context("could not start `cargo +nightly fuzz`")?;
    let mut stats = Stats::default();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let line = line.context("reading the fuzzer's output")?;
            eprintln!("{line}");
            parse_line(&line, &mut stats);
        }
    }
    let status = child.wait().context("waiting for the fuzzer")?;
    println!("[{:.0} s] fuzz {name}", started.elapsed().as_secs_f64());
    if !status.success() {
        bail!(
            "fuzz target {name} failed ({status}): the crashing input is under fuzz/artifacts/{name}/; \
             turn it into a regression test in the crate that owns the code, then fix it"
        );
    }
    Ok(stats)
}

/// Picks the figures out of libFuzzer's status lines (`#123 … cov: 45 ft: 67 …`) and final
/// statistics (`stat::number_of_executed_units: 123`).
fn parse_line(line: &str, stats: &mut Stats) {
    let mut words = line.split_whitespace();
    while let Some(word) = words.next() {
        let slot = match word {
            "cov:" => &mut stats.cov,
            "ft:" => &mut stats.ft,
            "stat::number_of_executed_units:" => &mut stats.runs,
            "stat::average_exec_per_sec:" => &mut stats.exec_per_sec,
            _ => continue,
        };
        if let Some(value) = words.next() {
            *slot = value.to_owned();
        }
    }
}

/// Fuzzing needs the nightly toolchain; say so instead of skipping the targets.
fn require_nightly(root: &Path) -> Result<()> {
    let output = cmd("cargo", root).args(["+nightly", "--version"]).output();
    match output {
        Ok(output) if output.status.success() => Ok(()),
        _ => bail!(
            "fuzzing needs the nightly Rust toolchain, which is not installed \
             (`rustup toolchain install nightly`); only the fuzz targets use it, the build stays on stable"
        ),
    }
}

/// `<target>/tools/bin`, holding cargo-fuzz, installed with `cargo install` when missing.
fn cargo_fuzz(target: &Path) -> Result<PathBuf> {
    let binary = installed_tool(target, "cargo-fuzz", CARGO_FUZZ_VERSION)?;
    binary
        .parent()
        .map(Path::to_path_buf)
        .context("cargo-fuzz has no folder")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_final_line_and_stats_give_the_figures() {
        let mut stats = Stats::default();
        for line in [
            "#1024\tpulse  cov: 10 ft: 12 corp: 3/40b exec/s: 512 rss: 40Mb",
            "#52713\tDONE   cov: 1468 ft: 5210 corp: 291/33Kb lim: 4096 exec/s: 3513 rss: 402Mb",
            "stat::number_of_executed_units: 52713",
            "stat::average_exec_per_sec:     3513",
        ] {
            parse_line(line, &mut stats);
        }
        assert_eq!(
            (stats.runs.as_str(), stats.exec_per_sec.as_str()),
            ("52713", "3513")
        );
        assert_eq!((stats.cov.as_str(), stats.ft.as_str()), ("1468", "5210"));
    }

    #[test]
    fn seconds_must_be_positive() {
        let args = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(matches!(
            parse_args(&args(&[])),
            Ok(Request::Run {
                seconds: DEFAULT_SECONDS
            })
        ));
        assert!(matches!(
            parse_args(&args(&["--seconds", "5"])),
            Ok(Request::Run { seconds: 5 })
        ));
        assert!(parse_args(&args(&["--seconds", "0"])).is_err());
        assert!(parse_args(&args(&["--minutes", "5"])).is_err());
    }
}
