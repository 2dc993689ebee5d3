//! What verifying a signed request costs the service's CPU, next to the Ed25519 verification
//! inside it: `request/verify_signed` runs the very checks of every protected request
//! (`enigm_server::protocol::{parse_authorization, verify_signed_request}`: header parsing,
//! timestamp window, message framing with SHA-256 of the body, `verify_strict`), and
//! `request/ed25519_verify_strict` is the raw `ed25519-dalek` verification of the same
//! signature over the same message. Storage (session lookup, nonce insert) is not included:
//! `cargo xtask bench` measures whole requests against the real service separately.

// criterion_group! generates an undocumented `pub fn benches`; a bench whose fixture fails
// must stop loudly rather than measure nothing.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::VerifyingKey;
use enigm_core::identity::DeviceSecrets;
use enigm_core::request::{MAX_CLOCK_SKEW_SECS, SessionId, sign_request, signing_message};
use enigm_server::protocol::{parse_authorization, verify_signed_request};
use rand_core::OsRng;

const NOW: u64 = 1_750_000_000;
const METHOD: &str = "POST";
const PATH: &str = "/v1/ledger";

fn signed_requests(c: &mut Criterion) {
    let device = DeviceSecrets::generate(&mut OsRng);
    let device_key = *device.public().signing.as_bytes();
    let session = SessionId::generate(&mut OsRng);
    // A typical append body: one ledger entry of a few hundred bytes, base64url in JSON.
    let body = format!(r#"{{"entries":["{}"]}}"#, "A".repeat(400)).into_bytes();
    let header = sign_request(&device, session, METHOD, PATH, &body, NOW, &mut OsRng).to_header();

    let mut group = c.benchmark_group("request");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify_signed", |b| {
        b.iter(|| {
            let auth = parse_authorization(black_box(&header)).unwrap();
            verify_signed_request(
                &auth,
                black_box(&device_key),
                METHOD,
                PATH,
                black_box(&body),
                NOW,
                MAX_CLOCK_SKEW_SECS,
            )
            .unwrap();
        });
    });

    let auth = parse_authorization(&header).unwrap();
    let message = signing_message(&session, METHOD, PATH, &body, NOW, &auth.nonce);
    let key = VerifyingKey::from_bytes(&device_key).unwrap();
    group.bench_function("ed25519_verify_strict", |b| {
        b.iter(|| {
            key.verify_strict(black_box(&message), black_box(&auth.signature))
                .unwrap();
        });
    });
    group.finish();
}

criterion_group!(benches, signed_requests);
criterion_main!(benches);
