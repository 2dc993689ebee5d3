//! Replacing the recovery phrase in two steps, as the app does: a new phrase is made and shown
//! first and changes nothing (cancelled or crashed there, the old phrase still recovers the
//! account, the new one does not); only putting it in force retires the old one. The engine on
//! a real profile (real keychain) against a real `enigm server`, recoveries by real `enigm`
//! processes.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::ServerProcess;
use common::cli::{enigm, failed_code, ok, register, url};
use common::running::PASSWORD;
use enigm_client::Engine;
use enigm_core::recovery::RecoveryPhrase;

const USERNAME: &str = "phrase.twostep";

/// `account recover` on `profile` with `phrase`, revoking nothing.
fn recover(profile: &Path, server: &ServerProcess, phrase: &str) -> Output {
    enigm(
        profile,
        server,
        &["account", "recover", "--username", USERNAME, "--stdin"],
        &format!("{phrase}\nthe password after recovery\n"),
    )
}

fn head_seq(profile: &Path, server: &ServerProcess) -> u64 {
    ok(&enigm(profile, server, &["device", "list"], ""))["head"]["seq"]
        .as_u64()
        .unwrap()
}

/// A laptop registered on a fresh server, with the engine's runtime.
struct Laptop {
    server: ServerProcess,
    dir: tempfile::TempDir,
    profile: PathBuf,
    /// The phrase shown at registration.
    old: String,
    runtime: tokio::runtime::Runtime,
}

impl Laptop {
    fn register() -> Self {
        let (server, dir, [profile]) = common::server_and_profiles(["laptop"]);
        let registered = ok(&register(&profile, &server, USERNAME, PASSWORD));
        let old = registered["recovery_phrase"].as_str().unwrap().to_owned();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Self {
            server,
            dir,
            profile,
            old,
            runtime,
        }
    }

    /// A new phrase is made and shown; the user walks away (the engine is dropped, as in a
    /// crash or a closed window).
    fn show_new_phrase(&self) -> RecoveryPhrase {
        self.runtime.block_on(async {
            let _engine = Engine::open(&self.profile, &url(&self.server))
                .await
                .unwrap();
            Engine::fresh_recovery_phrase()
        })
    }
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn a_new_phrase_changes_nothing_until_it_is_put_in_force() {
    let laptop = Laptop::register();
    let new = laptop.show_new_phrase();
    let Laptop {
        server,
        dir,
        profile: laptop,
        old,
        runtime,
    } = laptop;
    let new_words = new.words().as_str().to_owned();
    assert_ne!(new_words, old);
    assert_eq!(head_seq(&laptop, &server), 0, "nothing was appended");
    assert_eq!(
        failed_code(&recover(&dir.path().join("thief"), &server, &new_words)),
        "recovery_refused",
        "a phrase never put in force recovers nothing"
    );

    // Confirmed: put in force (twice, as a retry after a lost answer would).
    runtime.block_on(async {
        let engine = Engine::open(&laptop, &url(&server)).await.unwrap();
        engine.replace_recovery_phrase(&new).await.unwrap();
        engine.replace_recovery_phrase(&new).await.unwrap();
    });
    assert_eq!(head_seq(&laptop, &server), 1, "one RotateRecovery entry");
    assert_eq!(
        failed_code(&recover(&dir.path().join("desktop"), &server, &old)),
        "recovery_refused",
        "the old phrase is retired"
    );
    let recovered = ok(&recover(&dir.path().join("desktop"), &server, &new_words));
    assert_eq!(recovered["head"]["seq"], 2);
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn the_old_phrase_still_recovers_after_a_new_one_was_only_shown() {
    let laptop = Laptop::register();
    laptop.show_new_phrase();
    let recovered = ok(&recover(
        &laptop.dir.path().join("desktop"),
        &laptop.server,
        &laptop.old,
    ));
    assert_eq!(
        recovered["head"]["seq"], 1,
        "the Recover entry, on the genesis"
    );
}
