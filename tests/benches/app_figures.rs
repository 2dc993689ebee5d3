//! Whole-app figures for `cargo xtask bench`: the release app (`ENIGM_APP_BIN`) in a real
//! WebKit window on a private Xvfb display, with its store in the real keychain.
//!
//! - **Cold start to first screen**: from spawning the process to the backend answering the
//!   window's first status request ("store opened" in its log), which is what the first screen
//!   renders. A first start creates the profile (store file, key in the keychain); a later start
//!   opens it. Each is the median of [`RUNS`] starts.
//! - **Idle memory**: a few seconds after the first screen, the resident set (`VmRSS`) and the
//!   proportional set (`Pss`, shared pages split between sharers) of the app plus every process
//!   it started (WebKit's web and network processes).
//!
//! Runs only under `cargo bench` (`--bench`), inside a keychain session (xtask provides one);
//! writes its rows as JSON to `ENIGM_BENCH_OUT` when set, for xtask's table.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
#[cfg(unix)]
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use enigm_tests::AppProcess;
use serde_json::{Value, json};

/// Starts measured per kind of start.
const RUNS: usize = 5;

/// How long the window is left alone before its memory is read.
const SETTLE: Duration = Duration::from_secs(5);

/// Far beyond any real start; only a broken build waits this long.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// The log line the first status request writes.
const FIRST_SCREEN_MARKER: &str = "store opened";

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("app figures run under `cargo bench` (or `cargo xtask bench`) only");
        return Ok(());
    }
    if !cfg!(target_os = "linux") {
        println!("app figures: Linux only (Xvfb and /proc)");
        return Ok(());
    }
    let app = std::env::var_os("ENIGM_APP_BIN")
        .ok_or("ENIGM_APP_BIN must name the release enigm-app binary")?;
    let display = VirtualDisplay::start()?;
    let mut rows = Vec::new();

    let mut first = Vec::new();
    let mut later = Vec::new();
    let mut memory = None;
    for run in 0..RUNS {
        let profile = tempfile::tempdir()?;
        let (elapsed, app_process) = start(Path::new(&app), profile.path(), &display.name)?;
        first.push(elapsed);
        drop(app_process);
        let (elapsed, app_process) = start(Path::new(&app), profile.path(), &display.name)?;
        later.push(elapsed);
        if run == RUNS - 1 {
            std::thread::sleep(SETTLE);
            memory = Some(tree_memory(app_process.0.id())?);
        }
    }
    for (figure, mut times) in [
        ("app cold start to first screen, new profile", first),
        ("app cold start to first screen, existing profile", later),
    ] {
        times.sort();
        rows.push(json!({
            "figure": figure,
            "value": format!("{} ms", times[RUNS / 2].as_millis()),
            "detail": format!(
                "median of {RUNS}; {} .. {} ms",
                times[0].as_millis(),
                times[RUNS - 1].as_millis()
            ),
        }));
    }
    let memory = memory.ok_or("no start was measured")?;
    rows.push(json!({
        "figure": "app idle RSS, app + WebKit processes",
        "value": format!("{:.1} MiB", memory.rss_kib as f64 / 1024.0),
        "detail": format!("{} processes, {}s after the first screen", memory.processes, SETTLE.as_secs()),
    }));
    rows.push(json!({
        "figure": "app idle PSS, app + WebKit processes",
        "value": format!("{:.1} MiB", memory.pss_kib as f64 / 1024.0),
        "detail": "shared pages split between the processes that map them",
    }));

    println!("\n{:<52} {:>12}  detail", "app figure", "value");
    for row in &rows {
        let field = |name: &str| row[name].as_str().unwrap_or_default().to_owned();
        println!(
            "{:<52} {:>12}  {}",
            field("figure"),
            field("value"),
            field("detail")
        );
    }
    if let Some(path) = std::env::var_os("ENIGM_BENCH_OUT") {
        std::fs::write(path, serde_json::to_vec_pretty(&Value::Array(rows))?)?;
    }
    Ok(())
}

/// A private Xvfb display, stopped on drop.
struct VirtualDisplay {
    child: Child,
    name: String,
}

impl VirtualDisplay {
    fn start() -> Result<Self, Error> {
        // `-displayfd 1`: Xvfb picks a free display and writes its number to stdout when ready.
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| {
                format!("could not start Xvfb (cargo xtask setup installs it): {error}")
            })?;
        let mut number = String::new();
        BufReader::new(child.stdout.take().ok_or("Xvfb has no stdout")?).read_line(&mut number)?;
        let number = number.trim();
        if number.is_empty() {
            let _ = child.kill();
            return Err("Xvfb did not report a display".into());
        }
        let name = format!(":{number}");
        Ok(Self { child, name })
    }
}

impl Drop for VirtualDisplay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the app on `display` with `profile` and waits for its first screen.
fn start(app: &Path, profile: &Path, display: &str) -> Result<(Duration, AppProcess), Error> {
    let mut command = Command::new(app);
    command
        .env("DISPLAY", display)
        .env("ENIGM_PROFILE", profile)
        .env("ENIGM_LOG", "info")
        .env_remove("ENIGM_SERVER")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    command.process_group(0);
    let started = Instant::now();
    let child = command.spawn()?;
    let mut app_process = AppProcess(child);
    let stderr = app_process.0.stderr.take().ok_or("the app has no stderr")?;
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let at = Instant::now();
            if lines.send((line, at)).is_err() {
                break;
            }
        }
    });
    let mut log = Vec::new();
    loop {
        match received.recv_timeout(START_TIMEOUT) {
            Ok((line, at)) if line.contains(FIRST_SCREEN_MARKER) => {
                return Ok((at - started, app_process));
            }
            Ok((line, _)) => log.push(line),
            Err(error) => {
                let status = app_process.0.try_wait().ok().flatten();
                drop(app_process);
                return Err(format!(
                    "the app did not show its first screen ({error}; exit status {status:?}); its log:\n{}",
                    log.join("\n")
                )
                .into());
            }
        }
    }
}

/// Memory of a process and all its descendants.
struct TreeMemory {
    processes: usize,
    rss_kib: u64,
    pss_kib: u64,
}

fn tree_memory(root: u32) -> Result<TreeMemory, Error> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in std::fs::read_dir("/proc")? {
        let Ok(pid) = entry?.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        // The parent is the second field after the parenthesised command name.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(after_name) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            continue;
        };
        if let Some(parent) = after_name
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
        {
            children.entry(parent).or_default().push(pid);
        }
    }
    let mut memory = TreeMemory {
        processes: 0,
        rss_kib: 0,
        pss_kib: 0,
    };
    let mut pending = vec![root];
    while let Some(pid) = pending.pop() {
        memory.processes += 1;
        memory.rss_kib += kib_field(&format!("/proc/{pid}/status"), "VmRSS:");
        memory.pss_kib += kib_field(&format!("/proc/{pid}/smaps_rollup"), "Pss:");
        pending.extend(children.get(&pid).into_iter().flatten());
    }
    Ok(memory)
}

/// A `Name:   123 kB` field of a /proc file; 0 when the process is gone or has no such field.
fn kib_field(path: &str, name: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}
