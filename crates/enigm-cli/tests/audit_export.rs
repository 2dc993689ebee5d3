//! Signed audit exports end to end (DESIGN §9, §13): the real `enigm server` exports the
//! caller's own chain signed with its audit key, `enigm audit verify` accepts it offline, and
//! names precisely what broke when a record is altered or dropped, the signature is damaged,
//! or another key signed it. The export carries pseudonyms only. A user saves their own with
//! `enigm audit export` (through the engine, real keychain) and it verifies the same way.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::enigm::{self, b64, login};
use common::push::add_device;
use common::{Http, ServerProcess};
use ed25519_dalek::SigningKey;
use rand_core::OsRng;
use serde_json::Value;

const USERNAME: &str = "audit.exporter";
const PASSWORD: &str = "correct horse battery staple 42";

/// Runs `enigm audit verify` with `args`.
fn verify(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_enigm"))
        .args(["audit", "verify"])
        .args(args)
        .output()
        .unwrap()
}

/// Stdout or stderr as text.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts `verify` failed with exactly one line on stderr, and returns it.
fn one_failure_line(output: &Output) -> String {
    assert!(!output.status.success(), "expected failure: {output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr.trim_end().to_owned()
}

/// Writes `value` to `dir/name` and returns the path as text.
fn write(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn exports_verify_offline_and_tampering_is_named() {
    let server = ServerProcess::start();
    let http = Http::new(server.addr);
    let (account, session) = enigm::signed_up(&http, USERNAME, PASSWORD);
    let laptop = &account.device;
    let phone = add_device(&http, &account, &session);
    login(&http, USERNAME, PASSWORD, &phone).unwrap();

    // The key is public; the export needs a signed request.
    let key_reply = http.get("/v1/audit/key");
    assert_eq!(key_reply.status, 200);
    let key_json = key_reply.json();
    let key = key_json["key"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 64);
    assert_eq!(http.get("/v1/audit/export").status, 401);
    let reply = enigm::send(&http, &session, laptop, "GET", "/v1/audit/export", b"");
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    let export = reply.json();
    let records = export["records"].as_array().unwrap().clone();
    // Registered, signed in, added the phone, the phone signed in: in order, from record 0.
    assert_eq!(records.len(), 4, "{export:#}");
    assert_eq!(records[0]["seq"], 0);
    assert_eq!(records[0]["action"], "account_registered");
    assert_eq!(export["service_key"], key);
    // The whole chain: its head is the last record.
    assert_eq!(export["complete"], true);
    assert_eq!(export["head"]["seq"], 3);

    // Pseudonyms only: no username, account id, device id or device key of this run.
    let raw = String::from_utf8(reply.body.clone()).unwrap();
    let mut forbidden = vec![
        USERNAME.to_owned(),
        hex::encode(account.account_id),
        b64(&account.account_id),
    ];
    for device in [laptop, &phone] {
        let public = *device.public().signing.as_bytes();
        forbidden.extend([
            hex::encode(device.device_id().as_bytes()),
            b64(device.device_id().as_bytes()),
            hex::encode(public),
            b64(&public),
        ]);
    }
    for needle in &forbidden {
        assert!(!raw.contains(needle.as_str()), "export carries {needle}");
    }
    assert!(raw.contains("acct_"));

    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "export.json", &export);
    let key_file = write(dir.path(), "key.json", &key_json);

    // Intact: one line, exit 0; pinned by --key or --key-file; --json for scripts.
    let output = verify(&[&good, "--key", &key]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        text(&output.stdout),
        format!("ok: 4 records, chain intact, signed by {key}\n")
    );
    let output = verify(&[&good, "--key-file", &key_file]);
    assert!(output.status.success(), "{output:?}");
    let output = verify(&[&good]);
    assert!(
        text(&output.stdout).contains("key not pinned"),
        "{output:?}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_enigm"))
        .args(["--json", "audit", "verify", &good, "--key", &key])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["records"], 4);
    assert_eq!(summary["key_pinned"], true);

    // A record altered: the next one no longer links to it.
    let mut altered = export.clone();
    let at = altered["records"][1]["at"].as_u64().unwrap();
    altered["records"][1]["at"] = (at + 1).into();
    let path = write(dir.path(), "altered.json", &altered);
    assert_eq!(
        one_failure_line(&verify(&[&path, "--key", &key])),
        "enigm: record 2 does not link to record 1: record 1 was altered"
    );

    // A record dropped from the middle.
    let mut dropped = export.clone();
    dropped["records"].as_array_mut().unwrap().remove(1);
    let path = write(dir.path(), "dropped.json", &dropped);
    assert_eq!(
        one_failure_line(&verify(&[&path, "--key", &key])),
        "enigm: record 1 is missing or out of place: record 2 stands where it belongs"
    );

    // The last record altered: the signed head names another hash.
    let mut last = export.clone();
    last["records"][3]["outcome"] = "denied".into();
    let path = write(dir.path(), "last.json", &last);
    assert_eq!(
        one_failure_line(&verify(&[&path, "--key", &key])),
        "enigm: the records do not end where the export says the chain ended"
    );
    // Cut off at the end, or the head moved back to pass for whole: only the signature can
    // tell.
    let mut cut = export.clone();
    cut["records"].as_array_mut().unwrap().pop();
    let mut moved = cut.clone();
    moved["head"]["seq"] = 2.into();
    moved["head"]["hash"] = hex::encode(
        serde_json::from_value::<enigm_core::audit::AuditRecord>(cut["records"][2].clone())
            .unwrap()
            .hash(),
    )
    .into();
    // One byte of the signature flipped.
    let mut flipped = export.clone();
    let mut signature = flipped["signature"].as_str().unwrap().to_owned();
    let first = if signature.starts_with('0') { "1" } else { "0" };
    signature.replace_range(0..1, first);
    flipped["signature"] = signature.into();
    for (name, tampered) in [
        ("cut.json", cut),
        ("moved.json", moved),
        ("flip.json", flipped),
    ] {
        let path = write(dir.path(), name, &tampered);
        assert_eq!(
            one_failure_line(&verify(&[&path, "--key", &key])),
            "enigm: bad signature: the records, their count, the chain head or the export time \
             changed after signing",
            "{name}"
        );
    }

    // Signed by the service, but not by the key the verifier pinned.
    let other = hex::encode(SigningKey::generate(&mut OsRng).verifying_key().as_bytes());
    assert_eq!(
        one_failure_line(&verify(&[&good, "--key", &other])),
        format!("enigm: signed by {key}, not by the expected key {other}")
    );

    // Not an export at all, or a key that is not one.
    let path = dir.path().join("junk.json");
    std::fs::write(&path, b"{\"records\": 5}").unwrap();
    let line = one_failure_line(&verify(&[path.to_str().unwrap()]));
    assert!(line.contains("is not an audit export"), "{line}");
    let line = one_failure_line(&verify(&[&good, "--key", "abcd"]));
    assert_eq!(
        line,
        "enigm: the key must be an Ed25519 public key as 64 hex digits"
    );

    // The service logged no username.
    assert!(!server.stderr().contains(USERNAME));
}

