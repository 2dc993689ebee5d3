//! Account recovery through the real `enigm` binary against the real service, with profiles in
//! the real OS keychain (DESIGN §8, §16): a new device recovers with the phrase and revokes the
//! lost one, which hears it live and loses its keys; the old password stops working. Mistakes in
//! the phrase, another account's phrase and an unknown username each get a precise error and
//! change nothing; a rotated phrase replaces the old one; `recovery check` works offline.

use crate::common;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use common::cli::{self, enigm, failed, json_lines, listed, login, ok, register, run, url};
use common::hostile::HostileService;
use common::{ServerProcess, contains, read_tree};
use enigm_core::recovery::RecoveryPhrase;
use enigm_store::{Keychain, Store};
use serde_json::Value;

/// Bound on waiting for a live update.
const WAIT: Duration = Duration::from_secs(10);
const USERNAME: &str = "Rita.Recovers";
const PASSWORD: &str = "the first password 123";
const NEW_PASSWORD: &str = "a new password after recovery 456";

/// Registers `username` on `profile`: (recovery phrase, device id).
fn sign_up(profile: &Path, server: &ServerProcess, username: &str) -> (String, String) {
    let registered = ok(&register(profile, server, username, PASSWORD));
    (
        registered["recovery_phrase"].as_str().unwrap().to_owned(),
        registered["device_id"].as_str().unwrap().to_owned(),
    )
}

/// `account recover` on `profile` with `phrase` and the new password, revoking `lost`.
fn recover(
    profile: &Path,
    server: &ServerProcess,
    username: &str,
    phrase: &str,
    lost: &[&str],
) -> Output {
    recover_via(profile, &url(server), username, phrase, lost)
}

/// [`recover`] through the service at `server_url` (a proxy that keeps the replies).
fn recover_via(
    profile: &Path,
    server_url: &str,
    username: &str,
    phrase: &str,
    lost: &[&str],
) -> Output {
    let mut args = vec!["account", "recover", "--username", username, "--stdin"];
    for device in lost {
        args.extend(["--lost", device]);
    }
    run(
        Some(profile),
        Some(server_url),
        &args,
        &format!("{phrase}\n{NEW_PASSWORD}\n"),
    )
}

