//! Fixtures shared by the fuzz targets and the seed corpus generator.
//!
//! The targets need keys, an account and a verified ledger to check hostile input against, and
//! the seeds must be real encodings made by the same code the app and the service run, so that
//! libFuzzer starts from deep inside each decoder instead of rediscovering the format. Everything
//! here is deterministic (fixed keys, [`FixedRng`]), so `tests/seeds.rs` regenerates the
//! committed corpus byte for byte.

use data_encoding::BASE64URL_NOPAD;
use ed25519_dalek::SigningKey;
use enigm_core::identity::DeviceSecrets;
use enigm_core::ledger::{
    AccountId, EntryKind, LedgerEntry, LedgerState, RevokeReason, encode_entries, verify_chain,
};
use enigm_core::recovery::RecoveryPhrase;
use enigm_core::request::{RequestAuth, SessionId, sign_request};
use enigm_core::sas::{
    EnrollmentContext, ExistingDeviceOffered, LedgerHeadClaim, NewDeviceCommitted,
};
use enigm_core::sync_copy::SignedSyncKey;
use enigm_core::sync_key::SyncKey;
use rand_core::{CryptoRng, RngCore};

/// The account every fixture belongs to.
pub const ACCOUNT: AccountId = [0xA5; 16];
/// The method, path and body the header target verifies signatures over.
pub const SIGNED_METHOD: &str = "POST";
/// See [`SIGNED_METHOD`].
pub const SIGNED_PATH: &str = "/v1/ledger";
/// See [`SIGNED_METHOD`].
pub const SIGNED_BODY: &[u8] = b"{\"entries\":[]}";
/// When the seed header was signed, and the "now" the header target checks against.
pub const SIGNED_AT: u64 = 1_796_601_600;
/// The sync-key epoch and key the sealed-item target decrypts with.
pub const ITEM_EPOCH: u64 = 3;
/// See [`ITEM_EPOCH`].
pub const ITEM_KEY: [u8; 32] = [0x17; 32];
/// The shared item name sealed items are bound to.
pub const ITEM_NAME: &str = "notes";

/// A deterministic "random" source (SplitMix64) for fixtures and for the SAS target's ephemeral
/// keys. It is predictable by design: never use it for a key that protects anything.
pub struct FixedRng(u64);

impl FixedRng {
    /// A stream determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
}

