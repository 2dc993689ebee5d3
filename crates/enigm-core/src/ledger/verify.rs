//! Chain verification: full ([`verify_chain`]), incremental ([`LedgerState::apply`]) and head
//! comparison ([`check_presented_head`]).
//!
//! Both paths run the same rules entry by entry and collect the signatures those rules require;
//! the signatures are then checked together. Acceptance is defined by `verify_strict`. Large
//! sets take a batch fast path (the cofactored batch equation of `ed25519_dalek::verify_batch`,
//! computed here on the points the pre-checks already decoded) that is made to agree with it:
//!
//! - `verify_strict` refuses a non-canonical `s`, a non-canonical or small-order `R`, and a
//!   small-order key; the batch equation does not. Those are checked first, per signature.
//! - `verify_strict` is cofactorless: it refuses an `R` with a small-order component (a *mixed
//!   order* point) whenever the key is torsion-free. A random-linear-combination batch can
//!   miss such a component (a multiplier that is a multiple of its order cancels it), so the
//!   batch would accept what strict verification refuses. Keys entering the ledger must be
//!   torsion-free ([`crate::Error::LedgerKeyNotTorsionFree`]); for the `R`s, the batch path
//!   checks that [`TORSION_ROUNDS`] pseudo-random subset sums of them are torsion-free, with
//!   subsets derived from every signature (an undetected mixed-order `R` needs about
//!   2^`TORSION_ROUNDS` attempts). Checking each `R` alone would cost as much as strict
//!   verification itself.
//! - If any pre-check or the batch fails, every signature is checked with `verify_strict` in
//!   chain order, so the error names the first bad entry exactly.
//!
//! A rule violation at entry `n` is reported only after the signatures of entries before `n`
//! verified: the first error in chain order wins, whichever path found it.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{Identity, IsIdentity, VartimeMultiscalarMul};
use sha2::{Digest, Sha512};

use crate::Error;

use super::entry::LedgerEntry;
use super::state::{Head, LedgerState, SignatureCheck};
use super::{MAX_REVOKE_LIST, MAX_SIGNATURES};
use crate::ledger::EntryKind;

/// Below this many signatures, checking each with `verify_strict` is as fast as batching.
pub const BATCH_THRESHOLD: usize = 64;

/// Subset-sum rounds of the batch path's torsion check (see the module docs).
pub const TORSION_ROUNDS: usize = 64;

/// One signature waiting for its cryptographic check.
struct Pending {
    seq: u64,
    message: usize,
    check: SignatureCheck,
}

/// Signatures collected while rules run, with the messages they cover.
#[derive(Default)]
struct Collector {
    messages: Vec<Vec<u8>>,
    pending: Vec<Pending>,
}

impl Collector {
    fn add(&mut self, seq: u64, message: Vec<u8>, checks: Vec<SignatureCheck>) {
        let index = self.messages.len();
        self.messages.push(message);
        self.pending.extend(checks.into_iter().map(|check| Pending {
            seq,
            message: index,
            check,
        }));
    }

    /// Verifies everything collected; on failure names the first bad entry.
    fn verify(&self) -> Result<(), Error> {
        if self.pending.len() >= BATCH_THRESHOLD && self.batch_accepts() {
            return Ok(());
        }
        self.verify_strict()
    }

    fn verify_strict(&self) -> Result<(), Error> {
        for pending in &self.pending {
            pending
                .check
                .key
                .verify(&self.messages[pending.message], &pending.check.signature)
                .map_err(|_| Error::LedgerBadSignature { seq: pending.seq })?;
        }
        Ok(())
    }

