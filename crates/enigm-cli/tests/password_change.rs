//! Changing the password (`enigm account password`) across real processes: two devices of one
//! account, each a real `enigm` process with its profile in the real OS keychain, against a real
//! `enigm server` on SQLite and on PostgreSQL. After the change the old password fails and the
//! new one works on every device; the other device's session ends at once (its live watch hears
//! it and shows it signed out, its next request is refused) while the changing device stays
//! signed in. A wrong current password changes nothing.

use crate::common;

use std::path::Path;

use common::cli::{enigm, failed_code, login, ok, register};
use common::running::{PASSWORD, Running, enroll_and_approve};
use common::{ServerProcess, fresh_postgres_url};

const NEW_PASSWORD: &str = "a new password for a new year";

/// `account password` at a terminal, answering its three hidden prompts with `typed`: the
/// current password, the new one, the new one again.
fn change_at_terminal(
    profile: &Path,
    server: &ServerProcess,
    typed: [&str; 3],
) -> crate::terminal::Terminal {
    let mut terminal = crate::terminal::Terminal::start(profile, server, &["account", "password"]);
    let prompts = [
        "Current password: ",
        "New password: ",
        "New password again: ",
    ];
    for (prompt, answer) in prompts.into_iter().zip(typed) {
        terminal.expect(prompt);
        terminal.type_hidden(answer);
    }
    terminal
}

/// `account password` with the current and the new password on stdin.
fn change(
    profile: &Path,
    server: &ServerProcess,
    current: &str,
    new: &str,
) -> std::process::Output {
    enigm(
        profile,
        server,
        &["account", "password"],
        &format!("{current}\n{new}\n"),
    )
}

fn the_password_changes_on_every_device_and_other_sessions_end(postgres: bool) {
    let dir = tempfile::tempdir().unwrap();
    let args: Vec<String> = if postgres {
        vec!["--database".into(), fresh_postgres_url()]
    } else {
        Vec::new()
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = ServerProcess::start_in(&dir.path().join("data"), &args);
    let laptop = dir.path().join("laptop");
    let phone = dir.path().join("phone");
    let username = format!("pw.{}", if postgres { "pg" } else { "lite" });
    ok(&register(&laptop, &server, &username, PASSWORD));
    enroll_and_approve(&server, &laptop, &phone, &username);
    ok(&enigm(&phone, &server, &["device", "list"], ""));

    // A wrong current password changes nothing: the phone stays signed in.
    assert_eq!(
        failed_code(&change(&laptop, &server, "not the password", NEW_PASSWORD)),
        "current_password_wrong"
    );
    ok(&enigm(&phone, &server, &["device", "list"], ""));

    // Both watch their sessions live.
    let mut watching = Running::start(&phone, &server, &["session", "watch"], "");
    let mut changing = Running::start(&laptop, &server, &["session", "watch"], "");
    for running in [&mut watching, &mut changing] {
        loop {
            let line = running.next();
            if line["event"] == "online" {
                break;
            }
        }
    }

    let changed = ok(&change(&laptop, &server, PASSWORD, NEW_PASSWORD));
    assert_eq!(changed["password_changed"], true);
    assert!(
        changed["sessions_ended"].as_u64().unwrap() >= 1,
        "the phone's session ended: {changed}"
    );

    // The phone hears it at once and shows it is signed out; its watch ends.
    let ended = loop {
        let line = watching.next();
        if line["event"] == "state" {
            break line;
        }
    };
    assert_eq!(ended["state"], "signed_out", "{ended}");
    watching.succeeded();
    assert_eq!(
        failed_code(&enigm(&phone, &server, &["device", "list"], "")),
        "signed_out"
    );

    // The laptop, which changed it, stays signed in: its watch, whose session the change's
    // fresh sign-in replaced, listens on with the new one instead of signing out.
    ok(&enigm(&laptop, &server, &["device", "list"], ""));
    loop {
        let line = changing.next();
        assert_ne!(
            line["event"], "state",
            "the changing device's watch ended: {line}"
        );
        if line["event"] == "online" {
            break;
        }
    }
    changing.kill9();

    // The old password fails everywhere; the new one works everywhere.
    for profile in [&phone, &laptop] {
        assert_eq!(
            failed_code(&login(profile, &server, &username, PASSWORD)),
            "wrong_password"
        );
        let session = ok(&login(profile, &server, &username, NEW_PASSWORD));
        assert_eq!(session["session"]["kind"], "full");
        ok(&enigm(profile, &server, &["device", "list"], ""));
    }

    // The phone changes it back, ending the laptop's session this time.
    let back = ok(&change(&phone, &server, NEW_PASSWORD, PASSWORD));
    assert!(back["sessions_ended"].as_u64().unwrap() >= 1, "{back}");
    assert_eq!(
        failed_code(&enigm(&laptop, &server, &["device", "list"], "")),
        "unknown_session"
    );
    ok(&login(&laptop, &server, &username, PASSWORD));
}

mod the_password_changes_on_every_device_and_other_sessions_end {
    #[test]
    #[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
    fn sqlite() {
        super::the_password_changes_on_every_device_and_other_sessions_end(false);
    }

    #[test]
    #[ignore = "needs a Secret Service session and PostgreSQL; run by cargo xtask test"]
    fn postgres() {
        super::the_password_changes_on_every_device_and_other_sessions_end(true);
    }
}

/// At a real terminal: the current password and the new one twice, every one typed with echo
/// off and never shown; two new passwords that differ change nothing.
#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn at_a_terminal_every_password_is_hidden_and_the_new_one_asked_twice() {
    use crate::terminal::PASSWORD as TYPED;

    let server = ServerProcess::start();
    let (_home, [profile]) = common::profiles(["laptop"]);
    ok(&register(&profile, &server, "pw.terminal", TYPED));

    let terminal = change_at_terminal(&profile, &server, [TYPED, NEW_PASSWORD, "something else"]);
    let (code, screen) = terminal.finish();
    assert_ne!(code, 0, "{screen}");
    assert!(screen.contains("differ"), "{screen}");
    ok(&login(&profile, &server, "pw.terminal", TYPED));

    let mut terminal = change_at_terminal(&profile, &server, [TYPED, NEW_PASSWORD, NEW_PASSWORD]);
    terminal.expect("Password changed");
    let (code, screen) = terminal.finish();
    assert_eq!(code, 0, "{screen}");
    for secret in [TYPED, NEW_PASSWORD, "something else"] {
        assert!(!screen.contains(secret), "a password was shown: {screen}");
    }
    assert_eq!(
        failed_code(&login(&profile, &server, "pw.terminal", TYPED)),
        "wrong_password"
    );
    ok(&login(&profile, &server, "pw.terminal", NEW_PASSWORD));
}
