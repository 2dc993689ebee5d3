//! Store open cost: a raw 256-bit key (what `Store::open` does) against a passphrase-keyed
//! SQLCipher open (`PRAGMA key = 'passphrase'`, SQLCipher 4's default PBKDF2-HMAC-SHA512 with
//! 256,000 iterations) on the same kind of database.
//!
//! No keychain is involved: the raw-key side uses `Store::open_with_key` (the key the keychain
//! would hand back), so the bench runs anywhere and measures the store, not D-Bus. The
//! passphrase side opens a database with the same schema and reads page 1, which is when
//! SQLCipher derives the key.

#![allow(clippy::unwrap_used, reason = "a bench aborts on setup failure")]
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use enigm_store::{Store, StoreKey};
use rusqlite::Connection;

const PASSPHRASE: &str = "correct horse battery staple";

fn passphrase_open(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(&format!("PRAGMA key = '{PASSPHRASE}';"))
        .unwrap();
    let _: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
        .unwrap();
    conn
}

fn bench_open(c: &mut Criterion) {
    let raw_dir = tempfile::tempdir().unwrap();
    let key = StoreKey::generate();
    Store::open_with_key(raw_dir.path(), &key)
        .unwrap()
        .close()
        .unwrap();

    let pass_dir = tempfile::tempdir().unwrap();
    let pass_db = pass_dir.path().join("store.db");
    {
        let conn = passphrase_open(&pass_db);
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL) STRICT;
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }

    let mut group = c.benchmark_group("store_open");
    group.sample_size(20);
    group.bench_function("raw_key", |b| {
        b.iter(|| {
            Store::open_with_key(raw_dir.path(), &key).unwrap();
        });
    });
    group.bench_function("passphrase_kdf", |b| {
        b.iter(|| passphrase_open(&pass_db));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = bench_open
}
criterion_main!(benches);