    /// `true` only if every signature would pass `verify_strict` (see the module docs).
    fn batch_accepts(&self) -> bool {
        let mut checked = Vec::with_capacity(self.pending.len());
        for pending in &self.pending {
            let signature = &pending.check.signature;
            let Some((r, s)) = strict_precheck(signature) else {
                return false;
            };
            // Ed25519's challenge: k = SHA-512(R ‖ A ‖ M).
            let k = Scalar::from_hash(
                Sha512::new()
                    .chain_update(signature.r_bytes())
                    .chain_update(pending.check.key.as_bytes())
                    .chain_update(&self.messages[pending.message]),
            );
            checked.push(Checked { r, s, k });
        }
        let draws = draws(&self.pending, &checked);
        subset_sums_torsion_free(&checked, &draws) && self.batch_equation_holds(&checked, &draws)
    }

    /// The batch equation `[8](Σ z·R + Σ z·k·A − (Σ z·s)·B) = 0` over every signature, on the
    /// points [`strict_precheck`] already decoded (`ed25519_dalek::verify_batch` would decode
    /// each `R` again, a fifth of the whole cost) with 128-bit multipliers `z` from the draws.
    /// Cofactored, as dalek's: the mixed-order `R`s it would miss are the torsion check's.
    fn batch_equation_holds(&self, checked: &[Checked], draws: &[Draw]) -> bool {
        let mut scalars = Vec::with_capacity(2 * checked.len() + 1);
        let mut points = Vec::with_capacity(2 * checked.len() + 1);
        let mut basepoint = Scalar::ZERO;
        for ((pending, item), draw) in self.pending.iter().zip(checked).zip(draws) {
            let mut low = [0u8; 16];
            low.copy_from_slice(&draw[32..48]);
            let z = Scalar::from(u128::from_le_bytes(low));
            basepoint += z * item.s;
            scalars.push(z);
            points.push(item.r);
            scalars.push(z * item.k);
            points.push(pending.check.key.verifying_key().to_edwards());
        }
        scalars.push(-basepoint);
        points.push(ED25519_BASEPOINT_POINT);
        EdwardsPoint::vartime_multiscalar_mul(scalars, points)
            .mul_by_cofactor()
            .is_identity()
    }
}

/// One signature's values the batch path computes once: `R` decoded, `s` and the challenge `k`.
struct Checked {
    r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
}

/// A signature's share of the batch's randomness: its first [`TORSION_ROUNDS`] bits say which
/// torsion-check subsets hold its `R`, bytes 32 to 47 are its batch multiplier.
type Draw = [u8; 64];

/// The draws of a whole batch: `SHA-512(seed ‖ index)` per signature, where the seed hashes
/// every signature, key, entry and challenge (so every message). They are fixed only once the
/// whole batch is, so no signer can aim at them.
fn draws(pending: &[Pending], checked: &[Checked]) -> Vec<Draw> {
    let mut transcript = Sha512::new();
    transcript.update(b"enigm/ledger/batch/v2");
    for (item, values) in pending.iter().zip(checked) {
        transcript.update(item.check.signature.to_bytes());
        transcript.update(item.check.key.as_bytes());
        transcript.update(item.seq.to_be_bytes());
        transcript.update(values.k.as_bytes());
    }
    let seed = transcript.finalize();
    (0..checked.len() as u64)
        .map(|index| {
            Sha512::new()
                .chain_update(seed)
                .chain_update(index.to_be_bytes())
                .finalize()
                .into()
        })
        .collect()
}

/// What `verify_strict` checks per signature and the batch equation does not: `s` canonical,
/// `R` a canonical encoding of a point that is not of small order. Returns `R` and `s`.
fn strict_precheck(signature: &ed25519_dalek::Signature) -> Option<(EdwardsPoint, Scalar)> {
    let s: Option<Scalar> = Scalar::from_canonical_bytes(*signature.s_bytes()).into();
    let s = s?;
    let r_bytes = signature.r_bytes();
    if !is_canonical_y(r_bytes) {
        return None;
    }
    let r = CompressedEdwardsY(*r_bytes).decompress()?;
    // With y canonical, the only remaining non-canonical encodings set the sign bit on x = 0,
    // and both such points (y = ±1) are of small order.
    if r.is_small_order() {
        return None;
    }
    Some((r, s))
}

