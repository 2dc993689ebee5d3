//! SAS enrollment: a fixed vector cross-checked outside Rust, both roles end to end, and the
//! refusals (changed transcript, man in the middle, broken commitment, bad MACs, low-order keys).

use enigm_core::Error;
use enigm_core::identity::{DeviceId, DevicePublicKeys, DeviceSecrets, SigningPublicKey};
use enigm_core::sas::{
    Commitment, EnrollmentContext, ExistingDeviceConfirmed, ExistingDeviceOffered, LedgerHeadClaim,
    NewDeviceCommitted, NewDeviceConfirmed, SasMac, SasPublicKey, ShortCode,
};
use proptest::prelude::*;
use rand_core::{CryptoRng, OsRng, RngCore};

/// An "RNG" that hands out fixed bytes, so the ephemeral scalars are known to the vector.
struct FixedRng {
    bytes: Vec<u8>,
    at: usize,
}

impl FixedRng {
    fn new(bytes: Vec<u8>) -> Self {
        Self { bytes, at: 0 }
    }
}

impl RngCore for FixedRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for byte in dest {
            *byte = self.bytes.get(self.at).copied().unwrap_or(0);
            self.at += 1;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for FixedRng {}

fn seeded_device(signing: u8, agreement: u8) -> DeviceSecrets {
    let mut bytes = [signing; 64];
    bytes[32..].fill(agreement);
    DeviceSecrets::from_bytes(&bytes)
}

struct Run {
    new_code: ShortCode,
    existing_code: ShortCode,
    new_side: NewDeviceConfirmed,
    existing_side: ExistingDeviceConfirmed,
    revealed: SasPublicKey,
    offered: SasPublicKey,
    commitment: Commitment,
}

/// Runs both sides honestly up to (and including) the user's confirmation.
fn run(
    new_rng: &mut (impl RngCore + CryptoRng),
    existing_rng: &mut (impl RngCore + CryptoRng),
    new_device: DevicePublicKeys,
    context: EnrollmentContext,
) -> Result<Run, Error> {
    let committed = NewDeviceCommitted::start(new_rng, new_device);
    let commitment = committed.commitment();
    let offered =
        ExistingDeviceOffered::start(existing_rng, context.clone(), new_device, commitment);
    let offered_key = offered.ephemeral_key();
    let (revealed, new_exchanged) = committed.receive_existing_key(context, offered_key)?;
    let existing_exchanged = offered.receive_new_device_key(revealed)?;
    assert_eq!(new_exchanged.transcript(), existing_exchanged.transcript());
    Ok(Run {
        new_code: new_exchanged.short_code(),
        existing_code: existing_exchanged.short_code(),
        new_side: new_exchanged.confirm(),
        existing_side: existing_exchanged.confirm(),
        revealed,
        offered: offered_key,
        commitment,
    })
}

const ACCOUNT: [u8; 16] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
];

