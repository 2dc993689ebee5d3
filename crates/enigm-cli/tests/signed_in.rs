//! Where the account is signed in (`enigm session list|end|sign-out`) across real processes:
//! two devices of one account, each a real `enigm` with its profile in the real OS keychain,
//! against a real `enigm server`. The laptop lists both sessions under their `ses_` names,
//! ends the phone's (whose live watch hears it at once and shows it signed out, and whose next
//! request is refused), then ends every other session; a name that is not signed in changes
//! nothing; `session sign-out` signs the laptop itself out.

use crate::common;

use common::ServerProcess;
use common::cli::{enigm, failed_code, human, ok, register};
use common::running::{PASSWORD, Running, enroll_and_approve};
use serde_json::Value;

/// `session list` of `profile`: its sessions as JSON.
fn sessions(profile: &std::path::Path, server: &ServerProcess) -> Vec<Value> {
    ok(&enigm(profile, server, &["session", "list"], ""))["sessions"]
        .as_array()
        .unwrap()
        .clone()
}

/// Waits until `watching` says it is online.
fn online(watching: &mut Running) {
    while watching.next()["event"] != "online" {}
}

/// Waits for `watching`'s next state and returns it.
fn next_state(watching: &mut Running) -> Value {
    loop {
        let line = watching.next();
        if line["event"] == "state" {
            return line;
        }
    }
}

#[test]
#[ignore = "needs a Secret Service session (run by `cargo xtask test`)"]
fn a_session_ended_from_the_other_device_signs_it_out_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start_in(&dir.path().join("data"), &[]);
    let laptop = dir.path().join("laptop");
    let phone = dir.path().join("phone");
    ok(&register(&laptop, &server, "signed.in", PASSWORD));
    enroll_and_approve(&server, &laptop, &phone, "signed.in");
    ok(&enigm(&phone, &server, &["device", "list"], ""));

    let listed = sessions(&laptop, &server);
    assert_eq!(listed.len(), 2, "{listed:?}");
    let own = listed.iter().find(|s| s["current"] == true).unwrap();
    let other = listed.iter().find(|s| s["current"] == false).unwrap();
    assert_eq!(own["this_device"], true);
    assert_eq!(other["this_device"], false);
    let other_name = other["id"].as_str().unwrap().to_owned();
    assert!(other_name.starts_with("ses_"), "{other_name}");
    let table = human(&laptop, &server, &["session", "list"]);
    assert!(
        table.contains(&other_name) && table.contains("(this session)"),
        "{table}"
    );

    // Names that are not signed in end nothing: the phone stays signed in.
    for wrong in [
        "ses_aaaaaaaaaaaaaaaa",
        "not-a-name",
        own["device_id"].as_str().unwrap(),
    ] {
        assert_eq!(
            failed_code(&enigm(&laptop, &server, &["session", "end", wrong], "")),
            "no_such_session"
        );
    }
    ok(&enigm(&phone, &server, &["device", "list"], ""));

    // The phone watches; the laptop ends its session: it hears at once and is signed out.
    let mut watching = Running::start(&phone, &server, &["session", "watch"], "");
    online(&mut watching);
    ok(&enigm(
        &laptop,
        &server,
        &["session", "end", &other_name],
        "",
    ));
    assert_eq!(next_state(&mut watching)["state"], "signed_out");
    watching.succeeded();
    assert_eq!(
        failed_code(&enigm(&phone, &server, &["device", "list"], "")),
        "signed_out"
    );
    assert_eq!(sessions(&laptop, &server).len(), 1);

    // Signed in again, the phone is signed out by "everywhere else" too.
    ok(&enigm(
        &phone,
        &server,
        &[
            "account",
            "login",
            "--username",
            "signed.in",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    ));
    let ended = ok(&enigm(
        &laptop,
        &server,
        &["session", "end", "--others"],
        "",
    ));
    assert_eq!(ended["ended"], 1);
    // Not watching, the phone learns it from its next request, and forgets the session.
    assert_eq!(
        failed_code(&enigm(&phone, &server, &["device", "list"], "")),
        "unknown_session"
    );
    assert_eq!(
        failed_code(&enigm(&phone, &server, &["device", "list"], "")),
        "signed_out"
    );

    // The laptop signs itself out.
    let signed_out = ok(&enigm(&laptop, &server, &["session", "sign-out"], ""));
    assert_eq!(signed_out["signed_out"], "ended");
    assert_eq!(
        failed_code(&enigm(&laptop, &server, &["session", "list"], "")),
        "signed_out"
    );
}
