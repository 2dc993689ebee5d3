//! Ledger verification cost on a 10,000-entry history: full `verify_chain` (batch fast path),
//! incremental `apply` of one entry onto the state at 9,999, and, for reference, raw
//! `ed25519_dalek::verify_batch` and per-signature `verify_strict` over the same signatures.

// criterion_group! generates an undocumented `pub fn benches`; a bench whose fixture fails
// must stop loudly rather than measure nothing.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use enigm_core::identity::{DeviceSecrets, SigningPublicKey};
use enigm_core::ledger::{AccountId, EntryKind, LedgerEntry, verify_chain};

const ACCOUNT: AccountId = [0x42; 16];
const ENTRIES: usize = 10_000;

/// Genesis, one AddDevice, then alternating Suspend/Resume of the second device, signed by the
/// first. Built without verifying (verification is what is measured).
fn history() -> Vec<LedgerEntry> {
    let first = DeviceSecrets::from_bytes(&[1; 64]);
    let second = DeviceSecrets::from_bytes(&[2; 64]);
    let recovery = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let mut entries = vec![LedgerEntry::genesis(ACCOUNT, &first, &recovery)];
    let mut add = LedgerEntry::new(
        1,
        entries[0].hash(),
        EntryKind::AddDevice {
            device: second.public(),
            approved_by: first.device_id(),
            replaces: None,
        },
    );
    add.sign_device(&ACCOUNT, &first);
    add.sign_device(&ACCOUNT, &second);
    entries.push(add);
    let target = second.device_id();
    for seq in 2..ENTRIES as u64 {
        let kind = if seq % 2 == 0 {
            EntryKind::Suspend { device: target }
        } else {
            EntryKind::Resume { device: target }
        };
        let prev = entries.last().map(LedgerEntry::hash).unwrap_or_default();
        let mut entry = LedgerEntry::new(seq, prev, kind);
        entry.sign_device(&ACCOUNT, &first);
        entries.push(entry);
    }
    entries
}

fn bench_ledger(c: &mut Criterion) {
    let entries = history();
    let before_last = verify_chain(&entries[..ENTRIES - 1]).unwrap();
    let last = entries[ENTRIES - 1].clone();

    // The same signatures as flat arrays, with the keys the ledger resolves them to.
    let first = DeviceSecrets::from_bytes(&[1; 64]).public();
    let second = DeviceSecrets::from_bytes(&[2; 64]).public();
    let recovery = SigningPublicKey::from(&ed25519_dalek::SigningKey::from_bytes(&[3; 32]));
    let mut messages = Vec::new();
    let mut signatures = Vec::new();
    let mut keys = Vec::new();
    for entry in &entries {
        let message = entry.signing_message(&ACCOUNT);
        for signature in &entry.signatures {
            let key = match signature.signer {
                enigm_core::ledger::Signer::Device(id) if id == second.device_id() => {
                    second.signing
                }
                enigm_core::ledger::Signer::Device(_) => first.signing,
                enigm_core::ledger::Signer::Recovery
                | enigm_core::ledger::Signer::Organization
                | enigm_core::ledger::Signer::NewRecovery => recovery,
            };
            messages.push(message.clone());
            signatures.push(signature.signature);
            keys.push(key);
        }
    }
    let message_refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let verifying: Vec<_> = keys.iter().map(|key| *key.verifying_key()).collect();

    let mut group = c.benchmark_group("ledger_10k");
    group.sample_size(10);
    group.bench_function("verify_chain", |b| {
        b.iter(|| verify_chain(black_box(&entries)).unwrap())
    });
    group.bench_function("apply_one_at_9999", |b| {
        b.iter_batched(
            || before_last.clone(),
            |mut state| state.apply(black_box(std::slice::from_ref(&last))).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("raw_verify_batch", |b| {
        b.iter(|| {
            ed25519_dalek::verify_batch(
                black_box(&message_refs),
                black_box(&signatures),
                black_box(&verifying),
            )
            .unwrap()
        })
    });
    group.bench_function("raw_verify_strict_each", |b| {
        b.iter(|| {
            for ((message, signature), key) in messages.iter().zip(&signatures).zip(&keys) {
                key.verify(black_box(message), black_box(signature))
                    .unwrap();
            }
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = bench_ledger
}
criterion_main!(benches);
