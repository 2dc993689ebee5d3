//! Device ledger, from the outside: golden encodings that must never drift, and property tests
//! that random valid histories verify (fully and incrementally, to the same state) while every
//! tampering a hostile service could try is refused with the precise error.

// Test helpers outside #[test] functions build fixtures and must fail loudly.
#![allow(clippy::unwrap_used)]

use ed25519_dalek::SigningKey;
use enigm_core::Error;
use enigm_core::identity::{DeviceId, DeviceSecrets, SigningPublicKey};
use enigm_core::ledger::{
    AccountId, EntryKind, LedgerEntry, LedgerState, RevokeReason, Signer, check_presented_head,
    decode_entries, encode_entries, verify_chain,
};
use enigm_core::lifecycle::DeviceState;
use proptest::prelude::*;

const ACCOUNT: AccountId = *b"enigm-golden-acc";
const GOLDEN: &str = include_str!("vectors/ledger_golden.json");
const GOLDEN_DATED: &str = include_str!("vectors/ledger_golden_dated.json");

/// The dated golden history's first time; entry `seq` is dated a minute later per entry.
const DATED_FROM: u64 = 1_796_000_000;

fn device(n: u8) -> DeviceSecrets {
    DeviceSecrets::from_bytes(&[n; 64])
}

fn raw_key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

/// Signs the next entry of `state` with devices and raw role keys, applies it and records it.
fn push(
    state: &mut LedgerState,
    entries: &mut Vec<LedgerEntry>,
    kind: EntryKind,
    devices: &[&DeviceSecrets],
    roles: &[(Signer, &SigningKey)],
) {
    push_dated(state, entries, kind, devices, roles, None);
}

/// [`push`], the entry dated `signed_at` when given.
fn push_dated(
    state: &mut LedgerState,
    entries: &mut Vec<LedgerEntry>,
    kind: EntryKind,
    devices: &[&DeviceSecrets],
    roles: &[(Signer, &SigningKey)],
    signed_at: Option<u64>,
) {
    let mut entry = state.next_entry(kind);
    entry.signed_at = signed_at;
    for secrets in devices {
        entry.sign_device(&ACCOUNT, secrets);
    }
    for (signer, key) in roles {
        entry.sign_with(&ACCOUNT, *signer, key);
    }
    state.apply(std::slice::from_ref(&entry)).unwrap();
    entries.push(entry);
}

/// One entry of every kind, from fixed seeds: the golden history; `dated`, every entry carries
/// its signer's time (encoding version 2).
fn golden_history(dated: bool) -> Vec<LedgerEntry> {
    let time = |seq: u64| dated.then_some(DATED_FROM + 60 * seq);
    let push = |state: &mut LedgerState,
                entries: &mut Vec<LedgerEntry>,
                kind: EntryKind,
                devices: &[&DeviceSecrets],
                roles: &[(Signer, &SigningKey)]| {
        let at = time(state.head().seq + 1);
        push_dated(state, entries, kind, devices, roles, at);
    };
    let (d1, d2, d3, d4) = (device(1), device(2), device(3), device(4));
    let (recovery, new_recovery, org) = (raw_key(0x71), raw_key(0x72), raw_key(0x73));
    let genesis = LedgerEntry::dated_genesis(ACCOUNT, &d1, &recovery, time(0));
    let mut state = verify_chain(std::slice::from_ref(&genesis)).unwrap();
    let mut entries = vec![genesis];
    let e = &mut entries;
    let s = &mut state;
    let add = |device: &DeviceSecrets, by: &DeviceSecrets, replaces: Option<DeviceId>| {
        EntryKind::AddDevice {
            device: device.public(),
            approved_by: by.device_id(),
            replaces,
        }
    };
    push(s, e, add(&d2, &d1, None), &[&d1, &d2], &[]);
    push(
        s,
        e,
        EntryKind::Suspend {
            device: d2.device_id(),
        },
        &[&d1],
        &[],
    );
    push(
        s,
        e,
        EntryKind::Resume {
            device: d2.device_id(),
        },
        &[&d1],
        &[],
    );
    push(s, e, add(&d3, &d2, Some(d2.device_id())), &[&d2, &d3], &[]);
    push(
        s,
        e,
        EntryKind::Retire {
            device: d2.device_id(),
        },
        &[&d1],
        &[],
    );
    push(
        s,
        e,
        EntryKind::JoinOrganization {
            org_pub: SigningPublicKey::from(&org),
            managed_mode: true,
            remote_wipe_allowed: true,
        },
        &[&d1],
        &[(Signer::Organization, &org)],
    );
    push(s, e, add(&d4, &d1, None), &[&d1, &d4], &[]);
    push(
        s,
        e,
        EntryKind::Review {
            device: d4.device_id(),
            approve: true,
        },
        &[],
        &[(Signer::Organization, &org)],
    );
    push(
        s,
        e,
        EntryKind::Revoke {
            device: d4.device_id(),
            reason: RevokeReason::Stolen,
        },
        &[],
        &[(Signer::Organization, &org)],
    );
    push(s, e, EntryKind::LeaveOrganization, &[&d3], &[]);
    push(
        s,
        e,
        EntryKind::RotateRecovery {
            new_recovery_pub: SigningPublicKey::from(&new_recovery),
        },
        &[&d3],
        &[(Signer::NewRecovery, &new_recovery)],
    );
    let d5 = device(5);
    push(
        s,
        e,
        EntryKind::Recover {
            new_device: d5.public(),
            revoke: vec![d1.device_id(), d3.device_id()],
        },
        &[&d5],
        &[(Signer::Recovery, &new_recovery)],
    );
    entries
}

