//! The committed seed corpus is exactly what the fixtures produce today: a format change that
//! invalidates the seeds fails here instead of silently starting the fuzzer from garbage.
//! `UPDATE_FUZZ_SEEDS=1` rewrites them (`cargo xtask fuzz --seeds` does).

use std::path::PathBuf;

#[test]
fn the_committed_seeds_are_the_generated_ones() {
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let update = std::env::var_os("UPDATE_FUZZ_SEEDS").is_some();
    let mut stale = Vec::new();
    for seed in enigm_fuzz::seeds() {
        let dir = corpus.join(seed.target);
        let path = dir.join(format!("seed-{}", seed.name));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &seed.bytes).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(seed.bytes.as_slice()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale seeds (run `cargo xtask fuzz --seeds`): {stale:#?}"
    );
}