#[test]
fn a_cut_export_is_reported_as_cut() {
    use enigm_core::audit::{AuditAction, AuditExport, AuditOutcome, AuditRecord, ChainHead};
    use enigm_core::pseudonym::{Audience, PseudonymKind, audience_key, pseudonym};

    let key = audience_key(&[3; 32], &Audience::ServiceLogs);
    let actor = pseudonym(&key, PseudonymKind::Account, &[1]);
    let mut records: Vec<AuditRecord> = Vec::new();
    for _ in 0..3 {
        let next = AuditRecord::next(
            records.last(),
            1_800_000_000,
            actor.clone(),
            AuditAction::LoginSucceeded,
            None,
            AuditOutcome::Success,
        );
        records.push(next);
    }
    let head = ChainHead {
        seq: 2,
        hash: records[2].hash(),
    };
    let signer = SigningKey::generate(&mut OsRng);
    let export = AuditExport::sign(records[..2].to_vec(), Some(head), 1, &signer);
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "cut.json",
        &serde_json::to_value(&export).unwrap(),
    );
    let key = hex::encode(signer.verifying_key().as_bytes());
    let output = verify(&[&path, "--key", &key]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        text(&output.stdout).trim_end(),
        format!(
            "ok: 2 records, chain intact as far as it goes, but CUT: the chain held 3 records \
             when exported, signed by {key}"
        )
    );
}