fn kind_name(kind: &EntryKind) -> &'static str {
    match kind {
        EntryKind::Genesis { .. } => "Genesis",
        EntryKind::AddDevice { .. } => "AddDevice",
        EntryKind::Suspend { .. } => "Suspend",
        EntryKind::Resume { .. } => "Resume",
        EntryKind::Revoke { .. } => "Revoke",
        EntryKind::Retire { .. } => "Retire",
        EntryKind::Review { .. } => "Review",
        EntryKind::Recover { .. } => "Recover",
        EntryKind::RotateRecovery { .. } => "RotateRecovery",
        EntryKind::JoinOrganization { .. } => "JoinOrganization",
        EntryKind::LeaveOrganization => "LeaveOrganization",
    }
}

fn golden_json(entries: &[LedgerEntry], version: &str) -> serde_json::Value {
    let state = verify_chain(entries).unwrap();
    serde_json::json!({
        "description": format!("enigm device ledger {version} golden vectors: device n = DeviceSecrets::from_bytes([n; 64]); recovery = SigningKey([0x71; 32]), new recovery = [0x72; 32], organization = [0x73; 32]; hash = SHA-256(encoding); signatures cover \"enigm/ledger/v1\" || account_id || unsigned encoding"),
        "account_id": hex::encode(ACCOUNT),
        "entries": entries.iter().map(|entry| {
            let mut vector = serde_json::json!({
            "seq": entry.seq,
            "kind": kind_name(&entry.kind),
            "encoding": hex::encode(entry.encode()),
            "unsigned": hex::encode(entry.unsigned_bytes()),
            "hash": entry.hash().to_hex(),
        });
            if let Some(signed_at) = entry.signed_at {
                vector["signed_at"] = signed_at.into();
            }
            vector
        }).collect::<Vec<_>>(),
        "head": { "seq": state.head().seq, "hash": state.head().hash.to_hex() },
    })
}

#[test]
fn golden_vectors_do_not_drift() {
    check_golden(&golden_history(false), "v1", GOLDEN, "ledger_golden.json");
}

/// Entries dated by their signer (encoding version 2) have vectors of their own.
#[test]
fn dated_golden_vectors_do_not_drift() {
    let entries = golden_history(true);
    assert!(entries.iter().all(|entry| entry.unsigned_bytes()[0] == 2));
    check_golden(
        &entries,
        "v2 (dated)",
        GOLDEN_DATED,
        "ledger_golden_dated.json",
    );
}