impl RngCore for FixedRng {
    fn next_u32(&mut self) -> u32 {
        // The high half of a 64-bit output.
        (self.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

// Only so the core's APIs accept it in fixtures and fuzz runs; see the type's warning.
impl CryptoRng for FixedRng {}

/// Device `n`, from a fixed seed.
pub fn device(n: u8) -> DeviceSecrets {
    DeviceSecrets::from_bytes(&[n; DeviceSecrets::ENCODED_LEN])
}

/// The account's recovery key.
pub fn recovery_key() -> SigningKey {
    SigningKey::from_bytes(&[0x81; 32])
}

/// A valid ledger: genesis with device 1, device 2 added by device 1, device 3 added by device 1
/// and then revoked by device 2. Every entry is checked to apply.
pub fn ledger() -> Vec<LedgerEntry> {
    let genesis = LedgerEntry::genesis(ACCOUNT, &device(1), &recovery_key());
    let mut entries = vec![genesis];
    let mut state = verify(&entries);
    for (kind, signers) in [
        (
            EntryKind::AddDevice {
                device: device(2).public(),
                approved_by: device(1).device_id(),
                replaces: None,
            },
            vec![device(1), device(2)],
        ),
        (
            EntryKind::AddDevice {
                device: device(3).public(),
                approved_by: device(1).device_id(),
                replaces: None,
            },
            vec![device(1), device(3)],
        ),
        (
            EntryKind::Revoke {
                device: device(3).device_id(),
                reason: RevokeReason::Lost,
            },
            vec![device(2)],
        ),
    ] {
        let mut entry = state.next_entry(kind);
        for signer in &signers {
            entry.sign_device(&ACCOUNT, signer);
        }
        if let Err(error) = state.apply(std::slice::from_ref(&entry)) {
            panic!("fixture entry {} does not apply: {error}", entry.seq);
        }
        entries.push(entry);
    }
    entries
}

/// The verified state of `entries`, which must verify (fixtures only).
pub fn verify(entries: &[LedgerEntry]) -> LedgerState {
    match verify_chain(entries) {
        Ok(state) => state,
        Err(error) => panic!("fixture ledger does not verify: {error}"),
    }
}

fn b64(bytes: &[u8]) -> String {
    BASE64URL_NOPAD.encode(bytes)
}

fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    match serde_json::to_vec(value) {
        Ok(bytes) => bytes,
        Err(error) => panic!("fixture does not serialize: {error}"),
    }
}

/// One seed file: the target's corpus directory, the file name, the bytes.
pub struct Seed {
    /// The fuzz target (its corpus directory under `fuzz/corpus/`).
    pub target: &'static str,
    /// The file name inside it.
    pub name: &'static str,
    /// The real encoding.
    pub bytes: Vec<u8>,
}

fn seed(target: &'static str, name: &'static str, bytes: Vec<u8>) -> Seed {
    Seed {
        target,
        name,
        bytes,
    }
}

/// The layout the SAS target reads (see `fuzz_targets/sas.rs`): a request-id length byte, the
/// request id, the peer's ephemeral key, a MAC, the head claim's seq and hash.
pub fn sas_input(
    request_id: &[u8],
    peer: &[u8; 32],
    mac: &[u8; 32],
    head: &LedgerHeadClaim,
) -> Vec<u8> {
    let mut out = Vec::new();
    out.push(u8::try_from(request_id.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(request_id);
    out.extend_from_slice(peer);
    out.extend_from_slice(mac);
    out.extend_from_slice(&head.seq.to_be_bytes());
    out.extend_from_slice(&head.hash);
    out
}

/// Every seed of every target, made by the real encoders.
pub fn seeds() -> Vec<Seed> {
    let mut rng = FixedRng::new(17);
    let entries = ledger();
    let state = verify(&entries);
    let head = state.head();
    let mut out = Vec::new();

    // The ledger: each entry alone, and the whole list and its prefixes as the service relays them.
    for (entry, name) in entries.iter().zip(["genesis", "add", "add-2", "revoke"]) {
        out.push(seed("ledger_entry", name, entry.encode()));
    }
    out.push(seed("ledger_chain", "full", encode_entries(&entries)));
    out.push(seed(
        "ledger_chain",
        "genesis",
        encode_entries(&entries[..1]),
    ));
    out.push(seed("ledger_chain", "tail", encode_entries(&entries[1..])));

    // The signed-request header.
    let session = SessionId::generate(&mut rng);
    let auth: RequestAuth = sign_request(
        &device(1),
        session,
        SIGNED_METHOD,
        SIGNED_PATH,
        SIGNED_BODY,
        SIGNED_AT,
        &mut rng,
    );
    out.push(seed("auth_header", "signed", auth.to_header().into_bytes()));

    // SAS: an honest run's messages, as each side receives them.
    let new = NewDeviceCommitted::start(&mut rng, device(2).public());
    let commitment = new.commitment();
    let context = match EnrollmentContext::new(ACCOUNT, b"enrollment-1", device(1).device_id()) {
        Ok(context) => context,
        Err(error) => panic!("fixture context: {error}"),
    };
    let existing =
        ExistingDeviceOffered::start(&mut rng, context.clone(), device(2).public(), commitment);
    let claim = LedgerHeadClaim {
        seq: head.seq,
        hash: head.hash.0,
    };
    let existing_key = existing.ephemeral_key();
    let (new_key, exchanged) = match new.receive_existing_key(context, existing_key) {
        Ok(pair) => pair,
        Err(error) => panic!("fixture SAS: {error}"),
    };
    let new_mac = exchanged.confirm().mac();
    out.push(seed(
        "sas",
        "existing-key",
        sas_input(
            b"enrollment-1",
            existing_key.as_bytes(),
            new_mac.as_bytes(),
            &claim,
        ),
    ));
    out.push(seed(
        "sas",
        "new-key",
        sas_input(
            b"enrollment-1",
            new_key.as_bytes(),
            new_mac.as_bytes(),
            &claim,
        ),
    ));

    // Sync-key copies and sealed items.
    let sync_key = SyncKey::from_bytes(ITEM_EPOCH, &ITEM_KEY);
    let copy = SignedSyncKey::seal(
        &sync_key,
        &mut rng,
        &ACCOUNT,
        &device(2).public(),
        &device(1),
        head,
    );
    out.push(seed("sync_copy", "signed-copy", copy.as_bytes().to_vec()));
    out.push(seed(
        "sync_copy",
        "sealed-copy",
        copy.sealed().as_bytes().to_vec(),
    ));
    let item = match sync_key.encrypt(&mut rng, &ACCOUNT, ITEM_NAME, b"shared notes") {
        Ok(item) => item,
        Err(error) => panic!("fixture item: {error}"),
    };
    out.push(seed("sync_copy", "sealed-item", item.as_bytes().to_vec()));

    // The recovery phrase, as typed: canonical, and in capitals with extra spaces.
    let phrase = RecoveryPhrase::from_entropy(&[0x3C; 32]);
    let words = phrase.words().to_string();
    out.push(seed(
        "recovery_phrase",
        "canonical",
        words.clone().into_bytes(),
    ));
    out.push(seed(
        "recovery_phrase",
        "typed",
        format!("  {}  ", words.to_uppercase().replace(' ', "   ")).into_bytes(),
    ));

    push_event_seeds(&mut out, &entries);
    request_body_seeds(&mut out, &entries, &copy, &item);
    out
}

fn push_event_seeds(out: &mut Vec<Seed>, entries: &[LedgerEntry]) {
    use enigm_proto::{EndReason, PushEvent, Stage};
    let last = &entries[entries.len() - 1];
    let events = [
        (
            "ledger-appended",
            PushEvent::LedgerAppended {
                seq: last.seq,
                hash: last.hash().to_hex(),
                kind: "revoke".to_owned(),
            },
        ),
        (
            "session-ended",
            PushEvent::SessionEnded {
                reason: EndReason::Revoked,
                entry: Some(b64(&last.encode())),
            },
        ),
        (
            "enrollment-updated",
            PushEvent::EnrollmentUpdated {
                id: "enrollment-1".to_owned(),
                state: Stage::Revealed,
            },
        ),
        ("sync-key-rotated", PushEvent::SyncKeyRotated { epoch: 4 }),
        ("wipe", PushEvent::Wipe {}),
    ];
    for (name, event) in events {
        out.push(seed("push_event", name, json(&event)));
    }
}

fn request_body_seeds(
    out: &mut Vec<Seed>,
    entries: &[LedgerEntry],
    copy: &SignedSyncKey,
    item: &enigm_core::sync_key::SealedItem,
) {
    use enigm_proto::{
        Append, ApproverMac, Cancel, CancelReason, Complete, CreateEnrollment, Ephemeral, Head,
        LoginFinish, LoginStart, NewDeviceMac, RecoveryFinish, RecoveryLedger, RecoveryStart,
        RegisterFinish, RegisterStart, RotateSyncKey, SealedCopy, SharedWrite,
    };
    let key32 = b64(&[0x42; 32]);
    let sig64 = b64(&[0x24; 64]);
    let id16 = b64(&[0x16; 16]);
    let device = device(2).public();
    let head = Head {
        seq: entries[entries.len() - 1].seq,
        hash: entries[entries.len() - 1].hash().to_hex(),
    };
    let bodies: Vec<(&'static str, Vec<u8>)> = vec![
        (
            "register-start",
            json(&RegisterStart {
                username: "alice".to_owned(),
                registration_request: key32.clone(),
            }),
        ),
        (
            "register-finish",
            json(&RegisterFinish {
                registration_id: b64(&[0x11; 56]),
                username: "alice".to_owned(),
                registration_upload: b64(&[0x22; 192]),
                genesis: b64(&entries[0].encode()),
            }),
        ),
        (
            "login-start",
            json(&LoginStart {
                username: "alice".to_owned(),
                credential_request: b64(&[0x33; 96]),
                device_key: Some(b64(device.signing.as_bytes())),
                device_timestamp: Some(SIGNED_AT),
                device_signature: Some(sig64.clone()),
            }),
        ),
        (
            "login-finish",
            json(&LoginFinish {
                login_id: id16.clone(),
                credential_finalization: sig64.clone(),
                device_key: b64(device.signing.as_bytes()),
                device_signature: sig64.clone(),
            }),
        ),
        (
            "create-enrollment",
            json(&CreateEnrollment {
                commitment: key32.clone(),
                signing_key: b64(device.signing.as_bytes()),
                agreement_key: b64(device.agreement.as_bytes()),
                platform: "Debian 13".to_owned(),
                replaces: Some(device.device_id().to_hex()),
            }),
        ),
        (
            "ephemeral",
            json(&Ephemeral {
                ephemeral: key32.clone(),
            }),
        ),
        ("empty", b"{}".to_vec()),
        (
            "cancel",
            json(&Cancel {
                reason: CancelReason::default(),
            }),
        ),
        (
            "approver-mac",
            json(&ApproverMac {
                mac: key32.clone(),
                head: head.clone(),
            }),
        ),
        (
            "new-device-mac",
            json(&NewDeviceMac {
                mac: key32.clone(),
                signature: sig64.clone(),
            }),
        ),
        (
            "complete",
            json(&Complete {
                sealed_key: b64(copy.as_bytes()),
            }),
        ),
        (
            "append",
            json(&Append {
                entries: entries[1..]
                    .iter()
                    .map(|entry| b64(&entry.encode()))
                    .collect(),
            }),
        ),
        (
            "recovery-start",
            json(&RecoveryStart {
                username: "alice".to_owned(),
                registration_request: key32.clone(),
            }),
        ),
        (
            "recovery-ledger",
            json(&RecoveryLedger {
                recovery_id: id16.clone(),
                recovery_signature: sig64.clone(),
            }),
        ),
        (
            "recovery-finish",
            json(&RecoveryFinish {
                recovery_id: id16,
                registration_upload: b64(&[0x22; 192]),
                entry: b64(&entries[1].encode()),
                recovery_signature: sig64.clone(),
                device_signature: sig64,
            }),
        ),
        (
            "rotate-sync-key",
            json(&RotateSyncKey {
                epoch: copy.epoch(),
                copies: vec![SealedCopy {
                    device_id: copy.recipient().to_hex(),
                    sealed: b64(copy.as_bytes()),
                }],
            }),
        ),
        (
            "shared-write",
            json(&SharedWrite {
                epoch: item.epoch(),
                ciphertext: b64(item.as_bytes()),
            }),
        ),
    ];
    for (name, bytes) in bodies {
        out.push(seed("request_bodies", name, bytes));
    }
}
