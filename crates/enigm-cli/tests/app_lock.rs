//! `enigm unlock` on a profile the app locked (the engine's Lock; its own tests are
//! enigm-client's `app_lock.rs`), through the real binary with the real keychain.

use crate::common;

use common::ServerProcess;
use enigm_client::Engine;
use zeroize::Zeroizing;

const PASSWORD: &str = "correct horse battery staple 42";

fn password(text: &str) -> Zeroizing<String> {
    Zeroizing::new(text.to_owned())
}

/// `enigm unlock` through the real binary, on a profile the app locked (real keychain): the
/// password, checked online, or with `--pin` the PIN, checked offline; each refusal precise.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
async fn the_cli_unlocks_a_profile_the_app_locked_with_the_password_online_or_the_pin() {
    use common::cli::{enigm as run_cli, failed, ok, register};

    const PIN: &str = "73915482";
    let mut server = ServerProcess::start();
    let url = format!("http://{}", server.addr);
    let (_home, [profile]) = common::profiles(["profile"]);
    ok(&register(&profile, &server, "cleo.cli", PASSWORD));
    // The app sets a PIN and locks.
    let engine = Engine::open(&profile, &url).await.unwrap();
    engine.set_pin(&password(PIN)).await.unwrap();
    engine.lock().await.unwrap();
    drop(engine);
    let unlock = |server: &ServerProcess, args: &[&str], stdin: &str| {
        let mut all = vec!["unlock"];
        all.extend(args);
        run_cli(&profile, server, &all, &format!("{stdin}\n"))
    };
    let locked = || common::cli::store(&profile).lock_state().unwrap().locked;

    let (code, message) = failed(&unlock(&server, &[], "not the password"));
    assert_eq!(code, "unlock_wrong_password", "{message}");
    assert!(locked());
    let unlocked = ok(&unlock(&server, &[], PASSWORD));
    assert_eq!(
        unlocked,
        serde_json::json!({"unlocked": true, "was_locked": true})
    );
    assert!(!locked());
    // Unlocking what is not locked says so.
    let again = ok(&unlock(&server, &["--pin"], PIN));
    assert_eq!(again["was_locked"], false);

    // Locked again, with the service down: the password cannot be checked, the PIN can.
    let engine = Engine::open(&profile, &url).await.unwrap();
    engine.lock().await.unwrap();
    drop(engine);
    server.kill();
    let (code, message) = failed(&unlock(&server, &[], PASSWORD));
    assert_eq!(code, "unlock_needs_service");
    assert!(message.contains("unlock with your PIN"), "{message}");
    let (code, _) = failed(&unlock(&server, &["--pin"], "12ab56"));
    assert_eq!(code, "invalid_pin");
    let (code, message) = failed(&unlock(&server, &["--pin"], "000000"));
    assert_eq!(code, "unlock_wrong_pin");
    assert!(message.contains("4 tries left"), "{message}");
    let (code, _) = failed(&unlock(&server, &["--pin"], ""));
    assert_eq!(code, "empty_pin");
    assert!(locked());
    let unlocked = ok(&unlock(&server, &["--pin"], PIN));
    assert_eq!(unlocked["was_locked"], true);
    assert!(!locked());
}
