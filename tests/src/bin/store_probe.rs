//! `store-probe`: opens an Enigm profile store with the platform keychain in its own process,
//! so the keychain tests can prove that a second process sees what the first one wrote.
//!
//! ```text
//! store-probe write DIR MARKER   create or open, store MARKER and sample values, print them
//! store-probe read DIR           open and print what is stored
//! ```
//!
//! Output is `key=value` lines. On failure it prints `error=<code>` and `message=<message>`
//! and exits with status 2.

use std::path::PathBuf;
use std::process::ExitCode;

use enigm_core::identity::DeviceSecrets;
use enigm_store::{Error, Keychain, PinnedHead, Store};
use rand_core::OsRng;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [cmd, dir, marker] if cmd == "write" => write(PathBuf::from(dir), marker),
        [cmd, dir] if cmd == "read" => read(PathBuf::from(dir)),
        _ => {
            eprintln!("usage: store-probe write DIR MARKER | store-probe read DIR");
            return ExitCode::from(64);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            println!("error={}", err.code());
            println!("message={err}");
            ExitCode::from(2)
        }
    }
}

fn print_info(store: &Store) {
    let info = store.info();
    println!("profile_id={}", store.profile_id());
    println!("created={}", info.created);
    println!("encrypted={}", info.encrypted);
    println!("cipher_version={}", info.cipher_version);
    println!(
        "keychain_backend={}",
        info.keychain_backend.as_deref().unwrap_or("none")
    );
}

fn write(dir: PathBuf, marker: &str) -> Result<(), Error> {
    let keychain = Keychain::platform()?;
    let mut store = Store::open(&dir, &keychain)?;
    print_info(&store);
    let secrets = DeviceSecrets::generate(&mut OsRng);
    store.save_device_secrets(&secrets)?;
    store.set_account_id([0x5A; 16])?;
    store.pin_head(PinnedHead {
        seq: 7,
        hash: [0x11; 32],
    })?;
    store.set_meta("marker", marker.as_bytes())?;
    println!("device_id={}", secrets.device_id().to_hex());
    store.close()
}

fn read(dir: PathBuf) -> Result<(), Error> {
    let keychain = Keychain::platform()?;
    let store = Store::open(&dir, &keychain)?;
    print_info(&store);
    if let Some(secrets) = store.device_secrets()? {
        println!("device_id={}", secrets.device_id().to_hex());
    }
    if let Some(account) = store.account_id()? {
        println!("account_id={}", hex::encode(account));
    }
    if let Some(head) = store.pinned_head()? {
        println!("head={}:{}", head.seq, hex::encode(head.hash));
    }
    if let Some(marker) = store.meta("marker")? {
        println!("marker={}", String::from_utf8_lossy(&marker));
    }
    store.close()
}