/// Every sync-key epoch whose key a reply body hands over: the `epoch` of each object carrying
/// a sealed copy (`sealed`), and the epoch in each sealed copy's own header (its bytes 1..9),
/// wherever they sit in the JSON. Items sealed under a key (`ciphertext`) do not count: they
/// are not the key.
fn key_epochs_handed_over(body: &[u8]) -> Vec<u64> {
    fn walk(value: &Value, found: &mut Vec<u64>) {
        match value {
            Value::Object(fields) => {
                if fields.contains_key("sealed") {
                    found.extend(fields.get("epoch").and_then(Value::as_u64));
                }
                if let Some(sealed) = fields.get("sealed").and_then(Value::as_str)
                    && let Ok(bytes) = data_encoding::BASE64URL_NOPAD.decode(sealed.as_bytes())
                    && let Some(header) = bytes.get(1..9)
                {
                    found.push(u64::from_be_bytes(header.try_into().unwrap()));
                }
                fields.values().for_each(|field| walk(field, found));
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        walk(&value, &mut found);
    }
    found
}

/// The account sync key of `epoch` in the profile's store, if it holds one.
fn held_key_at(profile: &Path, epoch: u64) -> Option<enigm_core::sync_key::SyncKey> {
    let keychain = Keychain::platform().unwrap();
    Store::open(profile, &keychain)
        .unwrap()
        .sync_key_at(epoch)
        .unwrap()
}

/// Whether the profile's store (its key in the real keychain) holds the device's private keys,
/// and the newest account sync key epoch it holds.
fn held_keys(profile: &Path) -> (bool, Option<u64>) {
    let keychain = Keychain::platform().unwrap();
    let store = Store::open(profile, &keychain).unwrap();
    (
        store.device_secrets().unwrap().is_some(),
        store.sync_key().unwrap().map(|key| key.epoch()),
    )
}

/// A running `enigm session watch --json` and its JSON lines.
struct Watch {
    child: Child,
    lines: Receiver<Value>,
}

impl Watch {
    fn start(profile: &Path, server: &ServerProcess) -> Self {
        let mut child = cli::command(Some(profile), Some(&url(server)), &["session", "watch"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines = json_lines(child.stdout.take().unwrap());
        Self { child, lines }
    }

    /// The next update other than connection news (`online`, `offline`, `devices`).
    fn next_news(&self) -> Value {
        loop {
            let update = match self.lines.recv_timeout(WAIT) {
                Ok(update) => update,
                Err(RecvTimeoutError::Timeout) => panic!("no update within {WAIT:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("the watch ended"),
            };
            assert!(update.get("error").is_none(), "{update}");
            if !matches!(
                update["event"].as_str(),
                Some("online" | "offline" | "devices")
            ) {
                return update;
            }
        }
    }

    /// Waits until the watch is connected and caught up.
    fn wait_connected(&self) {
        loop {
            let update = self.lines.recv_timeout(WAIT).unwrap();
            if update["event"] == "devices" {
                return;
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn recovery_on_a_new_device_revokes_the_lost_one_which_hears_it_and_loses_its_keys() {
    let (server, dir, [laptop, desktop]) = common::server_and_profiles(["laptop", "desktop"]);
    let (phrase, laptop_id) = sign_up(&laptop, &server, USERNAME);
    let watch = Watch::start(&laptop, &server);
    assert_eq!(watch.next_news()["state"], "active");
    watch.wait_connected();
    // Registration made sync-key epoch 1; the laptop holds it, and seals its label under it.
    let epoch1 = held_key_at(&laptop, 1).unwrap();
    ok(&enigm(
        &laptop,
        &server,
        &["device", "rename", &laptop_id, "--label", "Old laptop"],
        "",
    ));
    // The desktop talks to the service through a proxy that keeps every reply it received.
    let proxy = HostileService::start(server.addr);
    let desktop_cli = |args: &[&str]| run(Some(&desktop), Some(&proxy.url()), args, "");

    // The laptop is lost; on a new desktop the user types the phrase (upper case, extra spaces:
    // as people type) and marks the laptop lost by a prefix of its id.
    let typed = phrase.to_uppercase().replace(' ', "   ");
    let recovered = ok(&recover_via(
        &desktop,
        &proxy.url(),
        USERNAME,
        &typed,
        &[&laptop_id[..8]],
    ));
    let desktop_id = recovered["device_id"].as_str().unwrap().to_owned();
    assert_ne!(desktop_id, laptop_id);
    assert_eq!(recovered["verified"], true);
    assert_eq!(listed(&recovered, &laptop_id)["state"], "revoked");
    assert_eq!(listed(&recovered, &desktop_id)["state"], "active");

    // The desktop's own view, verified from the service: the laptop revoked, itself active, the
    // Recover entry as head; and its session is a full one.
    let list = ok(&desktop_cli(&["device", "list"]));
    assert_eq!(list["verified"], true);
    assert_eq!(list["head"]["seq"], 1);
    assert_eq!(list["head"], recovered["head"]);
    assert_eq!(listed(&list, &laptop_id)["state"], "revoked");
    let this = listed(&list, &desktop_id);
    assert_eq!(this["state"], "active");
    assert_eq!(this["this_device"], true);
    assert_eq!(this["origin"], "recovery");
    let status = ok(&desktop_cli(&["session", "status"]));
    assert_eq!(status["device_state"], "active");
    // It starts a new account sync key epoch (registration made epoch 1), sealed to the devices
    // still trusted, and holds no earlier one: epoch 1 is not in its store, and no reply it
    // received handed it over (no sealed copy of epoch 1, not the key itself). The laptop's
    // label, sealed under epoch 1, does reach it in `GET /v1/shared`, as ciphertext it cannot
    // open.
    assert_eq!(held_keys(&desktop), (true, Some(2)));
    assert_eq!(status["sync_epoch"], 2);
    assert!(
        held_key_at(&desktop, 1).is_none(),
        "the desktop holds epoch 1"
    );
    let replies = proxy.replies();
    assert!(
        replies
            .iter()
            .any(|(_, path, _)| path.starts_with("/v1/recovery")),
        "the proxy saw the recovery"
    );
    let key1 = epoch1.to_bytes();
    for (method, path, body) in &replies {
        let epochs = key_epochs_handed_over(body);
        assert!(
            !epochs.contains(&1),
            "{method} {path} handed over epoch 1: {epochs:?}"
        );
        for needle in [
            hex::encode(*key1),
            data_encoding::BASE64URL_NOPAD.encode(&*key1),
        ] {
            assert!(
                !contains(body, needle.as_bytes()),
                "{method} {path} carries the epoch-1 key"
            );
        }
        assert!(
            !contains(body, &*key1),
            "{method} {path} carries the epoch-1 key"
        );
    }

    // The laptop's watch says a recovery happened, then that this device is revoked, and ends.
    assert_eq!(watch.next_news()["event"], "recovery_started");
    let ended = watch.next_news();
    assert_eq!(
        (&ended["event"], &ended["state"]),
        (&Value::from("state"), &Value::from("recovering_elsewhere"))
    );
    let revoked = watch.next_news();
    assert_eq!(revoked["state"], "revoked", "{revoked}");
    let mut watch = watch;
    assert!(watch.child.wait().unwrap().success());

    // Its keys are gone and its next command says why.
    assert_eq!(held_keys(&laptop), (false, None));
    let (code, _) = failed(&enigm(&laptop, &server, &["device", "list"], ""));
    assert_eq!(code, "device_revoked");

    // The old password no longer signs in (from a new device); the new one does.
    let other = dir.path().join("other");
    assert_eq!(
        failed(&login(&other, &server, USERNAME, PASSWORD)).0,
        "wrong_password"
    );
    let session = ok(&login(&other, &server, USERNAME, NEW_PASSWORD));
    assert_eq!(session["session"]["kind"], "enrollment_restricted");

    // The phrase and the new password are in no profile file and no service log.
    let logs = server.stderr();
    let files = read_tree(dir.path());
    for secret in [phrase.as_str(), NEW_PASSWORD, USERNAME] {
        assert!(!logs.contains(secret), "in the service's logs");
        assert!(!contains(&files, secret.as_bytes()), "in a profile");
    }
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn phrase_mistakes_another_accounts_phrase_and_unknown_names_change_nothing() {
    let (server, dir, [laptop, desktop]) = common::server_and_profiles(["laptop", "desktop"]);
    let (phrase, laptop_id) = sign_up(&laptop, &server, USERNAME);
    let (other_phrase, _) = sign_up(&dir.path().join("other"), &server, "Someone.Else");
    let before = ok(&enigm(&laptop, &server, &["device", "list"], ""));

    // Mistakes in the words are caught offline, each with its own code; a misspelt word gets
    // the closest list word, and no typed word is repeated.
    let mut words = vec!["abandon"; 23];
    words.push("art");
    words[2] = "abandn";
    let (code, message) = failed(&recover(&desktop, &server, USERNAME, &words.join(" "), &[]));
    assert_eq!(code, "phrase_unknown_word");
    assert!(
        message.contains("word 3") && message.contains("\"abandon\""),
        "{message}"
    );
    assert!(!message.contains("abandn"), "{message}");
    let (code, _) = failed(&recover(
        &desktop,
        &server,
        USERNAME,
        &["abandon"; 24].join(" "),
        &[],
    ));
    assert_eq!(code, "phrase_checksum");
    let short: Vec<&str> = phrase.split(' ').take(12).collect();
    let (code, message) = failed(&recover(&desktop, &server, USERNAME, &short.join(" "), &[]));
    assert_eq!(code, "phrase_word_count");
    assert!(message.contains("12 words"), "{message}");

    // Valid words, but another account's phrase; the right phrase with a name nobody has: the
    // service refuses both alike.
    let (code, message) = failed(&recover(&desktop, &server, USERNAME, &other_phrase, &[]));
    assert_eq!(code, "recovery_refused");
    let (unknown, _) = failed(&recover(&desktop, &server, "nobody.here", &phrase, &[]));
    assert_eq!(unknown, "recovery_refused");
    // A lost device that is not the account's is refused before anything is signed.
    let (code, _) = failed(&recover(
        &desktop,
        &server,
        USERNAME,
        &phrase,
        &["ffffffff"],
    ));
    assert_eq!(code, "unknown_device");
    assert!(!message.contains(&other_phrase[..20]), "{message}");

    // Nothing changed: the desktop has no account, the laptop's ledger and password stand.
    let (code, _) = failed(&enigm(&desktop, &server, &["device", "list"], ""));
    assert_eq!(code, "no_account");
    let after = ok(&enigm(&laptop, &server, &["device", "list"], ""));
    assert_eq!(after["head"], before["head"]);
    assert_eq!(listed(&after, &laptop_id)["state"], "active");
    assert_eq!(
        ok(&login(&laptop, &server, USERNAME, PASSWORD))["session"]["kind"],
        "full"
    );
    let third = dir.path().join("third");
    assert_eq!(
        failed(&login(&third, &server, USERNAME, NEW_PASSWORD)).0,
        "wrong_password"
    );
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn a_rotated_phrase_replaces_the_old_one() {
    let (server, dir, [laptop, desktop]) = common::server_and_profiles(["laptop", "desktop"]);
    let (old_phrase, laptop_id) = sign_up(&laptop, &server, USERNAME);

    let rotated = ok(&enigm(&laptop, &server, &["recovery", "rotate"], ""));
    let new_phrase = rotated["recovery_phrase"].as_str().unwrap().to_owned();
    assert_ne!(new_phrase, old_phrase);
    RecoveryPhrase::parse(&new_phrase).unwrap();
    let list = ok(&enigm(&laptop, &server, &["device", "list"], ""));
    assert_eq!(list["head"]["seq"], 1);

    let (code, _) = failed(&recover(&desktop, &server, USERNAME, &old_phrase, &[]));
    assert_eq!(code, "recovery_refused");
    let mut watch = Watch::start(&laptop, &server);
    assert_eq!(watch.next_news()["state"], "active");
    watch.wait_connected();
    let recovered = ok(&recover(&desktop, &server, USERNAME, &new_phrase, &[]));
    assert_eq!(listed(&recovered, &laptop_id)["state"], "active");
    assert_eq!(recovered["head"]["seq"], 2);

    // The laptop was not marked lost: its watch says the account was recovered elsewhere and
    // ends there (it keeps its keys); it signs in again with the new password and sees both
    // devices.
    assert_eq!(watch.next_news()["event"], "recovery_started");
    assert_eq!(watch.next_news()["state"], "recovering_elsewhere");
    assert!(watch.child.wait().unwrap().success());
    assert!(
        watch.lines.recv_timeout(WAIT).is_err(),
        "news after the end"
    );
    assert!(held_keys(&laptop).0);
    let (code, _) = failed(&enigm(&laptop, &server, &["device", "list"], ""));
    assert_eq!(code, "signed_out");
    assert_eq!(
        failed(&login(&laptop, &server, USERNAME, PASSWORD)).0,
        "wrong_password"
    );
    assert_eq!(
        ok(&login(&laptop, &server, USERNAME, NEW_PASSWORD))["session"]["kind"],
        "full"
    );
    let list = ok(&enigm(&laptop, &server, &["device", "list"], ""));
    assert_eq!(list["head"], recovered["head"]);
    assert_eq!(list["devices"].as_array().unwrap().len(), 2);

    // Another recovery while the laptop is not listening: when it starts watching, it learns
    // that its session ended with a recovery, not merely that it expired.
    ok(&recover(
        &dir.path().join("tablet"),
        &server,
        USERNAME,
        &new_phrase,
        &[],
    ));
    let mut watch = Watch::start(&laptop, &server);
    assert_eq!(watch.next_news()["state"], "active");
    assert_eq!(watch.next_news()["state"], "recovering_elsewhere");
    assert!(watch.child.wait().unwrap().success());
    let (code, _) = failed(&enigm(&laptop, &server, &["device", "list"], ""));
    assert_eq!(code, "signed_out");
}

/// `enigm recovery check --stdin` as a person runs it (no `--json`), `words` on stdin.
fn check_without_json(words: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_enigm"))
        .args(["recovery", "check", "--stdin"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{words}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn recovery_check_is_offline_and_says_ok_or_one_precise_line() {
    let phrase = RecoveryPhrase::generate(&mut rand_core::OsRng);
    let words = phrase.words();
    // No profile and no service: the check never opens or contacts either.
    let checked = ok(&run(
        None,
        None,
        &["recovery", "check", "--stdin"],
        &format!("{}\n", words.as_str()),
    ));
    assert_eq!(
        checked,
        serde_json::json!({ "ok": true, "words": 24, "checksum": "valid" })
    );
    let plain = check_without_json(words.as_str());
    assert!(plain.status.success());
    assert_eq!(
        String::from_utf8(plain.stdout).unwrap(),
        "ok: 24 words, checksum valid\n"
    );

    let mut typo: Vec<String> = words.split(' ').map(str::to_owned).collect();
    typo[9] = "qqqqzz".to_owned();
    for (input, expected) in [
        (typo.join(" "), "phrase_unknown_word"),
        (["abandon"; 24].join(" "), "phrase_checksum"),
        (
            words.split(' ').take(23).collect::<Vec<_>>().join(" "),
            "phrase_word_count",
        ),
        (String::new(), "phrase_word_count"),
    ] {
        let output = run(
            None,
            None,
            &["recovery", "check", "--stdin"],
            &format!("{input}\n"),
        );
        let (code, message) = failed(&output);
        assert_eq!(code, expected);
        assert!(
            !message.contains("qqqqzz") && !message.contains(&words[..12]),
            "{message}"
        );
        assert!(output.stderr.is_empty());
    }

    // Without --json: one line on stderr, naming the word.
    let output = check_without_json(&typo.join(" "));
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr,
        "enigm: word 10 of the recovery phrase is not in the word list\n"
    );
}
