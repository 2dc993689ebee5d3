//! Enrollment by approval through the real `enigm` binary: two CLI processes (the new device B
//! running `device enroll`, the existing device A running `device requests` and `device
//! approve|reject`) against one real `enigm server`, with profiles in the real OS keychain.
//! Every way it can end (active, rejected, expired, cancelled by either side, a code mismatch
//! reported on either side, an interrupt) and kill -9 of either side at each step, followed by
//! a retry: the ledger always verifies, no device is ever half-added, and a retried enrollment
//! completes with the new device holding the account sync key. A replacement (`device enroll
//! --replaces`) supersedes the device it names, which then hears it was replaced, and moves the
//! sync key on without it; naming a device that cannot be replaced, or a relay that shows
//! another one, changes nothing.

use crate::common;

use std::path::{Path, PathBuf};

use common::ServerProcess;
use common::cli::{
    enigm, failed, failed_code, listed, listed_this_device, login, ok, register, url,
};
use common::hostile::{HostileService, Tamper};
use common::running::{self, PASSWORD, Running};
use enigm_store::{Keychain, Store};
use serde_json::Value;

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
    ok(&register(&a, server, &username, PASSWORD));
    assert_eq!(
        sync_key(&a).map(|(epoch, _)| epoch),
        Some(1),
        "registration starts sync epoch 1; the service's log:\n{}",
        server.stderr()
    );
    Pair {
        _dir: dir,
        a,
        b,
        username,
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
    let b_id = listed_this_device(&on_b, true)["device_id"].clone();
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

/// Runs one whole enrollment of B approved by A from a fresh `device enroll`.
fn enroll_and_approve(server: &ServerProcess, pair: &Pair) {
    running::enroll_and_approve(server, &pair.a, &pair.b, &pair.username);
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn both_devices_see_the_same_code_and_the_new_device_becomes_active_with_the_sync_key() {
    let server = ServerProcess::start();
    let pair = sign_up(&server, "happy");

    let mut b = Running::enroll(&pair.b, &server, &pair.username);
    let id = b.request_id();
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
    running::confirm_and_finish(a, b);

    assert_enrolled(&server, &pair);
    let on_b = devices(&server, &pair.b);
    let b_view = listed_this_device(&on_b, true).clone();
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
    assert_eq!(failed_code(&again), "already_registered");
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn rejected_and_expired_requests_add_nothing() {
    let server = ServerProcess::start();
    let pair = sign_up(&server, "endings");

    // Rejected by A.
    let mut b = Running::enroll(&pair.b, &server, &pair.username);
    let id = b.request_id();
    let rejected = ok(&enigm(&pair.a, &server, &["device", "reject", &id], ""));
    assert_eq!(rejected["state"], "rejected");
    b.expect_event("rejected");
    b.succeeded();
    assert_not_added(&server, &pair);

    // Expired: nobody answers; B hears it without a sleep in the test.
    let short = ServerProcess::start_with(&["--enrollment-ttl-secs", "2"]);
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
    assert_eq!(failed_code(&missing), "not_found");
    let malformed = enigm(&pair.a, &server, &["device", "approve", "../ledger"], "");
    assert_eq!(failed_code(&malformed), "unknown_enrollment");
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn a_mismatch_on_either_side_or_an_interrupt_cancels_and_a_retry_completes() {
    let server = ServerProcess::start();
    let pair = sign_up(&server, "mismatch");

    // B's user sees a different code: both sides say so, not just "cancelled".
    let (_, mut b, mut a) = codes_shown(&server, &pair, &url(&server));
    a.answer("yes");
    b.answer("no");
    b.expect_event("codes_differ");
    a.expect_event("codes_differ");
    a.succeeded();
    b.succeeded();
    assert_not_added(&server, &pair);

    // A's user sees a different code.
    let (_, mut b, mut a) = codes_shown(&server, &pair, &url(&server));
    a.answer("no");
    a.expect_event("codes_differ");
    b.answer("yes");
    b.expect_event("codes_differ");
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
    let stale = b.request_id();
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
    let id = b.request_id();
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
    let (_, b, mut a) = codes_shown(&server, &pair2, &url(&server));
    b.kill9();
    a.answer("yes");
    let mut b = Running::enroll(&pair2.b, &server, &pair2.username);
    let retry = b.request_id();
    a.expect_event("cancelled");
    a.succeeded();
    assert_not_added(&server, &pair2);
    let mut a = Running::approve(&pair2.a, &server, &retry);
    a.expect_event("sas");
    b.expect_event("sas");
    running::confirm_and_finish(a, b);
    assert_enrolled(&server, &pair2);

    // Right after B confirmed (its MAC may or may not be out): the restart either resumes the
    // hand-over or starts over; either way one AddDevice, and B ends active with the key.
    let pair3 = sign_up(&server, "killb3");
    let (_, mut b, mut a) = codes_shown(&server, &pair3, &url(&server));
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
            running::confirm_and_finish(a, b);
        }
        other => panic!("unexpected {other}"),
    }
    assert_enrolled(&server, &pair3);
}

/// B asks, A (against the service at `approver_url`) approves, both users say yes: the steps
/// after which the approver is killed. Returns the request id, B and A, still running.
fn both_confirm(
    server: &ServerProcess,
    pair: &Pair,
    approver_url: &str,
) -> (String, Running, Running) {
    let (id, mut b, mut a) = codes_shown(server, pair, approver_url);
    b.answer("yes");
    a.answer("yes");
    (id, b, a)
}

/// B asks and A (against the service at `approver_url`) starts approving, until both show the
/// code: the steps every kill -9 case starts with. Returns the request id, B and A.
fn codes_shown(
    server: &ServerProcess,
    pair: &Pair,
    approver_url: &str,
) -> (String, Running, Running) {
    let mut b = Running::enroll(&pair.b, server, &pair.username);
    let id = b.request_id();
    let mut a = Running::start_at(&pair.a, approver_url, &["device", "approve", &id], "");
    a.expect_event("sas");
    b.expect_event("sas");
    (id, b, a)
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn kill_9_of_the_approving_device_at_each_step_then_a_retry_completes() {
    let server = ServerProcess::start();

    // After accept and reveal: A's SAS secrets are gone; approving again cancels, B hears it,
    // and a new enrollment completes.
    let pair1 = sign_up(&server, "killa1");
    let (id, mut b, a) = codes_shown(&server, &pair1, &url(&server));
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
    let (id, mut b, a) = both_confirm(&server, &pair2, &url(&server));
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

/// The device id `profile` lists as its own.
fn own_id(server: &ServerProcess, profile: &Path) -> String {
    listed_this_device(&devices(server, profile), true)["device_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A refused `device enroll --replaces DEVICE` on `profile`: its error code; nothing was asked.
fn refused_replacement(
    server: &ServerProcess,
    pair: &Pair,
    profile: &Path,
    device: &str,
) -> String {
    let before = devices(server, &pair.a);
    let output = enigm(
        profile,
        server,
        &[
            "device",
            "enroll",
            "--username",
            &pair.username,
            "--password-stdin",
            "--replaces",
            device,
        ],
        &format!("{PASSWORD}\n"),
    );
    let (code, message) = failed(&output);
    assert!(!message.contains(PASSWORD));
    assert!(requests(server, &pair.a).is_empty(), "a request was posted");
    assert_eq!(devices(server, &pair.a), before, "the ledger changed");
    assert_eq!(sync_key(profile), None);
    code
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn a_replacement_supersedes_the_named_device_and_rotates_the_sync_key() {
    let server = ServerProcess::start();
    let pair = sign_up(&server, "replace");
    enroll_and_approve(&server, &pair);
    let a_id = own_id(&server, &pair.a);
    let b_id = own_id(&server, &pair.b);
    ok(&enigm(
        &pair.a,
        &server,
        &["device", "rename", &b_id, "--label", "Old phone"],
        "",
    ));
    let (epoch_before, _) = sync_key(&pair.a).unwrap();
    let (_home, [c]) = common::profiles(["c"]);

    // C asks to replace B by a prefix of its id; A sees which device, with its label.
    let mut on_c = Running::replace(&c, &url(&server), &pair.username, &b_id[..8]);
    let id = on_c.request_id();
    let listed_requests = requests(&server, &pair.a);
    assert_eq!(listed_requests.len(), 1);
    assert_eq!(listed_requests[0]["replaces"]["device_id"], b_id.as_str());
    assert_eq!(listed_requests[0]["replaces"]["label"], "Old phone");
    // B itself may not approve its successor (it would lose its session before handing the
    // sync key over); the request stays open for A.
    let refused = enigm(&pair.b, &server, &["device", "approve", &id], "yes\n");
    assert_eq!(failed_code(&refused), "enrollment_self_replacement");
    assert_eq!(requests(&server, &pair.a)[0]["state"], "requested");
    let mut on_a = Running::approve(&pair.a, &server, &id);
    let code_a = on_a.expect_event("sas");
    let code_c = on_c.expect_event("sas");
    assert_eq!(code_a["code"], code_c["code"]);
    assert_eq!(code_a["replaces"], b_id.as_str());
    assert_eq!(code_a["replaces_label"], "Old phone");
    running::confirm_and_finish(on_a, on_c);

    // A and C agree: B replaced by C, C active, at the same verified head.
    let c_id = own_id(&server, &c);
    let list_a = devices(&server, &pair.a);
    let list_c = devices(&server, &c);
    assert_eq!(list_a["head"], list_c["head"]);
    assert_eq!(list_a["head"]["seq"], 2, "{list_a}");
    for list in [&list_a, &list_c] {
        assert_eq!(list["verified"], true);
        assert_eq!(listed(list, &a_id)["state"], "active");
        assert_eq!(listed(list, &b_id)["state"], "replaced");
        assert_eq!(listed(list, &b_id)["replaced_by"], c_id.as_str());
        assert_eq!(listed(list, &c_id)["state"], "active");
        assert_eq!(listed(list, &c_id)["replaces"], b_id.as_str());
    }
    // A new sync epoch that C holds and B never got.
    let (epoch, key) = sync_key(&pair.a).unwrap();
    assert!(epoch > epoch_before, "{epoch} after {epoch_before}");
    assert_eq!(sync_key(&c), Some((epoch, key)));
    assert_eq!(sync_key(&pair.b).unwrap().0, epoch_before);

    // B's first request hears it was replaced, and by which device (from the entry it
    // verified with A's key), not merely that its session is gone; its keys are erased.
    let (code, message) = failed(&enigm(&pair.b, &server, &["device", "list"], ""));
    assert_eq!(code, "device_replaced");
    let c_fingerprint = enigm_core::identity::DeviceId::from_hex(&c_id)
        .unwrap()
        .fingerprint();
    assert!(
        message.starts_with(&format!(
            "this device was replaced by device {c_fingerprint}, approved by "
        )),
        "{message}"
    );
    assert_eq!(sync_key(&pair.b), None);
    let login = login(&pair.b, &server, &pair.username, PASSWORD);
    let (code, message) = failed(&login);
    assert_eq!(code, "device_replaced");
    assert!(message.contains("replaced"), "{message}");
    assert_eq!(sync_key(&pair.b), None);
    assert_eq!(
        failed_code(&enigm(&pair.b, &server, &["device", "list"], "")),
        "device_replaced"
    );
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn a_replacement_of_an_unknown_or_removed_device_or_a_tampered_one_changes_nothing() {
    let server = ServerProcess::start();
    let pair = sign_up(&server, "noreplace");
    enroll_and_approve(&server, &pair);
    let a_id = own_id(&server, &pair.a);
    let b_id = own_id(&server, &pair.b);
    let (_home, [c]) = common::profiles(["c"]);

    // No device has this id, and a too short prefix names none.
    let unknown = if a_id.starts_with("ffff") || b_id.starts_with("ffff") {
        "0000"
    } else {
        "ffff"
    };
    assert_eq!(
        refused_replacement(&server, &pair, &c, unknown),
        "unknown_device"
    );
    assert_eq!(
        refused_replacement(&server, &pair, &c, &b_id[..3]),
        "unknown_device"
    );

    // A relay that shows the request as replacing A instead of B: C refuses to countersign,
    // the request is cancelled on both sides, and nothing changes.
    let before = devices(&server, &pair.a);
    let hostile = HostileService::start(server.addr);
    hostile.set(Tamper::EnrollmentReplaces {
        replaces: a_id.clone(),
    });
    let mut on_c = Running::replace(&c, &hostile.url(), &pair.username, &b_id);
    let id = on_c.request_id();
    let mut on_a = Running::approve(&pair.a, &server, &id);
    assert_eq!(on_a.expect_event("sas")["replaces"], b_id.as_str());
    on_c.expect_event("sas");
    on_a.answer("yes");
    on_c.answer("yes");
    let refused = on_c.next();
    assert_eq!(
        refused["error"]["code"], "enrollment_replaces_mismatch",
        "{refused}"
    );
    on_a.expect_event("cancelled");
    on_a.succeeded();
    assert!(requests(&server, &pair.a).is_empty());
    assert_eq!(devices(&server, &pair.a), before);
    assert_eq!(sync_key(&c), None);

    // Once B is revoked it cannot be replaced.
    ok(&enigm(&pair.a, &server, &["device", "revoke", &b_id], ""));
    assert_eq!(
        refused_replacement(&server, &pair, &c, &b_id),
        "not_replaceable"
    );
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn a_device_the_dead_approver_left_without_the_sync_key_gets_it_at_the_next_sync() {
    let server = ServerProcess::start_with(&["--enrollment-ttl-secs", "30"]);
    let pair = sign_up(&server, "heal");
    let (epoch_before, _) = sync_key(&pair.a).unwrap();

    // A is killed after appending B, while its hand-over has not reached the service.
    let hostile = HostileService::start(server.addr);
    let (held, hand_over) = std::sync::mpsc::channel();
    hostile.set(Tamper::HoldCompletions { held });
    let (_, mut b, a) = both_confirm(&server, &pair, &hostile.url());
    hand_over.recv_timeout(running::WAIT).unwrap();
    a.kill9();

    // The request expires without the hand-over: B is in the account without the key.
    let ended = b.next();
    assert_eq!(
        ended["error"]["code"], "enrolled_without_sync_key",
        "{ended}"
    );
    assert_eq!(sync_key(&pair.b), None);

    // A's next sync sees an active device without a copy and moves to a new epoch that has
    // one; B's next sync takes it. Both list the same two active devices.
    devices(&server, &pair.a);
    assert_eq!(sync_key(&pair.a).unwrap().0, epoch_before + 1);
    assert_enrolled(&server, &pair);
}
