//! Enrollment by approval through the real `enigm` binary: two CLI processes (the new device B
//! running `device enroll`, the existing device A running `device requests` and `device
//! approve|reject`) against one real `enigm server`, with profiles in the real OS keychain.
//! Every way it can end (active, rejected, expired, cancelled by either side, a code mismatch
//! reported on either side, an interrupt) and kill -9 of either side at each step, followed by
//! a retry: the ledger always verifies, no device is ever half-added, and a retried enrollment
//! completes with the new device holding the account sync key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use common::ServerProcess;
use common::cli::{enigm, ok, url};
use enigm_core::sync_key::SyncKey;
use enigm_store::{Keychain, Store};
use rand_core::OsRng;
use serde_json::Value;

const PASSWORD: &str = "correct horse battery staple 42";
/// Bound on waiting for one line from a running command (debug builds run OPAQUE slowly).
const WAIT: Duration = Duration::from_secs(60);

/// A long-running command whose JSON lines are read as they come.
struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Running {
    fn start(profile: &Path, server: &ServerProcess, args: &[&str], stdin: &str) -> Self {
        let mut child = common::cli::command(Some(profile), Some(&url(server)), args)
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).unwrap();
        input.flush().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            stdin: Some(input),
            lines,
        }
    }

    /// `device enroll` on B with the password on stdin.
    fn enroll(profile: &Path, server: &ServerProcess, username: &str) -> Self {
        Self::start(
            profile,
            server,
            &[
                "device",
                "enroll",
                "--username",
                username,
                "--password-stdin",
            ],
            &format!("{PASSWORD}\n"),
        )
    }

    /// `device approve ID` on A.
    fn approve(profile: &Path, server: &ServerProcess, id: &str) -> Self {
        Self::start(profile, server, &["device", "approve", id], "")
    }

    /// The next JSON line, within [`WAIT`].
    fn next(&mut self) -> Value {
        match self.lines.recv_timeout(WAIT) {
            Ok(line) => {
                serde_json::from_str(&line).unwrap_or_else(|_| panic!("not a JSON line: {line:?}"))
            }
            Err(RecvTimeoutError::Timeout) => panic!("no line within {WAIT:?}"),
            Err(RecvTimeoutError::Disconnected) => {
                let output = self.child.wait_with_output_now();
                panic!("the command ended without a line: {output}")
            }
        }
    }

    /// The next line, which must be `{"event": event}`.
    fn expect_event(&mut self, event: &str) -> Value {
        let line = self.next();
        assert_eq!(line["event"], event, "{line}");
        line
    }

    /// Answers the code question.
    fn answer(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{text}").unwrap();
        stdin.flush().unwrap();
    }

    /// Waits for a clean exit.
    fn succeeded(mut self) {
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status:?}");
    }

    /// kill -9.
    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGINT, as Ctrl-C.
    fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

trait DrainStderr {
    fn wait_with_output_now(&mut self) -> String;
}

impl DrainStderr for Child {
    fn wait_with_output_now(&mut self) -> String {
        let status = self.wait().unwrap();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.stderr.take() {
            std::io::Read::read_to_string(&mut pipe, &mut stderr).unwrap();
        }
        format!("{status:?}: {stderr}")
    }
}

/// Two profiles of one account: A registered (and holding a sync key), B empty.
struct Pair {
    _dir: tempfile::TempDir,
    a: PathBuf,
    b: PathBuf,
    username: String,
}

fn sign_up(server: &ServerProcess, name: &str) -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let username = format!("{name}.enroll");
    ok(&enigm(
        &a,
        server,
        &[
            "account",
            "register",
            "--username",
            &username,
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    ));
    seed_sync_key(&a);
    Pair {
        _dir: dir,
        a,
        b,
        username,
    }
}

/// Registration creates sync-key epoch 1 once the sync-key engine lands (branch `synckey`);
/// until then the test gives A what registration will.
fn seed_sync_key(profile: &Path) {
    let keychain = Keychain::platform().unwrap();
    let mut store = Store::open(profile, &keychain).unwrap();
    if store.sync_key().unwrap().is_none() {
        store
            .save_sync_key(&SyncKey::generate(&mut OsRng, 1))
            .unwrap();
    }
}

/// The newest sync key a profile holds: (epoch, bytes).
fn sync_key(profile: &Path) -> Option<(u64, [u8; 32])> {
    let keychain = Keychain::platform().unwrap();
    let store = Store::open(profile, &keychain).unwrap();
    store
        .sync_key()
        .unwrap()
        .map(|key| (key.epoch(), *key.to_bytes()))
}

