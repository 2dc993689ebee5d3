//! `cargo xtask bench`: runs every criterion bench and prints one table of the results.
//!
//! Criterion leaves `target/criterion/<group>/<bench>/new/{benchmark,estimates}.json`; the table
//! is read from there, so it shows exactly what criterion measured in this run.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::shell::{self, cmd};

/// Runs the benches and prints the table.
pub fn run(root: &Path) -> Result<()> {
    crate::setup::all(root)?;
    let results = root.join("target/criterion");
    if results.exists() {
        std::fs::remove_dir_all(&results)
            .with_context(|| format!("could not clear {}", results.display()))?;
    }
    shell::run(cmd("cargo", root).args([
        "bench",
        "--locked",
        "--package",
        "enigm-core",
        "--package",
        "enigm-store",
    ]))?;
    let mut rows = Vec::new();
    collect(&results, &mut rows)?;
    rows.sort();
    println!(
        "\n{:<58} {:>14} {:>22}",
        "benchmark", "mean", "95% interval"
    );
    for row in &rows {
        println!("{:<58} {:>14} {:>22}", row.0, row.1, row.2);
    }
    Ok(())
}

/// Walks criterion's output for `new/benchmark.json` files.
fn collect(dir: &Path, rows: &mut Vec<(String, String, String)>) -> Result<()> {
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

fn row(dir: &Path) -> Result<(String, String, String)> {
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
    let interval = format!(
        "{} .. {}",
        human(nanos(&mean["confidence_interval"]["lower_bound"])),
        human(nanos(&mean["confidence_interval"]["upper_bound"]))
    );
    Ok((name, human(nanos(&mean["point_estimate"])), interval))
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