/// Whether the 255-bit y coordinate (sign bit masked) is below p = 2^255 - 19.
fn is_canonical_y(bytes: &[u8; 32]) -> bool {
    let top = bytes[31] & 0x7f;
    let all_ones_middle = bytes[1..31].iter().all(|byte| *byte == 0xff);
    !(top == 0x7f && all_ones_middle && bytes[0] >= 0xed)
}

/// Checks [`TORSION_ROUNDS`] subset sums of the `R` points for a small-order component, the
/// subsets given by the draws.
///
/// Each `R`'s membership in the rounds is one bit per round, eight rounds to a byte. Rather
/// than adding each `R` to the half of the rounds it belongs to (32 additions per point), the
/// points are first summed into 256 buckets per byte, by that byte's value (8 additions per
/// point); a round's sum is then the sum of the buckets whose value has its bit set. The sums
/// are the same; only the number of additions changes.
fn subset_sums_torsion_free(checked: &[Checked], draws: &[Draw]) -> bool {
    const GROUPS: usize = TORSION_ROUNDS / 8;
    let mut buckets = vec![[EdwardsPoint::identity(); 256]; GROUPS];
    for (item, draw) in checked.iter().zip(draws) {
        for (group, byte) in buckets.iter_mut().zip(draw.iter()) {
            group[usize::from(*byte)] += item.r;
        }
    }
    buckets.iter().all(|group| {
        (0..8).all(|bit| {
            let sum: EdwardsPoint = group
                .iter()
                .enumerate()
                .filter(|(value, _)| value >> bit & 1 == 1)
                .map(|(_, bucket)| bucket)
                .sum();
            sum.is_torsion_free()
        })
    })
}

/// Refuses in-memory entries whose encoding would not decode (unsorted or duplicate signers,
/// oversize lists), so a verified entry always has exactly one encoding.
fn check_form(entry: &LedgerEntry) -> Result<(), Error> {
    if entry.signatures.len() > MAX_SIGNATURES {
        return Err(Error::LedgerTooLarge {
            what: "signature list",
            len: entry.signatures.len(),
            max: MAX_SIGNATURES,
        });
    }
    if entry
        .signatures
        .windows(2)
        .any(|pair| pair[0].signer >= pair[1].signer)
    {
        return Err(Error::LedgerUnsortedSignatures);
    }
    let revoke_len = match &entry.kind {
        EntryKind::Recover { revoke, .. } => revoke.len(),
        EntryKind::Genesis { .. }
        | EntryKind::AddDevice { .. }
        | EntryKind::Suspend { .. }
        | EntryKind::Resume { .. }
        | EntryKind::Revoke { .. }
        | EntryKind::Retire { .. }
        | EntryKind::Review { .. }
        | EntryKind::RotateRecovery { .. }
        | EntryKind::JoinOrganization { .. }
        | EntryKind::LeaveOrganization => 0,
    };
    if revoke_len > MAX_REVOKE_LIST {
        return Err(Error::LedgerTooLarge {
            what: "revoke list",
            len: revoke_len,
            max: MAX_REVOKE_LIST,
        });
    }
    Ok(())
}

/// Runs the rules of `entries` on `state`, then checks the signatures; the first error in
/// chain order wins.
fn run(
    state: &mut LedgerState,
    entries: &[LedgerEntry],
    collector: &mut Collector,
) -> Result<(), Error> {
    for entry in entries {
        let outcome = check_form(entry).and_then(|()| {
            let message = entry.signing_message(state.account_id());
            state.step(entry).map(|checks| (message, checks))
        });
        match outcome {
            Ok((message, checks)) => collector.add(entry.seq, message, checks),
            Err(error) => {
                collector.verify()?;
                return Err(error);
            }
        }
    }
    collector.verify()
}

