//! `cargo xtask bench`: runs every criterion bench, then the whole-service figures, and prints
//! one table of the results.
//!
//! Criterion leaves `<target>/criterion/<group>/<bench>/new/{benchmark,estimates}.json`; its
//! rows are read from there, so they show exactly what criterion measured in this run. The
//! service figures come from enigm-cli's `service` bench (the real `enigm server`, built with
//! the bench profile, driven on loopback), which writes its rows to a JSON file. On Linux the
//! app figures follow: the release .deb and .rpm sizes, and enigm-tests' `app_figures` bench
//! (cold start to first screen and idle memory of the release app under Xvfb, in a private
//! keychain session).

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::shell::{self, cmd};

/// Packages with criterion benches.
const CRITERION_PACKAGES: &[&str] = &["enigm-core", "enigm-store", "enigm-server"];

/// One table row: figure, value, detail.
type Row = (String, String, String);

/// Runs the benches and prints the table.
pub fn run(root: &Path) -> Result<()> {
    crate::setup::all(root)?;
    let target = crate::target_dir(root);
    let results = target.join("criterion");
    if results.exists() {
        std::fs::remove_dir_all(&results)
            .with_context(|| format!("could not clear {}", results.display()))?;
    }
    let mut criterion = cmd("cargo", root);
    criterion.args(["bench", "--locked"]);
    for package in CRITERION_PACKAGES {
        criterion.args(["--package", package]);
    }
    shell::run(&mut criterion)?;

    let service_out = target.join("enigm-bench-service.json");
    if service_out.exists() {
        std::fs::remove_file(&service_out)
            .with_context(|| format!("could not clear {}", service_out.display()))?;
    }
    // 10,000 idle sockets need more open files than many shells allow by default; the soft
    // limit may be raised up to the hard one without privileges.
    let service_bench = "cargo bench --locked --package enigm-cli --bench service";
    let mut service = if cfg!(unix) {
        let mut shell = cmd("sh", root);
        shell.args([
            "-c",
            &format!("ulimit -n \"$(ulimit -Hn)\" 2>/dev/null; exec {service_bench}"),
        ]);
        shell
    } else {
        let mut words = service_bench.split(' ');
        let mut direct = cmd(words.next().unwrap_or("cargo"), root);
        direct.args(words);
        direct
    };
    shell::run(service.env("ENIGM_BENCH_OUT", &service_out))?;

    let mut rows = Vec::new();
    collect(&results, &mut rows)?;
    rows.sort();
    rows.extend(json_rows(&service_out)?);
    if cfg!(target_os = "linux") {
        rows.extend(app_rows(root, &target)?);
    }
    let width = rows
        .iter()
        .map(|row| row.0.chars().count())
        .max()
        .unwrap_or(0);
    println!("\n{:<width$} {:>14}  detail", "figure", "value");
    for (figure, value, detail) in &rows {
        println!("{figure:<width$} {value:>14}  {detail}");
    }
    Ok(())
}

/// The release packages' sizes, then the release app's start and memory.
fn app_rows(root: &Path, target: &Path) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for package in crate::app::bundle(root, crate::app::BundleProfile::Release)? {
        let size = std::fs::metadata(&package)?.len();
        let kind = package
            .extension()
            .map(|extension| extension.to_string_lossy().into_owned())
            .unwrap_or_default();
        rows.push((
            format!("app .{kind} size (release)"),
            format!("{:.1} MiB", size as f64 / (1024.0 * 1024.0)),
            package
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ));
    }
    let out = target.join("enigm-bench-app.json");
    if out.exists() {
        std::fs::remove_file(&out).with_context(|| format!("could not clear {}", out.display()))?;
    }
    let app = target
        .join("release")
        .join(format!("enigm-app{}", std::env::consts::EXE_SUFFIX));
    let session = shell::KeychainSession::new()?;
    session.run(
        cmd("cargo", root)
            .args([
                "bench",
                "--locked",
                "--package",
                "enigm-tests",
                "--bench",
                "app_figures",
            ])
            .env("ENIGM_APP_BIN", &app)
            .env("ENIGM_BENCH_OUT", &out),
    )?;
    rows.extend(json_rows(&out)?);
    Ok(rows)
}

/// The rows a bench wrote as JSON (`[{"figure","value","detail"}]`).
fn json_rows(path: &Path) -> Result<Vec<Row>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("the bench wrote no {}", path.display()))?;
    let rows: Vec<Value> =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let field = |row: &Value, name: &str| row[name].as_str().unwrap_or_default().to_owned();
    Ok(rows
        .iter()
        .map(|row| {
            (
                field(row, "figure"),
                field(row, "value"),
                field(row, "detail"),
            )
        })
        .collect())
}

/// Walks criterion's output for `new/benchmark.json` files.
fn collect(dir: &Path, rows: &mut Vec<Row>) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        if !path.is_dir() {
            continue;
        }
        let benchmark = path.join("new/benchmark.json");
        if benchmark.is_file() {
            rows.push(row(&path)?);
        } else {
            collect(&path, rows)?;
        }
    }
    Ok(())
}

fn row(dir: &Path) -> Result<Row> {
    let read = |name: &str| -> Result<Value> {
        let path = dir.join("new").join(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("could not read {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
    };
    let benchmark = read("benchmark.json")?;
    let estimates = read("estimates.json")?;
    let name = benchmark["full_id"].as_str().unwrap_or("?").to_owned();
    let mean = &estimates["mean"];
    let nanos = |value: &Value| value.as_f64().unwrap_or(f64::NAN);
    let point = nanos(&mean["point_estimate"]);
    let mut detail = format!(
        "95% {} .. {}",
        human(nanos(&mean["confidence_interval"]["lower_bound"])),
        human(nanos(&mean["confidence_interval"]["upper_bound"]))
    );
    // Benches that declare one element per iteration are rates as well.
    if benchmark["throughput"]["Elements"].as_u64() == Some(1) && point > 0.0 {
        detail.push_str(&format!("; {:.0}/s", 1e9 / point));
    }
    Ok((name, human(point), detail))
}

/// Nanoseconds as a short human duration.
fn human(nanos: f64) -> String {
    if nanos >= 1e9 {
        format!("{:.3} s", nanos / 1e9)
    } else if nanos >= 1e6 {
        format!("{:.3} ms", nanos / 1e6)
    } else if nanos >= 1e3 {
        format!("{:.3} µs", nanos / 1e3)
    } else {
        format!("{nanos:.1} ns")
    }
}
