//! The SAS messages a device receives during enrollment: the peer's ephemeral key, its MAC and
//! the head claim it vouches for, plus the request id from the service. Input layout (see
//! `enigm_fuzz::sas_input`): a length byte, the request id, 32 bytes of key, 32 of MAC, the
//! claim's seq (8, big-endian) and hash (32).
//!
//! For each role, with fixed device keys: nothing panics; a low-order key is refused; the
//! approver accepts only the key the new device committed to; a MAC the attacker made up is
//! refused; and an honest run in the same context agrees on the code and verifies both MACs.
#![no_main]

use enigm_core::identity::AgreementPublicKey;
use enigm_core::sas::{
    Commitment, EnrollmentContext, ExistingDeviceOffered, LedgerHeadClaim, MAX_REQUEST_ID_LEN,
    NewDeviceCommitted, SasMac, SasPublicKey,
};
use enigm_fuzz::{ACCOUNT, FixedRng, device};
use libfuzzer_sys::fuzz_target;

fn take<'a>(rest: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
    if rest.len() < len {
        return None;
    }
    let (head, tail) = rest.split_at(len);
    *rest = tail;
    Some(head)
}

fn array<const N: usize>(rest: &mut &[u8]) -> Option<[u8; N]> {
    take(rest, N)?.try_into().ok()
}

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let Some(&[len]) = take(&mut rest, 1) else {
        return;
    };
    let Some(request_id) = take(&mut rest, usize::from(len)) else {
        return;
    };
    let (Some(peer), Some(mac), Some(seq), Some(hash)) = (
        array::<32>(&mut rest),
        array::<32>(&mut rest),
        array::<8>(&mut rest),
        array::<32>(&mut rest),
    ) else {
        return;
    };
    let peer = SasPublicKey::from_bytes(peer);
    let mac = SasMac::from_bytes(mac);
    let claim = LedgerHeadClaim {
        seq: u64::from_be_bytes(seq),
        hash,
    };
    let approver = device(1);
    let newcomer = device(2).public();
    let context = match EnrollmentContext::new(ACCOUNT, request_id, approver.device_id()) {
        Ok(context) => context,
        Err(_) => {
            assert!(request_id.len() > MAX_REQUEST_ID_LEN);
            return;
        }
    };
    let low_order = AgreementPublicKey::from_bytes(*peer.as_bytes()).is_low_order();
    let mut rng = FixedRng::new(u64::from(len));

    // New device, receiving the approver's key and then its MAC from the attacker.
    let new = NewDeviceCommitted::start(&mut rng, newcomer);
    let commitment = new.commitment();
    if let Ok((_, exchanged)) = new.receive_existing_key(context.clone(), peer) {
        assert!(!low_order, "a low-order key was accepted");
        let confirmed = exchanged.confirm();
        let forged = confirmed.verify_existing_device(approver.public().signing, claim, &mac);
        assert!(forged.is_err(), "a made-up approver MAC was accepted");
    }

    // Approver, receiving the new device's key and then its MAC from the attacker.
    let existing = ExistingDeviceOffered::start(&mut rng, context.clone(), newcomer, commitment);
    if let Ok(exchanged) = existing.receive_new_device_key(peer) {
        assert_eq!(
            Commitment::compute(&peer, &newcomer),
            commitment,
            "the approver accepted a key the new device did not commit to"
        );
        assert!(exchanged.confirm().verify_new_device(&mac).is_err());
    }

    // An honest run in this context, with the attacker's head claim.
    let new = NewDeviceCommitted::start(&mut rng, newcomer);
    let existing =
        ExistingDeviceOffered::start(&mut rng, context.clone(), newcomer, new.commitment());
    let approver_key = existing.ephemeral_key();
    let (new_key, new_side) = new
        .receive_existing_key(context, approver_key)
        .expect("honest keys agree");
    let approver_side = existing
        .receive_new_device_key(new_key)
        .expect("the honest key matches its commitment");
    assert_eq!(new_side.short_code(), approver_side.short_code());
    assert_eq!(new_side.transcript(), approver_side.transcript());
    let (new_side, approver_side) = (new_side.confirm(), approver_side.confirm());
    let approver_mac = approver_side
        .mac(&approver.public().signing, &claim)
        .expect("the approver's own key");
    let new_mac = new_side.mac();
    let verified = new_side
        .verify_existing_device(approver.public().signing, claim, &approver_mac)
        .expect("the honest approver MAC verifies");
    assert_eq!(verified.head, claim);
    approver_side
        .verify_new_device(&new_mac)
        .expect("the honest new-device MAC verifies");
});