/// Verifies a whole ledger from its genesis and returns the state it establishes.
///
/// # Errors
/// [`Error::LedgerEmpty`], or the first problem in chain order: a `Ledger*` rule, chain or
/// signature variant naming the entry, or [`Error::IllegalTransition`].
pub fn verify_chain(entries: &[LedgerEntry]) -> Result<LedgerState, Error> {
    let (genesis, rest) = entries.split_first().ok_or(Error::LedgerEmpty)?;
    check_form(genesis)?;
    let (mut state, checks) = LedgerState::from_genesis(genesis)?;
    let mut collector = Collector::default();
    collector.add(
        genesis.seq,
        genesis.signing_message(state.account_id()),
        checks,
    );
    run(&mut state, rest, &mut collector)?;
    Ok(state)
}

impl LedgerState {
    /// Verifies `entries` as the continuation of this state's head (the first must have
    /// `seq = head.seq + 1` and `prev_hash = head.hash`) and applies them. Atomic: on error
    /// `self` is unchanged.
    ///
    /// # Errors
    /// As [`verify_chain`], for the first bad entry.
    pub fn apply(&mut self, entries: &[LedgerEntry]) -> Result<(), Error> {
        let mut next = self.clone();
        run(&mut next, entries, &mut Collector::default())?;
        *self = next;
        Ok(())
    }
}

/// Compares the head a client pinned with a history the service presents.
///
/// `presented` is the service's ledger, or the part from the pinned seq (or the one after it)
/// on; entries are located by their `seq`. A presented history that ends before the pinned head is a
/// rollback; one whose entry at the pinned seq hashes differently is a fork. On success the
/// presented entries after the pinned head can be given to [`LedgerState::apply`].
///
/// # Errors
/// [`Error::LedgerRollback`] or [`Error::LedgerFork`].
pub fn check_presented_head(pinned: &Head, presented: &[LedgerEntry]) -> Result<(), Error> {
    let presented_head = presented.iter().map(|entry| entry.seq).max();
    match presented_head {
        Some(seq) if seq >= pinned.seq => {}
        Some(seq) => {
            return Err(Error::LedgerRollback {
                pinned: pinned.seq,
                presented: seq,
            });
        }
        None => {
            return Err(Error::LedgerRollback {
                pinned: pinned.seq,
                presented: 0,
            });
        }
    }
    if let Some(entry) = presented.iter().find(|entry| entry.seq == pinned.seq) {
        return if entry.hash() == pinned.hash {
            Ok(())
        } else {
            Err(Error::LedgerFork { seq: pinned.seq })
        };
    }
    // Only entries after the pinned head were presented: the first must link to it.
    let next = presented
        .iter()
        .find(|entry| Some(entry.seq) == pinned.seq.checked_add(1));
    match next {
        Some(entry) if entry.prev_hash == pinned.hash => Ok(()),
        Some(_) | None => Err(Error::LedgerFork { seq: pinned.seq }),
    }
}