#[test]
fn fixed_vector_matches_independent_python() {
    // Every expected value below was computed by a separate python3 script (hashlib/hmac for
    // SHA-256, HMAC and HKDF; the `cryptography` package for X25519 and Ed25519) from the same
    // inputs: device seeds 0x11/0x22 (new) and 0x33 (existing), ephemeral scalars 0..32
    // (existing) and 32..64 (new), account 00112233..ff, request id "req-0001", head (7, 0x55..).
    let new_device = seeded_device(0x11, 0x22).public();
    let existing = seeded_device(0x33, 0x33);
    let existing_key = existing.public().signing;
    assert_eq!(
        hex::encode(new_device.signing.as_bytes()),
        "d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737"
    );
    assert_eq!(
        hex::encode(new_device.agreement.as_bytes()),
        "0faa684ed28867b97f4a6a2dee5df8ce974e76b7018e3f22a1c4cf2678570f20"
    );
    assert_eq!(
        existing.device_id().to_hex(),
        "5b0e9212c7583e1f1d2bebad1a18ef7e"
    );

    let context = EnrollmentContext::new(ACCOUNT, b"req-0001", existing.device_id()).unwrap();
    let mut existing_rng = FixedRng::new((0u8..32).collect());
    let mut new_rng = FixedRng::new((32u8..64).collect());
    let run = run(&mut new_rng, &mut existing_rng, new_device, context).unwrap();

    assert_eq!(
        hex::encode(run.offered.as_bytes()),
        "8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f"
    );
    assert_eq!(
        hex::encode(run.revealed.as_bytes()),
        "358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254"
    );
    assert_eq!(
        hex::encode(run.commitment.as_bytes()),
        "b44fe3f82649d489727aad7489790b0d4b399aa6c49810a9834eee43df04f751"
    );

    // Short-code HKDF bytes were 8f972e9374f079c8 fd5f3bf0a86f.
    assert_eq!(run.new_code, run.existing_code);
    assert_eq!(run.new_code.decimal(), 990_984);
    assert_eq!(run.new_code.decimal_grouped(), "990 984");
    assert_eq!(run.new_code.emoji_indices(), [63, 21, 60, 59, 60, 10, 33]);
    let names: Vec<&str> = run.new_code.emoji().iter().map(|e| e.name).collect();
    assert_eq!(
        names,
        [
            "Pin", "Cloud", "Anchor", "Bell", "Anchor", "Penguin", "Glasses"
        ]
    );

    let head = LedgerHeadClaim {
        seq: 7,
        hash: [0x55; 32],
    };
    let existing_mac = run.existing_side.mac(&existing_key, &head).unwrap();
    assert_eq!(
        hex::encode(existing_mac.as_bytes()),
        "7dc93fe480aa268929ff0ac0aad704cc02b69805774ed471f6ee4323cc278d1a"
    );
    let new_mac = run.new_side.mac();
    assert_eq!(
        hex::encode(new_mac.as_bytes()),
        "f9fde897fd7ecd535ff12544e00c8473393dbf1f4a5f69ab0d7302d98dafd2ed"
    );

    let verified = run
        .new_side
        .verify_existing_device(existing_key, head, &existing_mac)
        .unwrap();
    assert_eq!(verified.key, existing_key);
    assert_eq!(verified.head, head);
    let added = run.existing_side.verify_new_device(&new_mac).unwrap();
    assert_eq!(added.device, new_device);
}

fn random_context(existing: DeviceId) -> Result<EnrollmentContext, Error> {
    let mut account = [0u8; 16];
    OsRng.fill_bytes(&mut account);
    EnrollmentContext::new(account, b"request", existing)
}

#[test]
fn honest_run_with_real_randomness_agrees_and_verifies() {
    let new = DeviceSecrets::generate(&mut OsRng);
    let existing = DeviceSecrets::generate(&mut OsRng);
    let run = run(
        &mut OsRng,
        &mut OsRng,
        new.public(),
        random_context(existing.device_id()).unwrap(),
    )
    .unwrap();
    assert_eq!(run.new_code, run.existing_code);
    let head = LedgerHeadClaim {
        seq: 1,
        hash: [9; 32],
    };
    let mac = run
        .existing_side
        .mac(&existing.public().signing, &head)
        .unwrap();
    let new_mac = run.new_side.mac();
    assert!(
        run.new_side
            .verify_existing_device(existing.public().signing, head, &mac)
            .is_ok()
    );
    assert!(run.existing_side.verify_new_device(&new_mac).is_ok());
}

#[test]
fn man_in_the_middle_gets_different_codes() {
    // Mallory sits between the devices and runs one SAS with each, substituting her own
    // ephemeral keys. Against B she must commit to her key before seeing A's, and she cannot
    // change B's commitment (A received it in the request), so she relays B's commitment and
    // then cannot open it with her own key; if she instead swaps the commitment too, the two
    // runs have different transcripts and secrets, and the codes differ.
    let new = DeviceSecrets::generate(&mut OsRng);
    let existing = DeviceSecrets::generate(&mut OsRng);
    let context = random_context(existing.device_id()).unwrap();

    // B <-> Mallory (Mallory plays the existing device).
    let b = NewDeviceCommitted::start(&mut OsRng, new.public());
    let b_commitment = b.commitment();
    let mallory_to_b =
        ExistingDeviceOffered::start(&mut OsRng, context.clone(), new.public(), b_commitment);
    let (b_key, b_side) = b
        .receive_existing_key(context.clone(), mallory_to_b.ephemeral_key())
        .unwrap();
    let _ = mallory_to_b.receive_new_device_key(b_key).unwrap();

    // Mallory <-> A (Mallory plays the new device with B's device keys but her own ephemeral).
    let mallory_as_b = NewDeviceCommitted::start(&mut OsRng, new.public());
    let a = ExistingDeviceOffered::start(
        &mut OsRng,
        context.clone(),
        new.public(),
        mallory_as_b.commitment(),
    );
    let (m_key, _) = mallory_as_b
        .receive_existing_key(context.clone(), a.ephemeral_key())
        .unwrap();
    let a_side = a.receive_new_device_key(m_key).unwrap();
    assert_ne!(b_side.short_code(), a_side.short_code());

    // Relaying B's commitment to A but revealing her own key is refused outright.
    let a2 = ExistingDeviceOffered::start(&mut OsRng, context, new.public(), b_commitment);
    assert_eq!(
        a2.receive_new_device_key(m_key).err(),
        Some(Error::SasCommitmentMismatch)
    );
}