/// `device requests` on A: the ids listed.
fn requests(server: &ServerProcess, a: &Path) -> Vec<Value> {
    ok(&enigm(a, server, &["device", "requests"], ""))["requests"]
        .as_array()
        .unwrap()
        .clone()
}

/// `device list` on `profile`.
fn devices(server: &ServerProcess, profile: &Path) -> Value {
    ok(&enigm(profile, server, &["device", "list"], ""))
}

/// Both sides list the same two active devices at the same verified head, B holds A's sync
/// key and has a full session.
fn assert_enrolled(server: &ServerProcess, pair: &Pair) {
    let on_a = devices(server, &pair.a);
    let on_b = devices(server, &pair.b);
    for list in [&on_a, &on_b] {
        assert_eq!(list["verified"], true);
        let all = list["devices"].as_array().unwrap();
        assert_eq!(all.len(), 2, "{list}");
        assert!(
            all.iter().all(|device| device["state"] == "active"),
            "{list}"
        );
    }
    assert_eq!(on_a["head"], on_b["head"]);
    assert_eq!(on_a["head"]["seq"], 1, "exactly one AddDevice: {on_a}");
    let b_id = on_b["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|device| device["this_device"] == true)
        .unwrap()["device_id"]
        .clone();
    assert_eq!(on_a["devices"][1]["device_id"], b_id);
    assert_eq!(
        on_a["devices"][1]["approved_by"],
        on_a["devices"][0]["device_id"]
    );
    let key = sync_key(&pair.a).unwrap();
    assert_eq!(sync_key(&pair.b), Some(key), "B holds the account sync key");
    let status = ok(&enigm(&pair.b, server, &["session", "status"], ""));
    assert_eq!(status["device_state"], "active");
    assert_eq!(status["session"]["kind"], "full");
}

/// Nothing was added: A alone, verified; B holds no sync key.
fn assert_not_added(server: &ServerProcess, pair: &Pair) {
    let on_a = devices(server, &pair.a);
    assert_eq!(on_a["verified"], true);
    assert_eq!(on_a["devices"].as_array().unwrap().len(), 1, "{on_a}");
    assert_eq!(sync_key(&pair.b), None);
}

/// Runs one whole enrollment from a fresh `device enroll`, both users saying yes.
fn enroll_and_approve(server: &ServerProcess, pair: &Pair) {
    let mut b = Running::enroll(&pair.b, server, &pair.username);
    let id = b.expect_event("request")["id"].as_str().unwrap().to_owned();
    let mut a = Running::approve(&pair.a, server, &id);
    let on_a = a.expect_event("sas");
    let on_b = b.expect_event("sas");
    assert_eq!(on_a, on_b);
    a.answer("yes");
    b.answer("yes");
    a.expect_event("active");
    b.expect_event("active");
    a.succeeded();
    b.succeeded();
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn both_devices_see_the_same_code_and_the_new_device_becomes_active_with_the_sync_key() {
    let server = ServerProcess::start();
    let pair = sign_up(&server, "happy");

    let mut b = Running::enroll(&pair.b, &server, &pair.username);
    let id = b.expect_event("request")["id"].as_str().unwrap().to_owned();
    let listed = requests(&server, &pair.a);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["platform"], std::env::consts::OS);
    assert_eq!(listed[0]["state"], "requested");
    let fingerprint = listed[0]["fingerprint"].as_str().unwrap().to_owned();
    assert!(listed[0]["created_at"].as_u64().unwrap() > 0);

    let mut a = Running::approve(&pair.a, &server, &id);
    let on_a = a.expect_event("sas");
    let on_b = b.expect_event("sas");
    let code = on_a["code"].as_str().unwrap();
    assert_eq!(code.len(), 7);
    assert!(
        code[..3]
            .bytes()
            .chain(code[4..].bytes())
            .all(|b| b.is_ascii_digit())
    );
    assert_eq!(&code[3..4], " ");
    assert_eq!(on_a["emoji"].as_array().unwrap().len(), 7);
    assert!(
        on_a["emoji"][0]["name"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    );
    assert_eq!(on_a, on_b, "both devices show the same code");
    a.answer("yes");
    b.answer("yes");
    a.expect_event("active");
    b.expect_event("active");
    a.succeeded();
    b.succeeded();

    assert_enrolled(&server, &pair);
    let on_b = devices(&server, &pair.b);
    let b_view = on_b["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|device| device["this_device"] == true)
        .unwrap()
        .clone();
    assert_eq!(b_view["fingerprint"], fingerprint.as_str());
    assert!(requests(&server, &pair.a).is_empty());
    // Enrolling again from an active device is refused with a precise error.
    let again = enigm(
        &pair.b,
        &server,
        &[
            "device",
            "enroll",
            "--username",
            &pair.username,
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(!again.status.success());
    let line: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(line["error"]["code"], "already_registered");
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn rejected_and_expired_requests_add_nothing() {
    let server = ServerProcess::start();
    let pair = sign_up(&server, "endings");

    // Rejected by A.
    let mut b = Running::enroll(&pair.b, &server, &pair.username);
    let id = b.expect_event("request")["id"].as_str().unwrap().to_owned();
    let rejected = ok(&enigm(&pair.a, &server, &["device", "reject", &id], ""));
    assert_eq!(rejected["state"], "rejected");
    b.expect_event("rejected");
    b.succeeded();
    assert_not_added(&server, &pair);

    // Expired: nobody answers; B hears it without a sleep in the test.
    let dir = tempfile::tempdir().unwrap();
    let short = ServerProcess::start_in(&dir.path().join("data"), &["--enrollment-ttl-secs", "2"]);
    let late = sign_up(&short, "expiry");
    let mut b = Running::enroll(&late.b, &short, &late.username);
    b.expect_event("request");
    b.expect_event("expired");
    b.succeeded();
    assert!(requests(&short, &late.a).is_empty());
    assert_not_added(&short, &late);

    // Approving a request that is not there.
    let missing = enigm(
        &pair.a,
        &server,
        &["device", "approve", &"ab".repeat(16)],
        "",
    );
    assert!(!missing.status.success());
    let line: Value = serde_json::from_slice(&missing.stdout).unwrap();
    assert_eq!(line["error"]["code"], "not_found");
    let malformed = enigm(&pair.a, &server, &["device", "approve", "../ledger"], "");
    let line: Value = serde_json::from_slice(&malformed.stdout).unwrap();
    assert_eq!(line["error"]["code"], "unknown_enrollment");
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn a_mismatch_on_either_side_or_an_interrupt_cancels_and_a_retry_completes() {
    let server = ServerProcess::start();
    let pair = sign_up(&server, "mismatch");

    // B's user sees a different code.
    let mut b = Running::enroll(&pair.b, &server, &pair.username);
    let id = b.expect_event("request")["id"].as_str().unwrap().to_owned();
    let mut a = Running::approve(&pair.a, &server, &id);
    a.expect_event("sas");
    b.expect_event("sas");
    a.answer("yes");
    b.answer("no");
    b.expect_event("cancelled");
    a.expect_event("cancelled");
    a.succeeded();
    b.succeeded();
    assert_not_added(&server, &pair);

    // A's user sees a different code.
    let mut b = Running::enroll(&pair.b, &server, &pair.username);
    let id = b.expect_event("request")["id"].as_str().unwrap().to_owned();
    let mut a = Running::approve(&pair.a, &server, &id);
    a.expect_event("sas");
    b.expect_event("sas");
    a.answer("no");
    a.expect_event("rejected");
    b.answer("yes");
    b.expect_event("cancelled");
    a.succeeded();
    b.succeeded();
    assert_not_added(&server, &pair);

    // B is interrupted while it waits: the request is cancelled on the relay.
    let mut b = Running::enroll(&pair.b, &server, &pair.username);
    b.expect_event("request");
    b.interrupt();
    b.expect_event("cancelled");
    b.succeeded();
    assert!(requests(&server, &pair.a).is_empty());
    assert_not_added(&server, &pair);

    enroll_and_approve(&server, &pair);
    assert_enrolled(&server, &pair);
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn kill_9_of_the_new_device_at_each_step_then_a_retry_completes() {
    let server = ServerProcess::start();

    // After the request: the restarted enroll cancels the stale request and asks again.
    let pair1 = sign_up(&server, "killb1");
    let mut b = Running::enroll(&pair1.b, &server, &pair1.username);
    let stale = b.expect_event("request")["id"].as_str().unwrap().to_owned();
    b.kill9();
    // The retry compares the codes elsewhere (--auto-confirm): it asks nothing.
    let mut b = Running::start(
        &pair1.b,
        &server,
        &[
            "device",
            "enroll",
            "--username",
            &pair1.username,
            "--password-stdin",
            "--auto-confirm",
        ],
        &format!("{PASSWORD}\n"),
    );
    let id = b.expect_event("request")["id"].as_str().unwrap().to_owned();
    assert_ne!(id, stale);
    let listed = requests(&server, &pair1.a);
    assert_eq!(listed.len(), 1, "the stale request is gone: {listed:?}");
    let mut a = Running::approve(&pair1.a, &server, &id);
    assert_eq!(a.expect_event("sas"), b.expect_event("sas"));
    a.answer("yes");
    a.expect_event("active");
    b.expect_event("active");
    a.succeeded();
    b.succeeded();
    assert_enrolled(&server, &pair1);

    // After accept and reveal (the code is on screen), with A's MAC posted: the restart
    // cancels; A hears it; a new enrollment completes.
    let pair2 = sign_up(&server, "killb2");
    let mut b = Running::enroll(&pair2.b, &server, &pair2.username);
    let id = b.expect_event("request")["id"].as_str().unwrap().to_owned();
    let mut a = Running::approve(&pair2.a, &server, &id);
    a.expect_event("sas");
    b.expect_event("sas");
    b.kill9();
    a.answer("yes");
    let mut b = Running::enroll(&pair2.b, &server, &pair2.username);
    let retry = b.expect_event("request")["id"].as_str().unwrap().to_owned();
    a.expect_event("cancelled");
    a.succeeded();
    assert_not_added(&server, &pair2);
    let mut a = Running::approve(&pair2.a, &server, &retry);
    a.expect_event("sas");
    b.expect_event("sas");
    a.answer("yes");
    b.answer("yes");
    a.expect_event("active");
    b.expect_event("active");
    a.succeeded();
    b.succeeded();
    assert_enrolled(&server, &pair2);

    // Right after B confirmed (its MAC may or may not be out): the restart either resumes the
    // hand-over or starts over; either way one AddDevice, and B ends active with the key.
    let pair3 = sign_up(&server, "killb3");
    let mut b = Running::enroll(&pair3.b, &server, &pair3.username);
    let id = b.expect_event("request")["id"].as_str().unwrap().to_owned();
    let mut a = Running::approve(&pair3.a, &server, &id);
    a.expect_event("sas");
    b.expect_event("sas");
    a.answer("yes");
    b.answer("yes");
    b.kill9();
    let mut b = Running::enroll(&pair3.b, &server, &pair3.username);
    let first = b.next();
    match first["event"].as_str().unwrap() {
        "active" => {
            a.expect_event("active");
            a.succeeded();
            b.succeeded();
        }
        "request" => {
            a.expect_event("cancelled");
            a.succeeded();
            let retry = first["id"].as_str().unwrap().to_owned();
            let mut a = Running::approve(&pair3.a, &server, &retry);
            a.expect_event("sas");
            b.expect_event("sas");
            a.answer("yes");
            b.answer("yes");
            a.expect_event("active");
            b.expect_event("active");
            a.succeeded();
            b.succeeded();
        }
        other => panic!("unexpected {other}"),
    }
    assert_enrolled(&server, &pair3);
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn kill_9_of_the_approving_device_at_each_step_then_a_retry_completes() {
    let server = ServerProcess::start();

    // After accept and reveal: A's SAS secrets are gone; approving again cancels, B hears it,
    // and a new enrollment completes.
    let pair1 = sign_up(&server, "killa1");
    let mut b = Running::enroll(&pair1.b, &server, &pair1.username);
    let id = b.expect_event("request")["id"].as_str().unwrap().to_owned();
    let mut a = Running::approve(&pair1.a, &server, &id);
    a.expect_event("sas");
    b.expect_event("sas");
    a.kill9();
    b.answer("yes");
    let mut again = Running::approve(&pair1.a, &server, &id);
    again.expect_event("cancelled");
    again.succeeded();
    b.expect_event("cancelled");
    b.succeeded();
    assert_not_added(&server, &pair1);
    enroll_and_approve(&server, &pair1);
    assert_enrolled(&server, &pair1);

    // Right after A confirmed (its MAC, the append or the hand-over may or may not be out):
    // approving again either finishes the hand-over or cancels; never a half-added device.
    let pair2 = sign_up(&server, "killa2");
    let mut b = Running::enroll(&pair2.b, &server, &pair2.username);
    let id = b.expect_event("request")["id"].as_str().unwrap().to_owned();
    let mut a = Running::approve(&pair2.a, &server, &id);
    a.expect_event("sas");
    b.expect_event("sas");
    b.answer("yes");
    a.answer("yes");
    a.kill9();
    let mut again = Running::approve(&pair2.a, &server, &id);
    match again.next()["event"].as_str().unwrap() {
        "active" => {
            again.succeeded();
            b.expect_event("active");
            b.succeeded();
        }
        "cancelled" => {
            again.succeeded();
            b.expect_event("cancelled");
            b.succeeded();
            assert_not_added(&server, &pair2);
            enroll_and_approve(&server, &pair2);
        }
        other => panic!("unexpected {other}"),
    }
    assert_enrolled(&server, &pair2);
}