/// Compares two heads directly (the service's advertised head against the pinned one, before
/// fetching entries): an older presented head is a rollback, the same seq with another hash a
/// fork. A newer head is fine here; its entries must still extend the pinned one.
///
/// # Errors
/// [`Error::LedgerRollback`] or [`Error::LedgerFork`].
pub fn compare_heads(pinned: &Head, presented: &Head) -> Result<(), Error> {
    if presented.seq < pinned.seq {
        return Err(Error::LedgerRollback {
            pinned: pinned.seq,
            presented: presented.seq,
        });
    }
    if presented.seq == pinned.seq && presented.hash != pinned.hash {
        return Err(Error::LedgerFork { seq: pinned.seq });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::SigningPublicKey;
    use crate::ledger::test_support::{History, Key, device};
    use crate::ledger::{EntryHash, EntryKind, Signer};
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
    use ed25519_dalek::Signature;

    /// A history long enough (> BATCH_THRESHOLD signatures) to take the batch path.
    fn long_history() -> History {
        let mut history = History::with_two_devices();
        for _ in 0..20 {
            history
                .push(
                    EntryKind::Suspend {
                        device: device(2).device_id(),
                    },
                    &[Key::Device(&device(1))],
                )
                .unwrap();
            history
                .push(
                    EntryKind::Resume {
                        device: device(2).device_id(),
                    },
                    &[Key::Device(&device(1))],
                )
                .unwrap();
        }
        for n in 3..20 {
            history.add(n, n - 1).unwrap();
        }
        history
    }

    #[test]
    fn full_and_incremental_verification_agree() {
        let history = long_history();
        let signatures: usize = history.entries.iter().map(|e| e.signatures.len()).sum();
        assert!(signatures >= BATCH_THRESHOLD);
        assert_eq!(verify_chain(&history.entries), Ok(history.state.clone()));
        let mut state = verify_chain(&history.entries[..10]).unwrap();
        state.apply(&history.entries[10..]).unwrap();
        assert_eq!(state, history.state);
    }

    #[test]
    fn a_bad_signature_is_located_through_the_batch_fallback() {
        let history = long_history();
        for target in [0, 1, 17, history.entries.len() - 1] {
            let mut entries = history.entries.clone();
            let mut bytes = entries[target].signatures[0].signature.to_bytes();
            bytes[40] ^= 1;
            entries[target].signatures[0].signature = Signature::from_bytes(&bytes);
            let seq = entries[target].seq;
            // The hash chain breaks at the next entry, but the bad signature comes first.
            assert_eq!(
                verify_chain(&entries),
                Err(Error::LedgerBadSignature { seq }),
                "entry {target}"
            );
        }
    }

    #[test]
    fn chain_tampering_is_refused() {
        let history = long_history();
        let entries = &history.entries;
        assert_eq!(verify_chain(&[]), Err(Error::LedgerEmpty));
        // Dropped entry.
        let mut dropped = entries.clone();
        dropped.remove(5);
        assert_eq!(
            verify_chain(&dropped),
            Err(Error::LedgerWrongSeq {
                expected: 5,
                found: 6
            })
        );
        // Reordered entries.
        let mut reordered = entries.clone();
        reordered.swap(5, 6);
        assert_eq!(
            verify_chain(&reordered),
            Err(Error::LedgerWrongSeq {
                expected: 5,
                found: 6
            })
        );
        // Renumbered to hide the gap: the hash chain breaks (and the signatures, which cover
        // seq, would too).
        let mut renumbered = dropped.clone();
        for (seq, entry) in renumbered.iter_mut().enumerate() {
            entry.seq = seq as u64;
        }
        assert_eq!(
            verify_chain(&renumbered),
            Err(Error::LedgerBrokenChain { seq: 5 })
        );
        // Renumbered and relinked by a service without the keys: the signatures break.
        // (Entry 7 resumes what entry 4 suspended, so only the signatures are wrong.)
        let mut relinked = entries[..5].to_vec();
        let mut moved = entries[7].clone();
        moved.seq = 5;
        moved.prev_hash = relinked[4].hash();
        relinked.push(moved);
        assert_eq!(
            verify_chain(&relinked),
            Err(Error::LedgerBadSignature { seq: 5 })
        );
        // Genesis not first.
        assert_eq!(
            verify_chain(&entries[1..]),
            Err(Error::LedgerGenesisMisplaced { seq: 1 })
        );
        let mut second_genesis = entries[..1].to_vec();
        let mut again = entries[0].clone();
        again.seq = 1;
        again.prev_hash = entries[0].hash();
        second_genesis.push(again);
        assert_eq!(
            verify_chain(&second_genesis),
            Err(Error::LedgerGenesisMisplaced { seq: 1 })
        );
        // A prev_hash that points elsewhere.
        let mut state = verify_chain(&entries[..3]).unwrap();
        let mut relinked = entries[3].clone();
        relinked.prev_hash = EntryHash([9; 32]);
        assert_eq!(
            state.apply(&[relinked]),
            Err(Error::LedgerBrokenChain { seq: 3 })
        );
    }

    #[test]
    fn apply_is_atomic() {
        let history = long_history();
        let mut state = verify_chain(&history.entries[..5]).unwrap();
        let before = state.clone();
        let mut batch = history.entries[5..12].to_vec();
        batch[4].signatures.clear();
        assert_eq!(
            state.apply(&batch),
            Err(Error::LedgerMissingSignature { seq: 9 })
        );
        assert_eq!(state, before);
        assert_eq!(
            state.apply(&history.entries[..5]),
            Err(Error::LedgerWrongSeq {
                expected: 5,
                found: 0
            })
        );
        assert_eq!(state, before);
    }

    #[test]
    fn forks_and_rollbacks_against_the_pinned_head_are_detected() {
        let history = long_history();
        let entries = &history.entries;
        let pinned = verify_chain(&entries[..10]).unwrap().head();
        // The honest continuation, with or without the pinned entry itself.
        assert_eq!(check_presented_head(&pinned, entries), Ok(()));
        assert_eq!(check_presented_head(&pinned, &entries[10..]), Ok(()));
        assert_eq!(compare_heads(&pinned, &history.state.head()), Ok(()));
        // Rollback: the service presents less than the client already verified.
        assert_eq!(
            check_presented_head(&pinned, &entries[..7]),
            Err(Error::LedgerRollback {
                pinned: 9,
                presented: 6
            })
        );
        let older = verify_chain(&entries[..7]).unwrap().head();
        assert_eq!(
            compare_heads(&pinned, &older),
            Err(Error::LedgerRollback {
                pinned: 9,
                presented: 6
            })
        );
        // Fork: a different, validly signed entry 9.
        let mut forked_state = verify_chain(&entries[..9]).unwrap();
        let mut forked = entries[..9].to_vec();
        let mut alternative = forked_state.next_entry(EntryKind::Revoke {
            device: device(2).device_id(),
            reason: crate::ledger::RevokeReason::Stolen,
        });
        alternative.sign_device(forked_state.account_id(), &device(1));
        forked_state
            .apply(std::slice::from_ref(&alternative))
            .unwrap();
        forked.push(alternative);
        assert_eq!(
            check_presented_head(&pinned, &forked),
            Err(Error::LedgerFork { seq: 9 })
        );
        assert_eq!(
            compare_heads(&pinned, &forked_state.head()),
            Err(Error::LedgerFork { seq: 9 })
        );
        // A continuation that does not link to the pinned entry.
        let mut unlinked = entries[10..].to_vec();
        unlinked[0].prev_hash = EntryHash([1; 32]);
        assert_eq!(
            check_presented_head(&pinned, &unlinked),
            Err(Error::LedgerFork { seq: 9 })
        );
    }

    // --- batch/strict agreement -------------------------------------------------------------

    /// A key built from a raw scalar, so tests can craft signatures with any R.
    struct RawKey {
        a: Scalar,
        public: SigningPublicKey,
    }

    fn raw_key(seed: u8) -> RawKey {
        let a = Scalar::from_bytes_mod_order([seed; 32]);
        let point = ED25519_BASEPOINT_POINT * a;
        let public = SigningPublicKey::from_bytes(point.compress().as_bytes()).unwrap();
        RawKey { a, public }
    }

    fn challenge(r: &[u8; 32], key: &SigningPublicKey, message: &[u8]) -> Scalar {
        let digest = Sha512::new()
            .chain_update(r)
            .chain_update(key.as_bytes())
            .chain_update(message)
            .finalize();
        Scalar::from_bytes_mod_order_wide(&digest.into())
    }

    /// Signs with nonce point `r_point` (which may carry torsion), as only a key holder can.
    fn sign_with_r(key: &RawKey, r: Scalar, torsion: EdwardsPoint, message: &[u8]) -> Signature {
        let r_point = (ED25519_BASEPOINT_POINT * r + torsion).compress();
        let k = challenge(r_point.as_bytes(), &key.public, message);
        let s = r + k * key.a;
        Signature::from_components(*r_point.as_bytes(), s.to_bytes())
    }

    /// The vectors: honest, mixed-order R (order 2, 4, 8 components), small-order R, s not
    /// reduced, non-canonical R encoding, wrong message. In the style of "Taming the many
    /// EdDSAs" (Chalkias et al.), restricted to torsion-free keys, which is all the ledger admits.
    fn vectors() -> Vec<(&'static str, SigningPublicKey, Vec<u8>, Signature)> {
        let key = raw_key(3);
        let message = b"enigm vector".to_vec();
        let r = Scalar::from(987_654_321u64);
        let honest = sign_with_r(&key, r, EdwardsPoint::identity(), &message);
        let mut vectors = vec![("honest", key.public, message.clone(), honest)];
        for (name, torsion) in [
            ("mixed-order R (order 2)", EIGHT_TORSION[4]),
            ("mixed-order R (order 4)", EIGHT_TORSION[2]),
            ("mixed-order R (order 8)", EIGHT_TORSION[1]),
        ] {
            vectors.push((
                name,
                key.public,
                message.clone(),
                sign_with_r(&key, r, torsion, &message),
            ));
        }
        // Small-order R with s = 0 and with s = k·a (the "R = identity" cases).
        let identity = EdwardsPoint::identity().compress();
        vectors.push((
            "small-order R, s = 0",
            key.public,
            message.clone(),
            Signature::from_components(*identity.as_bytes(), [0; 32]),
        ));
        let order8 = EIGHT_TORSION[1].compress();
        let k = challenge(order8.as_bytes(), &key.public, &message);
        vectors.push((
            "small-order R, s = k·a",
            key.public,
            message.clone(),
            Signature::from_components(*order8.as_bytes(), (k * key.a).to_bytes()),
        ));
        // s + l: the same scalar, not reduced (malleability).
        let mut s_plus_l = [0u8; 32];
        let mut carry = 0u16;
        let l: [u8; 32] =
            hex::decode("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
                .unwrap()
                .try_into()
                .unwrap();
        for (i, out) in s_plus_l.iter_mut().enumerate() {
            let sum = u16::from(honest.s_bytes()[i]) + u16::from(l[i]) + carry;
            *out = sum as u8;
            carry = sum >> 8;
        }
        vectors.push((
            "s not reduced",
            key.public,
            message.clone(),
            Signature::from_components(*honest.r_bytes(), s_plus_l),
        ));
        // Non-canonical encoding of a small-order R: y = 1 + p.
        let mut non_canonical = [0xffu8; 32];
        non_canonical[0] = 0xee;
        non_canonical[31] = 0x7f;
        vectors.push((
            "non-canonical R",
            key.public,
            message.clone(),
            Signature::from_components(non_canonical, [0; 32]),
        ));
        vectors.push(("wrong message", key.public, b"other".to_vec(), honest));
        vectors
    }

    fn collector_of(items: &[(SigningPublicKey, Vec<u8>, Signature)]) -> Collector {
        let mut collector = Collector::default();
        for (seq, (key, message, signature)) in items.iter().enumerate() {
            collector.add(
                seq as u64,
                message.clone(),
                vec![SignatureCheck {
                    key: *key,
                    signature: *signature,
                }],
            );
        }
        collector
    }

    #[test]
    fn small_order_keys_never_reach_verification() {
        // The key half of the "Taming" vectors: small-order keys are refused at decode.
        for point in EIGHT_TORSION {
            assert_eq!(
                SigningPublicKey::from_bytes(point.compress().as_bytes()),
                Err(Error::WeakPublicKey)
            );
        }
    }

    #[test]
    fn batch_and_strict_agree_on_every_vector() {
        let filler_key = raw_key(9);
        let fillers: Vec<_> = (0..BATCH_THRESHOLD as u64)
            .map(|i| {
                let message = i.to_be_bytes().to_vec();
                let signature = sign_with_r(
                    &filler_key,
                    Scalar::from(i + 1),
                    EdwardsPoint::identity(),
                    &message,
                );
                (filler_key.public, message, signature)
            })
            .collect();
        let mut results = Vec::new();
        for (name, key, message, signature) in vectors() {
            let strict = key.verify(&message, &signature).is_ok();
            // Alone, and hidden among valid signatures at several positions.
            let alone = collector_of(&[(key, message.clone(), signature)]);
            assert_eq!(alone.batch_accepts(), strict, "{name} alone");
            for position in [0, 17, BATCH_THRESHOLD] {
                let mut items = fillers.clone();
                items.insert(position, (key, message.clone(), signature));
                let collector = collector_of(&items);
                assert_eq!(collector.batch_accepts(), strict, "{name} at {position}");
                let expected = if strict {
                    Ok(())
                } else {
                    Err(Error::LedgerBadSignature {
                        seq: position as u64,
                    })
                };
                assert_eq!(collector.verify(), expected, "{name} at {position}");
            }
            results.push((name, strict));
        }
        // The vectors cover both outcomes; only the honest signature is valid.
        assert_eq!(
            results
                .iter()
                .filter(|(_, ok)| *ok)
                .map(|(name, _)| *name)
                .collect::<Vec<_>>(),
            vec!["honest"]
        );
    }

    #[test]
    fn plain_batch_verification_would_accept_a_mixed_order_r() {
        // Why the torsion check exists: a key holder can grind a mixed-order R until dalek's
        // batch multiplier cancels the torsion. verify_strict refuses it; so must we.
        let key = raw_key(5);
        let message = b"grind".to_vec();
        let found = (1..200u64).find_map(|r| {
            let signature = sign_with_r(&key, Scalar::from(r), EIGHT_TORSION[4], &message);
            let batch = ed25519_dalek::verify_batch(
                &[message.as_slice()],
                &[signature],
                &[*key.public.verifying_key()],
            );
            batch.is_ok().then_some(signature)
        });
        let signature = found.unwrap();
        assert!(key.public.verify(&message, &signature).is_err());
        let collector = collector_of(&[(key.public, message, signature)]);
        assert!(!collector.batch_accepts());
        assert_eq!(
            collector.verify(),
            Err(Error::LedgerBadSignature { seq: 0 })
        );
    }

    #[test]
    fn canonical_y_check_matches_decompress_and_compress() {
        let mut cases = vec![[0u8; 32], [0xff; 32]];
        for low in [0xeb, 0xec, 0xed, 0xee, 0xff] {
            let mut bytes = [0xffu8; 32];
            bytes[0] = low;
            bytes[31] = 0x7f;
            cases.push(bytes);
            bytes[31] = 0xff;
            cases.push(bytes);
        }
        for bytes in cases {
            if let Some(point) = CompressedEdwardsY(bytes).decompress() {
                let masked_equal = point.compress().as_bytes()[..31] == bytes[..31]
                    && point.compress().as_bytes()[31] & 0x7f == bytes[31] & 0x7f;
                assert_eq!(is_canonical_y(&bytes), masked_equal, "{bytes:?}");
            }
        }
    }

    #[test]
    fn unsorted_or_duplicate_signers_are_refused_in_memory_too() {
        let history = History::new();
        let mut entry = history.entries[0].clone();
        entry.signatures.reverse();
        assert_eq!(
            verify_chain(&[entry.clone()]),
            Err(Error::LedgerUnsortedSignatures)
        );
        entry.signatures[0].signer = Signer::Recovery;
        assert_eq!(verify_chain(&[entry]), Err(Error::LedgerUnsortedSignatures));
    }
}