/// An account made before entries carried a time goes on with dated entries: the undated
/// ones keep their bytes and verify, and the chain verifies through both.
#[test]
fn an_undated_history_goes_on_with_dated_entries() {
    let mut entries = golden_history(false);
    let mut state = verify_chain(&entries).unwrap();
    let approver = (1..=5)
        .map(device)
        .find(|secrets| {
            state
                .device(&secrets.device_id())
                .is_some_and(|record| record.state == DeviceState::Active)
        })
        .unwrap();
    let newcomer = device(6);
    let kind = EntryKind::AddDevice {
        device: newcomer.public(),
        approved_by: approver.device_id(),
        replaces: None,
    };
    let signed_at = Some(DATED_FROM);
    push_dated(
        &mut state,
        &mut entries,
        kind,
        &[&approver, &newcomer],
        &[],
        signed_at,
    );
    let decoded = decode_entries(&encode_entries(&entries)).unwrap();
    assert_eq!(decoded, entries);
    assert_eq!(decoded.last().unwrap().signed_at, signed_at);
    assert_eq!(verify_chain(&decoded).unwrap().head(), state.head());
    // The time is signed: changing it voids the signatures.
    let mut forged = entries.clone();
    forged.last_mut().unwrap().signed_at = Some(DATED_FROM - 86_400);
    assert!(verify_chain(&forged).is_err());
}