#[test]
fn commitment_mismatch_is_refused() {
    let new = DeviceSecrets::generate(&mut OsRng);
    let other = DeviceSecrets::generate(&mut OsRng);
    let existing = DeviceSecrets::generate(&mut OsRng);
    let context = random_context(existing.device_id()).unwrap();
    let b = NewDeviceCommitted::start(&mut OsRng, new.public());
    // The request names different device keys than the ones B committed to.
    let a =
        ExistingDeviceOffered::start(&mut OsRng, context.clone(), other.public(), b.commitment());
    let (revealed, _) = b.receive_existing_key(context, a.ephemeral_key()).unwrap();
    assert_eq!(
        a.receive_new_device_key(revealed).err(),
        Some(Error::SasCommitmentMismatch)
    );
    assert_eq!(
        Commitment::from_bytes([0; 32]).verify(&revealed, &new.public()),
        Err(Error::SasCommitmentMismatch)
    );
}

#[test]
fn mac_mismatches_are_refused() {
    let new = DeviceSecrets::generate(&mut OsRng);
    let existing = DeviceSecrets::generate(&mut OsRng);
    let impostor = DeviceSecrets::generate(&mut OsRng);
    let head = LedgerHeadClaim {
        seq: 3,
        hash: [1; 32],
    };
    let make = || {
        run(
            &mut OsRng,
            &mut OsRng,
            new.public(),
            EnrollmentContext::new(ACCOUNT, b"r", existing.device_id()).unwrap(),
        )
        .unwrap()
    };

    // A flipped bit in either MAC.
    let r = make();
    let new_mac = r.new_side.mac();
    let mut bad = *r
        .existing_side
        .mac(&existing.public().signing, &head)
        .unwrap()
        .as_bytes();
    bad[0] ^= 1;
    assert_eq!(
        r.new_side
            .verify_existing_device(existing.public().signing, head, &SasMac::from_bytes(bad))
            .err(),
        Some(Error::SasMacMismatch)
    );
    let mut bad = *new_mac.as_bytes();
    bad[31] ^= 0x80;
    assert_eq!(
        r.existing_side
            .verify_new_device(&SasMac::from_bytes(bad))
            .err(),
        Some(Error::SasMacMismatch)
    );

    // A different ledger head than the one MACed.
    let r = make();
    let mac = r
        .existing_side
        .mac(&existing.public().signing, &head)
        .unwrap();
    let other_head = LedgerHeadClaim { seq: 4, ..head };
    assert_eq!(
        r.new_side
            .verify_existing_device(existing.public().signing, other_head, &mac)
            .err(),
        Some(Error::SasMacMismatch)
    );

    // A MAC from another run (same devices, different ephemeral keys) does not carry over.
    let r1 = make();
    let r2 = make();
    let mac1 = r1
        .existing_side
        .mac(&existing.public().signing, &head)
        .unwrap();
    assert_eq!(
        r2.new_side
            .verify_existing_device(existing.public().signing, head, &mac1)
            .err(),
        Some(Error::SasMacMismatch)
    );
    assert_eq!(
        r2.existing_side.verify_new_device(&r1.new_side.mac()).err(),
        Some(Error::SasMacMismatch)
    );

    // A key that is not the device named in the transcript.
    let r = make();
    assert_eq!(
        r.existing_side.mac(&impostor.public().signing, &head).err(),
        Some(Error::SasDeviceMismatch)
    );
    let mac = r
        .existing_side
        .mac(&existing.public().signing, &head)
        .unwrap();
    assert_eq!(
        r.new_side
            .verify_existing_device(impostor.public().signing, head, &mac)
            .err(),
        Some(Error::SasDeviceMismatch)
    );
}

