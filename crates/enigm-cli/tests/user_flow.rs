//! The user subcommands of the real `enigm` binary against the real service, with profiles in
//! the real OS keychain (a throwaway gnome-keyring in a private D-Bus session under
//! `cargo xtask test`): register, sign in, the verified device list, device changes, and the
//! precise one-line errors scripts rely on.

use crate::common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::cli::{
    self, enigm, failed_code, human, json_lines, login, ok, one_json_line, register,
};
use common::enigm::{self as client, append, ledger};
use common::{Http, ServerProcess, contains, read_tree};
use enigm_core::identity::DeviceSecrets;
use enigm_core::ledger::EntryKind;
use enigm_store::{Keychain, Store};

/// Bound on waiting for a live update that does not measure anything.
const WAIT: Duration = Duration::from_secs(10);
const PASSWORD: &str = "correct horse battery staple 42";

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn register_shows_the_phrase_once_and_lists_this_device_verified() {
    let (server, _home, [profile]) = common::server_and_profiles(["a"]);

    let registered = ok(&register(&profile, &server, "Alice.Flow", PASSWORD));
    let phrase = registered["recovery_phrase"].as_str().unwrap().to_owned();
    assert_eq!(phrase.split(' ').count(), 24);
    enigm_core::recovery::RecoveryPhrase::parse(&phrase).unwrap();
    let device_id = registered["device_id"].as_str().unwrap().to_owned();

    let list = ok(&enigm(&profile, &server, &["device", "list"], ""));
    assert_eq!(list["verified"], true);
    assert_eq!(list["head"]["seq"], 0);
    let devices = list["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0]["device_id"], device_id.as_str());
    assert_eq!(devices[0]["state"], "active");
    assert_eq!(devices[0]["this_device"], true);
    // The service saw it today, to the day (yesterday if the run crossed midnight UTC).
    let today = client::now() / 86_400;
    let seen = devices[0]["last_seen_day"].as_u64().unwrap();
    assert!((today - 1..=today).contains(&seen), "{seen} {today}");
    let table = human(&profile, &server, &["device", "list"]);
    let row = table.lines().find(|line| line.starts_with(&device_id));
    let row = row.unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.contains(" today ") || row.contains(" yesterday "),
        "{table}"
    );

    let status = ok(&enigm(&profile, &server, &["session", "status"], ""));
    assert_eq!(status["device_state"], "active");
    assert_eq!(status["device_id"], device_id.as_str());
    assert_eq!(status["session"]["kind"], "full");

    let verified = ok(&enigm(&profile, &server, &["ledger", "verify"], ""));
    assert_eq!(verified["verified"], true);
    let text = human(&profile, &server, &["ledger", "show"]);
    let fingerprint = enigm_core::identity::DeviceId::from_hex(&device_id)
        .unwrap()
        .fingerprint();
    assert!(
        text.starts_with(&format!("#0   account created by {fingerprint} (around ")),
        "{text}"
    );
    assert!(text.contains("\nledger verified: 1 entry, head "), "{text}");

    // The phrase is never stored: not in the profile's files (which are encrypted anyway), and
    // no word sequence of it anywhere on disk.
    let files = read_tree(&profile);
    assert!(!contains(&files, phrase.as_bytes()));
    assert!(!contains(&files, b"Alice.Flow"));
    // Nor did the username or password reach the service's logs.
    let logs = server.stderr();
    assert!(
        !logs.contains("Alice.Flow") && !logs.contains(PASSWORD),
        "{logs}"
    );
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn bad_input_gets_a_precise_error_and_changes_nothing() {
    let (server, _home, [profile, other]) = common::server_and_profiles(["a", "b"]);
    ok(&register(&profile, &server, "bob.flow", PASSWORD));

    // Registering the profile again, or the same username from another profile.
    let again = register(&profile, &server, "bob.flow2", PASSWORD);
    assert_eq!(failed_code(&again), "already_registered");
    let taken = register(&other, &server, "BOB.flow", PASSWORD);
    assert_eq!(failed_code(&taken), "username_taken");

    // A wrong password and an unknown username are the same error.
    for username in ["bob.flow", "nobody.here"] {
        let wrong = enigm(
            &profile,
            &server,
            &[
                "account",
                "login",
                "--username",
                username,
                "--password-stdin",
            ],
            "not the password\n",
        );
        assert_eq!(failed_code(&wrong), "wrong_password");
    }
    // The wrong password did not end the good session.
    let list = ok(&enigm(&profile, &server, &["device", "list"], ""));
    assert_eq!(list["devices"].as_array().unwrap().len(), 1);

    // Device arguments: unknown, too short, and a change the ledger rules refuse.
    let unknown = enigm(&profile, &server, &["device", "suspend", "ffffffff"], "");
    assert_eq!(failed_code(&unknown), "unknown_device");
    let short = enigm(&profile, &server, &["device", "suspend", "ab"], "");
    assert_eq!(failed_code(&short), "unknown_device");
    let own = list["devices"][0]["device_id"].as_str().unwrap().to_owned();
    let resume = enigm(&profile, &server, &["device", "resume", &own], "");
    assert_eq!(failed_code(&resume), "not_allowed");
    let after = ok(&enigm(&profile, &server, &["device", "list"], ""));
    assert_eq!(after["head"], list["head"]);

    // An empty password is refused before anything is sent; so is a non-loopback http URL.
    let empty = enigm(
        &other,
        &server,
        &[
            "account",
            "login",
            "--username",
            "bob.flow",
            "--password-stdin",
        ],
        "\n",
    );
    assert_eq!(failed_code(&empty), "empty_password");
    let insecure = Command::new(env!("CARGO_BIN_EXE_enigm"))
        .args(["--json", "--profile"])
        .arg(&other)
        .args(["--server", "http://enigm.example", "device", "list"])
        .output()
        .unwrap();
    assert_eq!(failed_code(&insecure), "invalid_server_url");

    // Without --json, errors are one line on stderr.
    let plain = Command::new(env!("CARGO_BIN_EXE_enigm"))
        .arg("--profile")
        .arg(&profile)
        .args(["--server", &format!("http://{}", server.addr)])
        .args(["device", "suspend", "ffffffff"])
        .output()
        .unwrap();
    assert!(!plain.status.success());
    let stderr = String::from_utf8(plain.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("enigm: "), "{stderr}");
}

/// This device's secrets, read from its profile store (the real keychain holds its key).
fn device_secrets(profile: &Path) -> Option<DeviceSecrets> {
    let keychain = Keychain::platform().unwrap();
    let store = Store::open(profile, &keychain).unwrap();
    store.device_secrets().unwrap()
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn a_revoked_device_hears_it_at_once_loses_its_keys_and_is_refused() {
    let server = ServerProcess::start();
    let http = Http::new(server.addr);
    let (_home, [laptop, phone]) = common::profiles(["laptop", "phone"]);
    ok(&register(&laptop, &server, "dave.flow", PASSWORD));

    // The phone signs in: not in the ledger yet, so its session can only enroll.
    let sign_in = |profile: &Path| ok(&login(profile, &server, "dave.flow", PASSWORD));
    assert_eq!(sign_in(&phone)["session"]["kind"], "enrollment_restricted");
    // Until the enrollment relay is driven by the CLI, the test adds the phone to the ledger the
    // way an approval ends: an AddDevice signed by the laptop and by the phone.
    let laptop_secrets = device_secrets(&laptop).unwrap();
    let phone_secrets = device_secrets(&phone).unwrap();
    let session = client::login(&http, "dave.flow", PASSWORD, &laptop_secrets).unwrap();
    let state = ledger(&http, &session, &laptop_secrets);
    let mut add = state.next_entry(EntryKind::AddDevice {
        device: phone_secrets.public(),
        approved_by: laptop_secrets.device_id(),
        replaces: None,
    });
    add.sign_device(state.account_id(), &laptop_secrets);
    add.sign_device(state.account_id(), &phone_secrets);
    append(&http, &session, &laptop_secrets, &add);
    assert_eq!(sign_in(&phone)["session"]["kind"], "full");
    let list = ok(&enigm(&phone, &server, &["device", "list"], ""));
    let laptop_list = ok(&enigm(&laptop, &server, &["device", "list"], ""));
    assert_eq!(list["head"], laptop_list["head"]);
    assert_eq!(list["devices"].as_array().unwrap().len(), 2);

    // The phone watches its session.
    let mut watch = cli::command(
        Some(&phone),
        Some(&cli::url(&server)),
        &["session", "watch"],
    )
    .stdin(Stdio::null())
    .spawn()
    .unwrap();
    let receive = json_lines(watch.stdout.take().unwrap());
    let mut stderr = watch.stderr.take().unwrap();
    let said = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let said = std::cell::RefCell::new(Some(said));
    let next = |within: Duration| {
        receive.recv_timeout(within).unwrap_or_else(|error| {
            let text = match (&error, said.borrow_mut().take()) {
                (std::sync::mpsc::RecvTimeoutError::Disconnected, Some(thread)) => {
                    thread.join().unwrap()
                }
                _ => String::new(),
            };
            panic!("no update in time ({error}); watch said {text:?}")
        })
    };
    let first = next(WAIT);
    assert_eq!(first["state"], "active", "{first}");
    // Online, then the catch-up sync's verified list.
    let mut update = next(WAIT);
    while update["event"] != "devices" {
        update = next(WAIT);
    }

    // The laptop revokes the phone by a prefix of its id.
    let phone_id = phone_secrets.device_id().to_hex();
    let revoked = ok(&enigm(
        &laptop,
        &server,
        &["device", "revoke", &phone_id[..8], "--reason", "lost"],
        "",
    ));
    assert_eq!(revoked["device"]["state"], "revoked");
    // The laptop's history says who did what, from its own verified ledger.
    let history = ok(&enigm(&laptop, &server, &["ledger", "show"], ""));
    assert_eq!(history["verified"], true);
    let entries = history["entries"].as_array().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["genesis", "add_device", "revoke"]);
    let laptop_id = laptop_secrets.device_id().to_hex();
    assert_eq!(entries[1]["device"], phone_id.as_str());
    assert_eq!(entries[1]["by"], laptop_id.as_str());
    assert_eq!(entries[2]["device"], phone_id.as_str());
    assert_eq!(entries[2]["by"], laptop_id.as_str());
    assert_eq!(entries[2]["reason"], "lost");
    assert_eq!(entries[2]["hash"], history["head"]["hash"]);
    // Within a second of the revocation being acknowledged, the phone's watch says so and ends.
    let mut update = next(Duration::from_secs(1));
    while update["event"] != "state" {
        assert!(update.get("error").is_none(), "{update}");
        update = next(Duration::from_secs(1));
    }
    assert_eq!(update["state"], "revoked", "{update}");
    assert!(watch.wait().unwrap().success());

    // Its keys are gone, and every later command says why.
    assert!(device_secrets(&phone).is_none());
    let refused = enigm(&phone, &server, &["device", "list"], "");
    assert_eq!(failed_code(&refused), "device_revoked");
    let again = login(&phone, &server, "dave.flow", PASSWORD);
    assert_eq!(failed_code(&again), "device_revoked");
    let message = one_json_line(&again)["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("this device was revoked"), "{message}");
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn a_session_in_use_is_refreshed_and_an_idle_one_expires() {
    let server = ServerProcess::start_with(&["--session-ttl-secs", "3"]);
    let (_home, [profile]) = common::profiles(["a"]);
    ok(&register(&profile, &server, "erin.refresh", PASSWORD));

    // Used every half second for longer than the session's whole lifetime: still signed in,
    // because each use refreshes a session close to its expiry.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        let list = ok(&enigm(&profile, &server, &["device", "list"], ""));
        assert_eq!(list["devices"][0]["this_device"], true);
        std::thread::sleep(Duration::from_millis(500));
    }

    // Left alone past its lifetime, the session ends, and the CLI says to sign in again.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        failed_code(&enigm(&profile, &server, &["device", "list"], "")),
        "signed_out"
    );
    let status = login(&profile, &server, "erin.refresh", PASSWORD);
    assert_eq!(ok(&status)["session"]["kind"], "full");
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn this_computer_signs_in_while_a_stranger_keeps_the_accounts_budget_spent() {
    let server =
        ServerProcess::start_with(&["--login-free-attempts", "2", "--login-backoff-secs", "600"]);
    let http = Http::new(server.addr);
    let (_home, [profile]) = common::profiles(["a"]);
    ok(&register(&profile, &server, "owner.budget", PASSWORD));
    for _ in 0..10 {
        client::login_start(&http, "owner.budget", "guess");
    }
    assert_eq!(
        client::login_start(&http, "owner.budget", PASSWORD)
            .reply
            .error_code(),
        "rate_limited"
    );
    // The engine signs its login start with this computer's key, which the ledger holds.
    let login = ok(&login(&profile, &server, "owner.budget", PASSWORD));
    assert_eq!(login["session"]["kind"], "full", "{login}");
}