/// Fails unless `entries` encode to the vectors in `file` (`golden`, its text); with
/// `ENIGM_WRITE_GOLDEN` set, rewrites the file instead.
fn check_golden(entries: &[LedgerEntry], version: &str, golden: &str, file: &str) {
    let actual = golden_json(entries, version);
    if std::env::var_os("ENIGM_WRITE_GOLDEN").is_some() {
        let path = format!("{}/tests/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
        std::fs::write(path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
        return;
    }
    let expected: serde_json::Value = serde_json::from_str(golden).unwrap();
    assert_eq!(
        actual, expected,
        "ledger encoding drifted from the golden vectors"
    );
    // Every kind is covered, and every golden encoding decodes to an entry that re-encodes
    // byte for byte.
    let mut kinds: Vec<&str> = entries.iter().map(|entry| kind_name(&entry.kind)).collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(kinds.len(), 11);
    for (entry, golden) in entries.iter().zip(expected["entries"].as_array().unwrap()) {
        let bytes = hex::decode(golden["encoding"].as_str().unwrap()).unwrap();
        let decoded = LedgerEntry::decode(&bytes).unwrap();
        assert_eq!(&decoded, entry);
        assert_eq!(decoded.encode(), bytes);
    }
    assert_eq!(decode_entries(&encode_entries(entries)).unwrap(), entries);
}

// --- property tests ------------------------------------------------------------------------

/// A random operation, interpreted against the current state so that it is always legal.
#[derive(Clone, Debug)]
enum Op {
    Add { approver: usize },
    Replace { target: usize },
    Suspend { target: usize },
    Resume { target: usize },
    Revoke { target: usize },
    Retire { target: usize },
    Recover { revoke_mask: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => any::<usize>().prop_map(|approver| Op::Add { approver }),
        1 => any::<usize>().prop_map(|target| Op::Replace { target }),
        2 => any::<usize>().prop_map(|target| Op::Suspend { target }),
        2 => any::<usize>().prop_map(|target| Op::Resume { target }),
        1 => any::<usize>().prop_map(|target| Op::Revoke { target }),
        1 => any::<usize>().prop_map(|target| Op::Retire { target }),
        1 => any::<u8>().prop_map(|revoke_mask| Op::Recover { revoke_mask }),
    ]
}

struct Generated {
    entries: Vec<LedgerEntry>,
    state: LedgerState,
    secrets: Vec<DeviceSecrets>,
}

fn pick(state: &LedgerState, want: DeviceState, index: usize) -> Option<DeviceId> {
    let matching: Vec<&DeviceId> = state
        .devices()
        .filter(|(_, record)| record.state == want)
        .map(|(id, _)| id)
        .collect();
    (!matching.is_empty()).then(|| *matching[index % matching.len()])
}

fn generate(ops: &[Op]) -> Generated {
    let recovery = raw_key(0x71);
    let mut secrets = vec![device(1)];
    let genesis = LedgerEntry::genesis(ACCOUNT, &secrets[0], &recovery);
    let mut state = verify_chain(std::slice::from_ref(&genesis)).unwrap();
    let mut entries = vec![genesis];
    let secret_of = |secrets: &[DeviceSecrets], id: DeviceId| {
        secrets.iter().position(|s| s.device_id() == id).unwrap()
    };
    for op in ops {
        let next = u8::try_from(secrets.len() + 1).unwrap();
        match op {
            Op::Add { approver } | Op::Replace { target: approver } => {
                let Some(by) = pick(&state, DeviceState::Active, *approver) else {
                    continue;
                };
                let replaces = matches!(op, Op::Replace { .. }).then_some(by);
                let new = device(next);
                let kind = EntryKind::AddDevice {
                    device: new.public(),
                    approved_by: by,
                    replaces,
                };
                let by = secret_of(&secrets, by);
                let signers = [&secrets[by], &new];
                push(&mut state, &mut entries, kind, &signers, &[]);
                secrets.push(new);
            }
            Op::Suspend { target }
            | Op::Resume { target }
            | Op::Revoke { target }
            | Op::Retire { target } => {
                let (want, make): (DeviceState, fn(DeviceId) -> EntryKind) = match op {
                    Op::Suspend { .. } => {
                        (DeviceState::Active, |device| EntryKind::Suspend { device })
                    }
                    Op::Resume { .. } => (DeviceState::Suspended, |device| EntryKind::Resume {
                        device,
                    }),
                    Op::Revoke { .. } => (DeviceState::Suspended, |device| EntryKind::Revoke {
                        device,
                        reason: RevokeReason::Lost,
                    }),
                    Op::Retire { .. }
                    | Op::Add { .. }
                    | Op::Replace { .. }
                    | Op::Recover { .. } => {
                        (DeviceState::Revoked, |device| EntryKind::Retire { device })
                    }
                };
                let Some(id) = pick(&state, want, *target) else {
                    continue;
                };
                let Some(by) = pick(&state, DeviceState::Active, *target) else {
                    continue;
                };
                let by = secret_of(&secrets, by);
                push(&mut state, &mut entries, make(id), &[&secrets[by]], &[]);
            }
            Op::Recover { revoke_mask } => {
                let revoke: Vec<DeviceId> = state
                    .devices()
                    .filter(|(_, record)| !record.state.is_terminal())
                    .map(|(id, _)| *id)
                    .enumerate()
                    .filter(|(i, _)| revoke_mask >> (i % 8) & 1 == 1)
                    .map(|(_, id)| id)
                    .collect();
                let new = device(next);
                let kind = EntryKind::Recover {
                    new_device: new.public(),
                    revoke,
                };
                push(
                    &mut state,
                    &mut entries,
                    kind,
                    &[&new],
                    &[(Signer::Recovery, &recovery)],
                );
                secrets.push(new);
            }
        }
    }
    Generated {
        entries,
        state,
        secrets,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Valid histories verify fully, incrementally from any split, and through the wire form,
    /// always to the same state.
    #[test]
    fn valid_histories_verify_fully_and_incrementally(ops in prop::collection::vec(op(), 0..40), split in any::<usize>()) {
        let generated = generate(&ops);
        let entries = &generated.entries;
        prop_assert_eq!(&verify_chain(entries).unwrap(), &generated.state);
        let split = 1 + split % entries.len();
        let mut state = verify_chain(&entries[..split]).unwrap();
        state.apply(&entries[split..]).unwrap();
        prop_assert_eq!(&state, &generated.state);
        let wire = decode_entries(&encode_entries(entries)).unwrap();
        prop_assert_eq!(&verify_chain(&wire).unwrap(), &generated.state);
    }

    /// Any single byte flip in any encoded entry is refused (by the decoder or the verifier);
    /// a flip inside a signature is reported as a bad signature on that very entry.
    #[test]
    fn any_byte_flip_is_refused(ops in prop::collection::vec(op(), 1..20), which in any::<usize>(), at in any::<usize>(), bit in 0u8..8) {
        let generated = generate(&ops);
        let mut entries = generated.entries.clone();
        let index = which % entries.len();
        let mut bytes = entries[index].encode();
        let at = at % bytes.len();
        bytes[at] ^= 1 << bit;
        let signature_start = entries[index].unsigned_bytes().len() + 1;
        let in_signature = entries[index].signatures.iter().enumerate().any(|(i, s)| {
            let signer_len = match s.signer { Signer::Device(_) => 17, Signer::Recovery | Signer::Organization | Signer::NewRecovery => 1 };
            let start = signature_start + entries[index].signatures[..i].iter().map(|s| match s.signer { Signer::Device(_) => 81, Signer::Recovery | Signer::Organization | Signer::NewRecovery => 65 }).sum::<usize>() + signer_len;
            (start..start + 64).contains(&at)
        });
        match LedgerEntry::decode(&bytes) {
            Err(_) => prop_assert!(!in_signature),
            Ok(decoded) => {
                entries[index] = decoded;
                let result = verify_chain(&entries);
                prop_assert!(result.is_err(), "flip at {} of entry {} accepted", at, index);
                if in_signature {
                    prop_assert_eq!(result, Err(Error::LedgerBadSignature { seq: index as u64 }));
                }
            }
        }
    }

    /// Dropping or reordering entries, or hiding a revocation, is refused precisely.
    #[test]
    fn dropped_reordered_and_hidden_entries_are_refused(ops in prop::collection::vec(op(), 2..30), which in any::<usize>()) {
        let generated = generate(&ops);
        let entries = &generated.entries;
        prop_assume!(entries.len() >= 3);
        let index = 1 + which % (entries.len() - 2);
        let mut dropped = entries.clone();
        dropped.remove(index);
        prop_assert_eq!(verify_chain(&dropped), Err(Error::LedgerWrongSeq { expected: index as u64, found: index as u64 + 1 }));
        let mut swapped = entries.clone();
        swapped.swap(index, index + 1);
        prop_assert_eq!(verify_chain(&swapped), Err(Error::LedgerWrongSeq { expected: index as u64, found: index as u64 + 1 }));
        // A client pinned at the end never accepts a history with the tail cut off.
        let pinned = generated.state.head();
        let cut = &entries[..entries.len() - 1];
        prop_assert_eq!(check_presented_head(&pinned, cut), Err(Error::LedgerRollback { pinned: pinned.seq, presented: pinned.seq - 1 }));
        // Hiding a revocation: the entries after it no longer chain.
        // If it was the last entry, the shorter history is a rollback of the pinned head.
        if let Some(revoke) = entries.iter().position(|e| matches!(e.kind, EntryKind::Revoke { .. })) {
            let mut hidden = entries.clone();
            hidden.remove(revoke);
            if revoke + 1 == entries.len() {
                let rolled_back = matches!(check_presented_head(&pinned, &hidden), Err(Error::LedgerRollback { .. }));
                prop_assert!(rolled_back);
            } else {
                prop_assert_eq!(verify_chain(&hidden), Err(Error::LedgerWrongSeq { expected: revoke as u64, found: revoke as u64 + 1 }));
            }
        }
    }

    /// Devices that are suspended, revoked, replaced or unknown cannot approve an enrollment.
    #[test]
    fn only_active_devices_approve(ops in prop::collection::vec(op(), 0..30), which in any::<usize>()) {
        let generated = generate(&ops);
        let state = &generated.state;
        let newcomer = device(250);
        for secrets in generated.secrets.iter().chain([&device(251)]) {
            let mut entry = state.next_entry(EntryKind::AddDevice {
                device: newcomer.public(),
                approved_by: secrets.device_id(),
                replaces: None,
            });
            entry.sign_device(&ACCOUNT, secrets);
            entry.sign_device(&ACCOUNT, &newcomer);
            let seq = entry.seq;
            let expected = match state.device(&secrets.device_id()).map(|record| record.state) {
                None => Err(Error::LedgerUnknownSigner { seq }),
                Some(DeviceState::Active) => Ok(()),
                Some(other) => Err(Error::LedgerSignerNotActive { seq, state: other }),
            };
            let mut copy = state.clone();
            prop_assert_eq!(copy.apply(&[entry]), expected);
            if copy != *state {
                prop_assert_eq!(copy.device(&newcomer.device_id()).map(|r| r.state), Some(DeviceState::Active));
            }
        }
        let _ = which;
    }

    /// The decoder never panics and only accepts what re-encodes to the same bytes.
    #[test]
    fn decoder_is_total_and_canonical(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(entry) = LedgerEntry::decode(&bytes) {
            prop_assert_eq!(entry.encode(), bytes.clone());
        }
        if let Ok(entries) = decode_entries(&bytes) {
            prop_assert_eq!(encode_entries(&entries), bytes);
        }
    }
}