#[test]
fn low_order_ephemeral_keys_are_refused() {
    let new = DeviceSecrets::generate(&mut OsRng);
    let existing = DeviceSecrets::generate(&mut OsRng);
    let context = random_context(existing.device_id()).unwrap();
    let zero = SasPublicKey::from_bytes([0; 32]);

    let b = NewDeviceCommitted::start(&mut OsRng, new.public());
    assert_eq!(
        b.receive_existing_key(context.clone(), zero).err(),
        Some(Error::NonContributoryKeyAgreement)
    );

    // A commitment to the zero key opens, but the agreement is still refused.
    let commitment = Commitment::compute(&zero, &new.public());
    let a = ExistingDeviceOffered::start(&mut OsRng, context, new.public(), commitment);
    assert_eq!(
        a.receive_new_device_key(zero).err(),
        Some(Error::NonContributoryKeyAgreement)
    );
}

#[test]
fn states_do_not_print_secrets() {
    let new = DeviceSecrets::generate(&mut OsRng);
    let b = NewDeviceCommitted::start(&mut OsRng, new.public());
    assert_eq!(format!("{b:?}"), "NewDeviceCommitted(<secret>)");
}

/// Which transcript field a proptest case perturbs.
#[derive(Clone, Copy, Debug)]
enum Field {
    Account,
    Request,
    ExistingDevice,
}

fn signing_key(seed: u8) -> SigningPublicKey {
    seeded_device(seed, seed).public().signing
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// With the same ephemeral scalars on both runs, changing any context field changes the
    /// code: the transcript is bound, not just the DH secret.
    #[test]
    fn any_transcript_change_changes_the_code(
        field in prop_oneof![Just(Field::Account), Just(Field::Request), Just(Field::ExistingDevice)],
        scalars in any::<[u8; 32]>(),
        flip in 0usize..8,
    ) {
        let new_device = seeded_device(0x11, 0x22).public();
        let base = EnrollmentContext::new(ACCOUNT, b"req-0001", DeviceId::derive(&signing_key(0x33))).unwrap();
        let changed = match field {
            Field::Account => {
                let mut account = ACCOUNT;
                account[flip] ^= 1;
                EnrollmentContext::new(account, b"req-0001", base.existing_device()).unwrap()
            }
            Field::Request => {
                let mut request = b"req-0001".to_vec();
                request[flip] ^= 1;
                EnrollmentContext::new(ACCOUNT, &request, base.existing_device()).unwrap()
            }
            Field::ExistingDevice => {
                EnrollmentContext::new(ACCOUNT, b"req-0001", DeviceId::derive(&signing_key(0x34 + flip as u8))).unwrap()
            }
        };
        let code = |context: EnrollmentContext| {
            let mut a_rng = FixedRng::new(scalars.to_vec());
            let mut b_rng = FixedRng::new(scalars.iter().map(|b| b ^ 0xa5).collect());
            run(&mut b_rng, &mut a_rng, new_device, context).map(|r| r.new_code)
        };
        let (before, after) = (code(base), code(changed));
        prop_assume!(before.is_ok());
        let (before, after) = (before.unwrap(), after.unwrap());
        prop_assert_ne!(before, after);
    }
}

#[test]
fn changing_the_new_device_keys_changes_the_code() {
    let context = EnrollmentContext::new(ACCOUNT, b"q", DeviceId::from_bytes([3; 16])).unwrap();
    let code = |device: DevicePublicKeys| {
        let mut a_rng = FixedRng::new(vec![7; 32]);
        let mut b_rng = FixedRng::new(vec![9; 32]);
        run(&mut b_rng, &mut a_rng, device, context.clone())
            .unwrap()
            .new_code
    };
    let one = code(seeded_device(1, 2).public());
    assert_ne!(one, code(seeded_device(1, 3).public()));
    assert_ne!(one, code(seeded_device(4, 2).public()));
}