/// The position of the last digit of the `n`th (0-based) `"at": NUMBER` in `text`.
fn nth_at_last_digit(text: &str, n: usize) -> usize {
    let (start, _) = text.match_indices("\"at\": ").nth(n).unwrap();
    let digits = start + "\"at\": ".len();
    digits + text[digits..].find(|c: char| !c.is_ascii_digit()).unwrap() - 1
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn a_user_exports_their_own_trail_with_the_cli_and_verifies_it_offline() {
    use common::cli::{enigm, failed, ok, register};
    use common::running::{self, PASSWORD as RUNNING_PASSWORD};

    let (server, dir, [laptop, phone]) = common::server_and_profiles(["laptop", "phone"]);
    let username = format!("audit-{:08x}", rand_core::RngCore::next_u32(&mut OsRng));
    ok(&register(&laptop, &server, &username, RUNNING_PASSWORD));
    running::enroll_and_approve(&server, &laptop, &phone, &username);
    let phone_id = common::cli::store(&phone)
        .device_secrets()
        .unwrap()
        .unwrap()
        .device_id()
        .to_hex();
    ok(&enigm(
        &laptop,
        &server,
        &["device", "revoke", &phone_id, "--reason", "lost"],
        "",
    ));

    // To a file: one line says where and how many.
    let file = dir.path().join("my-activity.json");
    let file_text = file.to_str().unwrap();
    let saved = ok(&enigm(
        &laptop,
        &server,
        &["audit", "export", "--out", file_text],
        "",
    ));
    assert_eq!(saved["saved"], file_text);
    let written: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let records = written["records"].as_array().unwrap();
    assert_eq!(saved["records"], records.len());
    let actions: Vec<String> = records.iter().map(|r| r["action"].to_string()).collect();
    assert_eq!(actions[0], "\"account_registered\"");
    assert!(
        actions.iter().any(|a| a.contains("\"device_revoked\"")),
        "{actions:?}"
    );
    assert!(
        actions.iter().any(|a| a.contains("enrollment_approved")),
        "{actions:?}"
    );
    // To stdout: the export itself, the same chain.
    let output = enigm(&laptop, &server, &["audit", "export"], "");
    assert!(output.status.success(), "{output:?}");
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        printed["records"].as_array().unwrap()[..records.len()],
        records[..]
    );

    // Offline (the service is gone), pinned to the service's published key.
    let key = Http::new(server.addr).get("/v1/audit/key").json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    drop(server);
    let output = verify(&[file_text, "--key", &key]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        text(&output.stdout),
        format!(
            "ok: {} records, chain intact, signed by {key}\n",
            records.len()
        )
    );

    // One byte of record 1 changed (the last digit of its time): named precisely.
    let original = std::fs::read_to_string(&file).unwrap();
    let mut bytes = original.clone().into_bytes();
    let at = nth_at_last_digit(&original, 1);
    bytes[at] = if bytes[at] == b'9' {
        b'0'
    } else {
        bytes[at] + 1
    };
    let differing = bytes
        .iter()
        .zip(original.as_bytes())
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(differing, 1);
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, &bytes).unwrap();
    assert_eq!(
        one_failure_line(&verify(&[tampered.to_str().unwrap(), "--key", &key])),
        "enigm: record 2 does not link to record 1: record 1 was altered"
    );
    let (code, _) = failed(
        &Command::new(env!("CARGO_BIN_EXE_enigm"))
            .args(["--json", "audit", "verify", tampered.to_str().unwrap()])
            .output()
            .unwrap(),
    );
    assert_eq!(code, "broken_chain");
}
